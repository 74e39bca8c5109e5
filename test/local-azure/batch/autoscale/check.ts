/**
 * Static checks, run before anything is evaluated: every name is known when
 * it is read, every operator, function and method gets the types the docs
 * list, and assignments go where they may. Statements run in order without
 * loops, so this is exact: a formula that passes cannot hit a type error at
 * run time (only data-dependent failures: samples, empty vectors, domains).
 */
import { AutoScaleErrorCode, FormulaError, type AutoScaleErrorCodeName, type SourcePosition } from "./errors";
import { DEALLOCATION_OPTIONS, FUNCTION_ARITY, METHOD_ARITY, TIME_INTERVAL_CONSTANTS, TIMESTAMP_MEMBERS, systemVariable, type DeallocationOption, type SystemVariable } from "./names";
import type { Expr, Formula } from "./parser";
import { binaryResultType, unaryResultType, type FormulaType } from "./types";

const fail = (code: AutoScaleErrorCodeName, detail: string, pos: SourcePosition) => new FormulaError(code, detail, pos, "validation");

/** What a bare name in an expression refers to. */
export type NameBinding =
  | { kind: "system"; variable: SystemVariable }
  | { kind: "keyword"; value: DeallocationOption }
  | { kind: "constant"; seconds: number }
  | { kind: "user" };

export function bindName(name: string): NameBinding {
  const variable = systemVariable(name);
  if (variable) return { kind: "system", variable };
  if ((DEALLOCATION_OPTIONS as readonly string[]).includes(name)) return { kind: "keyword", value: name as DeallocationOption };
  if (Object.prototype.hasOwnProperty.call(TIME_INTERVAL_CONSTANTS, name)) return { kind: "constant", seconds: TIME_INTERVAL_CONSTANTS[name] };
  return { kind: "user" };
}

const LIST_FUNCTIONS = new Set(["avg", "len", "max", "min", "norm", "range", "std", "sum"]);
const COMPONENT_FUNCTIONS = new Set(["ceil", "floor", "round", "lg", "ln", "log"]);

export function checkFormula(formula: Formula): void {
  const user = new Map<string, FormulaType>();
  for (const statement of formula.statements) {
    const type = typeOf(statement.expr, user);
    if (statement.kind === "call") continue;
    const binding = bindName(statement.name);
    switch (binding.kind) {
      case "keyword":
      case "constant":
        throw fail(AutoScaleErrorCode.InvalidAssignment, `'${statement.name}' is a constant and cannot be assigned`, statement.pos);
      case "system": {
        const v = binding.variable;
        if (v.kind !== "target") throw fail(AutoScaleErrorCode.InvalidAssignment, `${v.name} is a read-only system variable and cannot be assigned`, statement.pos);
        if (type === "never") break;
        if (v.name === "$NodeDeallocationOption") {
          if (type !== "keyword") {
            throw fail(AutoScaleErrorCode.InvalidAssignment, `$NodeDeallocationOption must be one of ${DEALLOCATION_OPTIONS.join(", ")}; got a ${type}`, statement.expr.pos);
          }
        } else if (type !== "double") {
          throw fail(AutoScaleErrorCode.TypeMismatch, `${statement.name} must be assigned a double; got a ${type}`, statement.expr.pos);
        }
        break;
      }
      case "user":
        if (type !== "never") user.set(statement.name, type);
        break;
    }
  }
}

function typeOf(e: Expr, user: Map<string, FormulaType>): FormulaType {
  switch (e.kind) {
    case "number":
      return "double";
    case "string":
      return "string";
    case "name":
      return nameType(e.name, e.pos, user);
    case "unary": {
      const operand = typeOf(e.operand, user);
      const type = unaryResultType(e.op, operand);
      if (!type) throw fail(AutoScaleErrorCode.TypeMismatch, `Operator '${e.op}' does not apply to a ${operand}`, e.pos);
      return type;
    }
    case "binary": {
      const left = typeOf(e.left, user);
      const right = typeOf(e.right, user);
      const type = binaryResultType(e.op, left, right);
      if (!type) throw fail(AutoScaleErrorCode.TypeMismatch, `Operator '${e.op}' does not apply to ${left} ${e.op} ${right}`, e.pos);
      return type;
    }
    case "ternary": {
      const condition = typeOf(e.condition, user);
      if (condition !== "double" && condition !== "never") throw fail(AutoScaleErrorCode.TypeMismatch, `The condition of '?:' must be a double; got a ${condition}`, e.condition.pos);
      const a = typeOf(e.whenTrue, user);
      const b = typeOf(e.whenFalse, user);
      if (a === "never") return b;
      if (b === "never" || a === b) return a;
      throw fail(AutoScaleErrorCode.TypeMismatch, `The branches of '?:' have different types: ${a} and ${b}`, e.pos);
    }
    case "member": {
      if (e.target.kind === "name") {
        const binding = bindName(e.target.name);
        if (binding.kind === "system" && binding.variable.kind === "sampled" && METHOD_ARITY[e.name]) {
          throw fail(AutoScaleErrorCode.SyntaxError, `${e.name} is a method: write ${e.target.name}.${e.name}(...)`, e.pos);
        }
      }
      const target = typeOf(e.target, user);
      if (target === "never") return "never";
      if (target !== "timestamp") throw fail(AutoScaleErrorCode.TypeMismatch, `A ${target} has no member '${e.name}'`, e.pos);
      if (!(TIMESTAMP_MEMBERS as readonly string[]).includes(e.name)) {
        throw fail(AutoScaleErrorCode.TypeMismatch, `A timestamp has no member '${e.name}'; its members are ${TIMESTAMP_MEMBERS.join(", ")}`, e.pos);
      }
      return "double";
    }
    case "method":
      return methodType(e, user);
    case "call":
      return callType(e, user);
  }
}

function nameType(name: string, pos: SourcePosition, user: Map<string, FormulaType>): FormulaType {
  const binding = bindName(name);
  switch (binding.kind) {
    case "system":
      return binding.variable.kind === "target" && binding.variable.name === "$NodeDeallocationOption" ? "keyword" : "double";
    case "keyword":
      return "keyword";
    case "constant":
      return "timeinterval";
    case "user": {
      const type = user.get(name);
      if (type) return type;
      throw fail(
        AutoScaleErrorCode.UndefinedVariable,
        name.startsWith("$") ? `'${name}' is neither a system variable nor assigned before it is used` : `'${name}' is not assigned before it is used`,
        pos,
      );
    }
  }
}

function arity(kind: string, name: string, args: Expr[], range: readonly [number, number], pos: SourcePosition): void {
  const [lo, hi] = range;
  if (args.length >= lo && args.length <= hi) return;
  const want = lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
  throw fail(AutoScaleErrorCode.SyntaxError, `${kind} '${name}' takes ${want} argument${want === "1" || want === "at least 1" ? "" : "s"}; got ${args.length}`, pos);
}

function methodType(e: Extract<Expr, { kind: "method" }>, user: Map<string, FormulaType>): FormulaType {
  const range = METHOD_ARITY[e.name];
  if (!range) throw fail(AutoScaleErrorCode.SyntaxError, `Unknown method '${e.name}'; sampled variables have ${Object.keys(METHOD_ARITY).join(", ")}`, e.pos);
  const targetType = typeOf(e.target, user);
  const binding = e.target.kind === "name" ? bindName(e.target.name) : undefined;
  if (!(binding?.kind === "system" && binding.variable.kind === "sampled")) {
    throw fail(AutoScaleErrorCode.TypeMismatch, `'.${e.name}()' applies to sampled system variables such as $PendingTasks, not to a ${targetType}`, e.pos);
  }
  arity("Method", e.name, e.args, range, e.pos);
  const args = e.args.map((a) => typeOf(a, user));
  const bad = badMethodArgument.bind(undefined, e);
  switch (e.name) {
    case "GetSample":
      if (args.length === 1 && !isDouble(args[0]) && !isTime(args[0])) throw bad(`the argument must be a sample count (double), a timeinterval or a timestamp; got a ${args[0]}`);
      if (args.length >= 2 && !isTime(args[0])) throw bad(`the start of the window must be a timeinterval or a timestamp; got a ${args[0]}`);
      if (args.length === 2 && !isDouble(args[1]) && !isTime(args[1])) throw bad(`the second argument must be the end of the window or a sample percent; got a ${args[1]}`);
      if (args.length === 3 && !isTime(args[1])) throw bad(`the end of the window must be a timeinterval or a timestamp; got a ${args[1]}`);
      if (args.length === 3 && !isDouble(args[2])) throw bad(`the sample percent must be a double; got a ${args[2]}`);
      return "doubleVec";
    case "GetSamplePercent":
      for (let i = 0; i < args.length; i++) {
        if (!isTime(args[i])) throw bad(`the ${i === 0 ? "start" : "end"} of the window must be a timeinterval or a timestamp; got a ${args[i]}`);
      }
      return "double";
    case "GetSamplePeriod":
      return "timeinterval";
    case "Count":
      return "double";
    default:
      return "timestamp";
  }
}

const isTime = (t: FormulaType | undefined) => t === "timeinterval" || t === "timestamp" || t === "never";
const isDouble = (t: FormulaType | undefined) => t === "double" || t === "never";
const isNumeric = (t: FormulaType) => t === "double" || t === "doubleVec" || t === "never";

function badMethodArgument(e: Extract<Expr, { kind: "method" }>, detail: string): FormulaError {
  return fail(AutoScaleErrorCode.TypeMismatch, `${e.target.kind === "name" ? e.target.name : ""}.${e.name}: ${detail}`, e.pos);
}

function badArgument(e: Extract<Expr, { kind: "call" }>, args: FormulaType[], i: number, want: string): FormulaError {
  return fail(AutoScaleErrorCode.TypeMismatch, `Argument ${i + 1} of ${e.name}() must be ${want}; got a ${args[i]}`, e.args[i].pos);
}

function callType(e: Extract<Expr, { kind: "call" }>, user: Map<string, FormulaType>): FormulaType {
  const range = FUNCTION_ARITY[e.name];
  if (!range) throw fail(AutoScaleErrorCode.SyntaxError, `Unknown function '${e.name}'`, e.pos);
  arity("Function", e.name, e.args, range, e.pos);
  const args: FormulaType[] = [];
  for (const a of e.args) args.push(typeOf(a, user));
  const bad = (i: number, want: string) => badArgument(e, args, i, want);
  if (LIST_FUNCTIONS.has(e.name) || COMPONENT_FUNCTIONS.has(e.name)) {
    for (let i = 0; i < args.length; i++) if (!isNumeric(args[i])) throw bad(i, "a double or a doubleVec");
    return LIST_FUNCTIONS.has(e.name) || (args.length === 1 && args[0] === "double") ? "double" : "doubleVec";
  }
  switch (e.name) {
    case "percentile":
    case "val":
      if (args[0] !== "doubleVec" && args[0] !== "never") throw bad(0, "a doubleVec");
      if (args[1] !== "double" && args[1] !== "never") throw bad(1, "a double");
      return "double";
    case "rand":
      return "double";
    case "stop":
      return "never";
    default: // time
      if (args.length === 1 && args[0] !== "string" && args[0] !== "never") throw bad(0, "a string (W3C-DTF or RFC 1123 date)");
      return "timestamp";
  }
}
