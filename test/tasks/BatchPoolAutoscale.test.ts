/**
 * BatchPoolAutoscale@1, run as the agent runs it (the bundled task in a child
 * process) against the local Azure, whose Batch evaluates autoscale formulas
 * and scales its simulated pools on the simulated clock. One scenario per
 * test; each works on a pool of its own.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import { findLeakedSecrets, runTask, type TaskRunOptions, type TaskRunResult } from "../harness/run-task";
import type { LocalAzure } from "../local-azure";
import type { PoolRecord } from "../local-azure/batch/state";
import { scaleFromZeroFormula } from "../../tasks/BatchPoolAutoscale/template";

/** A formula the pools start with when a scenario needs autoscale already on. */
const KEEP_ZERO = "$TargetDedicatedNodes = 0;\n$NodeDeallocationOption = taskcompletion;\n";
const VM = {
  imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts", version: "latest" },
  nodeAgentSKUId: "batch.node.ubuntu 20.04",
};

/** What the task may change on a pool, and what "left exactly as it was" compares. */
function configOf(pool: BatchServiceModels.CloudPool) {
  return {
    enableAutoScale: pool.enableAutoScale,
    autoScaleFormula: pool.autoScaleFormula,
    autoScaleEvaluationInterval: pool.autoScaleEvaluationInterval,
    targetDedicatedNodes: pool.targetDedicatedNodes,
    targetLowPriorityNodes: pool.targetLowPriorityNodes,
    startTask: pool.startTask,
    applicationPackageReferences: pool.applicationPackageReferences,
    eTag: pool.eTag,
    lastModified: pool.lastModified?.toISOString(),
  };
}

describe("BatchPoolAutoscale@1", function () {
  this.timeout(180_000);
  let azure: LocalAzure;
  let client: BatchServiceClient;
  let savedMsPerSecond: number;
  const created: string[] = [];

  before(async () => {
    azure = await localAzure();
    client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    // 5 ms per simulated second: a 5-minute evaluation interval passes in 1.5 s.
    savedMsPerSecond = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
  });
  after(async () => {
    azure.batch.clock.msPerSimulatedSecond = savedMsPerSecond;
    azure.state.batch.taskScript = undefined;
    for (const id of created) await client.pool.deleteMethod(id).catch(() => undefined);
  });
  afterEach(resetLocalAzure);

  const record = (id: string): PoolRecord => azure.batch.account().pools.get(id)!;

  /** A pool of its own: with autoscale (the formula given), or with a fixed size. */
  async function newPool(options: { autoScaleFormula?: string; targetDedicatedNodes?: number } = {}): Promise<string> {
    const id = `autoscale-${created.length + 1}-${crypto.randomBytes(3).toString("hex")}`;
    created.push(id);
    await client.pool.add({
      id,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: VM,
      ...(options.autoScaleFormula
        ? { enableAutoScale: true, autoScaleFormula: options.autoScaleFormula, autoScaleEvaluationInterval: "PT5M" }
        : { enableAutoScale: false, targetDedicatedNodes: options.targetDedicatedNodes ?? 0 }),
    });
    const wanted = options.targetDedicatedNodes ?? 0;
    await azure.batch.waitFor(() => record(id).allocationState === "steady" && [...record(id).nodes.values()].filter((n) => n.state === "idle").length === wanted, { what: `pool ${id} steady` });
    return id;
  }

  function run(poolId: string, inputs: TaskRunOptions["inputs"], extra: Partial<TaskRunOptions> = {}): Promise<TaskRunResult> {
    return runTask({
      task: "BatchPoolAutoscale",
      env: azure.info.env,
      inputs: { azureSubscription: "LocalAzure", resourceGroupName: azure.info.resourceGroup, batchAccountName: azure.info.batch.accountName, poolId, ...inputs },
      ...extra,
    });
  }

  /** The Batch requests on one pool since `mark`, as `METHOD /pools/<id>/<operation>`. */
  const poolRequests = (mark: number, poolId: string) =>
    azure.log.entries
      .slice(mark)
      .filter((e) => e.service === "batch" && e.path.startsWith(`/pools/${poolId}`))
      .map((e) => `${e.method} ${e.path.replace(`/pools/${poolId}`, "") || "/"}`);

  const explain = (r: TaskRunResult) => `result ${r.result}: ${r.message}\n${r.lines.slice(-40).join("\n")}\n${r.stderr.slice(-2000)}`;

  it("the default template scales a pool without autoscale from 0 to the expected size while tasks are pending, and back to 0 when they are done", async () => {
    const poolId = await newPool();
    const mark = azure.log.entries.length;
    // 6 tasks of 60 s, to be done within 120 s: 6 × 60 / 120 = 3 nodes (under maxNodes 4).
    const r = await run(poolId, { maxNodes: 4, averageTaskSeconds: 60, targetSeconds: 120 });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.outputs.TargetDedicatedNodes?.value, "0", "nothing pending yet");
    assert.equal(r.outputs.TargetLowPriorityNodes?.value, "0");
    assert.equal(r.message, `Pool '${poolId}': autoscale enabled; the formula evaluates to 0 dedicated and 0 Spot/low-priority nodes.`);
    // Evaluated first, on the pool's own data: autoscale is switched on keeping its size, then the formula goes on
    // after Batch's 30 seconds between two Enable Auto Scale calls.
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /enableautoscale", "POST /evaluateautoscale", "POST /enableautoscale", "GET /"]);
    assert.ok(r.durationMs >= 30_000, `the second enable waited for Batch's 30 s (run took ${r.durationMs} ms)`);
    assert.ok(r.lines.some((l) => l.startsWith(`Pool '${poolId}' has no autoscale, and Batch evaluates a formula only on a pool with autoscale`)), explain(r));
    assert.ok(r.lines.includes("  $TargetDedicatedNodes = 0"), "the evaluation results are printed");
    const enabled = await client.pool.get(poolId);
    assert.equal(enabled.enableAutoScale, true);
    assert.equal(enabled.autoScaleFormula, scaleFromZeroFormula({ maxNodes: 4, samplingMinutes: 5, averageTaskSeconds: 60, targetSeconds: 120, lowPriority: "none" }));
    assert.equal(enabled.autoScaleEvaluationInterval, "PT5M");
    assert.equal(enabled.targetDedicatedNodes, 0);

    const jobId = `scale-${crypto.randomBytes(3).toString("hex")}`;
    azure.state.batch.taskScript = (job) => (job.id === jobId ? { durationSeconds: 600 } : undefined);
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.addCollection(jobId, Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: "/bin/sh -c 'python3 app.py'" })));
    const pool = record(poolId);
    const job = azure.batch.account().jobs.get(jobId)!;
    let largest = 0;
    await azure.batch.waitFor(
      () => {
        largest = Math.max(largest, pool.targetDedicatedNodes);
        return pool.nodes.size === 3 && [...pool.nodes.values()].every((n) => n.state === "running" || n.state === "idle");
      },
      { what: "3 nodes for the pending tasks", timeoutMs: 60_000 },
    );
    assert.match((await client.pool.get(poolId)).autoScaleRun?.results ?? "", /^\$TargetDedicatedNodes=3;\$TargetLowPriorityNodes=0;\$NodeDeallocationOption=taskcompletion;/);
    await azure.batch.waitFor(() => [...job.tasks.values()].every((t) => t.state === "completed"), { what: "every task done", timeoutMs: 60_000 });
    await azure.batch.waitFor(
      () => {
        largest = Math.max(largest, pool.targetDedicatedNodes);
        return pool.targetDedicatedNodes === 0 && pool.nodes.size === 0;
      },
      { what: "the scale-down to 0", timeoutMs: 60_000 },
    );
    assert.equal(largest, 3, "never more than the formula's 3 nodes");
    const tasks = [...job.tasks.values()];
    assert.ok(tasks.every((t) => t.executionInfo.result === "success" && t.executionInfo.requeueCount === 0), "taskcompletion lets every task finish on its node");
    const final = await client.pool.get(poolId);
    assert.equal(final.currentDedicatedNodes, 0);
    assert.equal(final.enableAutoScale, true);
    await client.job.deleteMethod(jobId);
  });

  it("applies the start task (elevated, resource files from an auto-storage container prefix) and application packages; nodes that join run it and get them", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const blobs = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
    const container = blobs.getContainerClient("pool-setup");
    await container.createIfNotExists();
    const script = 'echo "installed by the start task" > "$AZ_BATCH_NODE_SHARED_DIR/installed.txt"\n';
    await container.getBlockBlobClient("setup/install.sh").upload(script, script.length);
    const account = azure.batch.account();
    account.applications.set("autoscaleapp", {
      name: "autoscaleapp",
      allowUpdates: true,
      etag: "0x1",
      versions: new Map([["1.0", { version: "1.0", state: "Active" as const, etag: "0x2", container: "app-autoscaleapp", blobName: "autoscaleapp-1.0.zip", entries: [{ name: "app.py", size: 6, data: Buffer.from("print()") }] }]]),
    });

    const mark = azure.log.entries.length;
    const r = await run(poolId, {
      formula: "$TargetDedicatedNodes = 1;\n$NodeDeallocationOption = taskcompletion;\n",
      startTaskCommandLine: "/bin/sh -c 'sh setup/install.sh'",
      startTaskElevated: true,
      startTaskMaxRetries: 1,
      startTaskResourceContainer: "pool-setup",
      startTaskResourcePrefix: "setup/",
      applicationPackages: "autoscaleapp:1.0",
    });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.message, `Pool '${poolId}': formula updated, start task set, application packages set; the formula evaluates to 1 dedicated and 0 Spot/low-priority nodes.`);
    assert.equal(r.outputs.TargetDedicatedNodes?.value, "1");
    assert.ok(!r.secrets.includes("pool-setup"), "a plain container name is not a secret (masking it would blank the word in the whole job's log)");
    assert.ok(
      r.lines.includes("The start task and application packages reach nodes when they next join the pool or reboot (BatchPoolCycle@1 reboots nodes safely); nodes already running keep what they have."),
      explain(r),
    );
    // The start task goes on before autoscale can add a node, so new nodes join with it.
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale", "PATCH /", "POST /enableautoscale", "GET /"]);

    const pool = await client.pool.get(poolId);
    assert.deepEqual(pool.startTask, {
      commandLine: "/bin/sh -c 'sh setup/install.sh'",
      userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } },
      maxTaskRetryCount: 1,
      waitForSuccess: true,
      resourceFiles: [{ autoStorageContainerName: "pool-setup", blobPrefix: "setup/" }],
    });
    assert.equal(pool.applicationPackageReferences?.length, 1);
    assert.match(pool.applicationPackageReferences![0].applicationId, /^\/subscriptions\/[^/]+\/resourceGroups\/rg-batch-release\/providers\/Microsoft\.Batch\/batchAccounts\/releasebatch\/applications\/autoscaleapp$/i);
    assert.equal(pool.applicationPackageReferences![0].version, "1.0");
    assert.equal(pool.autoScaleFormula, "$TargetDedicatedNodes = 1;\n$NodeDeallocationOption = taskcompletion;\n");

    const records = record(poolId);
    await azure.batch.waitFor(() => records.nodes.size === 1 && [...records.nodes.values()][0].state === "idle", { what: "the new node idle", timeoutMs: 30_000 });
    const node = [...records.nodes.values()][0];
    assert.equal((node.startTaskInfo as { result?: string; exitCode?: number }).result, "success", JSON.stringify(node.startTaskInfo));
    assert.equal((node.startTaskInfo as { exitCode?: number }).exitCode, 0);
    assert.equal(fs.readFileSync(path.join(node.sim.rootDir!, "shared", "installed.txt"), "utf8"), "installed by the start task\n");
    assert.deepEqual(
      node.installedPackages.map((p) => `${p.applicationId}:${p.version}`),
      ["autoscaleapp:1.0"],
    );
    account.applications.delete("autoscaleapp");
  });

  it("refuses a formula with a syntax error before anything is sent; the pool is left exactly as it was", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const before = configOf(await client.pool.get(poolId));
    const mark = azure.log.entries.length;
    const r = await run(poolId, { formula: "// two statements, one '(' short\n$TargetDedicatedNodes = min(4, avg($PendingTasks.GetSample(TimeInterval_Minute * 5));\n$NodeDeallocationOption = taskcompletion;" });
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(r.message, "Input 'formula' (Formula): the autoscale formula has an error: Line 2, Col 28: this '(' is never closed: add ')' before the end of the statement.");
    assert.equal(azure.log.entries.length, mark, "no request at all: not even a sign-in");
    assert.deepEqual(configOf(await client.pool.get(poolId)), before);
  });

  it("stops on a formula Batch cannot evaluate (an unknown variable) with the service's message and the failing statement; an autoscale pool is untouched", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const before = configOf(await client.pool.get(poolId));
    const mark = azure.log.entries.length;
    const r = await run(poolId, { formula: "maxNodes = 4;\n$TargetDedicatedNodes = min(maxNodes, avg($PendingTask.GetSample(1)));\n" });
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(
      r.message,
      "The autoscale formula does not evaluate: UndefinedVariable: Autoscale evaluation failed due to an undefined variable. Line 2, Col 43: '$PendingTask' is neither a system variable nor assigned before it is used. Failing statement (line 2, column 43): $TargetDedicatedNodes = min(maxNodes, avg($PendingTask.GetSample(1)));",
    );
    // The lint could only suspect it; Batch's evaluation decided.
    assert.deepEqual(
      r.issues.filter((i) => i.type === "warning").map((i) => i.message),
      ["Autoscale formula: Line 2, Col 43: $PendingTask is not a documented system variable and is not set before this statement."],
    );
    // The detail, one line each, readable in the log.
    assert.ok(r.lines.includes("  Failing statement (line 2, column 43): $TargetDedicatedNodes = min(maxNodes, avg($PendingTask.GetSample(1)));"), explain(r));
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale"]);
    assert.deepEqual(configOf(await client.pool.get(poolId)), before);
    assert.deepEqual(r.outputs, {});
  });

  it("on a pool without autoscale, a formula Batch cannot evaluate leaves the pool as it was: the size-keeping enable is undone", async () => {
    const poolId = await newPool({ targetDedicatedNodes: 1 });
    const nodesBefore = [...record(poolId).nodes.keys()];
    const before = configOf(await client.pool.get(poolId));
    const mark = azure.log.entries.length;
    const r = await run(poolId, { formula: "$TargetDedicatedNodes = avg($PendingTask.GetSample(1));" });
    assert.equal(r.result, "Failed", explain(r));
    assert.match(r.message ?? "", /^The autoscale formula does not evaluate: UndefinedVariable: .* Failing statement \(line 1, column 29\): \$TargetDedicatedNodes = avg\(\$PendingTask\.GetSample\(1\)\);$/);
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /enableautoscale", "POST /evaluateautoscale", "POST /disableautoscale"]);
    assert.ok(r.lines.includes(`Pool '${poolId}' had no autoscale: it was enabled only to evaluate the formula, and is disabled again, keeping its targets.`), explain(r));
    const after = configOf(await client.pool.get(poolId));
    // Enabling and disabling autoscale are changes Batch stamps with a new ETag; everything else is as it was.
    assert.deepEqual({ ...after, eTag: undefined, lastModified: undefined }, { ...before, eTag: undefined, lastModified: undefined });
    assert.equal(after.enableAutoScale, false);
    assert.equal(after.targetDedicatedNodes, 1);
    assert.deepEqual([...record(poolId).nodes.keys()], nodesBefore, "the pool's node stays");
  });

  it("an unchanged formula and interval make no call (line endings and indentation aside); a changed one is updated", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const formula = "pending = $PendingTasks.GetSample(1);\n$TargetDedicatedNodes = min(2, pending);\n$NodeDeallocationOption = taskcompletion;\n";
    let mark = azure.log.entries.length;
    const first = await run(poolId, { formula, evaluationIntervalMinutes: 10 });
    assert.equal(first.result, "Succeeded", explain(first));
    assert.equal(first.message, `Pool '${poolId}': formula and evaluation interval updated; the formula evaluates to 0 dedicated and 0 Spot/low-priority nodes.`);
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale", "POST /enableautoscale", "GET /"]);
    const updated = await client.pool.get(poolId);
    assert.equal(updated.autoScaleFormula, formula);
    assert.equal(updated.autoScaleEvaluationInterval, "PT10M");

    mark = azure.log.entries.length;
    const again = await run(poolId, { formula: `  ${formula.replace(/\n/g, "\r\n   ")}`, evaluationIntervalMinutes: 10 });
    assert.equal(again.result, "Succeeded", explain(again));
    assert.equal(again.message, `Pool '${poolId}': autoscale unchanged; the formula evaluates to 0 dedicated and 0 Spot/low-priority nodes.`);
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale"], "evaluated, and nothing else");
    assert.ok(again.lines.includes(`Autoscale on pool '${poolId}' already has this formula and interval (10 minutes): no call made.`), explain(again));
    assert.equal(again.outputs.TargetDedicatedNodes?.value, "0");
    assert.deepEqual(configOf(await client.pool.get(poolId)), configOf(updated));
    assert.equal(again.summaryFiles.length, 1);
    assert.match(fs.readFileSync(again.summaryFiles[0], "utf8"), /\| Autoscale \| unchanged \(no call\) \|/);
  });

  it("a dry run evaluates and prints the results, and changes nothing; a SAS in the resource container URL never reaches the log", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const before = configOf(await client.pool.get(poolId));
    const sas = `sv=2025-05-05&sr=c&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=${encodeURIComponent(crypto.randomBytes(32).toString("base64"))}`;
    const mark = azure.log.entries.length;
    const r = await run(
      poolId,
      {
        formula: "$TargetDedicatedNodes = 3;\n$TargetLowPriorityNodes = 2;\n$NodeDeallocationOption = taskcompletion;\n",
        dryRun: true,
        startTaskCommandLine: "/bin/sh -c 'sh install.sh'",
        startTaskResourceContainer: `https://${azure.info.storage.accountName}.blob.core.windows.net/setup?${sas}`,
      },
      { debug: true },
    );
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.message, `Dry run on pool '${poolId}': the formula evaluates to 3 dedicated and 2 Spot/low-priority nodes; nothing was applied.`);
    assert.equal(r.outputs.TargetDedicatedNodes?.value, "3");
    assert.equal(r.outputs.TargetLowPriorityNodes?.value, "2");
    assert.ok(r.lines.includes("  $TargetLowPriorityNodes = 2"), explain(r));
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale"]);
    assert.deepEqual(configOf(await client.pool.get(poolId)), before);
    const summary = fs.readFileSync(r.summaryFiles[0], "utf8");
    assert.match(summary, /\| Autoscale \| dry run: would be formula updated \|/);
    assert.match(summary, /\| Start task \| dry run: would be set \|/);
    assert.ok(r.secrets.includes(new URLSearchParams(sas).get("sig")!), "the signature is masked");
    assert.deepEqual(findLeakedSecrets(r, [sas, new URLSearchParams(sas).get("sig")!]), []);
  });

  it("reads formulaFile relative to the default working directory; a formulaFile the agent left as that folder means none", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "autoscale-work-"));
    try {
      fs.mkdirSync(path.join(workDir, "drop"));
      fs.writeFileSync(path.join(workDir, "drop", "autoscale.txt"), "\uFEFF// from a file\r\n$TargetDedicatedNodes = 2;\r\n$NodeDeallocationOption = taskcompletion;\r\n");
      const env = { ...azure.info.env, SYSTEM_DEFAULTWORKINGDIRECTORY: workDir };
      const fromFile = await run(poolId, { formulaTemplate: "none", formulaFile: "drop/autoscale.txt", dryRun: true }, { env });
      assert.equal(fromFile.result, "Succeeded", explain(fromFile));
      assert.equal(fromFile.outputs.TargetDedicatedNodes?.value, "2");
      assert.ok(fromFile.lines.includes("Formula: file drop/autoscale.txt."), explain(fromFile));
      // The agent hands an empty filePath input over as the default working directory.
      const empty = await run(poolId, { formulaFile: workDir, dryRun: true }, { env });
      assert.equal(empty.result, "Succeeded", explain(empty));
      assert.ok(empty.lines.some((l) => l.startsWith("Formula: template scaleFromZero: up to 10 nodes")), explain(empty));
      const missing = await run(poolId, { formulaTemplate: "none", formulaFile: "drop/missing.txt" }, { env });
      assert.equal(missing.result, "Failed");
      assert.match(missing.message ?? "", /^Input 'formulaFile' \(Formula file\): cannot read 'drop\/missing\.txt': ENOENT: no such file or directory.*Give the path of a text file holding the formula\.$/);
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it("a dry run on a pool without autoscale keeps its size and leaves autoscale off", async () => {
    const poolId = await newPool({ targetDedicatedNodes: 1 });
    const nodesBefore = [...record(poolId).nodes.keys()];
    const before = configOf(await client.pool.get(poolId));
    const mark = azure.log.entries.length;
    const r = await run(poolId, { dryRun: true });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.message, `Dry run on pool '${poolId}': the formula evaluates to 1 dedicated and 0 Spot/low-priority nodes; nothing was applied.`);
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /enableautoscale", "POST /evaluateautoscale", "POST /disableautoscale"]);
    assert.ok(r.lines.includes(`Dry run: autoscale was disabled again on pool '${poolId}'; it keeps its targets and nothing else changed.`), explain(r));
    const after = configOf(await client.pool.get(poolId));
    assert.deepEqual({ ...after, eTag: undefined, lastModified: undefined }, { ...before, eTag: undefined, lastModified: undefined });
    assert.deepEqual([...record(poolId).nodes.keys()], nodesBefore);
  });

  it("cancelled while it waits to enable the formula, it disables the size-keeping autoscale again: the pool is as it was", async () => {
    const poolId = await newPool({ targetDedicatedNodes: 1 });
    const before = configOf(await client.pool.get(poolId));
    const mark = azure.log.entries.length;
    const r = await run(poolId, { formula: "$TargetDedicatedNodes = 2;\n" }, { cancelWhen: (line) => line.startsWith("Waiting 31 s") });
    assert.equal(r.result, "Failed", explain(r));
    assert.match(r.message ?? "", /cancel/i);
    assert.ok(r.durationMs < 25_000, `stopped at once, not after the wait (${r.durationMs} ms)`);
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /enableautoscale", "POST /evaluateautoscale", "POST /disableautoscale"]);
    const after = configOf(await client.pool.get(poolId));
    assert.deepEqual({ ...after, eTag: undefined, lastModified: undefined }, { ...before, eTag: undefined, lastModified: undefined });
  });

  it("waits out Batch's throttling (429 with Retry-After) and carries on", async () => {
    const poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
    azure.faults.add({ service: "batch", kind: "429", method: "POST", path: new RegExp(`^/pools/${poolId}/evaluateautoscale$`), count: 2, retryAfterSeconds: 1 });
    const mark = azure.log.entries.length;
    const r = await run(poolId, { formula: "$TargetDedicatedNodes = 1;\n" });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.deepEqual(poolRequests(mark, poolId), ["GET /", "POST /evaluateautoscale", "POST /evaluateautoscale", "POST /evaluateautoscale", "POST /enableautoscale", "GET /"]);
    assert.deepEqual(
      r.lines.filter((l) => l.startsWith("Batch answered")),
      ["Batch answered HTTP 429 (throttled); trying again in 1 s (retry 1).", "Batch answered HTTP 429 (throttled); trying again in 1 s (retry 2)."],
    );
    assert.ok(r.durationMs >= 2000, "waited as long as Batch asked, twice");
    assert.equal((await client.pool.get(poolId)).autoScaleFormula, "$TargetDedicatedNodes = 1;\n");
  });

  describe("bad input: a clear error naming the input, before anything is sent", () => {
    const cases: [string, TaskRunOptions["inputs"], string][] = [
      [
        "a syntax error (no ';' between statements)",
        { formula: "$TargetDedicatedNodes = 2\n$NodeDeallocationOption = taskcompletion;" },
        "Input 'formula' (Formula): the autoscale formula has an error: Line 2, Col 1: ';' is missing before '$NodeDeallocationOption': Batch needs a ';' between statements.",
      ],
      ["an unknown variable", { formula: "$TargetDedicatedNodes = min(4, pendingTasks);" }, "Input 'formula' (Formula): the autoscale formula has an error: Line 1, Col 32: pendingTasks is not defined: set it in an earlier statement ('pendingTasks = ...;')."],
      [
        "an evaluation interval under 5 minutes",
        { evaluationIntervalMinutes: 4 },
        "Input 'evaluationIntervalMinutes' (Evaluation interval (minutes)): 4 is out of range. Use a whole number from 5 to 10080 (Batch evaluates a formula at most every 5 minutes and at least every 168 hours).",
      ],
      ["maxNodes 0", { maxNodes: 0 }, "Input 'maxNodes' (Maximum nodes): 0 is out of range. Use a whole number from 1 to 1000 (a pool needing more nodes can use its own formula)."],
      ["maxNodes 2.5", { maxNodes: "2.5" }, "Input 'maxNodes' (Maximum nodes): '2.5' is not a whole number. Use a whole number from 1 to 1000 (a pool needing more nodes can use its own formula)."],
      ["maxNodes ten", { maxNodes: "ten" }, "Input 'maxNodes' (Maximum nodes): 'ten' is not a whole number. Use a whole number from 1 to 1000 (a pool needing more nodes can use its own formula)."],
    ];
    let poolId: string;
    let unchanged: ReturnType<typeof configOf>;
    before(async () => {
      poolId = await newPool({ autoScaleFormula: KEEP_ZERO });
      unchanged = configOf(await client.pool.get(poolId));
    });

    for (const [name, inputs, message] of cases) {
      it(`refuses ${name}`, async () => {
        const mark = azure.log.entries.length;
        const r = await run(poolId, inputs);
        assert.equal(r.result, "Failed", explain(r));
        assert.equal(r.message, message);
        assert.equal(azure.log.entries.length, mark, "no request at all");
        assert.deepEqual(configOf(await client.pool.get(poolId)), unchanged);
      });
    }

    it("refuses a Batch account that does not exist, in the resource group or in the subscription", async () => {
      const inGroup = await run(poolId, { batchAccountName: "nosuchbatch" });
      assert.equal(inGroup.result, "Failed", explain(inGroup));
      assert.match(inGroup.message ?? "", /^Input 'batchAccountName' \(Batch account\): no Batch account with id '\/subscriptions\/[^/]+\/resourceGroups\/rg-batch-release\/providers\/Microsoft\.Batch\/batchAccounts\/nosuchbatch' \(ResourceNotFound \(HTTP 404\): /);
      const anywhere = await run(poolId, { batchAccountName: "nosuchbatch", resourceGroupName: "" });
      assert.equal(anywhere.result, "Failed", explain(anywhere));
      assert.equal(anywhere.message, "Input 'batchAccountName' (Batch account): no Batch account named 'nosuchbatch' in subscription 'Local Azure'. The service connection can see: releasebatch.");
    });

    it("refuses a pool that does not exist, listing the account's pools", async () => {
      const r = await run("no-such-pool", {});
      assert.equal(r.result, "Failed", explain(r));
      const m = /^Input 'poolId' \(Pool\): no pool named 'no-such-pool' in Batch account 'releasebatch'\. The service connection can see: (.+?)(?:, and (\d+) more)?\.$/.exec(r.message ?? "");
      assert.ok(m, r.message);
      // The account's pools (the first 20 of them, when other suites made more).
      const listed = m[1]!.split(", ");
      const pools = [...azure.batch.account().pools.keys()];
      assert.ok(listed.includes(azure.info.batch.poolId));
      assert.ok(listed.every((id) => pools.includes(id)), listed.join(", "));
      assert.equal(listed.length + Number(m[2] ?? 0), pools.length);
      if (!m[2]) assert.ok(listed.includes(poolId));
    });
  });
});
