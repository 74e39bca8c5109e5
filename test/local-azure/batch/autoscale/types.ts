/**
 * The language's types and the documented operator table (A19 "Operations"):
 * any combination the table does not list is a type error.
 */
import type { BinaryOperator } from "./parser";
import type { DeallocationOption } from "./names";

/** `keyword` is a `$NodeDeallocationOption` value; `never` is the type of `stop()`. */
export type FormulaType = "double" | "doubleVec" | "string" | "timestamp" | "timeinterval" | "keyword" | "never";

/** Runtime values: timestamps in ms since the epoch, time intervals in seconds. */
export type Value =
  | { type: "double"; value: number }
  | { type: "doubleVec"; value: number[] }
  | { type: "string"; value: string }
  | { type: "timestamp"; value: number }
  | { type: "timeinterval"; value: number }
  | { type: "keyword"; value: DeallocationOption };

const COMPARABLE = new Set<FormulaType>(["double", "string", "timestamp", "timeinterval"]);

/** The result type of `left op right`, or undefined when the docs' table has no such row. */
export function binaryResultType(op: BinaryOperator, left: FormulaType, right: FormulaType): FormulaType | undefined {
  if (left === "never" || right === "never") return "never";
  const is = (l: FormulaType, r: FormulaType) => left === l && right === r;
  switch (op) {
    case "+":
    case "-":
      if (is("double", "double")) return "double";
      if (left === "doubleVec" && (right === "double" || right === "doubleVec")) return "doubleVec";
      if (is("timeinterval", "timeinterval")) return "timeinterval";
      if (op === "+" && (is("timeinterval", "timestamp") || is("timestamp", "timeinterval"))) return "timestamp";
      if (op === "-" && is("timestamp", "timestamp")) return "timeinterval";
      return undefined;
    case "*":
      if (is("double", "double")) return "double";
      if (left === "doubleVec" && (right === "double" || right === "doubleVec")) return "doubleVec";
      if (is("double", "timeinterval") || is("timeinterval", "double")) return "timeinterval";
      return undefined;
    case "/":
      if (is("double", "double")) return "double";
      if (left === "doubleVec" && (right === "double" || right === "doubleVec")) return "doubleVec";
      if (is("timeinterval", "double")) return "timeinterval";
      return undefined;
    case "<":
    case "<=":
    case "==":
    case "!=":
    case ">=":
    case ">":
      return left === right && COMPARABLE.has(left) ? "double" : undefined;
    case "&&":
    case "||":
      return is("double", "double") ? "double" : undefined;
  }
}

export function unaryResultType(op: "-" | "!", operand: FormulaType): FormulaType | undefined {
  if (operand === "never") return "never";
  if (operand === "double") return "double";
  if (op === "-" && operand === "timeinterval") return "timeinterval";
  return undefined;
}
