/**
 * The OData subset Batch accepts in $filter and $select: comparisons (eq, ne,
 * gt, ge, lt, le) of a property path (`executionInfo/exitCode`) with a string,
 * number, boolean, null or datetime'…' literal; and / or / not; parentheses;
 * startswith, endswith and substringof. Dates compare as instants. A filter
 * that does not parse is a 400 InvalidQueryParameterValue, as Batch answers.
 */
import { ServiceError } from "../http";

type Literal = string | number | boolean | null | Date;
type Expr =
  | { kind: "literal"; value: Literal }
  | { kind: "prop"; path: string[] }
  | { kind: "cmp"; op: string; left: Expr; right: Expr }
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "not"; expr: Expr }
  | { kind: "call"; name: string; args: Expr[] };

interface Token {
  type: "ident" | "string" | "number" | "datetime" | "(" | ")" | ",";
  text: string;
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push({ type: c, text: c });
      i++;
    } else if (c === "'") {
      let s = "";
      i++;
      for (;;) {
        if (i >= input.length) throw new Error("unterminated string literal");
        if (input[i] === "'") {
          if (input[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += input[i++];
      }
      tokens.push({ type: "string", text: s });
    } else if (/[-\d]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(input.slice(i));
      if (!m) throw new Error(`unexpected '${c}'`);
      tokens.push({ type: "number", text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*(\/[A-Za-z_$][\w$]*)*/.exec(input.slice(i))!;
      i += m[0].length;
      if (/^datetime$/i.test(m[0]) && input[i] === "'") {
        const end = input.indexOf("'", i + 1);
        if (end === -1) throw new Error("unterminated datetime literal");
        tokens.push({ type: "datetime", text: input.slice(i + 1, end) });
        i = end + 1;
      } else {
        tokens.push({ type: "ident", text: m[0] });
      }
    } else {
      throw new Error(`unexpected '${c}'`);
    }
  }
  return tokens;
}

const COMPARISONS = new Set(["eq", "ne", "gt", "ge", "lt", "le"]);
const FUNCTIONS = new Set(["startswith", "endswith", "substringof", "contains"]);

function parse(input: string): Expr {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (w: string) => peek()?.type === "ident" && peek().text.toLowerCase() === w;
  const expect = (type: Token["type"]) => {
    if (peek()?.type !== type) throw new Error(`expected '${type}'`);
    return tokens[pos++];
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (isWord("or")) {
      pos++;
      left = { kind: "or", left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): Expr => {
    let left = unary();
    while (isWord("and")) {
      pos++;
      left = { kind: "and", left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    if (isWord("not")) {
      pos++;
      return { kind: "not", expr: unary() };
    }
    return comparison();
  };
  const comparison = (): Expr => {
    const left = primary();
    if (peek()?.type === "ident" && COMPARISONS.has(peek().text.toLowerCase())) {
      const op = tokens[pos++].text.toLowerCase();
      return { kind: "cmp", op, left, right: primary() };
    }
    return left;
  };
  const primary = (): Expr => {
    const t = peek();
    if (!t) throw new Error("unexpected end of expression");
    if (t.type === "(") {
      pos++;
      const e = orExpr();
      expect(")");
      return e;
    }
    pos++;
    if (t.type === "string") return { kind: "literal", value: t.text };
    if (t.type === "number") return { kind: "literal", value: Number(t.text) };
    if (t.type === "datetime") {
      const d = new Date(t.text);
      if (Number.isNaN(d.getTime())) throw new Error(`invalid datetime '${t.text}'`);
      return { kind: "literal", value: d };
    }
    if (t.type === "ident") {
      const word = t.text.toLowerCase();
      if (word === "true" || word === "false") return { kind: "literal", value: word === "true" };
      if (word === "null") return { kind: "literal", value: null };
      if (FUNCTIONS.has(word) && peek()?.type === "(") {
        pos++;
        const args: Expr[] = [orExpr()];
        while (peek()?.type === ",") {
          pos++;
          args.push(orExpr());
        }
        expect(")");
        if (args.length !== 2) throw new Error(`${word} takes two arguments`);
        return { kind: "call", name: word, args };
      }
      return { kind: "prop", path: t.text.split("/") };
    }
    throw new Error(`unexpected '${t.text}'`);
  };
  const e = orExpr();
  if (pos < tokens.length) throw new Error(`unexpected '${tokens[pos].text}'`);
  return e;
}

function value(e: Expr, entity: Record<string, unknown>): unknown {
  switch (e.kind) {
    case "literal":
      return e.value;
    case "prop": {
      let v: unknown = entity;
      for (const p of e.path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
      return v;
    }
    default:
      return test(e, entity);
  }
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T/;

function compare(op: string, a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    const ta = a instanceof Date ? a.getTime() : typeof a === "string" && ISO_DATE.test(a) ? Date.parse(a) : NaN;
    const tb = b instanceof Date ? b.getTime() : typeof b === "string" && ISO_DATE.test(b) ? Date.parse(b) : NaN;
    a = ta;
    b = tb;
    if (Number.isNaN(a) || Number.isNaN(b)) return op === "ne";
  }
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  switch (op) {
    case "eq":
      return a === b;
    case "ne":
      return a !== b;
  }
  if (a === null || b === null || typeof a !== typeof b) return false;
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case "gt":
      return x > y;
    case "ge":
      return x >= y;
    case "lt":
      return x < y;
    default:
      return x <= y;
  }
}

function test(e: Expr, entity: Record<string, unknown>): boolean {
  switch (e.kind) {
    case "and":
      return test(e.left, entity) && test(e.right, entity);
    case "or":
      return test(e.left, entity) || test(e.right, entity);
    case "not":
      return !test(e.expr, entity);
    case "cmp":
      return compare(e.op, value(e.left, entity), value(e.right, entity));
    case "call": {
      const [a, b] = e.args.map((x) => value(x, entity));
      if (e.name === "substringof") return typeof a === "string" && typeof b === "string" && b.includes(a);
      if (typeof a !== "string" || typeof b !== "string") return false;
      if (e.name === "startswith") return a.startsWith(b);
      if (e.name === "endswith") return a.endsWith(b);
      return a.includes(b);
    }
    default:
      return Boolean(value(e, entity));
  }
}

export function invalidQueryParameter(name: string, value: string, reason: string): ServiceError {
  return new ServiceError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.", {
    values: [
      { key: "QueryParameterName", value: name },
      { key: "QueryParameterValue", value },
      { key: "Reason", value: reason },
    ],
  });
}

/** Compiles a $filter into a predicate over rendered entities. */
export function compileFilter(filter: string | null): (entity: Record<string, unknown>) => boolean {
  if (!filter) return () => true;
  let expr: Expr;
  try {
    expr = parse(filter);
  } catch (e) {
    throw invalidQueryParameter("$filter", filter, `The filter could not be parsed: ${(e as Error).message}.`);
  }
  return (entity) => test(expr, entity);
}

/** Applies a $select (comma-separated top-level property names) to a rendered entity. */
export function applySelect(entity: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return entity;
  const keep = new Set(select.split(",").map((s) => s.trim()).filter(Boolean));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) if (keep.has(k)) out[k] = v;
  return out;
}
