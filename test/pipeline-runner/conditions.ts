/**
 * The part of Azure Pipelines' condition language the runner supports: the
 * status functions, eq/ne/and/or/not/in/notIn/contains/startsWith/endsWith,
 * literals and variables['name'] / variables.name. Anything else is refused
 * with the name of what is not supported.
 */

export type JobStatus = "Succeeded" | "SucceededWithIssues" | "Failed";
type Value = string | number | boolean;

export interface ConditionContext {
  jobStatus: JobStatus;
  variable(name: string): string | undefined;
}

export class ConditionError extends Error {
  override name = "ConditionError";
}

type Node = { kind: "literal"; value: Value } | { kind: "variable"; name: string } | { kind: "call"; name: string; args: Node[] };

const FUNCTIONS: Record<string, [min: number, max: number]> = {
  always: [0, 0],
  succeeded: [0, 0],
  failed: [0, 0],
  succeededorfailed: [0, 0],
  canceled: [0, 0],
  eq: [2, 2],
  ne: [2, 2],
  and: [2, Infinity],
  or: [2, Infinity],
  not: [1, 1],
  in: [2, Infinity],
  notin: [2, Infinity],
  contains: [2, 2],
  startswith: [2, 2],
  endswith: [2, 2],
};

/** Parses a condition; throws ConditionError naming the unsupported part. */
export function parseCondition(text: string): Node {
  let pos = 0;
  const skip = () => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const fail = (why: string): never => {
    throw new ConditionError(`condition '${text}': ${why} (at character ${pos + 1})`);
  };
  const expect = (ch: string) => {
    skip();
    if (text[pos] !== ch) fail(`expected '${ch}'`);
    pos++;
  };
  const stringLiteral = (): string => {
    let out = "";
    pos++;
    for (;;) {
      if (pos >= text.length) fail("a string is not closed");
      if (text[pos] === "'") {
        if (text[pos + 1] === "'") {
          out += "'";
          pos += 2;
          continue;
        }
        pos++;
        return out;
      }
      out += text[pos++];
    }
  };
  const expr = (): Node => {
    skip();
    if (text[pos] === "'") return { kind: "literal", value: stringLiteral() };
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(pos));
    if (num) {
      pos += num[0].length;
      return { kind: "literal", value: Number(num[0]) };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(pos));
    if (!ident) fail("expected a function, a literal or variables['name']");
    const word = ident![0];
    pos += word.length;
    const lower = word.toLowerCase();
    if (lower === "true" || lower === "false") return { kind: "literal", value: lower === "true" };
    if (lower === "variables") {
      skip();
      if (text[pos] === "[") {
        pos++;
        skip();
        if (text[pos] !== "'") fail("variables[...] takes a quoted name");
        const name = stringLiteral();
        expect("]");
        return { kind: "variable", name };
      }
      if (text[pos] === ".") {
        pos++;
        const name = /^[A-Za-z0-9_.]+/.exec(text.slice(pos));
        if (!name) fail("expected a variable name after 'variables.'");
        pos += name![0].length;
        return { kind: "variable", name: name![0] };
      }
      fail("expected variables['name'] or variables.name");
    }
    if (!(lower in FUNCTIONS)) fail(`'${word}' is not supported by the local runner (supported: ${Object.keys(FUNCTIONS).join(", ")}, variables['name'])`);
    expect("(");
    const args: Node[] = [];
    skip();
    if (text[pos] === ")") pos++;
    else {
      for (;;) {
        args.push(expr());
        skip();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        expect(")");
        break;
      }
    }
    const [min, max] = FUNCTIONS[lower];
    if (args.length < min || args.length > max) fail(`${word}() takes ${min === max ? min : `${min} or more`} argument(s), not ${args.length}`);
    return { kind: "call", name: lower, args };
  };
  const node = expr();
  skip();
  if (pos < text.length) fail("unexpected text after the expression");
  return node;
}

const truthy = (v: Value) => (typeof v === "string" ? v.length > 0 : typeof v === "number" ? v !== 0 : v);
const text = (v: Value) => String(v).toLowerCase();
/** Azure Pipelines compares with the left side's type; strings ignore case. */
function equal(a: Value, b: Value): boolean {
  if (typeof a === "number") return a === Number(b);
  if (typeof a === "boolean") return a === (typeof b === "string" ? b.toLowerCase() === "true" : truthy(b));
  return text(a) === text(b);
}

export function evaluateCondition(node: Node, context: ConditionContext): Value {
  switch (node.kind) {
    case "literal":
      return node.value;
    case "variable":
      return context.variable(node.name) ?? "";
    case "call": {
      const arg = (i: number) => evaluateCondition(node.args[i], context);
      switch (node.name) {
        case "always":
          return true;
        case "succeeded":
          return context.jobStatus !== "Failed";
        case "failed":
          return context.jobStatus === "Failed";
        case "succeededorfailed":
          return true;
        case "canceled":
          return false;
        case "eq":
          return equal(arg(0), arg(1));
        case "ne":
          return !equal(arg(0), arg(1));
        case "and":
          return node.args.every((_, i) => truthy(arg(i)));
        case "or":
          return node.args.some((_, i) => truthy(arg(i)));
        case "not":
          return !truthy(arg(0));
        case "in":
        case "notin": {
          const found = node.args.slice(1).some((_, i) => equal(arg(0), arg(i + 1)));
          return node.name === "in" ? found : !found;
        }
        case "contains":
          return text(arg(0)).includes(text(arg(1)));
        case "startswith":
          return text(arg(0)).startsWith(text(arg(1)));
        case "endswith":
          return text(arg(0)).endsWith(text(arg(1)));
      }
      throw new ConditionError(`'${node.name}' is not supported`);
    }
  }
}

export function conditionHolds(condition: string | undefined, context: ConditionContext): boolean {
  return truthy(evaluateCondition(parseCondition(condition ?? "succeeded()"), context));
}
