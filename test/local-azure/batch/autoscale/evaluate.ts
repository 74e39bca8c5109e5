/**
 * Evaluates a checked formula against a pool's environment: the clock, the
 * sample histories and the pool's current targets. Statements run in order;
 * `?:`, `&&` and `||` evaluate lazily, which is what lets the documented
 * pattern "check GetSamplePercent first, GetSample only when there is enough"
 * work without failing the evaluation.
 */
import { AutoScaleErrorCode, FormulaError, type AutoScaleErrorCodeName, type AutoScaleRunError, type SourcePosition } from "./errors";
import { bindName, checkFormula } from "./check";
import { formatDouble, formatTimeInterval, formatTimestamp } from "./format";
import type { DeallocationOption, SampledVariable, TargetVariable } from "./names";
import { parseFormula, type Expr, type Formula } from "./parser";
import { SAMPLE_PERIOD_SECONDS, type Sample, type SampleSource } from "./samples";
import type { Value } from "./types";

export interface AutoScaleEnvironment {
  /** When the formula runs: `time()` and every look-back window are relative to it. */
  now: Date | number;
  /** Sample histories of the read-only system variables; none means no samples at all. */
  samples?: SampleSource;
  /**
   * Current values, read when a sampled variable is used bare, as the docs do with
   * `$CurrentDedicatedNodes * 1.1`; a variable without one reads its newest sample.
   */
  current?: Partial<Record<SampledVariable, number>>;
  /** The pool's targets before this run: what `$TargetDedicatedNodes` reads until the formula sets it (default 0). */
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  /** What `$NodeDeallocationOption` is until the formula sets it (default requeue). */
  nodeDeallocationOption?: DeallocationOption;
  /** The pool's task slots per node (default 1). */
  taskSlotsPerNode?: number;
  /** Source of `rand()` (default Math.random). */
  random?: () => number;
}

/** Batch's AutoScaleRun, as pool GET and evaluateautoscale show it. */
export interface AutoScaleRun {
  timestamp: string;
  results?: string;
  error?: AutoScaleRunError;
}

export interface AutoScaleEvaluation {
  run: AutoScaleRun;
  /** Set when the formula failed; `phase` "validation" means Batch refuses such a formula outright. */
  error?: FormulaError;
  /** The formula's targets (as computed, possibly fractional), when it evaluated. */
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  nodeDeallocationOption?: DeallocationOption;
  /**
   * Node counts a resize would aim for: the targets truncated to whole nodes and
   * floored at 0 (Batch's rounding is undocumented; Example 3's "+3)/4" suggests truncation).
   */
  nodes?: { dedicated: number; lowPriority: number };
  /** Whether `stop()` ended the evaluation early. */
  stopped: boolean;
}

/** Parses and statically checks a formula; returns the error Batch would refuse it with, if any. */
export function validateFormula(formula: string): FormulaError | undefined {
  try {
    checkFormula(parseFormula(formula));
    return undefined;
  } catch (e) {
    if (e instanceof FormulaError) return e;
    throw e;
  }
}

/** Evaluates `formula` for a pool, returning what Batch's AutoScaleRun would show. */
export function evaluatePoolFormula(formula: string, env: AutoScaleEnvironment): AutoScaleEvaluation {
  const now = typeof env.now === "number" ? env.now : env.now.getTime();
  const timestamp = new Date(now).toISOString();
  let parsed: Formula;
  try {
    parsed = parseFormula(formula);
    checkFormula(parsed);
  } catch (e) {
    if (!(e instanceof FormulaError)) throw e;
    return { run: { timestamp, error: e.toRunError() }, error: e, stopped: false };
  }
  const evaluator = new Evaluator(env, now);
  try {
    const stopped = evaluator.run(parsed);
    const result = evaluator.outcome();
    return {
      run: { timestamp, results: evaluator.results() },
      ...result,
      nodes: { dedicated: wholeNodes(result.targetDedicatedNodes), lowPriority: wholeNodes(result.targetLowPriorityNodes) },
      stopped,
    };
  } catch (e) {
    if (!(e instanceof FormulaError)) throw e;
    return { run: { timestamp, results: evaluator.results(), error: e.toRunError() }, error: e, stopped: false };
  }
}

const wholeNodes = (target: number) => Math.max(0, Math.floor(target));

/** Thrown by `stop()`; caught by the statement loop. */
class Stop {}

const fail = (code: AutoScaleErrorCodeName, detail: string, pos: SourcePosition) => new FormulaError(code, detail, pos, "evaluation");

class Evaluator {
  private readonly user = new Map<string, Value>();
  /** Target slots, full name and alias apart: "if both are set, the full name wins". */
  private readonly full = new Map<TargetVariable, Value>();
  private readonly alias = new Map<TargetVariable, Value>();

  constructor(
    private readonly env: AutoScaleEnvironment,
    private readonly now: number,
  ) {}

  /** Runs every statement; true when stop() ended it early. */
  run(formula: Formula): boolean {
    try {
      for (const statement of formula.statements) {
        const value = this.eval(statement.expr);
        if (statement.kind === "call") continue;
        const binding = bindName(statement.name);
        if (binding.kind === "system" && binding.variable.kind === "target") {
          (binding.variable.alias ? this.alias : this.full).set(binding.variable.name, value);
        } else {
          this.user.set(statement.name, value);
        }
      }
      return false;
    } catch (e) {
      if (e instanceof Stop) return true;
      throw e;
    }
  }

  outcome(): { targetDedicatedNodes: number; targetLowPriorityNodes: number; nodeDeallocationOption: DeallocationOption } {
    return {
      targetDedicatedNodes: this.target("$TargetDedicatedNodes", false).value as number,
      targetLowPriorityNodes: this.target("$TargetLowPriorityNodes", false).value as number,
      nodeDeallocationOption: this.target("$NodeDeallocationOption", false).value as DeallocationOption,
    };
  }

  /**
   * The results string: the three settable system variables first, then the
   * formula's own variables in ordinal order of their names as written
   * (the docs' sample results and a recorded run both list them that way).
   */
  results(): string {
    const pairs: string[] = [];
    for (const name of ["$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption"] as const) {
      pairs.push(`${name}=${formatValue(this.target(name, false))}`);
    }
    const names = [...this.user.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) pairs.push(`${name}=${formatValue(this.user.get(name)!)}`);
    return pairs.join(";");
  }

  private target(name: TargetVariable, viaAlias: boolean): Value {
    const [first, second] = viaAlias ? [this.alias, this.full] : [this.full, this.alias];
    const assigned = first.get(name) ?? second.get(name);
    if (assigned) return assigned;
    if (name === "$NodeDeallocationOption") return { type: "keyword", value: this.env.nodeDeallocationOption ?? "requeue" };
    return { type: "double", value: (name === "$TargetDedicatedNodes" ? this.env.targetDedicatedNodes : this.env.targetLowPriorityNodes) ?? 0 };
  }

  private eval(e: Expr): Value {
    switch (e.kind) {
      case "number":
        return double(e.value, e.pos);
      case "string":
        return { type: "string", value: e.value };
      case "name":
        return this.name(e.name, e.pos);
      case "unary": {
        const v = this.eval(e.operand);
        if (e.op === "!") return { type: "double", value: v.value === 0 ? 1 : 0 };
        return v.type === "timeinterval" ? { type: "timeinterval", value: -v.value } : { type: "double", value: -(v.value as number) };
      }
      case "binary":
        return this.binary(e);
      case "ternary": {
        const condition = this.eval(e.condition).value as number;
        return this.eval(condition !== 0 ? e.whenTrue : e.whenFalse);
      }
      case "member": {
        const ms = this.eval(e.target).value as number;
        const d = new Date(ms);
        const parts: Record<string, number> = {
          year: d.getUTCFullYear(),
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
          // 1 = Monday (documented); Sunday = 7 is unconfirmed.
          weekday: d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
          hour: d.getUTCHours(),
          minute: d.getUTCMinutes(),
          second: d.getUTCSeconds(),
        };
        return { type: "double", value: parts[e.name] };
      }
      case "method":
        return this.method(e);
      case "call":
        return this.call(e);
    }
  }

  private name(name: string, pos: SourcePosition): Value {
    const binding = bindName(name);
    switch (binding.kind) {
      case "keyword":
        return { type: "keyword", value: binding.value };
      case "constant":
        return { type: "timeinterval", value: binding.seconds };
      case "user":
        return this.user.get(name)!;
      case "system": {
        const v = binding.variable;
        if (v.kind === "target") return this.target(v.name, v.alias);
        if (v.kind === "property") return { type: "double", value: this.env.taskSlotsPerNode ?? 1 };
        const current = this.env.current?.[v.name];
        if (current !== undefined) return { type: "double", value: current };
        const samples = this.samples(v.name);
        if (samples.length === 0) throw fail(AutoScaleErrorCode.InsufficientSampleData, `Insufficient data from data set: ${name} has no samples`, pos);
        return { type: "double", value: samples[samples.length - 1].value };
      }
    }
  }

  private binary(e: Extract<Expr, { kind: "binary" }>): Value {
    if (e.op === "&&" || e.op === "||") {
      const left = this.eval(e.left).value as number;
      if (e.op === "&&" && left === 0) return { type: "double", value: 0 };
      if (e.op === "||" && left !== 0) return { type: "double", value: 1 };
      return { type: "double", value: (this.eval(e.right).value as number) !== 0 ? 1 : 0 };
    }
    const l = this.eval(e.left);
    const r = this.eval(e.right);
    switch (e.op) {
      case "<":
        return truth(l.value < r.value);
      case "<=":
        return truth(l.value <= r.value);
      case ">":
        return truth(l.value > r.value);
      case ">=":
        return truth(l.value >= r.value);
      case "==":
        return truth(l.value === r.value);
      case "!=":
        return truth(l.value !== r.value);
    }
    const op = e.op;
    if (l.type === "doubleVec") {
      const right = r.type === "doubleVec" ? r.value : undefined;
      if (right && right.length !== l.value.length) {
        throw fail(AutoScaleErrorCode.TypeMismatch, `Operator '${op}' on doubleVecs of different lengths (${l.value.length} and ${right.length})`, e.pos);
      }
      return { type: "doubleVec", value: l.value.map((x, i) => arithmetic(op, x, right ? right[i] : (r.value as number), e.pos)) };
    }
    if (l.type === "timestamp" && r.type === "timestamp") return { type: "timeinterval", value: (l.value - r.value) / 1000 };
    if (l.type === "timestamp" || r.type === "timestamp") {
      const ms = l.type === "timestamp" ? l.value + (r.value as number) * 1000 : (r.value as number) + (l.value as number) * 1000;
      if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw fail(AutoScaleErrorCode.ArithmeticError, "The timestamp is out of range", e.pos);
      return { type: "timestamp", value: ms };
    }
    const value = arithmetic(op, l.value as number, r.value as number, e.pos);
    return { type: l.type === "timeinterval" || r.type === "timeinterval" ? "timeinterval" : "double", value };
  }

  private samples(variable: SampledVariable): readonly Sample[] {
    return this.env.samples?.samples(variable, this.now) ?? [];
  }

  private method(e: Extract<Expr, { kind: "method" }>): Value {
    const target = e.target as Extract<Expr, { kind: "name" }>;
    const binding = bindName(target.name);
    const variable = (binding as { variable: { name: SampledVariable } }).variable.name;
    const samples = this.samples(variable);
    const args: Value[] = [];
    for (const a of e.args) args.push(this.eval(a));
    switch (e.name) {
      case "Count":
        return { type: "double", value: samples.length };
      case "GetSamplePeriod":
        return { type: "timeinterval", value: SAMPLE_PERIOD_SECONDS };
      case "HistoryBeginTime":
        if (samples.length === 0) throw fail(AutoScaleErrorCode.InsufficientSampleData, `Insufficient data from data set: ${target.name} has no samples`, target.pos);
        return { type: "timestamp", value: samples[0].time };
      case "GetSamplePercent":
        return { type: "double", value: this.window(samples, args[0], args[1]).percent };
    }
    // GetSample
    if (args.length === 1 && args[0].type === "double") {
      const count = args[0].value;
      if (count < 0 || !Number.isInteger(count)) throw fail(AutoScaleErrorCode.InvalidFunctionArgument, `${target.name}.GetSample: the sample count must be a whole number >= 0; got ${formatDouble(count)}`, e.pos);
      return { type: "doubleVec", value: samples.slice(Math.max(0, samples.length - count)).map((s) => s.value) };
    }
    const [start, second, third] = args;
    const end = second && second.type !== "double" ? second : undefined;
    const wanted = second?.type === "double" ? second.value : third?.value;
    const w = this.window(samples, start, end);
    if (typeof wanted === "number" && w.percent < wanted) {
      throw fail(
        AutoScaleErrorCode.InsufficientSampleData,
        `Insufficient data from data set: ${target.name} wanted ${formatDouble(wanted)}%, received ${Math.floor(w.percent)}%`,
        target.pos,
      );
    }
    return { type: "doubleVec", value: w.samples.map((s) => s.value) };
  }

  /**
   * The samples of a look-back window: a timeinterval counts back from now
   * (`GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute)` is from 6 to
   * 1 minute ago), a timestamp is absolute; no end means now. Percent compares
   * the samples present with one per 30 s over the window (10 min = 20).
   */
  private window(samples: readonly Sample[], start: Value, end: Value | undefined): { samples: Sample[]; percent: number } {
    const a = windowEdge(this.now, start);
    const b = windowEdge(this.now, end);
    const from = Math.min(a, b);
    const to = Math.max(a, b);
    const inside: Sample[] = [];
    for (const s of samples) if (s.time > from && s.time <= to) inside.push(s);
    const possible = Math.floor((to - from) / (SAMPLE_PERIOD_SECONDS * 1000));
    const percent = possible > 0 ? Math.min(100, (inside.length * 100) / possible) : inside.length > 0 ? 100 : 0;
    return { samples: inside, percent };
  }

  private call(e: Extract<Expr, { kind: "call" }>): Value {
    if (e.name === "stop") throw new Stop();
    const args: Value[] = [];
    for (const a of e.args) args.push(this.eval(a));
    switch (e.name) {
      case "avg": {
        const v = nonEmpty(e, args);
        return double(sum(v) / v.length, e.pos);
      }
      case "len":
        return { type: "double", value: flatten(args).length };
      case "max":
        return double(Math.max(...nonEmpty(e, args)), e.pos);
      case "min":
        return double(Math.min(...nonEmpty(e, args)), e.pos);
      case "range": {
        const v = nonEmpty(e, args);
        return double(Math.max(...v) - Math.min(...v), e.pos);
      }
      case "sum":
        return double(sum(flatten(args)), e.pos);
      case "norm":
        return double(Math.sqrt(sum(flatten(args).map(square))), e.pos);
      case "std": {
        const v = flatten(args);
        if (v.length < 2) throw invalidArgument(e, `the sample standard deviation needs at least 2 values; got ${v.length}`);
        const mean = sum(v) / v.length;
        return double(Math.sqrt(sum(v.map((x) => (x - mean) ** 2)) / (v.length - 1)), e.pos);
      }
      case "ceil":
        return componentWise(e, args, Math.ceil);
      case "floor":
        return componentWise(e, args, Math.floor);
      case "round":
        return componentWise(e, args, roundHalfEven);
      case "lg":
        return componentWise(e, args, Math.log2);
      case "ln":
        return componentWise(e, args, Math.log);
      case "log":
        return componentWise(e, args, Math.log10);
      case "percentile": {
        const v = [...(args[0].value as number[])].sort((x, y) => x - y);
        const p = args[1].value as number;
        if (v.length === 0) throw invalidArgument(e, "the vector is empty", e.args[0].pos);
        if (p < 0 || p > 100) throw invalidArgument(e, `the percentile must be between 0 and 100; got ${formatDouble(p)}`, e.args[1].pos);
        const rank = (p / 100) * (v.length - 1);
        const lo = Math.floor(rank);
        const hi = Math.ceil(rank);
        return double(v[lo] + (v[hi] - v[lo]) * (rank - lo), e.pos);
      }
      case "val": {
        const v = args[0].value as number[];
        const i = args[1].value as number;
        if (!Number.isInteger(i) || i < 0 || i >= v.length) throw invalidArgument(e, `index ${formatDouble(i)} is outside the vector (length ${v.length}, first index 0)`, e.args[1].pos);
        return { type: "double", value: v[i] };
      }
      case "rand":
        return { type: "double", value: (this.env.random ?? Math.random)() };
      default: {
        // time
        if (args.length === 0 || args[0].value === "") return { type: "timestamp", value: this.now };
        const ms = parseDateTime(args[0].value as string);
        if (ms === undefined) throw invalidArgument(e, `'${args[0].value}' is not a W3C-DTF or RFC 1123 date`, e.args[0].pos);
        return { type: "timestamp", value: ms };
      }
    }
  }
}

/** A doubleVecList flattened to one vector, as the docs define it. */
function flatten(args: Value[]): number[] {
  const out: number[] = [];
  for (const a of args) {
    if (a.type === "doubleVec") for (const x of a.value) out.push(x);
    else out.push(a.value as number);
  }
  return out;
}

function nonEmpty(e: Extract<Expr, { kind: "call" }>, args: Value[]): number[] {
  const v = flatten(args);
  if (v.length === 0) throw invalidArgument(e, "the list of values is empty");
  return v;
}

function componentWise(e: Extract<Expr, { kind: "call" }>, args: Value[], f: (x: number) => number): Value {
  if (args.length === 1 && args[0].type === "double") return double(f(args[0].value), e.pos);
  const out = flatten(args);
  for (let i = 0; i < out.length; i++) out[i] = double(f(out[i]), e.pos).value;
  return { type: "doubleVec", value: out };
}

function invalidArgument(e: Extract<Expr, { kind: "call" }>, detail: string, pos = e.pos): FormulaError {
  return fail(AutoScaleErrorCode.InvalidFunctionArgument, `${e.name}(): ${detail}`, pos);
}

function sum(v: number[]): number {
  let total = 0;
  for (const x of v) total += x;
  return total;
}

const square = (x: number) => x * x;

/** A window edge in ms: a timestamp as is, a timeinterval counted back from now, none = now. */
function windowEdge(now: number, v: Value | undefined): number {
  return v === undefined ? now : v.type === "timestamp" ? v.value : now - (v.value as number) * 1000;
}

const truth = (b: boolean): Value => ({ type: "double", value: b ? 1 : 0 });

function double(value: number, pos: SourcePosition): { type: "double"; value: number } {
  if (!Number.isFinite(value)) throw fail(AutoScaleErrorCode.ArithmeticError, `The result is not a finite number (${value})`, pos);
  return { type: "double", value };
}

function arithmetic(op: "+" | "-" | "*" | "/", a: number, b: number, pos: SourcePosition): number {
  if (op === "/" && b === 0) throw fail(AutoScaleErrorCode.ArithmeticError, "Division by zero", pos);
  const value = op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b;
  return double(value, pos).value;
}

/** .NET's Math.Round default (to even); which rounding Batch's round() uses is unconfirmed. */
function roundHalfEven(x: number): number {
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
}

function formatValue(v: Value): string {
  switch (v.type) {
    case "double":
      return formatDouble(v.value);
    case "doubleVec":
      return `[${v.value.map(formatDouble).join(",")}]`;
    case "timestamp":
      return formatTimestamp(v.value);
    case "timeinterval":
      return formatTimeInterval(v.value);
    default:
      return v.value;
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** W3C-DTF (the ISO 8601 profile: YYYY to YYYY-MM-DDThh:mm:ss.sTZD) or RFC 1123 (`Thu, 13 Oct 2016 19:18:47 GMT`). */
export function parseDateTime(text: string): number | undefined {
  const s = text.trim();
  const w3c = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/.exec(s);
  if (w3c) {
    const [, y, mo = "01", d = "01", h = "00", mi = "00", sec = "00", frac = "", zone = "Z"] = w3c;
    const offset = zone === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    return utc(+y, +mo, +d, +h, +mi, +sec, frac ? Number(frac) * 1000 : 0, offset);
  }
  const rfc = /^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|Z|[+-]\d{4})$/.exec(s);
  if (rfc) {
    const [, dayName, d, mon, y, h, mi, sec, zone] = rfc;
    const month = MONTHS.indexOf(mon) + 1;
    if (month === 0) return undefined;
    const offset = /^[+-]/.test(zone) ? (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) : 0;
    const ms = utc(+y, month, +d, +h, +mi, +sec, 0, offset);
    if (ms !== undefined && dayName && ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date(ms + offset * 60000).getUTCDay()] !== dayName) return undefined;
    return ms;
  }
  return undefined;
}

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offsetMinutes: number): number | undefined {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(t);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return t - offsetMinutes * 60000;
}
