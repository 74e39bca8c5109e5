/**
 * ADF's outcome rules: when an activity's `dependsOn` conditions are met (or can
 * no longer be), which activities decide a run's result (the leaves; a skipped
 * leaf is replaced by its parents), and what a recovery rerun carries over
 * from its reference run.
 */
import type { StartRunOptions } from "./runs";
import type { ActivityDefinition, ActivityRunRecord } from "./types";

export type Outcome = "Succeeded" | "Failed" | "Skipped" | "Cancelled";

/** Whether every dependency of `activity` has an outcome, and if so whether its conditions are met. */
export function dependenciesMet(activity: ActivityDefinition, outcomes: Map<string, Outcome>): "waiting" | "met" | "unmet" {
  const deps = activity.dependsOn ?? [];
  if (deps.some((d) => !outcomes.has(d.activity))) return "waiting";
  const met = deps.every((d) => {
    const outcome = outcomes.get(d.activity)!;
    return d.dependencyConditions.some((c) => c === outcome || (c === "Completed" && (outcome === "Succeeded" || outcome === "Failed")));
  });
  return met ? "met" : "unmet";
}

/** ADF's rule: leaves decide; a skipped leaf is replaced by the activities it depends on. */
export function failedLeaves(activities: ActivityDefinition[], outcomes: Map<string, Outcome>): string[] {
  const byName = new Map(activities.map((a) => [a.name, a]));
  const dependedOn = new Set(activities.flatMap((a) => (a.dependsOn ?? []).map((d) => d.activity)));
  const failed = new Set<string>();
  const seen = new Set<string>();
  const evaluate = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const outcome = outcomes.get(name);
    if (outcome === "Skipped") {
      for (const d of byName.get(name)?.dependsOn ?? []) evaluate(d.activity);
    } else if (outcome === "Failed" || outcome === "Cancelled") {
      failed.add(name);
    }
  };
  for (const a of activities) if (!dependedOn.has(a.name)) evaluate(a.name);
  return [...failed];
}

export function carriedOver(activities: ActivityDefinition[], recovery: StartRunOptions["recovery"]): { outcomes: Map<string, Outcome>; outputs: Map<string, ActivityRunRecord> } {
  const outcomes = new Map<string, Outcome>();
  const outputs = new Map<string, ActivityRunRecord>();
  if (!recovery) return { outcomes, outputs };
  const { reference, startActivityName, startFromFailure } = recovery;
  const lastRecord = (name: string) => [...reference.activityRuns].reverse().find((r) => r.activityName === name);
  let keep: string[] = [];
  if (startActivityName) {
    // Everything the start activity depends on, transitively, is not rerun.
    const byName = new Map(activities.map((a) => [a.name, a]));
    const stack = (byName.get(startActivityName)?.dependsOn ?? []).map((d) => d.activity);
    while (stack.length) {
      const name = stack.pop()!;
      if (keep.includes(name)) continue;
      keep.push(name);
      stack.push(...(byName.get(name)?.dependsOn ?? []).map((d) => d.activity));
    }
  } else if (startFromFailure) {
    keep = activities.filter((a) => reference.outcomes.get(a.name) === "Succeeded").map((a) => a.name);
  }
  for (const name of keep) {
    outcomes.set(name, reference.outcomes.get(name) === "Failed" ? "Failed" : (reference.outcomes.get(name) ?? "Succeeded"));
    const record = lastRecord(name);
    if (record) outputs.set(name, record);
  }
  return { outcomes, outputs };
}
