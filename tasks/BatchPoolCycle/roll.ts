/**
 * Cycling one pool, rolling: the driver over PoolCycleBatchOps. It waits for
 * a resizing pool, works out which nodes to cycle, then cycles them batch by
 * batch within maxUnavailable (reboot, reimage, replace) or by growing the
 * pool first (surge), waits for each batch to come back healthy, and stops at
 * the first broken node with that node's own errors. Whatever ends it
 * (success, failure, timeout, cancellation), it re-enables scheduling on the
 * nodes it disabled and restores the pool's autoscale settings or targets.
 * Polls back off; the number of Batch calls is counted and reported.
 */
import { CancelledError, TaskError, TimeoutError, type TaskErrorCode } from "../../runtime/errors";
import { formatDuration } from "../../runtime/progress";
import {
  nodeOptionsFor,
  reimageNotSupported,
  resolveNodeCount,
  checkMethodForPool,
  type CycleMethod,
  type PoolCycleOptions,
} from "./inputs";
import { batchErrorCode, type CycleClock, type NodeView, type PoolCycleBatchOps, type PoolView } from "./ops";
import {
  describeMissing,
  describePackage,
  nodePackageStatus,
  resolvePackageReferences,
  type DefaultVersionLookup,
  type NodePackageStatus,
  type ResolvedPackage,
} from "./outdated";
import { cycleProgress, describeNodeFailure, isCyclable, isFailed, isHealthy, isOutOfService, markBefore, pickBatch, pickSurge, type CycleMark } from "./plan";

export type CycleEvent =
  | { kind: "waitingForPool"; poolId: string; allocationState: string }
  | { kind: "plan"; poolId: string; nodeCount: number; toCycle: number; skipped: number; maxUnavailable: number; maxSurge?: number; method: CycleMethod }
  | { kind: "autoScalePinned"; poolId: string; formula: string; evaluationInterval?: string }
  | { kind: "autoScaleRestored"; poolId: string }
  | { kind: "batchStarted"; poolId: string; index: number; nodeIds: string[]; outOfService: number }
  | { kind: "nodeStates"; poolId: string; index: number; states: { nodeId: string; state: string }[] }
  | { kind: "batchDone"; poolId: string; index: number; nodeIds: string[]; durationMs: number }
  | { kind: "note"; poolId: string; message: string };

export interface CycleEnvironment {
  clock: CycleClock;
  signal?: AbortSignal;
  onEvent?: (event: CycleEvent) => void;
  /** The application's default version (management plane), for references without a version. */
  defaultVersion: DefaultVersionLookup;
  /** Clock time by which the whole run ends (cyclePools sets it, so timeoutMinutes covers every pool); default: timeoutMinutes from this pool's start. */
  deadline?: number;
}

export interface NodeSide {
  state: string;
  schedulingState: string;
  /** `app 1.0, tools 2.1`, or empty when the pool references no packages or the files could not be read. */
  packages: string;
}

export interface NodeReport {
  nodeId: string;
  /** cycled: rebooted/reimaged; replaced: removed for a fresh node; added: a fresh node; skipped: already current; untouched: left as it was. */
  action: "cycled" | "replaced" | "added" | "skipped" | "untouched";
  before?: NodeSide;
  after?: NodeSide;
  timeToHealthyMs?: number;
}

export interface PoolCycleResult {
  poolId: string;
  method: CycleMethod;
  succeeded: boolean;
  message: string;
  nodes: NodeReport[];
  cycledNodeCount: number;
  healthyNodeCount: number;
  skippedNodeCount: number;
  batches: number;
  maxUnavailable: number;
  apiCalls: number;
  /** Batch calls per node of the pool at the start (0 for an empty pool). */
  apiCallsPerNode: number;
  /** Calls per PoolCycleBatchOps method, e.g. { listNodes: 31, rebootNode: 20 }. */
  apiCallsByOperation: Record<string, number>;
  /** surge: fresh nodes added at a time. */
  maxSurge?: number;
  durationMs: number;
}

/** A roll-out that stopped: the message says why; `result` is what was done, for the summary. */
export class PoolCycleError extends TaskError {
  /** Stopped by SIGINT/SIGTERM. */
  readonly cancelled: boolean;
  /** With cyclePools: the pools cycled before this one. */
  earlierResults: PoolCycleResult[] = [];
  constructor(
    code: TaskErrorCode,
    message: string,
    readonly result: PoolCycleResult,
    override readonly cause?: unknown,
  ) {
    super(code, message);
    this.name = "PoolCycleError";
    this.cancelled = cause instanceof CancelledError;
  }
}

/** Counts every call made through the ops. */
function countCalls(batch: PoolCycleBatchOps): { ops: PoolCycleBatchOps; count: () => number; byOperation: Record<string, number> } {
  let calls = 0;
  const byOperation: Record<string, number> = {};
  const ops = new Proxy(batch, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls++;
        byOperation[String(prop)] = (byOperation[String(prop)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { ops, count: () => calls, byOperation };
}

const IGNORED_ON_ENABLE = new Set(["NodeAlreadyInTargetSchedulingState", "NodeNotFound", "NotFound"]);

class PoolRoll {
  private readonly ops: PoolCycleBatchOps;
  private readonly calls: () => number;
  private readonly callsByOperation: Record<string, number>;
  private readonly started: number;
  private readonly deadline: number;
  private readonly cycle;
  private readonly disabledByUs = new Set<string>();
  /** onlyOutdated: pending nodes whose files could not be read yet (they were not up). */
  private readonly unassessed = new Set<string>();
  private pinned?: { formula: string; evaluationInterval?: string };
  private targets?: { targetDedicatedNodes: number; targetLowPriorityNodes: number };
  private expected: ResolvedPackage[] = [];
  private readonly reports = new Map<string, NodeReport>();
  private batches = 0;
  private initialCount = 0;
  private maxUnavailable = 0;
  private maxSurge?: number;

  constructor(
    private readonly poolId: string,
    batch: PoolCycleBatchOps,
    private readonly options: PoolCycleOptions,
    private readonly env: CycleEnvironment,
  ) {
    const counted = countCalls(batch);
    this.ops = counted.ops;
    this.calls = counted.count;
    this.callsByOperation = counted.byOperation;
    this.started = env.clock.now();
    this.deadline = Math.min(this.started + options.timeoutMinutes * 60_000, env.deadline ?? Number.POSITIVE_INFINITY);
    this.cycle = nodeOptionsFor(options.whenTasksRunning);
  }

  private emit(event: CycleEvent): void {
    this.env.onEvent?.(event);
  }

  private note(message: string): void {
    this.emit({ kind: "note", poolId: this.poolId, message });
  }

  private get signal() {
    return this.env.signal;
  }

  private checkCancelled(): void {
    if (this.signal?.aborted) throw new CancelledError(`Cancelled while cycling pool '${this.poolId}'.`);
  }

  /** Polls `check` with back-off until it answers, the deadline passes or the task is cancelled. */
  private async waitFor<T>(description: string, deadline: number, check: () => Promise<{ done: true; value: T } | { done: false; status: string }>): Promise<T> {
    const initial = (this.options.pollInitialSeconds ?? 5) * 1000;
    const max = Math.max(initial, (this.options.pollMaxSeconds ?? 30) * 1000);
    let delay = initial;
    const since = this.env.clock.now();
    for (;;) {
      this.checkCancelled();
      const r = await check();
      if (r.done) return r.value;
      const now = this.env.clock.now();
      if (now >= deadline) {
        const which = deadline === this.deadline ? `timeoutMinutes (${this.options.timeoutMinutes})` : `batchTimeoutMinutes (${this.options.batchTimeoutMinutes})`;
        throw new TimeoutError(`Timed out after ${formatDuration(now - since)} waiting for ${description} (${which}); last seen: ${r.status}.`);
      }
      try {
        await this.env.clock.sleep(Math.min(delay, Math.max(1, deadline - now)), this.signal);
      } catch {
        throw new CancelledError(`Cancelled while waiting for ${description}.`);
      }
      delay = Math.min(max, delay * (this.options.pollBackoff ?? 1.5));
    }
  }

  private batchDeadline(): number {
    return Math.min(this.deadline, this.env.clock.now() + this.options.batchTimeoutMinutes * 60_000);
  }

  private listNodes(): Promise<NodeView[]> {
    return this.ops.listNodes(this.poolId, { signal: this.signal });
  }

  private async packageStatus(node: NodeView): Promise<NodePackageStatus | undefined> {
    if (this.expected.length === 0) return undefined;
    const files = await this.ops.listApplicationFiles(this.poolId, node.id, { signal: this.signal });
    return nodePackageStatus(node.id, files.map((f) => f.name), this.expected);
  }

  private side(node: NodeView, status?: NodePackageStatus): NodeSide {
    const packages = status ? status.installed.map((i) => `${i.applicationId} ${i.versions.length ? i.versions.join("+") : "none"}`).join(", ") : "";
    return { state: node.state ?? "unknown", schedulingState: node.schedulingState ?? "enabled", packages };
  }

  private report(nodeId: string): NodeReport {
    let r = this.reports.get(nodeId);
    if (!r) this.reports.set(nodeId, (r = { nodeId, action: "untouched" }));
    return r;
  }

  private async waitSteady(deadline: number): Promise<PoolView> {
    let said = false;
    return this.waitFor(`pool '${this.poolId}' to finish resizing`, deadline, async () => {
      const pool = await this.ops.getPool(this.poolId, { signal: this.signal });
      const state = pool.allocationState ?? "steady";
      if (state === "steady") return { done: true, value: pool };
      if (!said) this.emit({ kind: "waitingForPool", poolId: this.poolId, allocationState: state });
      said = true;
      return { done: false, status: `allocation state ${state}` };
    });
  }

  async run(): Promise<PoolCycleResult> {
    if (this.signal?.aborted) throw await this.fail(new CancelledError(`Cancelled before pool '${this.poolId}'; nothing was changed in it.`), []);
    if (this.env.clock.now() >= this.deadline) {
      throw await this.fail(new TimeoutError(`Timed out before pool '${this.poolId}': timeoutMinutes (${this.options.timeoutMinutes}) covers every pool of the run and has run out; nothing was changed in this pool.`), []);
    }
    let pool = await this.ops.getPool(this.poolId, { signal: this.signal });
    checkMethodForPool(this.options.method, this.poolId, pool.configuration);
    if ((pool.allocationState ?? "steady") !== "steady") pool = await this.waitSteady(this.deadline);
    this.expected = await resolvePackageReferences(this.poolId, pool.applicationPackageReferences, this.env.defaultVersion);

    const nodes = await this.listNodes();
    this.initialCount = nodes.length;
    if (nodes.length === 0) {
      return this.result(true, `Pool '${this.poolId}' has no nodes; nodes get the pool's application packages${this.expected.length ? ` (${this.expected.map(describePackage).join(", ")})` : ""} when they join.`);
    }
    this.maxUnavailable = resolveNodeCount(this.options.maxUnavailable, nodes.length);

    // Before: every node's state, and its packages where the files can be read.
    const statuses = new Map<string, NodePackageStatus>();
    for (const n of nodes) {
      const status = isCyclable(n) ? await this.packageStatus(n) : undefined;
      if (status) statuses.set(n.id, status);
      this.report(n.id).before = this.side(n, status);
    }

    const pending = new Set<string>();
    for (const n of nodes) {
      const status = statuses.get(n.id);
      // Broken nodes are cycled whatever they have: a restart is their way back.
      if (!this.options.onlyOutdated || isFailed(n)) pending.add(n.id);
      else if (this.expected.length === 0) this.report(n.id).action = "skipped";
      else if (!status) {
        // Joining or restarting: its files are read once it is up.
        pending.add(n.id);
        this.unassessed.add(n.id);
      } else if (status.outdated) pending.add(n.id);
      else this.report(n.id).action = "skipped";
    }
    const skipped = nodes.length - pending.size;
    const maxSurge = this.options.method === "surge" ? resolveNodeCount(this.options.maxSurge, nodes.length) : undefined;
    this.maxSurge = maxSurge;
    this.emit({ kind: "plan", poolId: this.poolId, nodeCount: nodes.length, toCycle: pending.size, skipped, maxUnavailable: this.maxUnavailable, maxSurge, method: this.options.method });

    let failure: unknown;
    try {
      if (pending.size > 0) {
        if (this.options.method === "replace" || this.options.method === "surge") await this.pin();
        if (this.options.method === "surge") await this.rollSurge(pending, maxSurge ?? 1);
        else if (this.options.method === "replace") await this.rollReplace(pending);
        else await this.rollRestart(pending);
      }
    } catch (e) {
      // A call cut short by the signal fails with whatever the client throws (AbortError): it is still a cancellation.
      failure = this.signal?.aborted && !(e instanceof CancelledError) ? new CancelledError(`Cancelled while cycling pool '${this.poolId}'.`) : e;
    }
    const cleanupProblems = await this.cleanUp();
    if (failure !== undefined) throw await this.fail(failure, cleanupProblems);
    if (cleanupProblems.length) throw await this.fail(new TaskError("CleanupFailed", `Pool '${this.poolId}' was cycled, but restoring it failed: ${cleanupProblems.join(" ")}`), []);

    // After: every node checked the same way; one still on an old version fails the task.
    const after = await this.listNodes();
    const stale: string[] = [];
    const broken: string[] = [];
    for (const n of after) {
      const status = isCyclable(n) ? await this.packageStatus(n) : undefined;
      const r = this.report(n.id);
      r.after = this.side(n, status);
      if (status?.outdated && isHealthy(n)) stale.push(`${n.id}: ${describeMissing(status)}`);
      if (isFailed(n) && r.action !== "untouched") broken.push(describeNodeFailure(n));
    }
    if (broken.length) throw await this.fail(new TaskError("NodeFailed", broken.join(" ")), []);
    if (stale.length) {
      throw await this.fail(new TaskError("NodesOutdated", `After cycling, ${stale.length} node(s) of pool '${this.poolId}' still miss a referenced package version: ${stale.join("; ")}.`), []);
    }
    const cycled = [...this.reports.values()].filter((r) => r.action === "cycled" || r.action === "replaced").length;
    const message = cycled
      ? `Pool '${this.poolId}': ${cycled} node(s) cycled (${this.options.method}) in ${this.batches} batch(es); ${this.skippedCount()} already current.`
      : `Pool '${this.poolId}': every node already has ${this.expected.map(describePackage).join(", ") || "the pool's packages"}; nothing to cycle.`;
    return this.result(true, message, after);
  }

  // ------------------------------------------------------------ reboot / reimage

  private async nextBatch(pending: Set<string>, maxUnavailable: number, capacityShortfall = 0): Promise<{ nodes: NodeView[]; ids: string[]; outOfService: number }> {
    return this.waitFor(`room to cycle the next node of pool '${this.poolId}' (at most ${maxUnavailable} out of service)`, this.deadline, async () => {
      const nodes = await this.listNodes();
      for (const id of [...pending]) if (!nodes.some((n) => n.id === id)) pending.delete(id);
      await this.assessLate(nodes, pending);
      if (pending.size === 0) return { done: true, value: { nodes, ids: [], outOfService: 0 } };
      const shortfall = capacityShortfall > 0 ? Math.max(0, capacityShortfall - nodes.length) : 0;
      const pick = pickBatch(nodes, pending, Math.max(0, maxUnavailable - shortfall));
      if (pick.nodeIds.length) return { done: true, value: { nodes, ids: pick.nodeIds, outOfService: pick.outOfService + shortfall } };
      return { done: false, status: `${pick.outOfService + shortfall} node(s) out of service${pick.notReady.length ? `; not ready: ${pick.notReady.join(", ")}` : ""}` };
    });
  }

  /** onlyOutdated: a node that was not up at the start is checked once it is, and skipped if it already has every version. */
  private async assessLate(nodes: NodeView[], pending: Set<string>): Promise<void> {
    for (const n of nodes) {
      if (!this.unassessed.has(n.id) || !pending.has(n.id) || !isHealthy(n)) continue;
      this.unassessed.delete(n.id);
      const status = await this.packageStatus(n);
      const r = this.report(n.id);
      if (r.before && status) r.before.packages = this.side(n, status).packages;
      if (status && !status.outdated) {
        pending.delete(n.id);
        r.action = "skipped";
      }
    }
  }

  private skippedCount(): number {
    return [...this.reports.values()].filter((r) => r.action === "skipped").length;
  }

  private async drain(nodes: NodeView[], ids: string[]): Promise<void> {
    if (!this.options.drain) return;
    for (const id of ids) {
      const n = nodes.find((x) => x.id === id);
      if (!n || !isHealthy(n) || n.schedulingState === "disabled") continue;
      await this.ops.disableScheduling(this.poolId, id, this.cycle.disableScheduling, { signal: this.signal });
      this.disabledByUs.add(id);
    }
  }

  private async enable(ids: Iterable<string>, signal?: AbortSignal): Promise<string[]> {
    const problems: string[] = [];
    for (const id of [...ids]) {
      if (!this.disabledByUs.has(id)) continue;
      try {
        await this.ops.enableScheduling(this.poolId, id, { signal });
        this.disabledByUs.delete(id);
      } catch (e) {
        if (IGNORED_ON_ENABLE.has(batchErrorCode(e) ?? "")) this.disabledByUs.delete(id);
        else problems.push(`Could not re-enable scheduling on node '${id}': ${e instanceof Error ? e.message : String(e)}.`);
      }
    }
    return problems;
  }

  private async rollRestart(pending: Set<string>): Promise<void> {
    const reimage = this.options.method === "reimage";
    for (;;) {
      // Every node done: a cancellation now stops nothing, and the pool is checked and reported as it is.
      if (pending.size === 0) return;
      this.checkCancelled();
      const { nodes, ids, outOfService } = await this.nextBatch(pending, this.maxUnavailable);
      if (ids.length === 0) return;
      const index = ++this.batches;
      this.emit({ kind: "batchStarted", poolId: this.poolId, index, nodeIds: ids, outOfService });
      await this.drain(nodes, ids);
      const marks = new Map<string, CycleMark>();
      const requested = this.env.clock.now();
      for (const id of ids) {
        const node = nodes.find((n) => n.id === id)!;
        marks.set(id, markBefore(node));
        try {
          if (reimage) await this.ops.reimageNode(this.poolId, id, this.cycle.cycle, { signal: this.signal });
          else await this.ops.rebootNode(this.poolId, id, this.cycle.cycle, { signal: this.signal });
        } catch (e) {
          if (reimage && batchErrorCode(e) === "OperationNotValidOnNode") throw reimageNotSupported(this.poolId);
          throw e;
        }
        pending.delete(id);
        this.report(id).action = "cycled";
      }
      const outcome = await this.waitBatch(index, ids, marks, requested);
      await this.settleBatch(index, ids, outcome, requested);
    }
  }

  /** Waits until every node of the batch is back (idle/running), broken or gone. */
  private async waitBatch(index: number, ids: string[], marks: Map<string, CycleMark>, requested: number): Promise<Map<string, { progress: string; node?: NodeView }>> {
    let lastStates = "";
    return this.waitFor(`batch ${index} (${ids.join(", ")}) to be idle or running again`, this.batchDeadline(), async () => {
      const nodes = await this.listNodes();
      const out = new Map<string, { progress: string; node?: NodeView }>();
      for (const id of ids) {
        const node = nodes.find((n) => n.id === id);
        const progress = cycleProgress(node, marks.get(id)!);
        out.set(id, { progress, node });
        const r = this.report(id);
        if (progress === "back" && r.timeToHealthyMs === undefined) r.timeToHealthyMs = this.env.clock.now() - requested;
      }
      const states = ids.map((id) => ({ nodeId: id, state: out.get(id)!.node?.state ?? "gone" }));
      const key = JSON.stringify(states);
      if (key !== lastStates) this.emit({ kind: "nodeStates", poolId: this.poolId, index, states });
      lastStates = key;
      if ([...out.values()].every((o) => o.progress !== "cycling")) return { done: true, value: out };
      return { done: false, status: states.map((s) => `${s.nodeId} ${s.state}`).join(", ") };
    });
  }

  private async settleBatch(index: number, ids: string[], outcome: Map<string, { progress: string; node?: NodeView }>, requested: number): Promise<void> {
    const back = ids.filter((id) => outcome.get(id)!.progress === "back");
    const problems = await this.enable(back, this.signal);
    if (problems.length) throw new TaskError("EnableSchedulingFailed", problems.join(" "));
    const failed = ids.map((id) => outcome.get(id)!).filter((o) => o.progress === "failed" && o.node);
    for (const id of ids) if (outcome.get(id)!.progress === "gone") this.note(`Node '${id}' left the pool while it was being cycled.`);
    if (failed.length) {
      throw new TaskError("NodeFailed", `Batch ${index} of pool '${this.poolId}' did not come back healthy; the roll-out stopped. ${failed.map((o) => describeNodeFailure(o.node!)).join(" ")}`);
    }
    this.emit({ kind: "batchDone", poolId: this.poolId, index, nodeIds: ids, durationMs: this.env.clock.now() - requested });
  }

  // ------------------------------------------------------------ replace / surge

  /** replace and surge set the pool's size themselves: autoscale is paused (and its settings kept) until the end. */
  private async pin(): Promise<void> {
    let pool = await this.ops.getPool(this.poolId, { signal: this.signal });
    if (pool.enableAutoScale) {
      if (!pool.autoScaleFormula) throw new TaskError("NoAutoScaleFormula", `Pool '${this.poolId}' has autoscale enabled but Batch returned no formula, so it could not be restored afterwards; nothing was changed.`);
      this.pinned = { formula: pool.autoScaleFormula, evaluationInterval: pool.autoScaleEvaluationInterval };
      await this.ops.disableAutoScale(this.poolId, { signal: this.signal });
      this.emit({ kind: "autoScalePinned", poolId: this.poolId, ...this.pinned });
      pool = await this.ops.getPool(this.poolId, { signal: this.signal });
    }
    this.targets = { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes };
  }

  /** Waits for the pool to be steady and the nodes not in `known` to be up (or broken); returns those new nodes. */
  private async waitFresh(index: number, known: Set<string>, wanted: number, requested: number): Promise<NodeView[]> {
    const deadline = this.batchDeadline();
    let lastStates = "";
    return this.waitFor(`${wanted} fresh node(s) of pool '${this.poolId}' to be idle (batch ${index})`, deadline, async () => {
      const pool = await this.ops.getPool(this.poolId, { signal: this.signal });
      const nodes = await this.listNodes();
      const fresh = nodes.filter((n) => !known.has(n.id));
      for (const n of fresh) {
        const r = this.report(n.id);
        r.action = "added";
        if (isHealthy(n) && r.timeToHealthyMs === undefined) r.timeToHealthyMs = this.env.clock.now() - requested;
      }
      const states = fresh.map((n) => ({ nodeId: n.id, state: n.state ?? "unknown" }));
      const key = JSON.stringify(states);
      if (states.length && key !== lastStates) this.emit({ kind: "nodeStates", poolId: this.poolId, index, states });
      lastStates = key;
      const settled = fresh.filter((n) => isHealthy(n) || isFailed(n));
      const steady = (pool.allocationState ?? "steady") === "steady";
      const failed = settled.filter(isFailed);
      if (failed.length && settled.length === fresh.length && steady) {
        throw new TaskError("NodeFailed", `Fresh nodes of pool '${this.poolId}' did not come up healthy in batch ${index}; the roll-out stopped. ${failed.map(describeNodeFailure).join(" ")}`);
      }
      if (steady && settled.length === fresh.length) {
        if (fresh.length < wanted) {
          const errors = (pool.resizeErrors ?? []).map((e) => `${e.code}: ${e.message}`).join("; ");
          throw new TaskError("ResizeFailed", `Pool '${this.poolId}' got ${fresh.length} of ${wanted} fresh node(s) in batch ${index}${errors ? `: ${errors}` : ""}; the roll-out stopped.`);
        }
        return { done: true, value: fresh };
      }
      return { done: false, status: `allocation ${pool.allocationState}; fresh: ${fresh.map((n) => `${n.id} ${n.state}`).join(", ") || "none yet"}` };
    });
  }

  private async removeAndWait(index: number, ids: string[]): Promise<void> {
    if (this.options.drain) await this.drain(await this.listNodes(), ids);
    await this.ops.removeNodes(this.poolId, ids, this.cycle.cycle, { signal: this.signal });
    for (const id of ids) this.report(id).action = "replaced";
    await this.waitFor(`nodes ${ids.join(", ")} to leave pool '${this.poolId}' (batch ${index})`, this.batchDeadline(), async () => {
      const pool = await this.ops.getPool(this.poolId, { signal: this.signal });
      const left = (await this.listNodes()).filter((n) => ids.includes(n.id));
      if (left.length === 0 && (pool.allocationState ?? "steady") === "steady") return { done: true, value: undefined };
      return { done: false, status: left.map((n) => `${n.id} ${n.state}`).join(", ") || `allocation ${pool.allocationState}` };
    });
    for (const id of ids) this.disabledByUs.delete(id);
  }

  private async rollReplace(pending: Set<string>): Promise<void> {
    const targets = this.targets!;
    const capacity = this.initialCount;
    const known = new Set<string>();
    for (;;) {
      if (pending.size === 0) return;
      this.checkCancelled();
      await this.waitSteady(this.deadline);
      // Nodes missing from the pool's starting count are out of service too.
      const { nodes, ids, outOfService } = await this.nextBatch(pending, this.maxUnavailable, capacity);
      if (ids.length === 0) return;
      for (const n of nodes) known.add(n.id);
      const index = ++this.batches;
      this.emit({ kind: "batchStarted", poolId: this.poolId, index, nodeIds: ids, outOfService });
      const requested = this.env.clock.now();
      for (const id of ids) pending.delete(id);
      await this.removeAndWait(index, ids);
      await this.ops.resizePool(this.poolId, { ...targets, nodeDeallocationOption: this.cycle.cycle }, { signal: this.signal });
      const fresh = await this.waitFresh(index, known, ids.length, requested);
      for (const n of fresh) known.add(n.id);
      this.emit({ kind: "batchDone", poolId: this.poolId, index, nodeIds: ids, durationMs: this.env.clock.now() - requested });
    }
  }

  private async rollSurge(pending: Set<string>, maxSurge: number): Promise<void> {
    const targets = this.targets!;
    const known = new Set<string>();
    for (;;) {
      if (pending.size === 0) return;
      this.checkCancelled();
      await this.waitSteady(this.deadline);
      const nodes = await this.listNodes();
      for (const n of nodes) known.add(n.id);
      for (const id of [...pending]) if (!nodes.some((n) => n.id === id)) pending.delete(id);
      await this.assessLate(nodes, pending);
      if (pending.size === 0) return;
      // Capacity never drops: old nodes go only once as many fresh ones are up, so no out-of-service budget is spent here.
      const ids = pickSurge(nodes, pending, maxSurge);
      if (ids.length === 0) {
        await this.nextBatch(pending, Number.MAX_SAFE_INTEGER);
        continue;
      }
      const index = ++this.batches;
      this.emit({ kind: "batchStarted", poolId: this.poolId, index, nodeIds: ids, outOfService: nodes.filter(isOutOfService).length });
      const dedicated = ids.filter((id) => nodes.find((n) => n.id === id)?.isDedicated !== false).length;
      const requested = this.env.clock.now();
      await this.ops.resizePool(
        this.poolId,
        { targetDedicatedNodes: targets.targetDedicatedNodes + dedicated, targetLowPriorityNodes: targets.targetLowPriorityNodes + (ids.length - dedicated), nodeDeallocationOption: this.cycle.cycle },
        { signal: this.signal },
      );
      const fresh = await this.waitFresh(index, known, ids.length, requested);
      for (const n of fresh) known.add(n.id);
      this.checkCancelled();
      for (const id of ids) pending.delete(id);
      await this.removeAndWait(index, ids);
      this.emit({ kind: "batchDone", poolId: this.poolId, index, nodeIds: ids, durationMs: this.env.clock.now() - requested });
    }
  }

  // ------------------------------------------------------------ clean-up and results

  /** Re-enables scheduling where we disabled it, and puts the pool's size settings back. Never cancelled: it is the cancellation's clean-up. */
  private async cleanUp(): Promise<string[]> {
    const problems = await this.enable([...this.disabledByUs]);
    const targets = this.targets;
    if (!targets && !this.pinned) return problems;
    const cleanupDeadline = this.env.clock.now() + (this.options.cleanupTimeoutSeconds ?? 120) * 1000;
    const differs = (p: PoolView) => targets !== undefined && (p.targetDedicatedNodes !== targets.targetDedicatedNodes || p.targetLowPriorityNodes !== targets.targetLowPriorityNodes);
    try {
      let pool = await this.ops.getPool(this.poolId);
      const sizeChanged = differs(pool);
      if (!this.pinned && !sizeChanged) return problems;
      if ((pool.allocationState ?? "steady") !== "steady") {
        if (pool.allocationState === "resizing") await this.ops.stopResizePool(this.poolId);
        pool = await this.waitSteadyUncancelled(cleanupDeadline);
      }
      if (this.pinned) {
        await this.ops.enableAutoScale(this.poolId, { formula: this.pinned.formula, evaluationInterval: this.pinned.evaluationInterval });
        this.emit({ kind: "autoScaleRestored", poolId: this.poolId });
        this.pinned = undefined;
      } else if (targets && differs(pool)) {
        await this.ops.resizePool(this.poolId, { ...targets, nodeDeallocationOption: this.cycle.cycle });
        this.note(`Pool '${this.poolId}' resized back to ${targets.targetDedicatedNodes} dedicated and ${targets.targetLowPriorityNodes} low-priority node(s).`);
      }
    } catch (e) {
      const what = this.pinned
        ? `restore autoscale; re-apply it by hand with evaluation interval ${this.pinned.evaluationInterval ?? "PT15M"} and formula ${JSON.stringify(this.pinned.formula)}`
        : "restore the pool's target node counts";
      problems.push(`Could not ${what}: ${e instanceof Error ? e.message : String(e)}.`);
    }
    return problems;
  }

  private async waitSteadyUncancelled(deadline: number): Promise<PoolView> {
    let delay = 1000;
    for (;;) {
      const pool = await this.ops.getPool(this.poolId);
      if ((pool.allocationState ?? "steady") === "steady") return pool;
      if (this.env.clock.now() >= deadline) throw new TimeoutError(`Pool '${this.poolId}' is still ${pool.allocationState}.`);
      await this.env.clock.sleep(delay);
      delay = Math.min(10_000, delay * 2);
    }
  }

  private async fail(error: unknown, cleanupProblems: string[]): Promise<PoolCycleError> {
    let after: NodeView[] | undefined;
    try {
      after = await this.ops.listNodes(this.poolId);
    } catch {
      after = undefined;
    }
    // The summary shows what each healthy node has now (which ones the roll-out reached); skipped when cancelled, to stop soon.
    if (!this.signal?.aborted) {
      for (const n of after ?? []) {
        const r = this.report(n.id);
        if (r.after || !isHealthy(n)) continue;
        r.after = this.side(n, await this.packageStatus(n).catch(() => undefined));
      }
    }
    const base = error instanceof Error ? error.message : String(error);
    const message = [base, ...cleanupProblems].join(" ");
    // Batch's own code stays on the cause (and in the message).
    const code = error instanceof TaskError ? error.code : "PoolCycleFailed";
    const result = this.result(false, message, after);
    return new PoolCycleError(code, message, result, error);
  }

  private result(succeeded: boolean, message: string, after?: NodeView[]): PoolCycleResult {
    if (after) {
      for (const n of after) {
        const r = this.report(n.id);
        r.after ??= this.side(n);
      }
    }
    const nodes = [...this.reports.values()];
    const apiCalls = this.calls();
    return {
      poolId: this.poolId,
      method: this.options.method,
      succeeded,
      message,
      nodes,
      cycledNodeCount: nodes.filter((r) => r.action === "cycled" || r.action === "replaced").length,
      healthyNodeCount: (after ?? []).filter(isHealthy).length,
      skippedNodeCount: this.skippedCount(),
      batches: this.batches,
      maxUnavailable: this.maxUnavailable,
      apiCalls,
      apiCallsPerNode: this.initialCount ? apiCalls / this.initialCount : 0,
      apiCallsByOperation: { ...this.callsByOperation },
      ...(this.maxSurge !== undefined ? { maxSurge: this.maxSurge } : {}),
      durationMs: this.env.clock.now() - this.started,
    };
  }
}

/** Cycles one pool; throws PoolCycleError (with the partial result) when it stops early. */
export function cyclePool(poolId: string, batch: PoolCycleBatchOps, options: PoolCycleOptions, env: CycleEnvironment): Promise<PoolCycleResult> {
  return new PoolRoll(poolId, batch, options, env).run();
}

/** Several pools, one after another, within one timeoutMinutes; stops at the first that fails (its PoolCycleError carries the earlier results). */
export async function cyclePools(
  poolIds: readonly string[],
  batch: PoolCycleBatchOps,
  options: PoolCycleOptions,
  env: CycleEnvironment,
): Promise<PoolCycleResult[]> {
  const results: PoolCycleResult[] = [];
  const deadline = Math.min(env.clock.now() + options.timeoutMinutes * 60_000, env.deadline ?? Number.POSITIVE_INFINITY);
  for (const id of poolIds) {
    try {
      results.push(await cyclePool(id, batch, options, { ...env, deadline }));
    } catch (e) {
      if (e instanceof PoolCycleError) e.earlierResults = results;
      throw e;
    }
  }
  return results;
}

export function formatCycleEvent(e: CycleEvent): string {
  switch (e.kind) {
    case "waitingForPool":
      return `Pool '${e.poolId}' is ${e.allocationState}; waiting for it to be steady.`;
    case "plan":
      return `Pool '${e.poolId}': ${e.nodeCount} node(s), ${e.toCycle} to cycle (${e.method}), ${e.skipped} already current; ${
        e.method === "surge" ? `${e.maxSurge} fresh node(s) at a time` : `at most ${e.maxUnavailable} out of service at once`
      }.`;
    case "autoScalePinned":
      return `Pool '${e.poolId}': autoscale paused for the roll-out (evaluation interval ${e.evaluationInterval ?? "default"}); it is restored afterwards.`;
    case "autoScaleRestored":
      return `Pool '${e.poolId}': autoscale restored with its formula and interval.`;
    case "batchStarted":
      return `Batch ${e.index}: cycling ${e.nodeIds.join(", ")} (${e.outOfService} node(s) already out of service).`;
    case "nodeStates":
      return `Batch ${e.index}: ${e.states.map((s) => `${s.nodeId} ${s.state}`).join(", ")}`;
    case "batchDone":
      return `Batch ${e.index}: ${e.nodeIds.length} node(s) done in ${formatDuration(e.durationMs)}.`;
    case "note":
      return e.message;
  }
}

