import { strict as assert } from "node:assert";
import { evaluatePoolFormula, SampleHistory, type AutoScaleEnvironment, type AutoScaleEvaluation, type SampledVariable } from "..";

/** A Thursday, the instant of the docs' sample run. */
export const DOC_RUN = Date.parse("2016-10-13T19:18:47.805Z");

/** A history whose series end at `now`, one sample per 30 s, oldest first. */
export function history(now: number, series: Partial<Record<SampledVariable, number[]>>, options?: ConstructorParameters<typeof SampleHistory>[0]): SampleHistory {
  const h = new SampleHistory(options);
  for (const [name, values] of Object.entries(series) as [SampledVariable, number[]][]) h.recordSeries(name, now, values);
  return h;
}

export const repeat = (value: number, times: number) => Array.from({ length: times }, () => value);

/** Evaluates and insists it succeeded, showing the AutoScaleRun error otherwise. */
export function evaluateOk(formula: string, env: AutoScaleEnvironment): AutoScaleEvaluation & { targetDedicatedNodes: number; targetLowPriorityNodes: number } {
  const result = evaluatePoolFormula(formula, env);
  assert.equal(result.run.error, undefined, `evaluation failed: ${JSON.stringify(result.run.error)}`);
  return result as AutoScaleEvaluation & { targetDedicatedNodes: number; targetLowPriorityNodes: number };
}

/** Evaluates and returns the AutoScaleRun error, failing when there is none. */
export function evaluateError(formula: string, env: Partial<AutoScaleEnvironment> = {}) {
  const result = evaluatePoolFormula(formula, { now: DOC_RUN, ...env });
  assert.ok(result.run.error, `expected an error, got results ${result.run.results}`);
  return { ...result.run.error, phase: result.error!.phase, run: result.run };
}

/** The value a results string gives a variable. */
export function resultOf(results: string | undefined, name: string): string | undefined {
  for (const pair of (results ?? "").split(";")) {
    const eq = pair.indexOf("=");
    if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}
