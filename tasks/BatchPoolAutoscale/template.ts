/**
 * The `scaleFromZero` formula template: a pool that costs nothing while no
 * task is pending, grows with the queue, and shrinks back once tasks finish.
 *
 * Its shape is the pending-tasks formula of Microsoft's autoscale article
 * ("Create a formula to automatically scale compute nodes in a Batch pool",
 * MicrosoftDocs/azure-docs articles/batch/batch-automatic-scaling.md, the
 * pending-tasks example, and the same formula in the "Auto-scaling of Azure
 * Batch" section of articles/data-factory/transform-data-using-dotnet-custom-activity.md): take the last minutes of
 * `$PendingTasks`, use them only when at least 70 % of the samples are there
 * (`GetSamplePercent(...) < 70 ? ... : avg(GetSample(...))`), cap with
 * `min(maxNumberofVMs, ...)`, and let running tasks finish before a node goes
 * (`$NodeDeallocationOption = taskcompletion`, the article's Example 2).
 * On top of it, the node count is estimated from how long a task takes and how
 * soon the queue should be done: pendingTasks × averageTaskSeconds ÷
 * targetSeconds, at least one node while anything is pending.
 *
 * Decisions:
 * - With fewer than 70 % of the samples (a pool whose autoscale was just
 *   enabled, or samples missing), the formula keeps each of the pool's current
 *   targets (capped at maxNodes) instead of guessing: reading a target before
 *   it is assigned gives the current one, as the article's Example 2 relies on
 *   for `$TargetDedicatedNodes`. (The documented formula falls back to a
 *   starting size instead; keeping is what "ignore the samples" means here,
 *   and never adds nodes nobody asked for.)
 * - The language has no rounding function; a fractional estimate (2.5) is
 *   left to Batch, which allocates whole nodes.
 * - `lowPriority: mix` means a dedicated core with Spot for the rest: the
 *   first `mixDedicatedNodes` nodes of the estimate are dedicated (they are
 *   never preempted, so some work always progresses), every node above that
 *   is Spot/low-priority. `none` is all dedicated, `all` is all Spot.
 *
 * The text is stable: the same settings give the same formula, byte for byte,
 * so a rerun compares equal and makes no call. Comments are `//` lines, which
 * Batch accepts.
 */

export type LowPriorityMode = "none" | "all" | "mix";
export const LOW_PRIORITY_MODES: readonly LowPriorityMode[] = ["none", "all", "mix"];

export interface ScaleFromZeroSettings {
  /** The most nodes (dedicated and Spot together) the pool may have. */
  maxNodes: number;
  /** How far back `$PendingTasks` is sampled (one sample every 30 s). */
  samplingMinutes: number;
  /** How long one task takes on one node, on average. */
  averageTaskSeconds: number;
  /** How soon the pending tasks should be done. */
  targetSeconds: number;
  lowPriority: LowPriorityMode;
  /** With `mix`: at most this many of the nodes are dedicated; the rest are Spot. */
  mixDedicatedNodes?: number;
}

/** A number as the formula language writes it: plain decimal, no exponent. */
export function formulaNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`${value} cannot be written in a formula.`);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(12).replace(/\.?0+$/, "");
}

/** The scaleFromZero formula for these settings (already validated). */
export function scaleFromZeroFormula(s: ScaleFromZeroSettings): string {
  const n = formulaNumber;
  const split =
    s.lowPriority === "mix"
      ? `mix: at most ${n(s.mixDedicatedNodes ?? 1)} dedicated, the rest Spot`
      : s.lowPriority === "all"
        ? "all Spot/low-priority"
        : "all dedicated";
  const lines = [
    `// BatchPoolAutoscale@1 scaleFromZero: up to ${n(s.maxNodes)} nodes (${split}).`,
    "// Pending-tasks formula after Microsoft's Batch autoscale article (batch-automatic-scaling).",
    `maxNodes = ${n(s.maxNodes)};`,
    `samplingInterval = ${n(s.samplingMinutes)} * TimeInterval_Minute;`,
    `averageTaskSeconds = ${n(s.averageTaskSeconds)};`,
    `targetSeconds = ${n(s.targetSeconds)};`,
    "// Use the pending-task samples only when at least 70% of them are available.",
    "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(samplingInterval);",
    "enoughSamples = pendingTaskSamplePercent >= 70;",
    "pendingTasks = enoughSamples ? avg($PendingTasks.GetSample(samplingInterval)) : 0;",
    "// Nodes to finish the pending tasks within targetSeconds; at least 1 while any task is pending.",
    "estimatedNodes = pendingTasks > 0 ? max(pendingTasks * averageTaskSeconds / targetSeconds, 1) : 0;",
    "totalNodes = min(maxNodes, estimatedNodes);",
  ];
  if (s.lowPriority === "mix") {
    lines.push(
      "// A dedicated core, Spot/low-priority above it.",
      `mixDedicatedNodes = ${n(s.mixDedicatedNodes ?? 1)};`,
      "dedicatedNodes = min(mixDedicatedNodes, totalNodes);",
      "lowPriorityNodes = totalNodes - dedicatedNodes;",
    );
  } else if (s.lowPriority === "all") {
    lines.push("dedicatedNodes = 0;", "lowPriorityNodes = totalNodes;");
  } else {
    lines.push("dedicatedNodes = totalNodes;", "lowPriorityNodes = 0;");
  }
  lines.push(
    "// Without enough samples, keep the current targets (within maxNodes).",
    "$TargetDedicatedNodes = enoughSamples ? dedicatedNodes : min(maxNodes, $TargetDedicatedNodes);",
    "$TargetLowPriorityNodes = enoughSamples ? lowPriorityNodes : min(maxNodes - $TargetDedicatedNodes, $TargetLowPriorityNodes);",
  );
  lines.push("// Let running tasks finish before a node is removed.", "$NodeDeallocationOption = taskcompletion;");
  return `${lines.join("\n")}\n`;
}
