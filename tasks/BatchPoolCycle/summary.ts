/**
 * The run's summary (nodes before and after: state, package versions, time
 * to healthy) as the runtime's SummaryTable, and the task's output values.
 * Node ids, states and versions come from Batch: the runtime's summary and
 * log paths escape them when printing.
 */
import { formatDuration } from "../../runtime/progress";
import type { SummaryTable } from "../../runtime/summary";
import type { NodeReport, NodeSide, PoolCycleResult } from "./roll";

const ACTION: Record<NodeReport["action"], string> = {
  cycled: "cycled",
  replaced: "replaced (removed)",
  added: "added (fresh)",
  skipped: "skipped (current)",
  untouched: "left as it was",
};

const side = (s: NodeSide | undefined) => {
  if (!s) return "gone";
  const disabled = s.schedulingState === "disabled" ? ", scheduling disabled" : "";
  return `${s.state}${disabled}${s.packages ? ` [${s.packages}]` : ""}`;
};

function row(r: NodeReport): [string, string] {
  const healthy = r.timeToHealthyMs !== undefined ? `; healthy after ${formatDuration(r.timeToHealthyMs)}` : "";
  const change = r.action === "added" ? side(r.after) : `${side(r.before)} → ${side(r.after)}`;
  return [r.nodeId, `${ACTION[r.action]}: ${change}${healthy}`];
}

const ORDER: NodeReport["action"][] = ["cycled", "replaced", "added", "skipped", "untouched"];

export function poolCycleSummary(result: PoolCycleResult): SummaryTable {
  const nodes = [...result.nodes].sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action) || a.nodeId.localeCompare(b.nodeId));
  return {
    title: `BatchPoolCycle: pool ${result.poolId} (${result.method}) ${result.succeeded ? "succeeded" : "failed"}`,
    rows: [
      ["Result", result.message],
      ["Nodes cycled / healthy / skipped", `${result.cycledNodeCount} / ${result.healthyNodeCount} / ${result.skippedNodeCount}`],
      ["Batches", `${result.batches}${result.maxSurge !== undefined ? ` (${result.maxSurge} fresh node(s) at a time)` : result.maxUnavailable ? ` (at most ${result.maxUnavailable} out of service)` : ""}`],
      ["Duration", formatDuration(result.durationMs)],
      ["Batch calls", `${result.apiCalls} (${result.apiCallsPerNode.toFixed(1)} per node)`],
      ...nodes.map(row),
    ],
  };
}

export interface PoolCycleOutputs {
  CycledNodeCount: string;
  HealthyNodeCount: string;
  SkippedNodeCount: string;
}

/** Totals over every pool cycled (in order, the failed one included). */
export function poolCycleOutputs(results: readonly PoolCycleResult[]): PoolCycleOutputs {
  const sum = (f: (r: PoolCycleResult) => number) => String(results.reduce((n, r) => n + f(r), 0));
  return {
    CycledNodeCount: sum((r) => r.cycledNodeCount),
    HealthyNodeCount: sum((r) => r.healthyNodeCount),
    SkippedNodeCount: sum((r) => r.skippedNodeCount),
  };
}
