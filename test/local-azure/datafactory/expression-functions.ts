/**
 * The collection, string, math and comparison functions of ADF's expression
 * language beyond the core ones in expressions.ts, with the documented
 * semantics (MicrosoftDocs/azure-docs, articles/data-factory/
 * control-flow-expression-language-functions.md): `split`/`join`, `first`/
 * `last`/`skip`/`take` on strings and arrays, `startsWith`/`endsWith`/
 * `indexOf` ignore case, `substring` refuses a range outside the string,
 * `div` of two integers is an integer. Anything not here or in
 * expressions.ts is refused by name ("not defined or not valid").
 */
import { randomUUID } from "node:crypto";
import type { Json } from "./types";

type Fail = (message: string) => never;
type Impl = (args: Json[], fail: Fail) => Json;

function text(value: Json, fail: Fail, fn: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return fail(`The template function '${fn}' expects its parameter to be a string. The provided value is of type '${value === null ? "Null" : Array.isArray(value) ? "Array" : "Object"}'.`);
}

function integer(value: Json, fail: Fail, fn: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isInteger(n)) return fail(`The template function '${fn}' expects an integer parameter; '${JSON.stringify(value)}' is not one.`);
  return n;
}

function number(value: Json, fail: Fail, fn: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fail(`The template function '${fn}' expects a number; '${JSON.stringify(value)}' is not one.`);
  return n;
}

function collection(value: Json, fail: Fail, fn: string): string | Json[] {
  if (typeof value === "string" || Array.isArray(value)) return value;
  return fail(`The template function '${fn}' expects its parameter to be an array or a string. The provided value is of type '${value === null ? "Null" : typeof value === "object" ? "Object" : typeof value}'.`);
}

function arity(fn: string, args: Json[], min: number, max: number, fail: Fail): void {
  if (args.length < min || args.length > max) {
    fail(`The template function '${fn}' expects ${min === max ? min : `${min} to ${max}`} parameter(s); ${args.length} given.`);
  }
}

function compare(fn: string, args: Json[], fail: Fail): number {
  arity(fn, args, 2, 2, fail);
  const [a, b] = args;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return number(a, fail, fn) - number(b, fail, fn);
}

const FUNCTIONS: Record<string, Impl> = {
  split(args, fail) {
    arity("split", args, 2, 2, fail);
    return text(args[0], fail, "split").split(text(args[1], fail, "split"));
  },
  join(args, fail) {
    arity("join", args, 2, 2, fail);
    if (!Array.isArray(args[0])) return fail("The template function 'join' expects its first parameter to be an array.");
    return args[0].map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(text(args[1], fail, "join"));
  },
  first(args, fail) {
    arity("first", args, 1, 1, fail);
    const c = collection(args[0], fail, "first");
    return c.length ? c[0] : null;
  },
  last(args, fail) {
    arity("last", args, 1, 1, fail);
    const c = collection(args[0], fail, "last");
    return c.length ? c[c.length - 1] : null;
  },
  skip(args, fail) {
    arity("skip", args, 2, 2, fail);
    const n = Math.max(0, integer(args[1], fail, "skip"));
    return collection(args[0], fail, "skip").slice(n) as Json;
  },
  take(args, fail) {
    arity("take", args, 2, 2, fail);
    const n = Math.max(0, integer(args[1], fail, "take"));
    return collection(args[0], fail, "take").slice(0, n) as Json;
  },
  contains(args, fail) {
    arity("contains", args, 2, 2, fail);
    const [c, v] = args;
    if (typeof c === "string") return c.includes(text(v, fail, "contains"));
    if (Array.isArray(c)) return c.some((item) => JSON.stringify(item) === JSON.stringify(v));
    if (c !== null && typeof c === "object") return Object.keys(c).includes(text(v, fail, "contains"));
    return fail("The template function 'contains' expects a string, an array or an object as its first parameter.");
  },
  empty(args, fail) {
    arity("empty", args, 1, 1, fail);
    const v = args[0];
    if (v === null) return true;
    if (typeof v === "string" || Array.isArray(v)) return v.length === 0;
    if (typeof v === "object") return Object.keys(v).length === 0;
    return fail("The template function 'empty' expects a string, an array or an object.");
  },
  startswith(args, fail) {
    arity("startsWith", args, 2, 2, fail);
    return text(args[0], fail, "startsWith").toLowerCase().startsWith(text(args[1], fail, "startsWith").toLowerCase());
  },
  endswith(args, fail) {
    arity("endsWith", args, 2, 2, fail);
    return text(args[0], fail, "endsWith").toLowerCase().endsWith(text(args[1], fail, "endsWith").toLowerCase());
  },
  indexof(args, fail) {
    arity("indexOf", args, 2, 2, fail);
    return text(args[0], fail, "indexOf").toLowerCase().indexOf(text(args[1], fail, "indexOf").toLowerCase());
  },
  lastindexof(args, fail) {
    arity("lastIndexOf", args, 2, 2, fail);
    return text(args[0], fail, "lastIndexOf").toLowerCase().lastIndexOf(text(args[1], fail, "lastIndexOf").toLowerCase());
  },
  substring(args, fail) {
    arity("substring", args, 2, 3, fail);
    const s = text(args[0], fail, "substring");
    const start = integer(args[1], fail, "substring");
    const length = args.length === 3 ? integer(args[2], fail, "substring") : s.length - start;
    if (start < 0 || length < 0 || start + length > s.length) {
      return fail(`The template function 'substring' was invoked with a start index ${start} and length ${length} outside the string of length ${s.length}.`);
    }
    return s.substr(start, length);
  },
  createarray(args) {
    return args;
  },
  guid(args, fail) {
    arity("guid", args, 0, 1, fail);
    return randomUUID();
  },
  sub(args, fail) {
    arity("sub", args, 2, 2, fail);
    return number(args[0], fail, "sub") - number(args[1], fail, "sub");
  },
  mul(args, fail) {
    arity("mul", args, 2, 2, fail);
    return number(args[0], fail, "mul") * number(args[1], fail, "mul");
  },
  div(args, fail) {
    arity("div", args, 2, 2, fail);
    const [a, b] = [number(args[0], fail, "div"), number(args[1], fail, "div")];
    if (b === 0) return fail("The template function 'div' cannot divide by zero.");
    return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
  },
  mod(args, fail) {
    arity("mod", args, 2, 2, fail);
    const [a, b] = [number(args[0], fail, "mod"), number(args[1], fail, "mod")];
    if (b === 0) return fail("The template function 'mod' cannot divide by zero.");
    return a % b;
  },
  max(args, fail) {
    const values = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
    if (values.length === 0) return fail("The template function 'max' expects at least one number.");
    return Math.max(...values.map((v) => number(v, fail, "max")));
  },
  min(args, fail) {
    const values = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
    if (values.length === 0) return fail("The template function 'min' expects at least one number.");
    return Math.min(...values.map((v) => number(v, fail, "min")));
  },
  greater: (args, fail) => compare("greater", args, fail) > 0,
  greaterorequals: (args, fail) => compare("greaterOrEquals", args, fail) >= 0,
  less: (args, fail) => compare("less", args, fail) < 0,
  lessorequals: (args, fail) => compare("lessOrEquals", args, fail) <= 0,
  base64(args, fail) {
    arity("base64", args, 1, 1, fail);
    return Buffer.from(text(args[0], fail, "base64"), "utf8").toString("base64");
  },
  base64tostring(args, fail) {
    arity("base64ToString", args, 1, 1, fail);
    return Buffer.from(text(args[0], fail, "base64ToString"), "base64").toString("utf8");
  },
  uricomponent(args, fail) {
    arity("uriComponent", args, 1, 1, fail);
    return encodeURIComponent(text(args[0], fail, "uriComponent"));
  },
};

/** Calls one of the functions above; `undefined` when `name` is none of them. */
export function callExtraFunction(name: string, args: Json[], fail: Fail): { value: Json } | undefined {
  const impl = FUNCTIONS[name.toLowerCase()];
  return impl ? { value: impl(args, fail) } : undefined;
}
