/**
 * BatchPoolCycle@1, run as the agent runs it (the bundled task in a child
 * process) against the local Azure's Batch: real start tasks (/bin/sh),
 * application packages deployed on reboot, tasks running on the nodes, and
 * the simulated clock sped up. One scenario per test; each asserts what a
 * user sees: the result and its message, the outputs, the summary, and the
 * pool itself (node states, scheduling, packages, autoscale settings), with
 * the request log and a node timeline sampled while the task runs.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { localAzure, resetLocalAzure } from "../fixture";
import { findLeakedSecrets, runTask, type TaskRunOptions, type TaskRunResult } from "../harness/run-task";
import type { LocalAzure } from "../local-azure";
import type { RequestLogEntry } from "../local-azure/http";
import type { BatchAccountRecord, JobRecord, NodeRecord, PoolRecord, TaskRecord, Timings } from "../local-azure/batch/state";

const APP = "CycleApp";
/** A start task that fails (exit 3, a reason and a would-be logging command on stderr) on a node whose root holds `fail-start`. */
const START_TASK = `/bin/sh -c 'if [ -e "$AZ_BATCH_NODE_ROOT_DIR/fail-start" ]; then echo "cannot mount the share" >&2; echo "##vso[task.complete result=Succeeded;]from stderr" >&2; exit 3; fi; echo ready'`;
/** Simulated seconds, played at MS_PER_SECOND real milliseconds each: a reboot with its start task is back in about 0.7 s. */
const TIMINGS: Partial<Timings> = { allocateSeconds: 5, createSeconds: 10, bootSeconds: 10, startTaskSeconds: 5, rebootSeconds: 30, leaveSeconds: 5 };
const MS_PER_SECOND = 20;

const healthy = (n: NodeRecord) => n.state === "idle" || n.state === "running";
const outOfService = (n: NodeRecord) => !healthy(n) || n.schedulingState === "disabled";

/** Samples a pool every few milliseconds while a run goes: how many nodes were out of service, how many took tasks. */
function watchPool(pool: PoolRecord): { stop(): { outOfService: number; takingTasks: number; nodes: number }[] } {
  const samples: { outOfService: number; takingTasks: number; nodes: number }[] = [];
  const sample = () => {
    const nodes = [...pool.nodes.values()];
    samples.push({ outOfService: nodes.filter(outOfService).length, takingTasks: nodes.filter((n) => !outOfService(n)).length, nodes: nodes.length });
  };
  sample();
  const timer = setInterval(sample, 3);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return samples;
    },
  };
}

describe("BatchPoolCycle@1", function () {
  this.timeout(180_000);
  let azure: LocalAzure;
  let account: BatchAccountRecord;
  let saved: { timings: Timings; ms: number; capture: boolean };

  before(async () => {
    azure = await localAzure();
    account = azure.batch.account(azure.info.batch.accountName);
    saved = { timings: { ...azure.state.batch.timings }, ms: azure.batch.clock.msPerSimulatedSecond, capture: azure.log.capture };
    Object.assign(azure.state.batch.timings, TIMINGS);
    azure.batch.clock.msPerSimulatedSecond = MS_PER_SECOND;
    azure.log.capture = true;
  });
  after(() => {
    Object.assign(azure.state.batch.timings, saved.timings);
    azure.batch.clock.msPerSimulatedSecond = saved.ms;
    azure.log.capture = saved.capture;
  });
  /** Pools a test made, deleted after it (the local Azure is shared by the whole run); a suite's own pools are kept until its end. */
  const made: PoolRecord[] = [];
  const kept = new Set<PoolRecord>();
  afterEach(async () => {
    await resetLocalAzure();
    for (const pool of made.splice(0)) if (kept.has(pool)) made.push(pool);
    else if (account.pools.has(pool.id)) azure.batch.deletePool(account, pool);
  });

  let counter = 0;
  const uid = (name: string) => `${name}-${++counter}-${crypto.randomBytes(2).toString("hex")}`;

  const version = (v: string) => ({ version: v, state: "Active" as const, etag: `e-${v}`, container: "app-cycleapp", blobName: `cycleapp-${v}.zip`, entries: [{ name: "app.py", size: 24 }] });

  /** The application the pools reference without a version: its default is what nodes get. */
  function setDefaultVersion(v: string): void {
    let app = account.applications.get(APP.toLowerCase());
    if (!app) account.applications.set(APP.toLowerCase(), (app = { name: APP, allowUpdates: true, etag: "a", versions: new Map() }));
    if (!app.versions.has(v)) app.versions.set(v, version(v));
    app.defaultVersion = v;
  }

  interface PoolSetup {
    nodes: number;
    autoScaleFormula?: string;
    startTask?: boolean;
    packages?: boolean;
  }

  /** A VirtualMachineConfiguration pool with `nodes` idle nodes (on the application's current default version). */
  async function makePool(setup: PoolSetup, id = uid("cycle")): Promise<PoolRecord> {
    const pool = azure.batch.addPool(account, {
      id,
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      ...(setup.startTask === false ? {} : { startTask: { commandLine: START_TASK, waitForSuccess: true } }),
      applicationPackageReferences: setup.packages === false ? [] : [{ applicationId: APP }],
      ...(setup.autoScaleFormula ? { enableAutoScale: true, autoScaleFormula: setup.autoScaleFormula, autoScaleEvaluationInterval: "PT5M" } : { targetDedicatedNodes: 0 }),
    });
    if (!setup.autoScaleFormula) azure.batch.resize(account, pool, { targetDedicatedNodes: setup.nodes });
    made.push(pool);
    await azure.batch.waitFor(() => pool.allocationState === "steady" && pool.nodes.size === setup.nodes && [...pool.nodes.values()].every((n) => n.state === "idle"), {
      what: `${setup.nodes} idle nodes in ${id}`,
    });
    return pool;
  }

  const sortedIds = (pool: PoolRecord) => [...pool.nodes.keys()].sort((a, b) => a.localeCompare(b));
  const versionsOn = (n: NodeRecord) => n.installedPackages.map((p) => p.version).join("+");

  function run(inputs: TaskRunOptions["inputs"], extra: Partial<TaskRunOptions> = {}): Promise<TaskRunResult> {
    return runTask({
      task: "BatchPoolCycle",
      env: azure.info.env,
      inputs: { azureSubscription: "LocalAzure", resourceGroupName: azure.info.resourceGroup, batchAccountName: azure.info.batch.accountName, pollIntervalSeconds: 1, ...inputs },
      ...extra,
    });
  }

  /** The Batch requests of one run (the log is shared by the whole test run). */
  function batchRequests(since: number, pool?: PoolRecord): RequestLogEntry[] {
    return azure.log.entries.slice(since).filter((e) => e.service === "batch" && (!pool || e.path.startsWith(`/pools/${pool.id}`)));
  }
  const posts = (entries: RequestLogEntry[], action: string) => entries.filter((e) => e.method === "POST" && e.path.endsWith(`/${action}`));
  const nodeOf = (e: RequestLogEntry) => /\/nodes\/([^/]+)\//.exec(e.path)?.[1] ?? "";

  const explain = (r: TaskRunResult) => `result ${r.result}: ${r.message}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`;
  const summaryOf = (r: TaskRunResult, pool: PoolRecord) => {
    const file = r.summaryFiles.find((f) => path.basename(f).startsWith(`batch-pool-cycle-${pool.id}-`));
    assert.ok(file, `a summary for ${pool.id} among ${r.summaryFiles.join(", ")}`);
    return fs.readFileSync(file, "utf8");
  };
  const outputs = (r: TaskRunResult) => ({ cycled: r.outputs.CycledNodeCount?.value, healthy: r.outputs.HealthyNodeCount?.value, skipped: r.outputs.SkippedNodeCount?.value });

  it("reboots 20 nodes with maxUnavailable 5 in 4 batches; the request log and the node timeline never show more than 5 out of service", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 20 });
    setDefaultVersion("2.0");
    const since = azure.log.entries.length;
    const watch = watchPool(pool);
    const r = await run({ poolIds: pool.id, maxUnavailable: 5 }, { debug: true });
    const timeline = watch.stop();
    assert.equal(r.result, "Succeeded", explain(r));
    assert.deepEqual(outputs(r), { cycled: "20", healthy: "20", skipped: "0" });
    assert.match(r.message ?? "", new RegExp(`Pool '${pool.id}': 20 node\\(s\\) cycled \\(reboot\\) in 4 batch\\(es\\)`));

    // The pool: every node back, taking tasks, with the new version installed beside the old.
    assert.ok([...pool.nodes.values()].every((n) => n.state === "idle" && n.schedulingState === "enabled" && versionsOn(n) === "1.0+2.0"));

    // The request log: each node drained, rebooted once, enabled again; never more than 5 between drain and enable.
    const requests = batchRequests(since, pool);
    assert.equal(posts(requests, "reboot").length, 20);
    assert.deepEqual(new Set(posts(requests, "reboot").map(nodeOf)), new Set(pool.nodes.keys()));
    assert.ok(posts(requests, "reboot").every((e) => e.status === 202));
    assert.ok(posts(requests, "reboot").every((e) => (e.exchange?.requestBody as { nodeRebootOption?: string } | undefined)?.nodeRebootOption === "taskcompletion"));
    let drained = 0;
    let most = 0;
    for (const e of requests) {
      if (e.method !== "POST") continue;
      if (e.path.endsWith("/disablescheduling")) drained++;
      if (e.path.endsWith("/enablescheduling")) drained--;
      most = Math.max(most, drained);
      if (e.path.endsWith("/reboot")) assert.ok(requests.slice(0, requests.indexOf(e)).some((d) => d.path === e.path.replace(/reboot$/, "disablescheduling")), "drained before its reboot");
    }
    assert.equal(drained, 0, "every node drained was enabled again");
    assert.equal(most, 5);

    // The node timeline: at most 5 out of service at any sample, and the budget was used.
    assert.ok(timeline.length > 50, `${timeline.length} samples`);
    assert.equal(Math.max(...timeline.map((s) => s.outOfService)), 5);
    assert.ok(timeline.every((s) => s.takingTasks >= 15 && s.nodes === 20));

    // Progress per batch, the summary table, and nothing secret in the log (system.debug on).
    for (const i of [1, 2, 3, 4]) assert.ok(r.lines.some((l) => l.startsWith(`Batch ${i}: cycling `)), `batch ${i} in the log`);
    assert.ok(r.lines.some((l) => / rebooting/.test(l) && l.startsWith("Batch 1: ")), "the states of the batch's nodes");
    assert.ok(r.progress.some((p) => /^Cycling pool .*: 10\/20 node\(s\)/.test(p.operation) && p.percent === 50), JSON.stringify(r.progress));
    assert.equal(r.progress.at(-1)?.percent, 100);
    const summary = summaryOf(r, pool);
    assert.match(summary, /\| Nodes cycled \/ healthy \/ skipped \| 20 \/ 20 \/ 0 \|/);
    assert.match(summary, /\| Batches \| 4 \(at most 5 out of service\) \|/);
    assert.match(summary, /\| tvmps_\w+ \| cycled: idle \[CycleApp 1\.0\] → idle \[CycleApp 1\.0\+2\.0\]; healthy after \d+ s \|/);
    assert.deepEqual(findLeakedSecrets(r, [azure.info.clientSecret, azure.info.batch.accountKey]), []);
  });

  describe("whenTasksRunning, with a task running on the node", () => {
    let job: JobRecord;
    before(() => {
      job = azure.batch.addJob(account, { id: uid("cycle-job"), poolInfo: { poolId: "none-yet" } });
    });

    /**
     * A one-node pool running a real task that ends only when the test lets it
     * (a file in the node's shared folder), so it is surely running while the
     * roll-out reaches the node.
     */
    async function busyPool(): Promise<{ pool: PoolRecord; node: NodeRecord; task: TaskRecord; finish(): void }> {
      setDefaultVersion("1.0");
      const pool = await makePool({ nodes: 1 });
      job.poolInfo = { poolId: pool.id };
      const id = uid("work");
      const task = azure.batch.addTask(account, job, { id, commandLine: `/bin/sh -c 'while [ ! -e "$AZ_BATCH_NODE_SHARED_DIR/${id}.done" ]; do sleep 0.05; done'` });
      // The data plane's Task_Add schedules at once; added here directly, the task is scheduled by hand.
      azure.batch.schedule(account);
      const node = [...pool.nodes.values()][0]!;
      await azure.batch.waitFor(() => task.state === "running" && node.state === "running", { what: "the task running" });
      setDefaultVersion("2.0");
      return { pool, node, task, finish: () => fs.writeFileSync(path.join(node.sim.rootDir!, "shared", `${id}.done`), "") };
    }

    for (const option of ["taskcompletion", "retaineddata"] as const) {
      it(`${option}: the running task finishes first, then the node reboots`, async () => {
        const { pool, node, task, finish } = await busyPool();
        const since = azure.log.entries.length;
        const running = run({ poolIds: pool.id, whenTasksRunning: option });
        // Drained, asked to reboot, and still running its task: nothing is cut short.
        await azure.batch.waitFor(() => posts(batchRequests(since, pool), "reboot").length === 1, { what: "the reboot request" });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(node.state, "running");
        assert.equal(node.schedulingState, "disabled");
        assert.equal(task.state, "running");
        finish();
        const r = await running;
        assert.equal(r.result, "Succeeded", explain(r));
        assert.equal(task.state, "completed");
        assert.equal(task.executionInfo.result, "success");
        assert.equal(task.executionInfo.requeueCount, 0);
        assert.ok(Date.parse(node.lastBootTime!) >= Date.parse(String(task.executionInfo.endTime)), "rebooted after the task ended");
        assert.equal(versionsOn(node), "1.0+2.0");
        const requests = batchRequests(since, pool);
        assert.equal((posts(requests, "reboot")[0]!.exchange?.requestBody as { nodeRebootOption?: string }).nodeRebootOption, option);
        // Disable scheduling has no retaineddata: the drain waits for the task (taskcompletion).
        assert.equal((posts(requests, "disablescheduling")[0]!.exchange?.requestBody as { nodeDisableSchedulingOption?: string }).nodeDisableSchedulingOption, "taskcompletion");
        assert.equal(node.schedulingState, "enabled");
      });
    }

    it("requeue: the running task is stopped, requeued and runs again after the reboot", async () => {
      const { pool, node, task, finish } = await busyPool();
      const r = await run({ poolIds: pool.id, whenTasksRunning: "requeue" });
      assert.equal(r.result, "Succeeded", explain(r));
      assert.equal(task.executionInfo.requeueCount, 1);
      assert.equal(versionsOn(node), "1.0+2.0");
      // It runs again on the rebooted node, and completes when let.
      await azure.batch.waitFor(() => task.state === "running", { what: "the requeued task to run again" });
      finish();
      await azure.batch.waitFor(() => task.state === "completed", { what: "the requeued task to complete" });
      assert.equal(task.executionInfo.result, "success");
    });

    it("terminate: the running task is ended (TaskEnded) and the node reboots at once", async () => {
      const { pool, node, task } = await busyPool();
      const r = await run({ poolIds: pool.id, whenTasksRunning: "terminate" });
      assert.equal(r.result, "Succeeded", explain(r));
      assert.equal(task.state, "completed");
      assert.equal(task.executionInfo.result, "failure");
      assert.equal((task.executionInfo.failureInfo as { code?: string }).code, "TaskEnded");
      assert.equal(task.executionInfo.requeueCount, 0);
      assert.equal(versionsOn(node), "1.0+2.0");
    });
  });

  it("a start task that fails stops the roll-out at once, with the node's exit code and where its stderr is", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 6 });
    setDefaultVersion("2.0");
    const [first, second] = sortedIds(pool);
    fs.writeFileSync(path.join(pool.nodes.get(second)!.sim.rootDir!, "fail-start"), "");
    const since = azure.log.entries.length;
    const r = await run({ poolIds: pool.id, maxUnavailable: 2 });
    assert.equal(r.result, "Failed", explain(r));
    assert.match(
      r.message ?? "",
      new RegExp(
        `^Batch 1 of pool '${pool.id}' did not come back healthy; the roll-out stopped\\. Node '${second}' is starttaskfailed: the start task exited with code 3 \\(FailureExitCode: The task exited with an exit code representing a failure\\); its output is in startup/stderr\\.txt and startup/stdout\\.txt on the node\\.`,
      ),
    );
    // No further batch: only the first two nodes were rebooted; none is left with scheduling disabled.
    assert.deepEqual(posts(batchRequests(since, pool), "reboot").map(nodeOf).sort(), [first, second].sort());
    assert.ok([...pool.nodes.values()].every((n) => n.schedulingState === "enabled"));
    assert.equal(pool.nodes.get(second)!.state, "starttaskfailed");
    // The end of the node's start task stderr is in the log, as data.
    const at = r.lines.indexOf(`The start task's stderr on node '${second}' (startup/stderr.txt, last 2 KB):`);
    assert.ok(at >= 0, explain(r));
    assert.equal(r.lines[at + 1], "  | cannot mount the share");
    assert.equal(r.lines[at + 2], "  | #\u200b#vso[task.complete result=Succeeded;]from stderr");
    assert.deepEqual(r.commands.filter((c) => c.name === "task.complete").map((c) => c.props.result), ["Failed"]);
    assert.deepEqual(outputs(r), { cycled: "2", healthy: "5", skipped: "0" });
    const summary = summaryOf(r, pool);
    assert.match(summary, /^### BatchPoolCycle: pool .* \(reboot\) failed$/m);
    assert.match(summary, new RegExp(`\\| ${second} \\| cycled: idle \\[CycleApp 1\\.0\\] → starttaskfailed \\|`));
    assert.match(summary, new RegExp(`\\| ${first} \\| cycled: idle \\[CycleApp 1\\.0\\] → idle \\[CycleApp 1\\.0\\+2\\.0\\]; healthy after \\d+ s \\|`));
  });

  it("onlyOutdated cycles only the nodes without the new version, and a re-run after a partial failure continues where it stopped", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 4 });
    setDefaultVersion("2.0");
    const [a, b, c, d] = sortedIds(pool);
    const marker = path.join(pool.nodes.get(b)!.sim.rootDir!, "fail-start");
    fs.writeFileSync(marker, "");
    const first = await run({ poolIds: pool.id, onlyOutdated: true });
    assert.equal(first.result, "Failed", explain(first));
    assert.match(first.message ?? "", new RegExp(`Batch 2 of pool '${pool.id}' did not come back healthy.*Node '${b}' is starttaskfailed`));
    assert.deepEqual([a, b, c, d].map((id) => versionsOn(pool.nodes.get(id)!)), ["1.0+2.0", "1.0+2.0", "1.0", "1.0"]);

    // Fixed: the re-run skips the node already on 2.0, cycles the broken one and the two still on 1.0.
    fs.rmSync(marker);
    const since = azure.log.entries.length;
    const second = await run({ poolIds: pool.id, onlyOutdated: true });
    assert.equal(second.result, "Succeeded", explain(second));
    assert.deepEqual(outputs(second), { cycled: "3", healthy: "4", skipped: "1" });
    assert.deepEqual(posts(batchRequests(since, pool), "reboot").map(nodeOf).sort(), [b, c, d].sort());
    assert.ok([...pool.nodes.values()].every((n) => n.state === "idle" && versionsOn(n) === "1.0+2.0"));
    assert.match(summaryOf(second, pool), new RegExp(`\\| ${a} \\| skipped \\(current\\): idle \\[CycleApp 1\\.0\\+2\\.0\\] → idle \\[CycleApp 1\\.0\\+2\\.0\\] \\|`));

    // Nothing outdated any more: a third run changes nothing.
    const third = await run({ poolIds: pool.id, onlyOutdated: true });
    assert.equal(third.result, "Succeeded", explain(third));
    assert.deepEqual(outputs(third), { cycled: "0", healthy: "4", skipped: "4" });
    assert.match(third.message ?? "", /every node already has CycleApp 2\.0; nothing to cycle/);
  });

  it("waits for a pool that is resizing, then cycles every node it has", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 2 });
    setDefaultVersion("2.0");
    // The new VMs take 150 simulated seconds (3 s) to be allocated: the task starts while the pool resizes.
    azure.state.batch.timings.allocateSeconds = 150;
    try {
      azure.batch.resize(account, pool, { targetDedicatedNodes: 3 });
      assert.equal(pool.allocationState, "resizing");
      const r = await run({ poolIds: pool.id });
      assert.equal(r.result, "Succeeded", explain(r));
      assert.ok(r.lines.includes(`Pool '${pool.id}' is resizing; waiting for it to be steady.`), explain(r));
      assert.deepEqual(outputs(r), { cycled: "3", healthy: "3", skipped: "0" });
      assert.ok([...pool.nodes.values()].every((n) => n.state === "idle" && n.installedPackages.some((p) => p.version === "2.0")));
    } finally {
      azure.state.batch.timings.allocateSeconds = TIMINGS.allocateSeconds!;
    }
  });

  it("an empty pool succeeds at once: its nodes get the new version when they join", async () => {
    setDefaultVersion("2.0");
    const pool = await makePool({ nodes: 0 });
    const since = azure.log.entries.length;
    // The account by name in the whole subscription (no resource group).
    const r = await run({ poolIds: pool.id, resourceGroupName: "" });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.message, `Pool '${pool.id}' has no nodes; nodes get the pool's application packages (CycleApp 2.0) when they join.`);
    assert.deepEqual(outputs(r), { cycled: "0", healthy: "0", skipped: "0" });
    assert.deepEqual(batchRequests(since).filter((e) => e.method !== "GET"), [], "nothing changed in Batch");
  });

  it("replace on an autoscaled pool: fresh nodes with the new version, and the formula and interval restored exactly", async () => {
    setDefaultVersion("1.0");
    const formula = "// three nodes while the release runs\n$TargetDedicatedNodes = 3;\n$NodeDeallocationOption = taskcompletion;";
    const pool = await makePool({ nodes: 3, autoScaleFormula: formula });
    setDefaultVersion("2.0");
    const before = sortedIds(pool);
    const since = azure.log.entries.length;
    const watch = watchPool(pool);
    const r = await run({ poolIds: pool.id, method: "replace", maxUnavailable: 1 });
    const timeline = watch.stop();
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(pool.enableAutoScale, true);
    assert.equal(pool.autoScaleFormula, formula);
    assert.equal(pool.autoScaleEvaluationInterval, "PT5M");
    await azure.batch.waitFor(() => pool.allocationState === "steady" && [...pool.nodes.values()].every((n) => n.state === "idle"));
    assert.equal(pool.nodes.size, 3);
    assert.ok(sortedIds(pool).every((id) => !before.includes(id)), "every node is a fresh one");
    assert.ok([...pool.nodes.values()].every((n) => versionsOn(n) === "2.0"));
    const requests = batchRequests(since, pool);
    assert.equal(posts(requests, "disableautoscale").length, 1);
    assert.equal(posts(requests, "enableautoscale").length, 1);
    assert.deepEqual(posts(requests, "enableautoscale")[0].exchange?.requestBody, { autoScaleFormula: formula, autoScaleEvaluationInterval: "PT5M" });
    assert.equal(posts(requests, "removenodes").length, 3);
    assert.ok(timeline.every((s) => s.takingTasks >= 2), "never more than maxUnavailable short");
    assert.deepEqual(outputs(r), { cycled: "3", healthy: "3", skipped: "0" });
    assert.ok(r.lines.some((l) => l === `Pool '${pool.id}': autoscale restored with its formula and interval.`));
  });

  it("surge grows the pool first, so capacity never drops, and puts its target back", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 3 });
    setDefaultVersion("2.0");
    const before = sortedIds(pool);
    const watch = watchPool(pool);
    const r = await run({ poolIds: pool.id, method: "surge", maxSurge: 1 });
    const timeline = watch.stop();
    assert.equal(r.result, "Succeeded", explain(r));
    assert.ok(timeline.every((s) => s.takingTasks >= 3), `taking tasks: min ${Math.min(...timeline.map((s) => s.takingTasks))}`);
    assert.equal(Math.max(...timeline.map((s) => s.nodes)), 4);
    assert.equal(pool.targetDedicatedNodes, 3);
    assert.equal(pool.nodes.size, 3);
    assert.ok(sortedIds(pool).every((id) => !before.includes(id)));
    assert.ok([...pool.nodes.values()].every((n) => n.state === "idle" && versionsOn(n) === "2.0"));
    assert.deepEqual(outputs(r), { cycled: "3", healthy: "3", skipped: "0" });
  });

  it("refuses reimage on a VirtualMachineConfiguration pool before anything changes, suggesting reboot or replace", async () => {
    const pool = await makePool({ nodes: 1, packages: false });
    const since = azure.log.entries.length;
    const r = await run({ poolIds: pool.id, method: "reimage" });
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(
      r.message,
      `Input 'method': 'reimage' is not supported on pool '${pool.id}': Batch does not reimage nodes of VirtualMachineConfiguration pools (OperationNotValidOnNode). Use 'reboot' (nodes reinstall the pool's application packages on restart) or 'replace' (fresh nodes).`,
    );
    assert.deepEqual(batchRequests(since).filter((e) => e.method !== "GET"), []);
  });

  it("SIGTERM mid-roll stops before the next batch and leaves no node with scheduling disabled", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 6 });
    setDefaultVersion("2.0");
    const since = azure.log.entries.length;
    const r = await run({ poolIds: pool.id, maxUnavailable: 2 }, { cancelWhen: (line) => /^Batch 2: tvmps_\w+ rebooting/.test(line), cancelSignal: "SIGTERM" });
    assert.equal(r.result, "Failed", explain(r));
    assert.match(
      r.message ?? "",
      /^Cancelled while waiting for batch 2 \(.*\) to be idle or running again\. 4 node\(s\) of pool '.*' were cycled before the stop \(the last batch's may still be restarting\); no further batch was started\. No node was left with scheduling disabled\.$/,
    );
    assert.ok([...pool.nodes.values()].every((n) => n.schedulingState === "enabled"), "scheduling enabled everywhere");
    const rebooted = posts(batchRequests(since, pool), "reboot").map(nodeOf);
    assert.equal(rebooted.length, 4, "batches 1 and 2 only");
    await azure.batch.waitFor(() => [...pool.nodes.values()].every((n) => n.state === "idle"));
    assert.equal([...pool.nodes.values()].filter((n) => versionsOn(n) === "1.0").length, 2, "the last batch's nodes were left as they were");
    assert.equal(r.outputs.CycledNodeCount?.value, "4");
  });

  it("SIGTERM during replace on an autoscaled pool restores the formula exactly", async () => {
    setDefaultVersion("1.0");
    const formula = "$TargetDedicatedNodes = 2;";
    const pool = await makePool({ nodes: 2, autoScaleFormula: formula });
    setDefaultVersion("2.0");
    const r = await run({ poolIds: pool.id, method: "replace" }, { cancelWhen: (line) => /^Batch 1: cycling /.test(line), cancelSignal: "SIGTERM" });
    assert.equal(r.result, "Failed", explain(r));
    assert.match(r.message ?? "", /^Cancelled /);
    assert.equal(pool.enableAutoScale, true);
    assert.equal(pool.autoScaleFormula, formula);
    assert.equal(pool.autoScaleEvaluationInterval, "PT5M");
    assert.ok(r.lines.some((l) => l === `Pool '${pool.id}': autoscale restored with its formula and interval.`));
    await azure.batch.waitFor(() => pool.allocationState === "steady" && pool.nodes.size === 2 && [...pool.nodes.values()].every((n) => n.state === "idle"));
  });

  it("rides out injected 429 and 503 answers, waiting as Batch asks, and says so", async () => {
    setDefaultVersion("1.0");
    const pool = await makePool({ nodes: 3 });
    setDefaultVersion("2.0");
    azure.faults.add({ service: "batch", kind: "429", method: "GET", path: new RegExp(`^/pools/${pool.id}/nodes$`), count: 3, retryAfterSeconds: 1 });
    azure.faults.add({ service: "batch", kind: "503", method: "POST", path: /\/reboot$/, count: 2, retryAfterSeconds: 1 });
    azure.faults.add({ service: "batch", kind: "500", method: "GET", path: new RegExp(`^/pools/${pool.id}$`), count: 1 });
    const since = azure.log.entries.length;
    const r = await run({ poolIds: pool.id, maxUnavailable: 2 });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.deepEqual(azure.faults.counts(), [3, 2, 1]);
    const retries = (re: RegExp) => r.lines.filter((l) => re.test(l)).length;
    assert.equal(retries(/^Batch answered HTTP 429 \(busy\); trying again in 1 s \(retry \d\)\.$/), 3, explain(r));
    assert.equal(retries(/^Batch answered HTTP 503 \(busy\); trying again in 1 s \(retry \d\)\.$/), 2, explain(r));
    assert.equal(retries(/^Batch answered HTTP 500; trying again in \d s \(retry 1\)\.$/), 1, explain(r));
    // Each node rebooted exactly once: the throttled reboots were sent again, nothing twice.
    const reboots = posts(batchRequests(since, pool), "reboot");
    assert.equal(reboots.filter((e) => e.status === 202).length, 3);
    assert.equal(reboots.filter((e) => e.fault === "503").length, 2);
    assert.ok([...pool.nodes.values()].every((n) => n.state === "idle" && n.schedulingState === "enabled" && versionsOn(n) === "1.0+2.0"));
  });

  it("cycles several pools one after another, with a summary each and the outputs over all", async () => {
    setDefaultVersion("1.0");
    const first = await makePool({ nodes: 2 });
    const second = await makePool({ nodes: 3 });
    setDefaultVersion("2.0");
    const since = azure.log.entries.length;
    // The account as the classic designer's picker fills it in: its resource id, no resource group.
    const accountId = `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${azure.info.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${azure.info.batch.accountName}`;
    const r = await run({ poolIds: `${first.id}\n${second.id}`, maxUnavailable: "50%", batchAccountName: accountId, resourceGroupName: "" });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.deepEqual(outputs(r), { cycled: "5", healthy: "5", skipped: "0" });
    const reboots = posts(batchRequests(since), "reboot");
    const lastOfFirst = reboots.map((e) => e.path.startsWith(`/pools/${first.id}/`)).lastIndexOf(true);
    const firstOfSecond = reboots.findIndex((e) => e.path.startsWith(`/pools/${second.id}/`));
    assert.ok(lastOfFirst >= 0 && firstOfSecond > lastOfFirst, "the second pool starts after the first is done");
    assert.match(summaryOf(r, first), /\| Nodes cycled \/ healthy \/ skipped \| 2 \/ 2 \/ 0 \|/);
    assert.match(summaryOf(r, second), /\| Nodes cycled \/ healthy \/ skipped \| 3 \/ 3 \/ 0 \|/);
    assert.ok(r.progress.some((p) => p.operation.includes("(pool 2 of 2)")));
  });

  it("says what to grant when Batch refuses the connection's identity, before anything changes", async () => {
    const pool = await makePool({ nodes: 1, packages: false });
    const modes = account.allowedAuthenticationModes;
    account.allowedAuthenticationModes = ["SharedKey"];
    try {
      const since = azure.log.entries.length;
      const r = await run({ poolIds: pool.id });
      assert.equal(r.result, "Failed", explain(r));
      assert.match(
        r.message ?? "",
        new RegExp(
          `^The service connection may not use the data plane of Batch account 'releasebatch' \\(reading pool '${pool.id}'\\): Batch Pool_Get failed: AuthenticationFailed \\(HTTP 403\\): Server failed to authenticate the request\\. .*Grant it the 'Contributor' role on the account \\(or a custom role with the Microsoft\\.Batch/batchAccounts/pools data actions\\), and check that the account allows Microsoft Entra ID authentication\\.$`,
        ),
      );
      assert.deepEqual(batchRequests(since).filter((e) => e.method !== "GET"), []);
    } finally {
      account.allowedAuthenticationModes = modes;
    }
  });

  describe("bad input: a clear error naming the input, before anything changes", () => {
    let pool: PoolRecord;
    before(async () => {
      pool = await makePool({ nodes: 1, packages: false });
      kept.add(pool);
    });
    after(() => {
      kept.delete(pool);
      azure.batch.deletePool(account, pool);
    });

    it("refuses an unknown pool, listing the account's pools", async () => {
      const since = azure.log.entries.length;
      const r = await run({ poolIds: `${pool.id}\nno-such-pool` });
      assert.equal(r.result, "Failed", explain(r));
      const m = /^Input 'poolIds' \(Pools\): no pool named 'no-such-pool' in Batch account 'releasebatch'\. The service connection can see: (.*?)(?:, and (\d+) more)?\.$/.exec(r.message ?? "");
      assert.ok(m, r.message);
      const shown = m[1]!.split(", ");
      assert.equal(shown.length + Number(m[2] ?? 0), account.pools.size, "every pool of the account, the first 20 by name");
      assert.ok(shown.every((id) => account.pools.has(id)), shown.join(", "));
      // The first pool was checked, and nothing changed in it: every pool is checked before the first is cycled.
      assert.deepEqual(azure.log.entries.slice(since).filter((e) => e.method !== "GET" && e.service !== "entra"), []);
    });

    const cases: [string, TaskRunOptions["inputs"], (pool: PoolRecord) => RegExp][] = [
      ["maxUnavailable 0", { maxUnavailable: "0" }, () => /^Input 'maxUnavailable': 0 is not allowed: at least 1 node is needed\. Use a whole number of nodes of at least 1 \(for example 5\) or a percentage of the pool's nodes above 0 and at most 100 \(for example 25%\)\.$/],
      ["a negative maxUnavailable", { maxUnavailable: "-3" }, () => /^Input 'maxUnavailable': -3 is not allowed: at least 1 node is needed\./],
      ["maxUnavailable that is not a number", { maxUnavailable: "a few" }, () => /^Input 'maxUnavailable': 'a few' is not a number or a percentage\./],
      ["a percentage over 100", { maxUnavailable: "150%" }, () => /^Input 'maxUnavailable': '150%' is not a valid percentage\./],
      ["a zero timeout", { timeoutMinutes: "0" }, () => /^Input 'timeoutMinutes': '0' is not a positive number of minutes\. Use a number above 0, for example 30\.$/],
      ["a batch timeout that is not a number", { batchTimeoutMinutes: "soon" }, () => /^Input 'batchTimeoutMinutes': 'soon' is not a positive number of minutes\./],
      ["an unknown method", { method: "restart" }, () => /^Input 'method': 'restart' is not one of 'reboot', 'replace', 'surge', 'reimage'\.$/],
      ["an unknown Batch account", { batchAccountName: "nosuchbatch" }, () => /^Input 'batchAccountName' \(Batch account\): no Batch account named 'nosuchbatch' in resource group 'rg-batch-release' \(.*\)\. The service connection can see: releasebatch\.$/],
      ["an unknown Batch account in the subscription (no resource group)", { batchAccountName: "nosuchbatch", resourceGroupName: "" }, () => /^Input 'batchAccountName' \(Batch account\): no Batch account named 'nosuchbatch' in subscription 'Local Azure'\. The service connection can see: releasebatch\.$/],
    ];
    for (const [what, inputs, expected] of cases) {
      it(`refuses ${what}`, async () => {
        const since = azure.log.entries.length;
        const r = await run({ poolIds: pool.id, ...inputs });
        assert.equal(r.result, "Failed", explain(r));
        assert.match(r.message ?? "", expected(pool));
        assert.deepEqual(
          azure.log.entries.slice(since).filter((e) => e.method !== "GET" && e.service !== "entra"),
          [],
          "nothing was sent that changes anything",
        );
        assert.equal(pool.nodes.values().next().value?.state, "idle");
      });
    }
  });
});
