/**
 * The runtime's Batch data-plane seam (runtime/batch-data.ts) on @azure/batch
 * against the local Batch, signed in from the service connection: real
 * calls, the pool, node, job and task state read back, a range read of a
 * task's stdout.txt, node files under applications/, node counts, the
 * applications list, and Batch's error code on a missing pool.
 *
 * The adapters at the end bind the seam to what the four tasks' pure-logic
 * modules declare they need (PoolCycleBatchOps, AutoscaleActor,
 * BatchTaskFiles, PoolReader): that they type-check is the proof the seam
 * covers them, and they are driven here against the local Batch too.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import JSZip from "jszip";
import { BatchManagementClient } from "@azure/arm-batch";
import { BlockBlobClient } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import { localCredential } from "../harness/azure-test";
import { envAgent } from "../harness/env-agent";
import { InputReader } from "../../runtime/inputs";
import { signIn } from "../../runtime/session";
import { resolveBatchAccount } from "../../runtime/batch";
import { BatchDataError, batchReason, isBatchNotFound, type BatchData, type BatchPool } from "../../runtime/batch-data";
import { openBatchData } from "../../runtime/batch-data-azure";
import { CancelledError, describeError } from "../../runtime/errors";
import type { PoolCycleBatchOps, PoolView } from "../../tasks/BatchPoolCycle/ops";
import { batchErrorCode } from "../../tasks/BatchPoolCycle/ops";
import type { AutoscaleActor } from "../../tasks/BatchPoolAutoscale/plan";
import type { BatchTaskFiles } from "../../tasks/DataFactoryRun/live-logs";
import { TaskFileTailer } from "../../tasks/DataFactoryRun/logtail";
import { poolFactsFromBatch, type PoolReader } from "../../tasks/DataFactoryRun/preflight";

const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

// ---------------------------------------------------------------- adapters the task entries need

/** BatchPoolCycle: the seam's pool and node shapes pass through; only the names of three calls differ. */
function poolCycleOps(batch: BatchData): PoolCycleBatchOps {
  return {
    getPool: async (poolId, o): Promise<PoolView> => {
      const p = await batch.getPool(poolId, o);
      return { ...p, configuration: p.virtualMachineConfiguration ? "virtualMachine" : p.cloudServiceConfiguration ? "cloudService" : undefined };
    },
    listNodes: (poolId, o) => batch.listNodes(poolId, o),
    listApplicationFiles: (poolId, nodeId, o) => batch.listNodeFiles(poolId, nodeId, { ...o, recursive: true, filter: "startswith(name,'applications/')" }),
    rebootNode: (poolId, nodeId, option, o) => batch.rebootNode(poolId, nodeId, option, o),
    reimageNode: (poolId, nodeId, option, o) => batch.reimageNode(poolId, nodeId, option, o),
    disableScheduling: (poolId, nodeId, option, o) => batch.disableNodeScheduling(poolId, nodeId, option, o),
    enableScheduling: (poolId, nodeId, o) => batch.enableNodeScheduling(poolId, nodeId, o),
    removeNodes: (poolId, nodeIds, option, o) => batch.removeNodes(poolId, nodeIds, option, o),
    resizePool: (poolId, target, o) => batch.resizePool(poolId, target, o),
    stopResizePool: (poolId, o) => batch.stopResizePool(poolId, o),
    enableAutoScale: (poolId, a, o) => batch.enableAutoScale(poolId, { autoScaleFormula: a.formula, autoScaleEvaluationInterval: a.evaluationInterval }, o),
    disableAutoScale: (poolId, o) => batch.disableAutoScale(poolId, o),
  };
}

/** BatchPoolAutoscale: the plan's start task and package references (typed from @azure/batch) go into the seam as they are. */
function autoscaleActor(batch: BatchData, log: string[], signal?: AbortSignal): AutoscaleActor {
  return {
    enableAutoScale: (poolId, parameters) => batch.enableAutoScale(poolId, parameters, { signal }),
    evaluateAutoScale: (poolId, formula) => batch.evaluateAutoScale(poolId, formula, { signal }),
    disableAutoScale: (poolId) => batch.disableAutoScale(poolId, { signal }),
    patchPool: (poolId, patch) => batch.patchPool(poolId, patch, { signal }),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => Date.now(),
    log: (m) => void log.push(m),
  };
}

/** DataFactoryRun's live log: a missing file is a length of undefined. */
function taskFiles(batch: BatchData): BatchTaskFiles {
  return {
    listTasks: (jobId) => batch.listTasks(jobId, { select: "id,commandLine,creationTime,state" }),
    fileLength: (jobId, taskId, file) =>
      batch.getTaskFileProperties(jobId, taskId, file).then(
        (f) => f.contentLength,
        (e: unknown) => (isBatchNotFound(e) ? undefined : Promise.reject(e)),
      ),
    readRange: (jobId, taskId, file, start, endInclusive) => batch.readTaskFile(jobId, taskId, file, { range: { start, endInclusive } }),
  };
}

/** DataFactoryRun's pre-flight: the seam's pool goes to poolFactsFromBatch as it is; a missing pool is undefined. */
const poolReader =
  (batch: BatchData): PoolReader =>
  (ref) =>
    batch.getPool(ref.poolName).then(poolFactsFromBatch, (e: unknown) => (batchReason(e) === "PoolNotFound" ? undefined : Promise.reject(e)));

// ---------------------------------------------------------------- the tests

describe("runtime: Batch data plane seam on @azure/batch, against the local Batch", function () {
  this.timeout(60_000);
  let azure: LocalAzure;
  let batch: BatchData;
  let savedMs: number;
  const pools: string[] = [];

  before(async () => {
    azure = await localAzure();
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
    const agent = envAgent(azure.info.env);
    const session = signIn(agent, new InputReader(agent, {}), "azureSubscription", "LocalAzure");
    batch = await openBatchData(session, await resolveBatchAccount(session, azure.info.batch.accountName), "entra");
  });
  after(async () => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
    const account = azure.batch.account();
    for (const id of pools) {
      const p = account.pools.get(id);
      if (p) azure.batch.deletePool(account, p);
    }
  });
  afterEach(resetLocalAzure);

  /** A fresh pool (added through the local Batch itself: the seam does not add pools), its nodes idle. */
  async function idlePool(nodes: number, extra: Record<string, unknown> = {}): Promise<string> {
    const id = uid("seam");
    pools.push(id);
    const account = azure.batch.account();
    azure.batch.addPool(account, {
      id,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: nodes,
      ...extra,
    });
    await waitUntil(async () => (await batch.listNodes(id)).filter((n) => n.state === "idle").length === nodes && (await batch.getPool(id)).allocationState === "steady", `${nodes} idle nodes in ${id}`);
    return id;
  }

  async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it("reads the seeded pool into plain types: counts and flags filled in, no SDK response attached", async () => {
    const pool = await batch.getPool(azure.info.batch.poolId);
    assert.equal(pool.id, azure.info.batch.poolId);
    assert.equal(pool.state, "active");
    assert.equal(pool.allocationState, "steady");
    assert.equal(typeof pool.targetDedicatedNodes, "number");
    assert.equal(typeof pool.enableAutoScale, "boolean");
    assert.ok(Array.isArray(pool.applicationPackageReferences));
    assert.equal(pool.virtualMachineConfiguration?.nodeAgentSKUId, "batch.node.ubuntu 20.04");
    assert.ok(!("_response" in pool), "the raw HTTP response does not travel");
    assert.equal(batch.accountUrl, azure.info.batch.url);
    const agent = envAgent(azure.info.env);
    const session = signIn(agent, new InputReader(agent, {}), "azureSubscription", "LocalAzure");
    const viaKey = await openBatchData(session, await resolveBatchAccount(session, azure.info.batch.accountName), "sharedKey");
    assert.deepEqual(await viaKey.getPool(azure.info.batch.poolId), pool, "the account key reads the same pool");
  });

  it("resizes a pool, reboots, disables and enables scheduling on a node and removes one, each read back", async () => {
    const poolId = await idlePool(1);
    await batch.resizePool(poolId, { targetDedicatedNodes: 3 });
    const resizing = await batch.getPool(poolId);
    assert.equal(resizing.targetDedicatedNodes, 3);
    await waitUntil(async () => (await batch.listNodes(poolId)).filter((n) => n.state === "idle").length === 3, "3 idle nodes");
    const steady = await batch.getPool(poolId);
    assert.equal(steady.allocationState, "steady");
    assert.equal(steady.currentDedicatedNodes, 3);
    const nodes = await batch.listNodes(poolId);
    assert.equal(new Set(nodes.map((n) => n.ipAddress)).size, 3, "distinct IP addresses");
    const [first, second, third] = nodes.map((n) => n.id);
    assert.ok(first && second && third);

    const bootedAt = (await batch.getNode(poolId, first)).lastBootTime;
    await batch.rebootNode(poolId, first, "requeue");
    assert.equal((await batch.getNode(poolId, first)).state, "rebooting");
    await waitUntil(async () => (await batch.getNode(poolId, first)).state === "idle", "the rebooted node idle");
    const rebooted = await batch.getNode(poolId, first);
    assert.ok(rebooted.lastBootTime && bootedAt && rebooted.lastBootTime.getTime() > bootedAt.getTime(), "lastBootTime moved on");

    await batch.disableNodeScheduling(poolId, second, "taskcompletion");
    assert.equal((await batch.getNode(poolId, second)).schedulingState, "disabled");
    const onlyDisabled = await batch.listNodes(poolId, { filter: "schedulingState eq 'disabled'", select: "id,schedulingState" });
    assert.deepEqual(onlyDisabled.map((n) => n.id), [second], "the filter reached Batch");
    await batch.enableNodeScheduling(poolId, second);
    assert.equal((await batch.getNode(poolId, second)).schedulingState, "enabled");

    await batch.removeNodes(poolId, [third], "requeue");
    assert.equal((await batch.getPool(poolId)).targetDedicatedNodes, 2, "the target drops by the node removed");
    await waitUntil(async () => (await batch.listNodes(poolId)).every((n) => n.id !== third) && (await batch.getPool(poolId)).allocationState === "steady", "the node gone");

    const counts = (await batch.listPoolNodeCounts()).find((c) => c.poolId === poolId);
    assert.ok(counts, "node counts list the pool");
    assert.equal(counts.dedicated.total, 2);
    assert.equal(counts.dedicated.idle, 2);
    assert.equal(counts.lowPriority.total, 0);
  });

  it("stops a resize, and enables, evaluates and disables autoscale", async () => {
    const poolId = await idlePool(0);
    azure.batch.clock.msPerSimulatedSecond = 200; // slow enough to catch the resize in flight
    try {
      await batch.resizePool(poolId, { targetDedicatedNodes: 2, resizeTimeout: "PT10M" });
      assert.equal((await batch.getPool(poolId)).allocationState, "resizing");
      await batch.stopResizePool(poolId);
      assert.notEqual((await batch.getPool(poolId)).allocationState, "resizing");
    } finally {
      azure.batch.clock.msPerSimulatedSecond = 5;
    }
    await waitUntil(async () => (await batch.getPool(poolId)).allocationState === "steady", "steady after stop");

    await batch.enableAutoScale(poolId, { autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M" });
    const auto = await batch.getPool(poolId);
    assert.equal(auto.enableAutoScale, true);
    assert.equal(auto.autoScaleFormula, "$TargetDedicatedNodes = 0;");
    assert.equal(auto.autoScaleEvaluationInterval, "PT5M");
    const run = await batch.evaluateAutoScale(poolId, "$TargetDedicatedNodes = 1;");
    assert.ok(run.timestamp instanceof Date);
    assert.match(run.results ?? "", /\$TargetDedicatedNodes=1/);
    assert.equal(run.error, undefined);
    const bad = await batch.evaluateAutoScale(poolId, "$TargetDedicatedNodes = nosuchvariable;");
    assert.ok(bad.error?.code, "an evaluation error is in the run, not thrown");
    await batch.disableAutoScale(poolId);
    assert.equal((await batch.getPool(poolId)).enableAutoScale, false);
  });

  it("patches the start task, leaving the fields not given as they are", async () => {
    const poolId = await idlePool(0, { metadata: [{ name: "owner", value: "release" }] });
    await batch.patchPool(poolId, { startTask: { commandLine: "/bin/sh -c 'echo up'", waitForSuccess: true, userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } } } });
    const patched = await batch.getPool(poolId);
    assert.deepEqual(patched.startTask, { commandLine: "/bin/sh -c 'echo up'", waitForSuccess: true, userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } } });
    assert.deepEqual(patched.metadata, [{ name: "owner", value: "release" }], "an omitted field is left as it is");
  });

  it("adds a job and a task that really runs; reads its state, exit code, files and a byte range of stdout.txt; terminates the job", async () => {
    const poolId = await idlePool(1);
    const jobId = uid("job");
    await batch.addJob({ id: jobId, poolId });
    assert.equal((await batch.getJob(jobId)).poolInfo?.poolId, poolId);
    await batch.addTask(jobId, { id: "hello", commandLine: "/bin/sh -c 'printf \"line one\\nline two\\nline three\\n\"; echo oops >&2; exit 3'" });
    await waitUntil(async () => (await batch.getTask(jobId, "hello")).state === "completed", "the task completed");
    const done = await batch.getTask(jobId, "hello");
    assert.equal(done.executionInfo?.exitCode, 3);
    assert.equal(done.executionInfo?.result, "failure");
    assert.equal(done.executionInfo?.failureInfo?.code, "FailureExitCode");
    assert.equal(done.nodeInfo?.poolId, poolId);

    const listed = await batch.listTasks(jobId, { select: "id,state" });
    assert.deepEqual(listed.map((t) => [t.id, t.state]), [["hello", "completed"]]);
    const files = await batch.listTaskFiles(jobId, "hello");
    assert.ok(files.some((f) => f.name === "stdout.txt" && !f.isDirectory && f.contentLength === 29), JSON.stringify(files));
    const props = await batch.getTaskFileProperties(jobId, "hello", "stdout.txt");
    assert.equal(props.contentLength, 29);
    assert.equal((await batch.readTaskFile(jobId, "hello", "stdout.txt")).toString(), "line one\nline two\nline three\n");
    assert.equal((await batch.readTaskFile(jobId, "hello", "stdout.txt", { range: { start: 9, endInclusive: 17 } })).toString(), "line two\n", "only the bytes asked for");
    assert.equal((await batch.readTaskFile(jobId, "hello", "stderr.txt")).toString(), "oops\n");

    await batch.terminateJob(jobId, "ReleaseDone");
    const ended = await batch.getJob(jobId);
    assert.ok(ended.state === "terminating" || ended.state === "completed", ended.state);
    await waitUntil(async () => (await batch.getJob(jobId)).state === "completed", "the job completed");
    assert.equal((await batch.getJob(jobId)).executionInfo?.terminateReason, "ReleaseDone");
  });

  it("lists a node's applications/ folder and the account's applications", async () => {
    const arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"] });
    const rg = azure.info.resourceGroup;
    const acct = azure.info.batch.accountName;
    const app = `seam${crypto.randomBytes(3).toString("hex")}`;
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "2.0");
    const zip = new JSZip();
    zip.file("run.sh", "echo hi\n");
    await new BlockBlobClient(pkg.storageUrl ?? "").uploadData(await zip.generateAsync({ type: "nodebuffer" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "2.0", { format: "zip" });

    const apps = await batch.listApplications();
    assert.deepEqual(apps.find((a) => a.id === app), { id: app, displayName: app, versions: ["2.0"] });

    const poolId = await idlePool(1, { applicationPackageReferences: [{ applicationId: app, version: "2.0" }] });
    const [node] = await batch.listNodes(poolId);
    assert.ok(node);
    const appFiles = await batch.listNodeFiles(poolId, node.id, { recursive: true, filter: "startswith(name,'applications')" });
    assert.ok(appFiles.length > 0 && appFiles.every((f) => f.name.startsWith("applications")), JSON.stringify(appFiles));
    assert.ok(appFiles.some((f) => f.isDirectory && f.name.toLowerCase().includes(app.toLowerCase())), JSON.stringify(appFiles));
    const script = appFiles.find((f) => !f.isDirectory && f.name.endsWith("/run.sh"));
    assert.ok(script, JSON.stringify(appFiles));
    assert.equal((await batch.readNodeFile(poolId, node.id, script.name)).toString(), "echo hi\n");
  });

  it("a missing pool fails with Batch's reason, status and request id; an aborted call is a cancellation", async () => {
    const error = await batch.getPool("no-such-pool").catch((e: unknown) => e);
    assert.ok(error instanceof BatchDataError, String(error));
    assert.equal(error.reason, "PoolNotFound");
    assert.equal(error.code, "BatchRequestFailed");
    assert.equal(error.statusCode, 404);
    assert.equal(error.operation, "Pool_Get");
    assert.ok(error.requestId && /^[0-9a-f-]{36}$/.test(error.requestId), `the service's request id: ${error.requestId}`);
    assert.match(describeError(error), /^Batch Pool_Get failed: PoolNotFound \(HTTP 404\): The specified pool does not exist\. \[request id [0-9a-f-]{36}\]$/);
    assert.ok(isBatchNotFound(error));
    assert.equal(batchErrorCode(error), "PoolNotFound", "BatchPoolCycle reads the reason");
    assert.ok(error.cause instanceof Error, "the SDK's error is the cause");

    const invalid = await batch.resizePool(azure.info.batch.poolId, { targetDedicatedNodes: -1 }).catch((e: unknown) => e);
    assert.ok(invalid instanceof BatchDataError);
    assert.equal(invalid.statusCode, 400);
    assert.ok(invalid.values.length > 0, "Batch's values come along");

    const controller = new AbortController();
    controller.abort();
    await assert.rejects(batch.getPool(azure.info.batch.poolId, { signal: controller.signal }), (e: unknown) => e instanceof CancelledError);
  });

  it("the adapters the four tasks need run on the seam with little code", async () => {
    const poolId = await idlePool(1);
    // BatchPoolCycle
    const ops = poolCycleOps(batch);
    const view = await ops.getPool(poolId);
    assert.equal(view.configuration, "virtualMachine");
    assert.equal(view.targetDedicatedNodes, 1);
    const [node] = await ops.listNodes(poolId);
    assert.equal(node?.state, "idle");
    assert.deepEqual(await ops.listApplicationFiles(poolId, node?.id ?? ""), [], "no packages, no applications/ entries");
    // BatchPoolAutoscale
    const log: string[] = [];
    const actor = autoscaleActor(batch, log);
    await actor.enableAutoScale(poolId, { autoScaleFormula: "$TargetDedicatedNodes = 1;" });
    const run = await actor.evaluateAutoScale(poolId, "$TargetDedicatedNodes = 1;");
    assert.match(run.results ?? "", /\$TargetDedicatedNodes=1/);
    await actor.disableAutoScale(poolId);
    // DataFactoryRun: pre-flight and the live log's tail
    const read = poolReader(batch);
    assert.deepEqual(await read({ accountName: azure.info.batch.accountName, poolName: poolId }), {
      enableAutoScale: false,
      targetDedicatedNodes: 1,
      targetLowPriorityNodes: 0,
      virtualMachineConfiguration: true,
      allocationState: "steady",
    });
    assert.equal(await read({ accountName: azure.info.batch.accountName, poolName: "no-such-pool" }), undefined);
    const jobId = uid("adfv2");
    await batch.addJob({ id: jobId, poolId });
    await batch.addTask(jobId, { id: "tail", commandLine: "/bin/sh -c 'echo first; echo second'" });
    await waitUntil(async () => (await batch.getTask(jobId, "tail")).state === "completed", "the task completed");
    const filesOf = taskFiles(batch);
    assert.deepEqual((await filesOf.listTasks(jobId)).map((t) => t.id), ["tail"]);
    assert.equal(await filesOf.fileLength(jobId, "tail", "stderr.txt"), 0);
    const tailer = new TaskFileTailer({ prefix: "[Run] ", read: (start, end) => filesOf.readRange(jobId, "tail", "stdout.txt", start, end) });
    const length = (await filesOf.fileLength(jobId, "tail", "stdout.txt")) ?? 0;
    assert.deepEqual(await tailer.finish(length), ["[Run] first", "[Run] second"]);
  });
});

// Compile-time: the seam's pool is a @azure/batch CloudPool as far as pre-flight reads it.
const _poolFacts: (p: BatchPool) => ReturnType<typeof poolFactsFromBatch> = poolFactsFromBatch;
void _poolFacts;
