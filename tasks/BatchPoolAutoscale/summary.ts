/**
 * The run's summary table (runtime/summary.ts's SummaryTable): what the
 * formula is, what it evaluated to, and what changed on the pool.
 */
import type { SummaryTable } from "../../runtime/summary";
import type { FormulaSource } from "./inputs";
import { describeDuration, type AutoscalePlan, type EvaluationValues } from "./plan";

export interface SummaryFacts {
  poolId: string;
  formulaSource: FormulaSource;
  evaluationInterval: string;
  plan: AutoscalePlan;
  evaluation?: EvaluationValues;
  dryRun: boolean;
  lintWarnings?: number;
}

/** A URL without its query (which may hold a SAS signature). */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

/** Where the formula comes from, in a few words (the template with its settings). */
export function formulaDescription(source: FormulaSource): string {
  switch (source.kind) {
    case "inline":
      return "inline (formula)";
    case "file":
      return `file ${source.path}`;
    case "template": {
      const s = source.settings;
      const split = s.lowPriority === "mix" ? `mix, at most ${s.mixDedicatedNodes ?? 1} dedicated` : s.lowPriority === "all" ? "all Spot/low-priority" : "dedicated";
      return `template scaleFromZero: up to ${s.maxNodes} nodes (${split}), ${s.samplingMinutes} min of samples, ${s.averageTaskSeconds} s per task, done within ${s.targetSeconds} s`;
    }
  }
}

const AUTOSCALE_TEXT: Record<AutoscalePlan["autoscale"], string> = {
  enable: "enabled",
  "update formula": "formula updated",
  "update interval": "evaluation interval updated",
  "update formula and interval": "formula and evaluation interval updated",
  none: "unchanged (no call)",
};

export function summaryTable(facts: SummaryFacts): SummaryTable {
  const { plan, evaluation } = facts;
  const applied = (text: string) => (facts.dryRun ? `dry run: would be ${text}` : text);
  const rows: [string, string][] = [
    ["Pool", facts.poolId],
    ["Formula", formulaDescription(facts.formulaSource)],
    ["Evaluation interval", describeDuration(facts.evaluationInterval)],
  ];
  if (evaluation) {
    rows.push(
      ["TargetDedicatedNodes", evaluation.targetDedicatedNodes === undefined ? "not in the results" : String(evaluation.targetDedicatedNodes)],
      ["TargetLowPriorityNodes", evaluation.targetLowPriorityNodes === undefined ? "not in the results" : String(evaluation.targetLowPriorityNodes)],
      ["NodeDeallocationOption", evaluation.nodeDeallocationOption ?? "not in the results"],
    );
  } else {
    rows.push(["Evaluation", "not evaluated"]);
  }
  rows.push(["Autoscale", plan.autoscale === "none" ? AUTOSCALE_TEXT.none : applied(AUTOSCALE_TEXT[plan.autoscale])]);
  rows.push(["Start task", plan.startTask === "set" ? applied("set") : plan.startTask]);
  rows.push(["Application packages", plan.applicationPackages === "set" ? applied("set") : plan.applicationPackages]);
  if (facts.lintWarnings) rows.push(["Formula warnings", String(facts.lintWarnings)]);
  return { title: `BatchPoolAutoscale: pool ${facts.poolId}`, rows, notes: plan.notes };
}
