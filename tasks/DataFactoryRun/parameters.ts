/**
 * The pipeline parameters of a run: read from the `parameters` input (inline
 * JSON or YAML) or a `parametersFile`, checked against the parameters the
 * pipeline declares, and turned into the flat `{ name: value }` object that
 * Pipelines - Create Run takes as its body.
 *
 * Coercions (a value arriving as text is common: `$(variable)` substitutions
 * inside JSON strings are always text):
 * - String / SecureString: a number or boolean is taken as its text. From YAML
 *   the text is kept exactly as written, so `version: 1.10` stays "1.10" and
 *   `build: 007` stays "007" (JSON.parse would have given 1.1 and 7).
 * - Int: a whole number, or text of one ("5", "-3"); "5.5" and 5.5 are refused.
 * - Float: any finite number, or text of one ("2.5", "1e3").
 * - Bool: true/false, or the text "true"/"false" in any case; nothing else
 *   (YAML 1.2 reads `yes` as text, and so do we, to refuse it clearly).
 * - Array / Object: the value itself, or text holding JSON of that shape.
 * - A value with no value (YAML `name:`, JSON null) is refused, naming the
 *   default that leaving it out would use.
 * - Types the pipeline declares that are not in this list pass through unchecked.
 * Parameters that are left out are left out of the body: Data Factory applies
 * the declared defaults itself.
 */
import type { ParameterSpecification, PipelineResource } from "@azure/arm-datafactory";
import { isMap, isScalar, parseDocument } from "yaml";
import { InputError } from "../../runtime/errors";
import { closestNames, quoteList } from "./names";

export type ParameterValues = Record<string, unknown>;

/** Where parameters came from, for messages: the input and, for a file, its path. */
export interface ParameterSource {
  /** `parameters` or `parametersFile`. */
  input: string;
  /** The file the text was read from. */
  file?: string;
}

export interface ParsedParameters {
  source: ParameterSource;
  values: ParameterValues;
  /** The text of top-level scalars exactly as written (YAML only), for String parameters. */
  writtenAs: Record<string, string>;
}

const where = (source: ParameterSource) => `Input '${source.input}'${source.file ? ` (${source.file})` : ""}`;

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "empty";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the text '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return `the ${typeof value} ${String(value)}`;
}

/**
 * Parses parameters written as a JSON or YAML object. Empty text is no
 * parameters. Anything but an object (a list, a single value) is refused with
 * an example of what to write.
 */
export function parseParameters(text: string, source: ParameterSource): ParsedParameters {
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (trimmed === "") return { source, values: {}, writtenAs: {} };
  const doc = parseDocument(trimmed, { uniqueKeys: true });
  let values: unknown;
  const writtenAs: Record<string, string> = {};
  if (doc.errors.length === 0) {
    values = doc.toJS({ maxAliasCount: 100 });
    if (isMap(doc.contents)) {
      for (const item of doc.contents.items) {
        if (isScalar(item.key) && isScalar(item.value) && item.value.type === "PLAIN" && typeof item.value.source === "string") {
          writtenAs[String(item.key.value)] = item.value.source;
        }
      }
    }
  } else {
    // JSON is YAML too, but a tab-indented JSON file is not valid YAML.
    try {
      values = JSON.parse(trimmed);
    } catch (jsonError) {
      const looksLikeJson = trimmed.startsWith("{") || trimmed.startsWith("[");
      // The YAML message's first line says where: "… at line 2, column 1:".
      const reason = looksLikeJson ? (jsonError as Error).message : (doc.errors[0]?.message.split("\n")[0] ?? "").replace(/[.:]$/, "");
      throw new InputError(source.input, `${where(source)}: the parameters are not valid ${looksLikeJson ? "JSON" : "YAML"}: ${reason}.`);
    }
  }
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new InputError(
      source.input,
      `${where(source)}: the parameters must be an object of name: value pairs, but this is ${kindOf(values)}. For example, in YAML 'runDate: 2024-05-01' on one line per parameter, or in JSON '{ "runDate": "2024-05-01" }'.`,
    );
  }
  return { source, values: values as ParameterValues, writtenAs };
}

/**
 * Inline parameters over a file's: a name in both takes the inline value.
 * Returns the overridden names so the log can say so.
 */
export function combineParameters(file: ParsedParameters | undefined, inline: ParsedParameters | undefined): { parsed: ParsedParameters[]; overridden: string[] } {
  const parsed = [file, inline].filter((p): p is ParsedParameters => p !== undefined);
  const overridden = file && inline ? Object.keys(inline.values).filter((k) => k in file.values) : [];
  return { parsed, overridden };
}

export interface ValidatedParameters {
  /** The body of Create Run: only the parameters given, typed as declared. */
  parameters: ParameterValues;
  /** Names of SecureString parameters given: their values must be masked. */
  secureNames: string[];
  /** One line per value converted from text, e.g. `'count': the text '5' taken as the Int 5.` */
  coercions: string[];
}

export interface ValidateOptions {
  pipelineName: string;
  /** What the pipeline declares (`PipelineResource.parameters`). */
  declared: PipelineResource["parameters"];
}

type CheckResult = { ok: true; value: unknown; coerced?: string } | { ok: false; problem: string };

const DECLARED_TYPES = ["String", "Int", "Float", "Bool", "Array", "Object", "SecureString"] as const;

function canonicalType(type: string | undefined): string {
  const match = DECLARED_TYPES.find((t) => t.toLowerCase() === String(type ?? "").toLowerCase());
  return match ?? String(type ?? "");
}

function parseJsonOfShape(text: string, shape: "Array" | "Object"): unknown {
  const t = text.trim();
  if (!(shape === "Array" ? t.startsWith("[") : t.startsWith("{"))) return undefined;
  try {
    const value = JSON.parse(t);
    if (shape === "Array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // not JSON: refused below with the usual message
  }
  return undefined;
}

function checkValue(type: string, value: unknown, writtenAs: string | undefined): CheckResult {
  switch (type) {
    case "String":
    case "SecureString":
      if (typeof value === "string") return { ok: true, value };
      if (typeof value === "number" || typeof value === "boolean") {
        const text = writtenAs ?? String(value);
        return { ok: true, value: text, coerced: `the ${typeof value} ${text} taken as the ${type} '${text}'` };
      }
      return { ok: false, problem: `is ${kindOf(value)}, not a ${type}. Write text (quoted where it looks like something else)` };
    case "Int": {
      if (typeof value === "number" && Number.isSafeInteger(value)) return { ok: true, value };
      if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value) && Number.isSafeInteger(Number(value))) {
        return { ok: true, value: Number(value), coerced: `the text '${value}' taken as the Int ${Number(value)}` };
      }
      return { ok: false, problem: `is ${kindOf(value)}, not an Int. Write a whole number, e.g. 5` };
    }
    case "Float": {
      if (typeof value === "number" && Number.isFinite(value)) return { ok: true, value };
      if (typeof value === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) {
        return { ok: true, value: Number(value), coerced: `the text '${value}' taken as the Float ${Number(value)}` };
      }
      return { ok: false, problem: `is ${kindOf(value)}, not a Float. Write a number, e.g. 2.5` };
    }
    case "Bool":
      if (typeof value === "boolean") return { ok: true, value };
      if (typeof value === "string" && /^\s*(true|false)\s*$/i.test(value)) {
        const b = value.trim().toLowerCase() === "true";
        return { ok: true, value: b, coerced: `the text '${value}' taken as the Bool ${b}` };
      }
      return { ok: false, problem: `is ${kindOf(value)}, not a Bool. Write true or false` };
    case "Array":
    case "Object": {
      const isShape = type === "Array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
      if (isShape) return { ok: true, value };
      if (typeof value === "string") {
        const parsed = parseJsonOfShape(value, type);
        if (parsed !== undefined) return { ok: true, value: parsed, coerced: `the text of JSON taken as the ${type}` };
      }
      return { ok: false, problem: `is ${kindOf(value)}, not ${type === "Array" ? "an Array. Write a list, e.g. [1, 2]" : "an Object. Write name: value pairs, e.g. { a: 1 }"}` };
    }
    default:
      return { ok: true, value };
  }
}

function describeDeclared(name: string, spec: ParameterSpecification): string {
  const type = canonicalType(spec.type);
  if (spec.defaultValue === undefined) return `${name} (${type}, required)`;
  const shown = type === "SecureString" ? "***" : JSON.stringify(spec.defaultValue);
  return `${name} (${type}, default ${shown && shown.length > 40 ? `${shown.slice(0, 40)}…` : shown})`;
}

/**
 * Checks the given parameters against the pipeline's declaration and returns
 * the body for Create Run. Every problem is listed at once: unknown names
 * (with the closest declared name and the list of valid ones), required ones
 * missing, values of the wrong type.
 */
export function validateParameters(given: readonly ParsedParameters[], options: ValidateOptions): ValidatedParameters {
  const declared = options.declared ?? {};
  const declaredNames = Object.keys(declared);
  const problems: string[] = [];
  const parameters: ParameterValues = {};
  const secureNames: string[] = [];
  const coercions: string[] = [];
  const inputs = [...new Set(given.map((g) => g.source.input))];
  const input = inputs[inputs.length - 1] ?? "parameters";

  // Later sources win; remember where each value came from for String text.
  const merged = new Map<string, { value: unknown; writtenAs?: string }>();
  for (const g of given) for (const [name, value] of Object.entries(g.values)) merged.set(name, { value, writtenAs: g.writtenAs[name] });

  for (const [name, { value, writtenAs }] of merged) {
    const spec = declared[name];
    if (!spec) {
      if (declaredNames.length === 0) {
        problems.push(`'${name}' is not a parameter of the pipeline, which declares none. Remove it.`);
      } else {
        const close = closestNames(name, declaredNames, { limit: 1 });
        problems.push(`'${name}' is not a parameter of the pipeline.${close.length ? ` Did you mean '${close[0]}'?` : ""} Valid: ${quoteList(declaredNames)}.`);
      }
      continue;
    }
    const type = canonicalType(spec.type);
    if (value === null || value === undefined) {
      problems.push(
        spec.defaultValue === undefined
          ? `'${name}' has no value, and the pipeline requires one (${type}).`
          : `'${name}' has no value. Give one, or leave it out to use the pipeline's default${type === "SecureString" ? "" : ` ${JSON.stringify(spec.defaultValue)}`} (${type}).`,
      );
      continue;
    }
    const result = checkValue(type, value, writtenAs);
    if (!result.ok) {
      problems.push(`'${name}' ${result.problem}.`);
      continue;
    }
    parameters[name] = result.value;
    if (type === "SecureString") secureNames.push(name);
    if (result.coerced) coercions.push(`'${name}': ${type === "SecureString" ? `a ${typeof value} taken as the SecureString` : result.coerced}.`);
  }

  for (const [name, spec] of Object.entries(declared)) {
    if (!merged.has(name) && spec.defaultValue === undefined) {
      problems.push(`'${name}' (${canonicalType(spec.type)}) is required: the pipeline declares no default for it, and it was not given.`);
    }
  }

  if (problems.length > 0) {
    const declaredList = declaredNames.length ? ` The pipeline declares: ${Object.entries(declared).map(([n, spec]) => describeDeclared(n, spec)).join(", ")}.` : "";
    const head = problems.length === 1 ? `parameter problem for pipeline '${options.pipelineName}'` : `${problems.length} parameter problems for pipeline '${options.pipelineName}'`;
    const named = inputs.length > 1 ? `Inputs ${inputs.map((i) => `'${i}'`).join(" and ")}` : `Input '${input}'`;
    throw new InputError(input, `${named}: ${head}:\n${problems.map((p) => `  - ${p}`).join("\n")}\n${declaredList.trim()}`.trimEnd());
  }
  return { parameters, secureNames, coercions };
}

/** What the run will see: the given values over the declared defaults (for pre-flight expressions). */
export function effectiveParameters(given: ParameterValues, declared: PipelineResource["parameters"]): ParameterValues {
  const out: ParameterValues = {};
  for (const [name, spec] of Object.entries(declared ?? {})) if (spec.defaultValue !== undefined) out[name] = spec.defaultValue;
  return { ...out, ...given };
}
