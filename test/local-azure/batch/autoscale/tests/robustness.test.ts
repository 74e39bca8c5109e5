/**
 * The engine runs inside the local Batch service: whatever a client sends,
 * it must answer with results or an AutoScaleRun error, never crash.
 */
import { strict as assert } from "node:assert";
import { evaluatePoolFormula } from "..";
import { DOC_RUN, history, repeat } from "./helpers";

const VOCABULARY = [
  "$TargetDedicatedNodes", "$NodeDeallocationOption", "$PendingTasks", "$CPUPercent", "x", "y", "=", ";", "(", ")", ",", ".", "?", ":",
  "+", "-", "*", "/", "!", "<", "==", "&&", "||", "1", "0", "2.5", '"2016-10-13"', "TimeInterval_Minute", "taskcompletion",
  "GetSample", "GetSamplePercent", "Count", "HistoryBeginTime", "hour", "avg", "max", "val", "time", "stop", "percentile", "ln", "/*", "*/", "//", "\n",
];

/** A small deterministic PRNG (mulberry32) so a failure is reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random, mostly well-formed expression: numbers, variables, calls, methods, operators, ternaries. */
function expression(random: () => number, depth: number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  if (depth <= 0 || random() < 0.25) {
    // Mostly doubles, so that a good share type-checks; the rest provoke type and runtime errors.
    const doubles = ["1", "0", "2.5", "x", "$PendingTasks", "$CurrentDedicatedNodes", "$PendingTasks.GetSamplePercent(TimeInterval_Minute)", "$TargetDedicatedNodes", "time().hour"];
    const others = ["TimeInterval_Minute", "time()", '"a"', "$PendingTasks.GetSample(1)", "$CPUPercent.GetSample(TimeInterval_Minute * 5, 50)"];
    return random() < 0.85 ? pick(doubles) : pick(others);
  }
  const sub = () => expression(random, depth - 1);
  switch (Math.floor(random() * 6)) {
    case 0:
      return `${sub()} ${pick(["+", "-", "*", "/", "<", "==", "&&", "||", ">="])} ${sub()}`;
    case 1:
      return `(${sub()} ? ${sub()} : ${sub()})`;
    case 2:
      return `${pick(["avg", "max", "min", "sum", "len", "ln", "ceil", "std", "range", "norm"])}(${sub()}, ${sub()})`;
    case 3:
      return `${pick(["-", "!"])}${sub()}`;
    case 4:
      return `val(${sub()}, ${pick(["0", "1", "x"])})`;
    default:
      return `(${sub()})`;
  }
}

describe("autoscale engine: robustness", () => {
  const samples = history(DOC_RUN, { $PendingTasks: repeat(3, 10), $CPUPercent: [0.5, 0.7] });

  it("answers 3000 random token soups with an AutoScaleRun error or results, never an exception", () => {
    const random = prng(12);
    for (let i = 0; i < 3000; i++) {
      const length = 1 + Math.floor(random() * 14);
      const formula = Array.from({ length }, () => VOCABULARY[Math.floor(random() * VOCABULARY.length)]).join(random() < 0.5 ? " " : "");
      const r = evaluatePoolFormula(formula, { now: DOC_RUN, samples, random });
      if (r.run.error) assert.match(r.run.error.values[0].value, /^Line \d+, Col \d+: /, formula);
      else assert.match(r.run.results ?? "", /^\$TargetDedicatedNodes=/, formula);
    }
  });

  it("evaluates 3000 random well-formed formulas to results or a typed error, and every results string is well-shaped", () => {
    const random = prng(7);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const formula = `x = 2; y = ${expression(random, 4)}; $TargetDedicatedNodes = ${expression(random, 3)}`;
      const r = evaluatePoolFormula(formula, { now: DOC_RUN, samples, current: { $CurrentDedicatedNodes: 2 }, random });
      const outcome = r.run.error?.code ?? "ok";
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (!r.run.error) {
        assert.match(r.run.results ?? "", /^\$TargetDedicatedNodes=-?[\d.E+-]+;\$TargetLowPriorityNodes=0;\$NodeDeallocationOption=requeue;x=2;y=[^;]+$/, formula);
        assert.ok(Number.isFinite(r.targetDedicatedNodes), formula);
      }
    }
    // The generator reaches the evaluator (successes) and both kinds of checks (type errors, runtime errors).
    assert.ok((outcomes.get("ok") ?? 0) > 300, JSON.stringify([...outcomes]));
    assert.ok((outcomes.get("TypeMismatch") ?? 0) > 300, JSON.stringify([...outcomes]));
    assert.ok((outcomes.get("InvalidFunctionArgument") ?? 0) + (outcomes.get("ArithmeticError") ?? 0) > 10, JSON.stringify([...outcomes]));
  });

  it("evaluates a formula near the size limits (8 KB, 79 statements) in well under a millisecond per statement", () => {
    const statement = "a = avg($PendingTasks.GetSample(TimeInterval_Minute * 5)) + max(1, 2, 3) * 2 - min(4, 5) / 3 ? 1 : 0;";
    const formula = Array.from({ length: 79 }, () => statement).join("");
    assert.ok(formula.length <= 8192 && formula.length > 7900, String(formula.length));
    evaluatePoolFormula(formula, { now: DOC_RUN, samples }); // warm-up
    const started = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) assert.equal(evaluatePoolFormula(formula, { now: DOC_RUN, samples }).run.error, undefined);
    const perRunMs = Number(process.hrtime.bigint() - started) / 1e6 / 20;
    // About 2 ms measured; the bound leaves room for a busy shared CPU. Pools evaluate on every interval, so this must stay cheap.
    assert.ok(perRunMs < 40, `${perRunMs.toFixed(2)} ms per evaluation`);
  });
});
