import { strict as assert } from "node:assert";
import { CancelledError } from "../../runtime/errors";
import { formatDuration } from "../../runtime/progress";
import { renderText } from "../../runtime/summary";
import type { NodeDeallocationOption, PoolCycleOptions, WhenTasksRunning } from "../../tasks/BatchPoolCycle/inputs";
import type { CycleClock, NodeFileView, NodeView, PoolCycleBatchOps, PoolView } from "../../tasks/BatchPoolCycle/ops";
import { cyclePool, cyclePools, formatCycleEvent, PoolCycleError, type CycleEvent, type PoolCycleResult } from "../../tasks/BatchPoolCycle/roll";
import { poolCycleOutputs, poolCycleSummary } from "../../tasks/BatchPoolCycle/summary";

// ---------------------------------------------------------------- an in-memory pool on a fake clock

const T0 = Date.parse("2026-01-05T08:00:00Z");
const REBOOT_MS = 60_000;
const CREATE_MS = 90_000;
const ALLOCATE_MS = 20_000;
const LEAVE_MS = 10_000;

interface FakeNode {
  id: string;
  state: string;
  schedulingState: "enabled" | "disabled";
  isDedicated: boolean;
  lastBootTime: number;
  /** A running task ends at this time. */
  taskEndsAt?: number;
  /** What happened to tasks: completed, requeued, terminated. */
  taskOutcome?: string;
  pending?: "reboot" | "remove";
  packages: string[];
  exitCodeOnBoot?: number;
  unusableOnBoot?: boolean;
  startTaskInfo?: NodeView["startTaskInfo"];
  errors: NonNullable<NodeView["errors"]>;
}

class BatchFault extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Call {
  at: number;
  op: string;
  nodeIds?: string[];
  option?: string;
}

class FakePool implements PoolCycleBatchOps, CycleClock {
  t = T0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  private nextId = 0;
  readonly nodes = new Map<string, FakeNode>();
  readonly calls: Call[] = [];
  readonly timeline: { at: number; outOfService: number; healthyEnabled: number; nodes: number }[] = [];
  pool: PoolView & { pendingAllocation?: number };
  private allocations = 0;
  /** The default version of each application (the management plane's answer). */
  defaults = new Map<string, string>();
  /** Boot scripts for the next fresh nodes, in order. */
  nextFresh: { exitCode?: number; unusable?: boolean }[] = [];
  /** Aborts when the roll-out reaches this moment (checked in sleep). */
  abortWhen?: () => boolean;
  controller = new AbortController();

  constructor(count: number, init: Partial<PoolView> = {}, packages: string[] = ["app1.02025-12-01-10-00"]) {
    this.pool = {
      id: "adf-pool",
      allocationState: "steady",
      targetDedicatedNodes: count,
      targetLowPriorityNodes: 0,
      enableAutoScale: false,
      applicationPackageReferences: [{ applicationId: "app", version: "1.0" }],
      configuration: "virtualMachine",
      ...init,
    };
    for (let i = 0; i < count; i++) this.addNode("idle", [...packages]);
    this.record();
  }

  addNode(state: string, packages: string[], isDedicated = true): FakeNode {
    const id = `tvmps_${String(++this.nextId).padStart(3, "0")}_d`;
    const node: FakeNode = { id, state, schedulingState: "enabled", isDedicated, lastBootTime: this.t - 3_600_000, packages, errors: [] };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): FakeNode {
    const n = this.nodes.get(id);
    if (!n) throw new BatchFault("NodeNotFound", "The specified node does not exist.");
    return n;
  }

  ids(): string[] {
    return [...this.nodes.keys()];
  }

  // -- time

  now(): number {
    return this.t;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.abortWhen?.()) this.controller.abort();
    if (signal?.aborted) throw new CancelledError();
    this.advance(ms);
  }

  private after(ms: number, fn: () => void): void {
    this.timers.push({ at: this.t + ms, seq: this.seq++, fn });
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      this.record();
    }
    this.t = end;
  }

  private record(): void {
    const all = [...this.nodes.values()];
    const healthy = (n: FakeNode) => n.state === "idle" || n.state === "running";
    this.timeline.push({
      at: this.t,
      outOfService: all.filter((n) => !healthy(n) || n.schedulingState === "disabled").length,
      healthyEnabled: all.filter((n) => healthy(n) && n.schedulingState === "enabled").length,
      nodes: all.length,
    });
  }

  maxOutOfService(): number {
    return Math.max(...this.timeline.map((s) => s.outOfService));
  }

  private log(op: string, nodeIds?: string[], option?: string): void {
    this.calls.push({ at: this.t, op, nodeIds, option });
  }

  callsOf(op: string): Call[] {
    return this.calls.filter((c) => c.op === op);
  }

  // -- nodes' lives

  runTask(id: string, seconds: number): void {
    const n = this.node(id);
    n.state = "running";
    n.taskEndsAt = this.t + seconds * 1000;
    this.after(seconds * 1000, () => this.taskEnds(n, "completed"));
  }

  private taskEnds(n: FakeNode, outcome: string): void {
    if (n.taskEndsAt === undefined) return;
    n.taskEndsAt = undefined;
    n.taskOutcome = outcome;
    if (n.state === "running") n.state = "idle";
    if (n.pending === "reboot") this.restart(n);
    else if (n.pending === "remove") this.leave(n);
    n.pending = undefined;
  }

  private stopTasks(n: FakeNode, option: NodeDeallocationOption): boolean {
    if (n.taskEndsAt === undefined) return true;
    if (option === "taskcompletion" || option === "retaineddata") return false;
    this.taskEnds(n, option === "requeue" ? "requeued" : "terminated");
    return true;
  }

  private installPackages(n: FakeNode): void {
    const stamp = new Date(this.t).toISOString().slice(0, 16).replace(/[T:]/g, "-");
    for (const ref of this.pool.applicationPackageReferences) {
      const version = ref.version ?? this.defaults.get(ref.applicationId);
      if (!version) continue;
      const head = `${ref.applicationId.toLowerCase()}${version}`;
      if (!n.packages.some((p) => p.startsWith(head))) n.packages.push(`${head}${stamp}`);
    }
  }

  private boot(n: FakeNode): void {
    n.lastBootTime = this.t;
    this.installPackages(n);
    if (n.unusableOnBoot) {
      n.state = "unusable";
      n.errors = [{ code: "DiskFull", message: "The node's disk is full.", values: [{ name: "Drive", value: "/mnt" }] }];
    } else if (n.exitCodeOnBoot) {
      n.state = "starttaskfailed";
      n.startTaskInfo = { state: "completed", exitCode: n.exitCodeOnBoot, result: "failure", failureInfo: { category: "usererror", code: "FailureExitCode", message: "The task exited with an exit code representing a failure" }, retryCount: 0 };
    } else {
      n.state = "idle";
      n.startTaskInfo = { state: "completed", exitCode: 0, result: "success", retryCount: 0 };
      n.errors = [];
    }
  }

  private restart(n: FakeNode): void {
    n.pending = undefined;
    n.state = "rebooting";
    this.record();
    this.after(REBOOT_MS, () => this.boot(n));
  }

  private leave(n: FakeNode): void {
    n.state = "leavingpool";
    this.record();
    this.after(LEAVE_MS, () => {
      this.nodes.delete(n.id);
      this.maybeSteady();
    });
  }

  private maybeSteady(): void {
    if (this.pool.pendingAllocation) return;
    if ([...this.nodes.values()].some((n) => n.state === "leavingpool" || n.pending === "remove")) return;
    this.pool.allocationState = "steady";
  }

  // -- PoolCycleBatchOps

  async getPool(): Promise<PoolView> {
    this.log("getPool");
    const { pendingAllocation: _, ...view } = this.pool;
    return structuredClone(view);
  }

  async listNodes(): Promise<NodeView[]> {
    this.log("listNodes");
    return [...this.nodes.values()].map((n) => ({
      id: n.id,
      state: n.state,
      schedulingState: n.schedulingState,
      isDedicated: n.isDedicated,
      runningTasksCount: n.taskEndsAt !== undefined ? 1 : 0,
      lastBootTime: new Date(n.lastBootTime),
      startTaskInfo: n.startTaskInfo && { ...n.startTaskInfo },
      errors: structuredClone(n.errors),
    }));
  }

  async listApplicationFiles(_poolId: string, nodeId: string): Promise<NodeFileView[]> {
    this.log("listApplicationFiles", [nodeId]);
    return this.node(nodeId).packages.flatMap((p) => [{ name: `applications/${p}`, isDirectory: true }, { name: `applications/${p}/app.py`, isDirectory: false }]);
  }

  private restartable(n: FakeNode): void {
    const busy: Record<string, string> = { creating: "NodeBeingCreated", starting: "NodeBeingStarted", rebooting: "NodeBeingRebooted", leavingpool: "OperationNotValidOnNode" };
    if (busy[n.state]) throw new BatchFault(busy[n.state], `The node is ${n.state}.`);
  }

  async rebootNode(_poolId: string, nodeId: string, option: NodeDeallocationOption): Promise<void> {
    this.log("reboot", [nodeId], option);
    const n = this.node(nodeId);
    this.restartable(n);
    if (this.stopTasks(n, option)) this.restart(n);
    else n.pending = "reboot";
  }

  async reimageNode(_poolId: string, nodeId: string, option: NodeDeallocationOption): Promise<void> {
    this.log("reimage", [nodeId], option);
    if (this.pool.configuration !== "cloudService") throw new BatchFault("OperationNotValidOnNode", "The specified operation is not valid on the node.");
    const n = this.node(nodeId);
    this.restartable(n);
    n.packages = [];
    if (this.stopTasks(n, option)) this.restart(n);
    else n.pending = "reboot";
  }

  async disableScheduling(_poolId: string, nodeId: string, option: "requeue" | "terminate" | "taskcompletion"): Promise<void> {
    this.log("disableScheduling", [nodeId], option);
    const n = this.node(nodeId);
    if (n.schedulingState === "disabled") throw new BatchFault("NodeAlreadyInTargetSchedulingState", "Already disabled.");
    n.schedulingState = "disabled";
    if (option !== "taskcompletion") this.stopTasks(n, option);
    this.record();
  }

  async enableScheduling(_poolId: string, nodeId: string): Promise<void> {
    this.log("enableScheduling", [nodeId]);
    const n = this.node(nodeId);
    if (n.schedulingState === "enabled") throw new BatchFault("NodeAlreadyInTargetSchedulingState", "Already enabled.");
    n.schedulingState = "enabled";
    this.record();
  }

  private requireSteady(): void {
    if (this.pool.allocationState !== "steady") throw new BatchFault("PoolBeingResized", "The specified pool is being resized.");
  }

  async removeNodes(_poolId: string, nodeIds: string[], option: NodeDeallocationOption): Promise<void> {
    this.log("removeNodes", nodeIds, option);
    this.requireSteady();
    const nodes = nodeIds.map((id) => this.node(id));
    const dedicated = nodes.filter((n) => n.isDedicated).length;
    this.pool.targetDedicatedNodes -= dedicated;
    this.pool.targetLowPriorityNodes -= nodes.length - dedicated;
    this.pool.allocationState = "resizing";
    for (const n of nodes) {
      if (this.stopTasks(n, option)) this.leave(n);
      else n.pending = "remove";
    }
  }

  async resizePool(_poolId: string, target: { targetDedicatedNodes: number; targetLowPriorityNodes: number; nodeDeallocationOption: NodeDeallocationOption }): Promise<void> {
    this.log("resize", undefined, `${target.targetDedicatedNodes}/${target.targetLowPriorityNodes}/${target.nodeDeallocationOption}`);
    if (this.pool.enableAutoScale) throw new BatchFault("OperationNotValidOnPool", "The pool is configured for automatic scaling.");
    this.requireSteady();
    const staying = [...this.nodes.values()].filter((n) => n.state !== "leavingpool");
    const delta = target.targetDedicatedNodes + target.targetLowPriorityNodes - staying.length;
    this.pool.targetDedicatedNodes = target.targetDedicatedNodes;
    this.pool.targetLowPriorityNodes = target.targetLowPriorityNodes;
    this.pool.allocationState = "resizing";
    if (delta < 0) {
      const rank = (n: FakeNode) => (n.state === "creating" ? 0 : n.state === "starttaskfailed" || n.state === "unusable" ? 1 : n.taskEndsAt === undefined ? 2 : 3);
      for (const n of staying.sort((a, b) => rank(a) - rank(b)).slice(0, -delta)) {
        if (this.stopTasks(n, target.nodeDeallocationOption)) this.leave(n);
        else n.pending = "remove";
      }
      this.maybeSteady();
      return;
    }
    const allocation = ++this.allocations;
    this.pool.pendingAllocation = allocation;
    this.after(ALLOCATE_MS, () => {
      if (this.pool.pendingAllocation !== allocation) return;
      this.pool.pendingAllocation = undefined;
      for (let i = 0; i < delta; i++) {
        const script = this.nextFresh.shift() ?? {};
        const n = this.addNode("creating", []);
        n.exitCodeOnBoot = script.exitCode;
        n.unusableOnBoot = script.unusable;
        this.after(CREATE_MS, () => this.boot(n));
      }
      this.maybeSteady();
    });
  }

  async stopResizePool(): Promise<void> {
    this.log("stopResize");
    this.pool.pendingAllocation = undefined;
    this.maybeSteady();
  }

  async enableAutoScale(_poolId: string, autoScale: { formula: string; evaluationInterval?: string }): Promise<void> {
    this.log("enableAutoScale", undefined, JSON.stringify(autoScale));
    this.requireSteady();
    this.pool.enableAutoScale = true;
    this.pool.autoScaleFormula = autoScale.formula;
    this.pool.autoScaleEvaluationInterval = autoScale.evaluationInterval ?? "PT15M";
  }

  async disableAutoScale(): Promise<void> {
    this.log("disableAutoScale");
    this.pool.enableAutoScale = false;
    this.pool.autoScaleFormula = undefined;
    this.pool.autoScaleEvaluationInterval = undefined;
  }
}

// ---------------------------------------------------------------- helpers

const options = (o: Partial<PoolCycleOptions> = {}): PoolCycleOptions => ({
  method: "reboot",
  whenTasksRunning: "taskcompletion",
  maxUnavailable: { kind: "count", count: 1 },
  maxSurge: { kind: "count", count: 1 },
  drain: true,
  onlyOutdated: false,
  batchTimeoutMinutes: 30,
  timeoutMinutes: 120,
  ...o,
});

function run(fake: FakePool, o: Partial<PoolCycleOptions> = {}, events: CycleEvent[] = []): Promise<PoolCycleResult> {
  return cyclePool("adf-pool", fake, options(o), {
    clock: fake,
    signal: fake.controller.signal,
    onEvent: (e) => events.push(e),
    defaultVersion: async (id) => fake.defaults.get(id),
  });
}

async function failure(p: Promise<unknown>): Promise<PoolCycleError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PoolCycleError, `expected a PoolCycleError, got ${String(e)}`);
    return e;
  }
  assert.fail("the roll-out succeeded");
}

/** A new version referenced by the pool: every node is then outdated. */
function newVersion(fake: FakePool, version = "2.0"): void {
  fake.pool.applicationPackageReferences = [{ applicationId: "app", version }];
}

const disabledNodes = (fake: FakePool) => [...fake.nodes.values()].filter((n) => n.schedulingState === "disabled").map((n) => n.id);
const FORMULA = "$TargetDedicatedNodes = max(0, $PendingTasks.GetSample(1));\n$NodeDeallocationOption = taskcompletion;";

// ---------------------------------------------------------------- tests

describe("BatchPoolCycle rolling reboot", () => {
  it("cycles 20 nodes with maxUnavailable 5 in 4 batches, never more than 5 out of service, within 1.15 × 4 × T plus one poll", async () => {
    const fake = new FakePool(20);
    newVersion(fake);
    const events: CycleEvent[] = [];
    const result = await run(fake, { maxUnavailable: { kind: "count", count: 5 } }, events);

    assert.equal(result.succeeded, true);
    assert.equal(result.batches, 4);
    assert.equal(result.cycledNodeCount, 20);
    assert.equal(result.healthyNodeCount, 20);
    assert.equal(fake.maxOutOfService(), 5);
    assert.ok(fake.timeline.some((s) => s.outOfService === 5), "batches use the whole budget");
    assert.equal(fake.callsOf("reboot").length, 20);
    // Each batch's reboots are sent together, after the previous batch is back.
    const rebootTimes = [...new Set(fake.callsOf("reboot").map((c) => c.at))];
    assert.equal(rebootTimes.length, 4);
    assert.ok(rebootTimes.every((t, i) => i === 0 || t - rebootTimes[i - 1] >= REBOOT_MS));
    assert.ok(result.durationMs <= 1.15 * 4 * REBOOT_MS + 30_000, `took ${result.durationMs} ms`);
    // Polling backs off: a handful of calls per node, not a tight loop.
    // Per node: its files before and after, disable, reboot, enable (5); the rest is polling, which backs off.
    assert.ok(result.apiCallsPerNode < 7, `${result.apiCallsPerNode} calls per node`);
    assert.ok(fake.callsOf("listNodes").length <= 4 * 7 + 3, `${fake.callsOf("listNodes").length} node listings`);
    assert.equal(result.apiCalls, fake.calls.length);
    assert.deepEqual(
      { reboot: result.apiCallsByOperation.rebootNode, disable: result.apiCallsByOperation.disableScheduling, enable: result.apiCallsByOperation.enableScheduling, files: result.apiCallsByOperation.listApplicationFiles },
      { reboot: 20, disable: 20, enable: 20, files: 40 },
    );
    // Every node has the new version and scheduling back on.
    assert.deepEqual(disabledNodes(fake), []);
    assert.ok([...fake.nodes.values()].every((n) => n.packages.some((p) => p.startsWith("app2.0"))));
    assert.equal(result.nodes.filter((r) => r.before?.packages === "app 1.0" && r.after?.packages === "app 1.0+2.0").length, 20);
    assert.ok(result.nodes.every((r) => r.timeToHealthyMs !== undefined && r.timeToHealthyMs >= REBOOT_MS));
    const log = events.map(formatCycleEvent);
    assert.equal(log[0], "Pool 'adf-pool': 20 node(s), 20 to cycle (reboot), 0 already current; at most 5 out of service at once.");
    assert.equal(log.filter((l) => /^Batch \d: cycling/.test(l)).length, 4);
    assert.ok(log.some((l) => /^Batch 1: tvmps_001_d rebooting, /.test(l)));
  });

  it("counts nodes already out of service against the budget", async () => {
    const fake = new FakePool(6);
    const busy = fake.node("tvmps_001_d");
    busy.state = "starting";
    fake.advance(0);
    (fake as unknown as { after(ms: number, fn: () => void): void }).after(30_000, () => {
      busy.state = "idle";
    });
    fake.node("tvmps_002_d").state = "unusable";
    const events: CycleEvent[] = [];
    const result = await run(fake, { maxUnavailable: { kind: "count", count: 2 } }, events);
    assert.equal(result.succeeded, true);
    assert.ok(fake.maxOutOfService() <= 2, `max out of service ${fake.maxOutOfService()}`);
    const first = events.find((e) => e.kind === "batchStarted");
    // The unusable node goes first (it costs nothing); the starting one takes the other slot.
    assert.deepEqual(first && first.kind === "batchStarted" && first.nodeIds, ["tvmps_002_d"]);
    assert.equal(result.cycledNodeCount, 6);
  });

  for (const when of ["taskcompletion", "requeue", "terminate", "retaineddata"] as WhenTasksRunning[]) {
    it(`passes whenTasksRunning '${when}' to disable scheduling and reboot`, async () => {
      const fake = new FakePool(2);
      fake.runTask("tvmps_001_d", 300);
      const result = await run(fake, { whenTasksRunning: when });
      assert.equal(result.succeeded, true);
      assert.deepEqual(
        fake.callsOf("reboot").map((c) => c.option),
        [when, when],
      );
      assert.deepEqual(
        fake.callsOf("disableScheduling").map((c) => c.option),
        [when === "retaineddata" ? "taskcompletion" : when, when === "retaineddata" ? "taskcompletion" : when],
      );
      const busy = fake.node("tvmps_001_d");
      const expected = when === "taskcompletion" || when === "retaineddata" ? "completed" : when === "requeue" ? "requeued" : "terminated";
      assert.equal(busy.taskOutcome, expected);
      if (expected === "completed") {
        // The idle node goes first; the busy one reboots only after its task, so the roll-out outlasts it.
        assert.ok(result.durationMs >= 300_000 + REBOOT_MS, `took ${result.durationMs}`);
        assert.deepEqual(fake.callsOf("reboot").map((c) => c.nodeIds![0]), ["tvmps_002_d", "tvmps_001_d"]);
      }
      assert.deepEqual(disabledNodes(fake), []);
    });
  }

  it("without drain, reboots without disabling scheduling", async () => {
    const fake = new FakePool(3);
    const result = await run(fake, { drain: false, maxUnavailable: { kind: "percent", percent: 50 } });
    assert.equal(result.maxUnavailable, 1);
    assert.equal(fake.callsOf("disableScheduling").length, 0);
    assert.equal(fake.callsOf("reboot").length, 3);
  });

  it("stops after the batch with a start task failure, with the node's own errors, and leaves no node disabled", async () => {
    const fake = new FakePool(8);
    newVersion(fake);
    fake.node("tvmps_003_d").exitCodeOnBoot = 2;
    fake.node("tvmps_004_d").unusableOnBoot = true;
    const error = await failure(run(fake, { maxUnavailable: { kind: "count", count: 4 } }));
    assert.equal(error.code, "NodeFailed");
    assert.match(error.message, /^Batch 1 of pool 'adf-pool' did not come back healthy; the roll-out stopped\./);
    assert.match(error.message, /Node 'tvmps_003_d' is starttaskfailed: the start task exited with code 2 \(FailureExitCode: The task exited with an exit code representing a failure\); its output is in startup\/stderr\.txt/);
    assert.match(error.message, /Node 'tvmps_004_d' is unusable: DiskFull: The node's disk is full\. \(Drive=\/mnt\)/);
    // No further batch.
    assert.equal(fake.callsOf("reboot").length, 4);
    assert.equal(error.result.batches, 1);
    assert.equal(error.result.succeeded, false);
    assert.equal(error.result.cycledNodeCount, 4);
    assert.deepEqual(disabledNodes(fake), []);
    const table = renderText(poolCycleSummary(error.result));
    assert.match(table, /BatchPoolCycle: pool adf-pool \(reboot\) failed/);
    assert.match(table, /^ {2}tvmps_003_d\s+cycled: idle \[app 1\.0\] → starttaskfailed$/m);
    // After a failure the summary still shows which nodes have the new version.
    assert.match(table, /^ {2}tvmps_001_d\s+cycled: idle \[app 1\.0\] → idle \[app 1\.0\+2\.0\]; healthy after /m);
    assert.match(table, /^ {2}tvmps_005_d\s+left as it was: idle \[app 1\.0\] → idle \[app 1\.0\]$/m);
  });

  it("onlyOutdated cycles only outdated nodes, and a re-run after a partial failure continues where it stopped", async () => {
    const fake = new FakePool(6);
    newVersion(fake);
    // Two nodes already have 2.0.
    fake.node("tvmps_001_d").packages.push("app2.02025-12-02-10-00");
    fake.node("tvmps_002_d").packages.push("app2.02025-12-02-10-00");
    fake.node("tvmps_005_d").exitCodeOnBoot = 1;
    const error = await failure(run(fake, { onlyOutdated: true, maxUnavailable: { kind: "count", count: 2 } }));
    assert.match(error.message, /Batch 2 .*Node 'tvmps_005_d' is starttaskfailed: the start task exited with code 1/);
    assert.deepEqual(fake.callsOf("reboot").map((c) => c.nodeIds![0]), ["tvmps_003_d", "tvmps_004_d", "tvmps_005_d", "tvmps_006_d"]);
    assert.equal(error.result.skippedNodeCount, 2);

    // Fix the start task and run again: only the failed node is left (it is broken, so it is cycled again).
    fake.node("tvmps_005_d").exitCodeOnBoot = undefined;
    fake.calls.length = 0;
    const result = await run(fake, { onlyOutdated: true, maxUnavailable: { kind: "count", count: 2 } });
    assert.deepEqual(fake.callsOf("reboot").map((c) => c.nodeIds![0]), ["tvmps_005_d"]);
    assert.equal(result.cycledNodeCount, 1);
    assert.equal(result.skippedNodeCount, 5);
    assert.equal(result.healthyNodeCount, 6);
    assert.deepEqual(poolCycleOutputs([result]), { CycledNodeCount: "1", HealthyNodeCount: "6", SkippedNodeCount: "5" });

    // A third run has nothing to do.
    fake.calls.length = 0;
    const nothing = await run(fake, { onlyOutdated: true });
    assert.equal(nothing.cycledNodeCount, 0);
    assert.equal(fake.callsOf("reboot").length, 0);
    assert.match(nothing.message, /every node already has app 2\.0; nothing to cycle/);
  });

  it("onlyOutdated reads a node that was restarting at the start once it is up, and skips it if current", async () => {
    const fake = new FakePool(3);
    newVersion(fake);
    const late = fake.node("tvmps_001_d");
    late.state = "rebooting";
    (fake as unknown as { after(ms: number, fn: () => void): void }).after(20_000, () => {
      late.state = "idle";
      late.packages.push("app2.02025-12-02-10-00");
    });
    const result = await run(fake, { onlyOutdated: true, maxUnavailable: { kind: "count", count: 2 } });
    assert.deepEqual(fake.callsOf("reboot").map((c) => c.nodeIds![0]).sort(), ["tvmps_002_d", "tvmps_003_d"]);
    assert.equal(result.skippedNodeCount, 1);
    assert.equal(result.nodes.find((r) => r.nodeId === "tvmps_001_d")?.before?.state, "rebooting");
  });

  it("onlyOutdated on a pool without package references has nothing to cycle", async () => {
    const fake = new FakePool(2, { applicationPackageReferences: [] });
    const result = await run(fake, { onlyOutdated: true });
    assert.equal(result.cycledNodeCount, 0);
    assert.equal(result.skippedNodeCount, 2);
    assert.deepEqual(fake.callsOf("reboot"), []);
  });

  it("resolves a reference without a version through the application's default version", async () => {
    const fake = new FakePool(3);
    fake.pool.applicationPackageReferences = [{ applicationId: "app" }];
    fake.defaults.set("app", "3.1");
    fake.node("tvmps_002_d").packages.push("app3.12025-12-02-10-00");
    const result = await run(fake, { onlyOutdated: true });
    assert.deepEqual(fake.callsOf("reboot").map((c) => c.nodeIds![0]), ["tvmps_001_d", "tvmps_003_d"]);
    assert.equal(result.skippedNodeCount, 1);
  });

  it("fails when a node is still on an old version after cycling", async () => {
    const fake = new FakePool(2);
    newVersion(fake);
    // This node does not pick up packages on reboot (as if its deployment was skipped).
    const stuck = fake.node("tvmps_002_d");
    const original = (fake as unknown as { installPackages(n: FakeNode): void }).installPackages.bind(fake);
    (fake as unknown as { installPackages(n: FakeNode): void }).installPackages = (n: FakeNode) => (n === stuck ? undefined : original(n));
    const error = await failure(run(fake));
    assert.equal(error.code, "NodesOutdated");
    assert.match(error.message, /1 node\(s\) of pool 'adf-pool' still miss a referenced package version: tvmps_002_d: app 2\.0 \(has 1\.0\)/);
  });

  it("succeeds at once on an empty pool, saying new nodes get the packages when they join", async () => {
    const fake = new FakePool(0, { targetDedicatedNodes: 0 });
    const result = await run(fake);
    assert.equal(result.succeeded, true);
    assert.equal(result.cycledNodeCount, 0);
    assert.equal(result.apiCallsPerNode, 0);
    assert.match(result.message, /^Pool 'adf-pool' has no nodes; nodes get the pool's application packages \(app 1\.0\) when they join\.$/);
    assert.deepEqual(fake.calls.map((c) => c.op), ["getPool", "listNodes"]);
  });

  it("waits for a resizing pool before it starts, and times out naming the timeout", async () => {
    const fake = new FakePool(2, { allocationState: "resizing" });
    (fake as unknown as { after(ms: number, fn: () => void): void }).after(45_000, () => {
      fake.pool.allocationState = "steady";
    });
    const events: CycleEvent[] = [];
    const result = await run(fake, {}, events);
    assert.equal(result.succeeded, true);
    assert.ok(events.some((e) => e.kind === "waitingForPool"));
    assert.ok(fake.callsOf("reboot")[0].at >= T0 + 45_000);

    const stuck = new FakePool(2, { allocationState: "resizing" });
    await assert.rejects(run(stuck, { timeoutMinutes: 2, batchTimeoutMinutes: 1 }), /Timed out after 2 min \d+ s waiting for pool 'adf-pool' to finish resizing \(timeoutMinutes \(2\)\); last seen: allocation state resizing\./);
    assert.equal(stuck.callsOf("reboot").length, 0);
  });

  it("times out a batch that does not come back within batchTimeoutMinutes, and re-enables scheduling", async () => {
    const fake = new FakePool(2);
    fake.runTask("tvmps_001_d", 3600);
    fake.runTask("tvmps_002_d", 3600);
    const error = await failure(run(fake, { batchTimeoutMinutes: 5 }));
    assert.equal(error.code, "Timeout");
    assert.match(error.message, /waiting for batch 1 \(tvmps_001_d\) to be idle or running again \(batchTimeoutMinutes \(5\)\); last seen: tvmps_001_d running/);
    assert.deepEqual(disabledNodes(fake), []);
  });

  it("cancellation stops before the next batch and leaves no node with scheduling disabled", async () => {
    const fake = new FakePool(9);
    fake.abortWhen = () => fake.callsOf("reboot").length >= 6;
    const error = await failure(run(fake, { maxUnavailable: { kind: "count", count: 3 } }));
    assert.equal(error.cancelled, true);
    assert.equal(error.code, "Cancelled");
    assert.equal(fake.callsOf("reboot").length, 6);
    assert.deepEqual(disabledNodes(fake), []);
    assert.ok(fake.callsOf("enableScheduling").length >= 6);
  });

  it("a Batch call cut short by cancellation still ends as a cancellation, with scheduling re-enabled", async () => {
    const fake = new FakePool(4);
    const list = fake.listNodes.bind(fake);
    fake.listNodes = async () => {
      if (fake.callsOf("reboot").length >= 2) {
        fake.controller.abort();
        throw new DOMException("The operation was aborted.", "AbortError");
      }
      return list();
    };
    const error = await failure(run(fake, { maxUnavailable: { kind: "count", count: 2 } }));
    assert.equal(error.cancelled, true);
    assert.match(error.message, /^Cancelled while cycling pool 'adf-pool'\./);
    assert.deepEqual(disabledNodes(fake), []);
  });

  it("refuses reimage on a VirtualMachineConfiguration pool before changing anything; turns OperationNotValidOnNode into the same advice", async () => {
    const fake = new FakePool(3);
    await assert.rejects(run(fake, { method: "reimage" }), /'reimage' is not supported on pool 'adf-pool'.*Use 'reboot'/);
    assert.deepEqual(fake.calls.map((c) => c.op), ["getPool"]);

    const unknown = new FakePool(3, { configuration: undefined });
    const error = await failure(run(unknown, { method: "reimage" }));
    assert.match(error.message, /'reimage' is not supported on pool 'adf-pool'.*OperationNotValidOnNode.*'replace'/);
    assert.deepEqual(disabledNodes(unknown), []);

    const legacy = new FakePool(2, { configuration: "cloudService" });
    newVersion(legacy);
    const result = await run(legacy, { method: "reimage" });
    assert.equal(legacy.callsOf("reimage").length, 2);
    assert.equal(result.nodes.every((r) => r.after?.packages === "app 2.0"), true);
  });

  it("cycles several pools one after another", async () => {
    const fake = new FakePool(2);
    const results = await cyclePools(["adf-pool", "ADF-POOL"], fake, options(), { clock: fake, defaultVersion: async () => undefined });
    assert.equal(results.length, 2);
    assert.deepEqual(poolCycleOutputs(results), { CycledNodeCount: "4", HealthyNodeCount: "4", SkippedNodeCount: "0" });
  });

  it("counts timeoutMinutes over every pool: the pool reached after it ran out is left as it was, the earlier ones reported", async () => {
    // How long the first pool takes on the fake clock (two batches of one 60 s reboot each)...
    const probe = new FakePool(2);
    const alone = await cyclePool("adf-pool", probe, options(), { clock: probe, defaultVersion: async () => undefined });
    assert.ok(alone.durationMs > 120_000 && alone.durationMs < 150_000, `${alone.durationMs} ms`);
    // ...is the whole run's timeout: the second pool is reached exactly when it runs out.
    const fake = new FakePool(2);
    const error = await failure(cyclePools(["adf-pool", "second-pool"], fake, options({ timeoutMinutes: alone.durationMs / 60_000 }), { clock: fake, defaultVersion: async () => undefined }));
    assert.equal(error.code, "Timeout");
    assert.match(error.message, /^Timed out before pool 'second-pool': timeoutMinutes \([\d.]+\) covers every pool of the run and has run out; nothing was changed in this pool\./);
    assert.deepEqual(error.earlierResults.map((r) => [r.poolId, r.cycledNodeCount]), [["adf-pool", 2]]);
    assert.equal(error.result.poolId, "second-pool");
    assert.equal(error.result.cycledNodeCount, 0);
    assert.equal(fake.callsOf("reboot").length, 2, "only the first pool's nodes were rebooted");
  });

  it("a cancellation between two pools leaves the second untouched and keeps the first one's result", async () => {
    const fake = new FakePool(2);
    const first = cyclePools(["adf-pool", "second-pool"], fake, options(), {
      clock: fake,
      signal: fake.controller.signal,
      defaultVersion: async () => undefined,
      onEvent: (e) => {
        if (e.kind === "batchDone" && e.index === 2) fake.controller.abort();
      },
    });
    const error = await failure(first);
    assert.equal(error.cancelled, true);
    assert.match(error.message, /^Cancelled before pool 'second-pool'; nothing was changed in it\./);
    assert.deepEqual(error.earlierResults.map((r) => [r.poolId, r.succeeded, r.cycledNodeCount]), [["adf-pool", true, 2]]);
    assert.equal(fake.callsOf("reboot").length, 2);
  });
});

describe("BatchPoolCycle replace and surge", () => {
  it("replace removes nodes in batches and brings the pool back to its target", async () => {
    const fake = new FakePool(4);
    newVersion(fake);
    const before = fake.ids();
    const result = await run(fake, { method: "replace", maxUnavailable: { kind: "count", count: 2 }, whenTasksRunning: "requeue" });
    assert.equal(result.succeeded, true);
    assert.equal(fake.nodes.size, 4);
    assert.ok(fake.ids().every((id) => !before.includes(id)));
    assert.deepEqual(fake.callsOf("removeNodes").map((c) => [c.nodeIds!.length, c.option]), [
      [2, "requeue"],
      [2, "requeue"],
    ]);
    assert.equal(fake.pool.targetDedicatedNodes, 4);
    // Nodes missing from the starting count are out of service too: never fewer than 4 - 2 taking tasks.
    assert.equal(Math.min(...fake.timeline.map((s) => s.healthyEnabled)), 2);
    assert.equal(result.cycledNodeCount, 4);
    assert.equal(result.nodes.filter((r) => r.action === "added").length, 4);
    assert.ok(result.nodes.filter((r) => r.action === "added").every((r) => r.after?.packages === "app 2.0" && r.timeToHealthyMs! > 0));
    assert.deepEqual(fake.callsOf("disableAutoScale"), []);
  });

  const autoscaled = () => {
    const fake = new FakePool(4, { enableAutoScale: true, autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT7M" });
    newVersion(fake);
    return fake;
  };
  const restored = (fake: FakePool) => {
    assert.equal(fake.pool.enableAutoScale, true);
    assert.equal(fake.pool.autoScaleFormula, FORMULA);
    assert.equal(fake.pool.autoScaleEvaluationInterval, "PT7M");
    assert.deepEqual(fake.callsOf("enableAutoScale").map((c) => c.option), [JSON.stringify({ formula: FORMULA, evaluationInterval: "PT7M" })]);
  };

  it("replace on an autoscaled pool pauses autoscale and restores formula and interval exactly on success", async () => {
    const fake = autoscaled();
    const result = await run(fake, { method: "replace", maxUnavailable: { kind: "count", count: 2 } });
    assert.equal(result.succeeded, true);
    assert.equal(fake.callsOf("disableAutoScale").length, 1);
    restored(fake);
  });

  it("replace on an autoscaled pool restores formula and interval on failure", async () => {
    const fake = autoscaled();
    fake.nextFresh = [{ exitCode: 3 }];
    const error = await failure(run(fake, { method: "replace", maxUnavailable: { kind: "count", count: 2 } }));
    assert.match(error.message, /Fresh nodes of pool 'adf-pool' did not come up healthy in batch 1.*the start task exited with code 3/);
    restored(fake);
  });

  it("replace on an autoscaled pool restores formula and interval on cancellation mid-resize", async () => {
    const fake = autoscaled();
    fake.abortWhen = () => fake.callsOf("resize").length >= 1 && fake.pool.allocationState === "resizing";
    const error = await failure(run(fake, { method: "replace", maxUnavailable: { kind: "count", count: 2 } }));
    assert.equal(error.cancelled, true);
    assert.equal(fake.callsOf("stopResize").length, 1);
    restored(fake);
    assert.deepEqual(disabledNodes(fake), []);
  });

  it("restores autoscale even when the pool cannot be read right after pausing it, and says how to restore it by hand if that fails", async () => {
    const fake = autoscaled();
    const get = fake.getPool.bind(fake);
    let failGet = true;
    fake.getPool = async () => {
      if (fake.callsOf("disableAutoScale").length === 1 && failGet) {
        failGet = false;
        throw new BatchFault("ServerBusy", "The server is busy.");
      }
      return get();
    };
    const error = await failure(run(fake, { method: "replace" }));
    assert.match(error.message, /^The server is busy\./);
    restored(fake);

    const stuck = autoscaled();
    stuck.enableAutoScale = async () => {
      throw new BatchFault("ServerBusy", "The server is busy.");
    };
    stuck.nextFresh = [{ exitCode: 1 }];
    const failed = await failure(run(stuck, { method: "replace" }));
    assert.ok(failed.message.includes(`Could not restore autoscale; re-apply it by hand with evaluation interval PT7M and formula ${JSON.stringify(FORMULA)}: The server is busy.`), failed.message);
  });

  it("surge grows first and never drops capacity below the starting count, then restores the targets", async () => {
    const fake = new FakePool(5);
    newVersion(fake);
    const result = await run(fake, { method: "surge", maxSurge: { kind: "count", count: 2 } });
    assert.equal(result.succeeded, true);
    assert.equal(result.batches, 3);
    assert.ok(Math.min(...fake.timeline.map((s) => s.healthyEnabled)) >= 5, "capacity never below 5");
    assert.equal(fake.nodes.size, 5);
    assert.equal(fake.pool.targetDedicatedNodes, 5);
    assert.deepEqual(fake.callsOf("resize").map((c) => c.option), ["7/0/taskcompletion", "7/0/taskcompletion", "6/0/taskcompletion"]);
    // Each removal comes only after the fresh nodes are up.
    for (const remove of fake.callsOf("removeNodes")) assert.ok(fake.calls.some((c) => c.op === "resize" && c.at + ALLOCATE_MS + CREATE_MS <= remove.at));
  });

  it("surge on an autoscaled pool pins the formula and restores it when a fresh node fails", async () => {
    const fake = autoscaled();
    fake.nextFresh = [{}, { unusable: true }];
    const error = await failure(run(fake, { method: "surge", maxSurge: { kind: "count", count: 2 } }));
    assert.match(error.message, /Node 'tvmps_00\d_d' is unusable: DiskFull/);
    assert.equal(fake.callsOf("removeNodes").length, 0, "no old node removed when the fresh ones are not all healthy");
    assert.ok(Math.min(...fake.timeline.map((s) => s.healthyEnabled)) >= 4);
    restored(fake);
  });

  it("surge on a fixed pool resizes back to its targets when a fresh node fails", async () => {
    const fake = new FakePool(3);
    newVersion(fake);
    fake.nextFresh = [{ exitCode: 9 }];
    const error = await failure(run(fake, { method: "surge" }));
    assert.match(error.message, /the start task exited with code 9/);
    assert.deepEqual(fake.callsOf("resize").map((c) => c.option), ["4/0/taskcompletion", "3/0/taskcompletion"]);
    fake.advance(600_000);
    // Batch removes the broken node first: the old three remain.
    assert.deepEqual(fake.ids(), ["tvmps_001_d", "tvmps_002_d", "tvmps_003_d"]);
  });

  it("surge on a fixed pool resizes back to its targets when cancelled", async () => {
    const fake = new FakePool(3);
    fake.abortWhen = () => fake.callsOf("resize").length >= 1;
    const error = await failure(run(fake, { method: "surge" }));
    assert.equal(error.cancelled, true);
    assert.equal(fake.pool.targetDedicatedNodes, 3);
    fake.advance(600_000);
    assert.equal(fake.nodes.size, 3);
  });
});

describe("BatchPoolCycle summary", () => {
  it("tables nodes before and after with state, package versions and time to healthy, and totals the outputs", async () => {
    const fake = new FakePool(2);
    newVersion(fake);
    fake.node("tvmps_002_d").packages.push("app2.02025-12-02-10-00");
    const result = await run(fake, { onlyOutdated: true });
    const table = poolCycleSummary(result);
    assert.equal(table.title, "BatchPoolCycle: pool adf-pool (reboot) succeeded");
    assert.deepEqual(table.rows, [
      ["Result", "Pool 'adf-pool': 1 node(s) cycled (reboot) in 1 batch(es); 1 already current."],
      ["Nodes cycled / healthy / skipped", "1 / 2 / 1"],
      ["Batches", "1 (at most 1 out of service)"],
      ["Duration", formatDuration(result.durationMs)],
      ["Batch calls", `${result.apiCalls} (${(result.apiCalls / 2).toFixed(1)} per node)`],
      ["tvmps_001_d", `cycled: idle [app 1.0] → idle [app 1.0+2.0]; healthy after ${formatDuration(result.nodes[0].timeToHealthyMs!)}`],
      ["tvmps_002_d", "skipped (current): idle [app 1.0+2.0] → idle [app 1.0+2.0]"],
    ]);
    assert.ok(result.nodes[0].timeToHealthyMs! >= REBOOT_MS);
    const failedPool = { ...result, cycledNodeCount: 3, healthyNodeCount: 1, skippedNodeCount: 0 };
    assert.deepEqual(poolCycleOutputs([result, failedPool]), { CycledNodeCount: "4", HealthyNodeCount: "3", SkippedNodeCount: "1" });
  });
});
