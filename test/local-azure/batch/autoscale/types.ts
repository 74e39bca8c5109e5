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

/** The docs' "Operations" table, row by row: left type, operators, right type → result type. */
const OPERATION_TABLE: [FormulaType, BinaryOperator[], FormulaType, FormulaType][] = [
  ["double", ["+", "-", "*", "/"], "double", "double"],
  ["double", ["*"], "timeinterval", "timeinterval"],
  ["doubleVec", ["+", "-", "*", "/"], "double", "doubleVec"],
  ["doubleVec", ["+", "-", "*", "/"], "doubleVec", "doubleVec"],
  ["timeinterval", ["*", "/"], "double", "timeinterval"],
  ["timeinterval", ["+", "-"], "timeinterval", "timeinterval"],
  ["timeinterval", ["+"], "timestamp", "timestamp"],
  ["timestamp", ["+"], "timeinterval", "timestamp"],
  ["timestamp", ["-"], "timestamp", "timeinterval"],
  ["double", ["<", "<=", "==", ">=", ">", "!="], "double", "double"],
  ["string", ["<", "<=", "==", ">=", ">", "!="], "string", "double"],
  ["timestamp", ["<", "<=", "==", ">=", ">", "!="], "timestamp", "double"],
  ["timeinterval", ["<", "<=", "==", ">=", ">", "!="], "timeinterval", "double"],
  ["double", ["&&", "||"], "double", "double"],
];

const OPERATIONS = new Map<string, FormulaType>();
for (const [left, ops, right, result] of OPERATION_TABLE) for (const op of ops) OPERATIONS.set(`${left} ${op} ${right}`, result);

/** The result type of `left op right`, or undefined when the docs' table has no such row. */
export function binaryResultType(op: BinaryOperator, left: FormulaType, right: FormulaType): FormulaType | undefined {
  if (left === "never" || right === "never") return "never";
  return OPERATIONS.get(`${left} ${op} ${right}`);
}

/** Unary rows of the table: `-` and `!` on double, `-` on timeinterval. */
export function unaryResultType(op: "-" | "!", operand: FormulaType): FormulaType | undefined {
  if (operand === "never") return "never";
  if (operand === "double") return "double";
  if (op === "-" && operand === "timeinterval") return "timeinterval";
  return undefined;
}
