/**
 * Just enough of Data Factory's expression language for pre-flight checks to
 * see the values a run will use: a field that is a whole expression
 * (`@pipeline().parameters.folder`, which keeps the value's type), a string
 * with interpolations (`app/@{pipeline().parameters.version}`, always a
 * string), `@@` for a literal `@`, string literals with `''` for a quote, and
 * `concat`, `string`, `toLower`, `toUpper` and `trim` over those. Anything
 * else (other functions, `activity()`, `trigger()`, the run id before the run
 * exists) is reported as not resolvable, with the reason, so the check that
 * needed it is skipped rather than guessed.
 */

export interface ExpressionScope {
  /** The run's parameters, defaults included. */
  parameters: Record<string, unknown>;
  globalParameters?: Record<string, unknown>;
  pipelineName?: string;
  factoryName?: string;
  /** Known only once the run exists. */
  runId?: string;
}

export type Resolution = { resolved: true; value: unknown } | { resolved: false; reason: string };

/** The text of a field that may be a literal, an expression string, or the SDK's `{ type: "Expression", value }`. */
export function expressionSource(field: unknown): { expression: string } | { literal: unknown } {
  if (field !== null && typeof field === "object" && !Array.isArray(field)) {
    const f = field as { type?: unknown; value?: unknown };
    if (f.type === "Expression" && typeof f.value === "string") field = f.value;
  }
  if (typeof field === "string" && field.startsWith("@") && !field.startsWith("@@")) return { expression: field };
  if (typeof field === "string" && field.includes("@{")) return { expression: field };
  return { literal: typeof field === "string" && field.startsWith("@@") ? field.slice(1) : field };
}

/** True when the field holds an expression rather than a plain value. */
export function isExpression(field: unknown): boolean {
  return "expression" in expressionSource(field);
}

class Unresolvable extends Error {}

type Token = { kind: "ident" | "string" | "number" | "punct"; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let text = "";
      i++;
      for (;;) {
        if (i >= source.length) throw new Unresolvable("a string literal is not closed");
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source.charAt(i++);
      }
      tokens.push({ kind: "string", text });
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(source[i + 1] ?? ""))) {
      const text = /^-?\d+(\.\d+)?/.exec(source.slice(i))?.[0] ?? c;
      tokens.push({ kind: "number", text });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const text = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))?.[0] ?? c;
      tokens.push({ kind: "ident", text });
      i += text.length;
    } else if ("().,[]?".includes(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else {
      throw new Unresolvable(`'${c}' is not understood here`);
    }
  }
  return tokens;
}

function lookup(record: Record<string, unknown> | undefined, name: string, what: string): unknown {
  if (!record) throw new Unresolvable(`${what} are not known here`);
  if (name in record) return record[name];
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined) throw new Unresolvable(`${what.replace(/s$/, "")} '${name}' is not defined`);
  return record[key];
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

class Parser {
  private at = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly scope: ExpressionScope,
  ) {}

  parseAll(): unknown {
    const value = this.expression();
    const extra = this.tokens[this.at];
    if (extra) throw new Unresolvable(`unexpected '${extra.text}'`);
    return value;
  }

  private peek(text?: string): Token | undefined {
    const t = this.tokens[this.at];
    return text === undefined || t?.text === text ? t : undefined;
  }

  private expect(text: string): void {
    if (this.tokens[this.at]?.text !== text) throw new Unresolvable(`'${text}' expected`);
    this.at++;
  }

  private expression(): unknown {
    const t = this.tokens[this.at++];
    if (!t) throw new Unresolvable("the expression is empty");
    if (t.kind === "string") return t.text;
    if (t.kind === "number") return Number(t.text);
    if (t.kind !== "ident") throw new Unresolvable(`unexpected '${t.text}'`);
    const name = t.text.toLowerCase();
    if (name === "true" || name === "false") return name === "true";
    if (name === "null") return null;
    this.expect("(");
    const args: unknown[] = [];
    if (!this.peek(")")) {
      for (;;) {
        args.push(this.expression());
        if (this.peek(",")) this.at++;
        else break;
      }
    }
    this.expect(")");
    let value: unknown;
    if (name === "pipeline") {
      value = this.pipelineProperty();
    } else {
      value = this.call(name, t.text, args);
    }
    return this.accessors(value);
  }

  private pipelineProperty(): unknown {
    if (!this.peek(".")) return undefined;
    this.at++;
    const prop = this.tokens[this.at++];
    if (!prop || prop.kind !== "ident") throw new Unresolvable("a property of pipeline() expected");
    switch (prop.text.toLowerCase()) {
      case "parameters":
        return this.member((name) => lookup(this.scope.parameters, name, "parameters"));
      case "globalparameters":
        return this.member((name) => lookup(this.scope.globalParameters, name, "global parameters"));
      case "pipeline":
        if (this.scope.pipelineName === undefined) throw new Unresolvable("the pipeline name is not known here");
        return this.scope.pipelineName;
      case "datafactory":
        if (this.scope.factoryName === undefined) throw new Unresolvable("the factory name is not known here");
        return this.scope.factoryName;
      case "runid":
        if (this.scope.runId === undefined) throw new Unresolvable("pipeline().RunId is known only once the run has started");
        return this.scope.runId;
      default:
        throw new Unresolvable(`pipeline().${prop.text} is known only while the run is going`);
    }
  }

  /** `.name` or `['name']` after `parameters`. */
  private member(get: (name: string) => unknown): unknown {
    if (this.peek(".")) {
      this.at++;
      const t = this.tokens[this.at++];
      if (!t || t.kind !== "ident") throw new Unresolvable("a name expected after '.'");
      return get(t.text);
    }
    if (this.peek("[")) {
      this.at++;
      const t = this.tokens[this.at++];
      if (!t || t.kind !== "string") throw new Unresolvable("only a literal name is understood inside [ ]");
      this.expect("]");
      return get(t.text);
    }
    throw new Unresolvable("a parameter name expected");
  }

  private accessors(value: unknown): unknown {
    let current = value;
    for (;;) {
      if (this.peek("?")) this.at++;
      if (this.peek(".")) {
        this.at++;
        const t = this.tokens[this.at++];
        if (!t || t.kind !== "ident") throw new Unresolvable("a property name expected after '.'");
        current = this.property(current, t.text);
      } else if (this.peek("[")) {
        this.at++;
        const t = this.tokens[this.at++];
        if (!t || (t.kind !== "string" && t.kind !== "number")) throw new Unresolvable("only a literal index is understood inside [ ]");
        this.expect("]");
        current = this.property(current, t.kind === "number" ? Number(t.text) : t.text);
      } else {
        return current;
      }
    }
  }

  private property(value: unknown, key: string | number): unknown {
    if (value === null || typeof value !== "object") throw new Unresolvable(`'${key}' is read from a value that is not an object`);
    if (Array.isArray(value) && typeof key === "number") return value[key];
    return lookup(value as Record<string, unknown>, String(key), "properties");
  }

  private call(name: string, written: string, args: unknown[]): unknown {
    switch (name) {
      case "concat":
        return args.map(asText).join("");
      case "string":
        return asText(args[0]);
      case "tolower":
        return asText(args[0]).toLowerCase();
      case "toupper":
        return asText(args[0]).toUpperCase();
      case "trim":
        return asText(args[0]).trim();
      default:
        throw new Unresolvable(`the function ${written}() is not evaluated before the run`);
    }
  }
}

function evaluate(source: string, scope: ExpressionScope): unknown {
  return new Parser(tokenize(source), scope).parseAll();
}

/** Splits `a @{x} b` into literal and expression parts; `@@` stays a literal `@`. */
export function templateParts(template: string): { literal?: string; expression?: string }[] {
  const parts: { literal?: string; expression?: string }[] = [];
  let i = 0;
  let literal = "";
  while (i < template.length) {
    if (template.startsWith("@@", i)) {
      literal += "@";
      i += 2;
    } else if (template.startsWith("@{", i)) {
      const end = closingBrace(template, i + 2);
      if (end < 0) {
        literal += template.slice(i);
        break;
      }
      if (literal) parts.push({ literal });
      literal = "";
      parts.push({ expression: template.slice(i + 2, end) });
      i = end + 1;
    } else {
      literal += template[i++];
    }
  }
  if (literal) parts.push({ literal });
  return parts;
}

function closingBrace(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "'") inString = !inString;
    else if (c === "}" && !inString) return i;
  }
  return -1;
}

/** The value a field will have in the run, or why that cannot be known yet. */
export function resolveField(field: unknown, scope: ExpressionScope): Resolution {
  const source = expressionSource(field);
  if ("literal" in source) return { resolved: true, value: source.literal };
  const text = source.expression;
  try {
    if (text.startsWith("@") && !text.startsWith("@{")) return { resolved: true, value: evaluate(text.slice(1), scope) };
    const parts = templateParts(text);
    return { resolved: true, value: parts.map((p) => (p.literal !== undefined ? p.literal : asText(evaluate(p.expression!, scope)))).join("") };
  } catch (error) {
    if (error instanceof Unresolvable) return { resolved: false, reason: `'${text}' cannot be worked out before the run: ${error.message}` };
    throw error;
  }
}
