/**
 * The rolling plan's decisions as plain functions over node snapshots: which
 * nodes are out of service, which to cycle next within the budget, when a
 * cycled node is back, and what to say about a node that failed. No Batch
 * calls here; roll.ts acts on these answers.
 */
import type { NodeView } from "./ops";

/** Nodes that take tasks (when scheduling is enabled). */
export const HEALTHY_STATES: ReadonlySet<string> = new Set(["idle", "running"]);
/** Nodes that came up broken: they stop the roll-out when we cycled them. */
export const FAILED_STATES: ReadonlySet<string> = new Set(["starttaskfailed", "unusable"]);

export const isHealthy = (n: NodeView) => HEALTHY_STATES.has(n.state ?? "");
export const isFailed = (n: NodeView) => FAILED_STATES.has(n.state ?? "");

/** Out of service: not idle/running, or not taking tasks (scheduling disabled by anyone). */
export const isOutOfService = (n: NodeView) => !isHealthy(n) || n.schedulingState === "disabled";

/** Nodes Batch can reboot, reimage or remove now (not joining, restarting or leaving). */
export const isCyclable = (n: NodeView) => isHealthy(n) || isFailed(n);

export interface BatchPick {
  /** Nodes to cycle now, in order (broken first, then idle, then the least busy). */
  nodeIds: string[];
  /** Out of service before this batch. */
  outOfService: number;
  /** Healthy nodes that may still go out of service now. */
  budget: number;
  /** Candidates left for later because they are joining, restarting or leaving. */
  notReady: string[];
}

/**
 * The next batch: at most `maxUnavailable` nodes, and never more healthy ones
 * than keep the out-of-service count within `maxUnavailable`. Nodes already
 * broken (starttaskfailed, unusable) are out of service already, so cycling
 * them costs no budget. `pending` are the nodes still to cycle.
 */
export function pickBatch(nodes: readonly NodeView[], pending: ReadonlySet<string>, maxUnavailable: number): BatchPick {
  const outOfService = nodes.filter(isOutOfService).length;
  const budget = Math.max(0, maxUnavailable - outOfService);
  const candidates = nodes.filter((n) => pending.has(n.id));
  const notReady = candidates.filter((n) => !isCyclable(n)).map((n) => n.id);
  const rank = (n: NodeView) => (isFailed(n) ? -1 : n.schedulingState === "disabled" ? 0 : (n.runningTasksCount ?? 0) + 1);
  const ready = candidates.filter(isCyclable).sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
  const nodeIds: string[] = [];
  let healthyTaken = 0;
  for (const n of ready) {
    if (nodeIds.length >= maxUnavailable) break;
    // A healthy node that is already disabled is counted out of service already.
    const costs = isHealthy(n) && n.schedulingState !== "disabled";
    if (costs && healthyTaken >= budget) continue;
    if (costs) healthyTaken++;
    nodeIds.push(n.id);
  }
  return { nodeIds, outOfService, budget, notReady };
}

/**
 * surge's old nodes to replace next: up to `count` cyclable pending nodes,
 * broken first, then idle, then the least busy. No out-of-service budget:
 * they leave only once as many fresh nodes are up.
 */
export function pickSurge(nodes: readonly NodeView[], pending: ReadonlySet<string>, count: number): string[] {
  const rank = (n: NodeView) => (isFailed(n) ? -1 : (n.runningTasksCount ?? 0));
  return nodes
    .filter((n) => pending.has(n.id) && isCyclable(n))
    .sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id))
    .slice(0, count)
    .map((n) => n.id);
}

/** What a node looked like when its cycle was asked for. */
export interface CycleMark {
  lastBootTime?: number;
  /** Seen out of the healthy states since (rebooting, starting, ...). */
  seenDown: boolean;
}

export function markBefore(node: NodeView): CycleMark {
  return { lastBootTime: node.lastBootTime?.getTime(), seenDown: false };
}

/**
 * Where a rebooted (or reimaged) node is: `cycling` until it has booted since
 * the request and is idle/running (`back`) or broken (`failed`). A node asked
 * to reboot after its tasks complete stays `running` meanwhile; the new boot
 * time (or having seen it restart) tells the two apart, without comparing our
 * clock with the service's.
 */
export function cycleProgress(node: NodeView | undefined, mark: CycleMark): "cycling" | "back" | "failed" | "gone" {
  if (!node) return "gone";
  if (!isHealthy(node)) mark.seenDown = true;
  const booted = mark.seenDown || (node.lastBootTime !== undefined && node.lastBootTime.getTime() !== mark.lastBootTime);
  if (!booted) return "cycling";
  if (isFailed(node)) return "failed";
  return isHealthy(node) ? "back" : "cycling";
}

const clean = (s: string) => s.replace(/\s+/g, " ").trim();

/** A broken node's own errors: start task exit code and stderr location, node errors. */
export function describeNodeFailure(node: NodeView): string {
  const parts: string[] = [];
  const st = node.startTaskInfo;
  if (node.state === "starttaskfailed" || st?.result === "failure") {
    const failure = st?.failureInfo;
    const code = st?.exitCode !== undefined ? `the start task exited with code ${st.exitCode}` : "the start task failed";
    const why = failure?.code || failure?.message ? ` (${[failure.code, failure.message].filter(Boolean).map((s) => clean(String(s))).join(": ")})` : "";
    const retries = st?.retryCount ? ` after ${st.retryCount} ${st.retryCount === 1 ? "retry" : "retries"}` : "";
    parts.push(`${code}${retries}${why}; its output is in startup/stderr.txt and startup/stdout.txt on the node`);
  }
  for (const e of node.errors ?? []) {
    const values = (e.values ?? []).map((v) => `${v.name}=${clean(v.value)}`).join(", ");
    parts.push(`${e.code ?? "NodeError"}: ${clean(e.message ?? "")}${values ? ` (${values})` : ""}`);
  }
  if (parts.length === 0) parts.push("Batch reported no error details");
  return `Node '${node.id}' is ${node.state}: ${parts.join("; ")}.`;
}
