/**
 * A small evaluator for ADF's expression language, enough for the values a
 * release pipeline passes around: `@pipeline().RunId`, parameters, activity
 * outputs and a few functions. Rules follow the documented ones: a string that
 * starts with `@` is evaluated whole and keeps its type; `@{…}` inside a string
 * interpolates and always yields a string; `@@` escapes a leading `@`; any
 * other `@` in the middle of a string is literal text.
 */
import { callExtraFunction } from "./expression-functions";
import type { Json, JsonObject } from "./types";

/** ADF reports evaluation failures as activity errors with this code. */
export class ExpressionError extends Error {
  readonly errorCode = "InvalidTemplate";
}

export interface ExpressionContext {
  /** The object `pipeline()` returns. */
  pipeline: JsonObject;
  /** Looks up `activity('name')`; undefined when that activity has not run. */
  activity(name: string): JsonObject | undefined;
  /** The object `dataset()` returns: the dataset's parameters, only while a dataset's own properties are evaluated. */
  dataset?: JsonObject;
}

/** Evaluates every expression inside a JSON value (strings and `{value, type: "Expression"}` objects). */
export function evaluateValue(value: Json | undefined, ctx: ExpressionContext): Json {
  if (value === undefined) return null;
  if (typeof value === "string") return evaluateString(value, ctx);
  if (Array.isArray(value)) return value.map((v) => evaluateValue(v, ctx));
  if (value !== null && typeof value === "object") {
    if (value.type === "Expression" && typeof value.value === "string" && Object.keys(value).length === 2) {
      return evaluateString(value.value, ctx);
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = evaluateValue(v, ctx);
    return out;
  }
  return value;
}

export function evaluateString(text: string, ctx: ExpressionContext): Json {
  if (text.startsWith("@@")) return text.slice(1);
  if (text.startsWith("@") && !text.startsWith("@{")) return evaluateExpression(text.slice(1), ctx);
  if (!text.includes("@{")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf("@{", i);
    if (start < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    const end = findClosingBrace(text, start + 2);
    if (end < 0) throw new ExpressionError(`The expression '${text}' is not valid: the string interpolation is not closed.`);
    out += stringify(evaluateExpression(text.slice(start + 2, end), ctx));
    i = end + 1;
  }
  return out;
}

function findClosingBrace(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "'") inString = !inString;
    else if (c === "}" && !inString) return i;
  }
  return -1;
}

function stringify(value: Json): string {
  if (typeof value === "string") return value;
  if (value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

type Token = { kind: "ident" | "string" | "number" | "punct"; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) throw new ExpressionError(`The expression '${source}' is not valid: a string literal is not closed.`);
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += source[i++];
      }
      tokens.push({ kind: "string", text: value });
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(source[i + 1] ?? ""))) {
      const m = /^-?\d+(\.\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: "number", text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: "ident", text: m[0] });
      i += m[0].length;
    } else if ("().,[]?".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      throw new ExpressionError(`The expression '${source}' is not valid: unexpected character '${c}'.`);
    }
  }
  return tokens;
}

/** Evaluates one expression (the text after `@`, or inside `@{…}`). */
export function evaluateExpression(source: string, ctx: ExpressionContext): Json {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (text: string) => {
    const t = tokens[pos++];
    if (!t || t.text !== text) throw new ExpressionError(`The expression '${source}' is not valid: expected '${text}'.`);
  };

  const parsePrimary = (): Json => {
    const t = tokens[pos++];
    if (!t) throw new ExpressionError(`The expression '${source}' is not valid: it ends unexpectedly.`);
    if (t.kind === "string") return t.text;
    if (t.kind === "number") return Number(t.text);
    if (t.kind === "ident") {
      if (t.text === "true" || t.text === "false") return t.text === "true";
      if (t.text === "null") return null;
      expect("(");
      const args: Json[] = [];
      if (peek()?.text !== ")") {
        for (;;) {
          args.push(parsePostfix());
          if (peek()?.text === ",") {
            pos++;
            continue;
          }
          break;
        }
      }
      expect(")");
      return callFunction(t.text, args, ctx, source);
    }
    throw new ExpressionError(`The expression '${source}' is not valid: unexpected '${t.text}'.`);
  };

  const parsePostfix = (): Json => {
    let value = parsePrimary();
    for (;;) {
      const t = peek();
      if (!t) return value;
      let optional = false;
      if (t.text === "?") {
        optional = true;
        pos++;
      }
      const next = peek();
      if (next?.text === ".") {
        pos++;
        const name = tokens[pos++];
        if (!name || name.kind !== "ident") throw new ExpressionError(`The expression '${source}' is not valid: expected a property name.`);
        value = property(value, name.text, optional, source);
      } else if (next?.text === "[") {
        pos++;
        const key = parsePostfix();
        expect("]");
        value = typeof key === "number" ? index(value, key, optional, source) : property(value, String(key), optional, source);
      } else {
        if (optional) throw new ExpressionError(`The expression '${source}' is not valid: '?' must be followed by '.' or '['.`);
        return value;
      }
    }
  };

  const result = parsePostfix();
  if (pos !== tokens.length) throw new ExpressionError(`The expression '${source}' is not valid: unexpected '${tokens[pos].text}'.`);
  return result;
}

function property(value: Json, name: string, optional: boolean, source: string): Json {
  if (value === null && optional) return null;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ExpressionError(`The expression '${source}' cannot be evaluated because property '${name}' cannot be selected. Property selection is not supported on values of type '${typeName(value)}'.`);
  }
  if (name in value) return value[name];
  // Property names in ADF expressions are matched without regard to case.
  const key = Object.keys(value).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key !== undefined) return value[key];
  if (optional) return null;
  throw new ExpressionError(`The expression '${source}' cannot be evaluated because property '${name}' doesn't exist, available properties are '${Object.keys(value).join(", ")}'.`);
}

function index(value: Json, i: number, optional: boolean, source: string): Json {
  if (Array.isArray(value)) {
    if (i >= 0 && i < value.length) return value[i];
    if (optional) return null;
    throw new ExpressionError(`The expression '${source}' cannot be evaluated because array index '${i}' is outside bounds (0, ${value.length - 1}) of array.`);
  }
  return property(value, String(i), optional, source);
}

function typeName(value: Json): string {
  if (value === null) return "Null";
  if (Array.isArray(value)) return "Array";
  if (typeof value === "number") return Number.isInteger(value) ? "Integer" : "Float";
  if (typeof value === "string") return "String";
  return typeof value === "boolean" ? "Boolean" : "Object";
}

function callFunction(name: string, args: Json[], ctx: ExpressionContext, source: string): Json {
  const arity = (n: number) => {
    if (args.length !== n) throw new ExpressionError(`The template function '${name}' expects ${n} parameter(s); ${args.length} given. Expression: '${source}'.`);
  };
  switch (name.toLowerCase()) {
    case "pipeline":
      arity(0);
      return ctx.pipeline;
    case "activity": {
      arity(1);
      const found = ctx.activity(String(args[0]));
      if (!found) throw new ExpressionError(`The expression '${source}' cannot be evaluated because the activity '${String(args[0])}' has not run or does not exist.`);
      return found;
    }
    case "concat":
      return args.map(stringify).join("");
    case "string":
      arity(1);
      return stringify(args[0]);
    case "int": {
      arity(1);
      const n = Number(args[0]);
      if (!Number.isInteger(n)) throw new ExpressionError(`The template function 'int' was invoked with a parameter that is not valid. The value cannot be converted to the target type. Expression: '${source}'.`);
      return n;
    }
    case "float":
      arity(1);
      return Number(args[0]);
    case "bool":
      arity(1);
      return args[0] === true || String(args[0]).toLowerCase() === "true";
    case "json":
      arity(1);
      try {
        return JSON.parse(String(args[0])) as Json;
      } catch {
        throw new ExpressionError(`The template function 'json' was invoked with a parameter that is not valid JSON. Expression: '${source}'.`);
      }
    case "tolower":
      arity(1);
      return String(args[0]).toLowerCase();
    case "toupper":
      arity(1);
      return String(args[0]).toUpperCase();
    case "trim":
      arity(1);
      return String(args[0]).trim();
    case "replace":
      arity(3);
      return String(args[0]).split(String(args[1])).join(String(args[2]));
    case "coalesce":
      return args.find((a) => a !== null) ?? null;
    case "equals":
      arity(2);
      return JSON.stringify(args[0]) === JSON.stringify(args[1]);
    case "not":
      arity(1);
      return !args[0];
    case "and":
      return args.every(Boolean);
    case "or":
      return args.some(Boolean);
    case "if":
      arity(3);
      return args[0] ? args[1] : args[2];
    case "add":
      arity(2);
      return Number(args[0]) + Number(args[1]);
    case "length":
      arity(1);
      return Array.isArray(args[0]) || typeof args[0] === "string" ? args[0].length : Object.keys(args[0] ?? {}).length;
    case "utcnow":
      return new Date().toISOString();
    case "dataset":
      arity(0);
      if (!ctx.dataset) throw new ExpressionError(`The template function 'dataset' is not defined or not valid: dataset() is only available in a dataset's properties. Expression: '${source}'.`);
      return ctx.dataset;
    default: {
      const extra = callExtraFunction(name, args, (message) => {
        throw new ExpressionError(`${message} Expression: '${source}'.`);
      });
      if (extra) return extra.value;
      throw new ExpressionError(`The template function '${name}' is not defined or not valid. Expression: '${source}'.`);
    }
  }
}

/** Names of pipeline parameters an expression text refers to, for definition checks. */
export function referencedParameters(value: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      // Only expression text counts: a whole `@…` string or the `@{…}` parts of one.
      const parts = v.startsWith("@@") ? [] : v.startsWith("@") && !v.startsWith("@{") ? [v] : [...v.matchAll(/@\{[^}]*\}/g)].map((m) => m[0]);
      for (const part of parts) for (const m of part.matchAll(/pipeline\(\)\??\.parameters\??\.([A-Za-z_][A-Za-z0-9_]*)/gi)) names.add(m[1]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(value);
  return names;
}
