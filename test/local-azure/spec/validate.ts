/**
 * Schema validation against the prepared specs: one ajv instance holds every
 * spec file; each schema is compiled once and reused. Problems come back as
 * JSON pointers into the validated value with a short message.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { addAzureFormats } from "./formats";
import { loadSpecs, type JsonObject, type LoadedSpecs } from "./load";
import { applyPolymorphism } from "./polymorphism";
import { absolutizeRefs } from "./refs";
import { applySwaggerSemantics, BINARY_MARKER } from "./swagger-schemas";

export interface SchemaProblem {
  /** JSON pointer into the validated value; "" is the value itself. */
  pointer: string;
  message: string;
}

export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<JsonObject, ValidateFunction>();

  constructor(readonly specs: LoadedSpecs) {
    this.ajv = new Ajv({
      strict: false,
      validateSchema: false,
      allErrors: true,
      // Azure patterns use escapes (\_, \.) that unicode-mode regular expressions reject.
      unicodeRegExp: false,
      inlineRefs: false,
      logger: false,
    });
    addAzureFormats(this.ajv);
    for (const file of specs.files.values()) this.ajv.addSchema(file.doc, file.uri);
  }

  /** True when the schema describes a binary body (file download), which is not JSON. */
  isBinary(schema: JsonObject): boolean {
    return schema[BINARY_MARKER] === true;
  }

  validate(schema: JsonObject, value: unknown): SchemaProblem[] {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.compiled.set(schema, fn);
    }
    if (fn(value)) return [];
    return describeErrors(fn.errors ?? [], value);
  }

  /** Validates against a schema named by reference, e.g. `spec:/...BatchService.json#/definitions/BatchError`. */
  validateRef(ref: string, value: unknown): SchemaProblem[] {
    const fn = this.ajv.getSchema(ref);
    if (!fn) throw new Error(`no schema at ${ref}`);
    if (fn(value)) return [];
    return describeErrors(fn.errors ?? [], value);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "object") return "object";
  return String(value);
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

function problemOf(error: ErrorObject, root: unknown): SchemaProblem {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return { pointer: `${error.instancePath}/${String(params.missingProperty)}`, message: "required property is missing" };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).filter((v) => v !== null);
      const shown = allowed.slice(0, 8).map((v) => JSON.stringify(v)).join(", ");
      return {
        pointer: error.instancePath,
        message: `${describe(valueAt(root, error.instancePath))} is not an allowed value (${shown}${allowed.length > 8 ? `, ... ${allowed.length} in all` : ""})`,
      };
    }
    case "type":
      return { pointer: error.instancePath, message: `must be ${String(params.type).replace(",null", "")}, got ${describe(valueAt(root, error.instancePath))}` };
    case "format":
      return { pointer: error.instancePath, message: `${describe(valueAt(root, error.instancePath))} is not a valid ${String(params.format)}` };
    default:
      return { pointer: error.instancePath, message: error.message ?? error.keyword };
  }
}

/**
 * Drops the noise of the constructs added for Swagger semantics: the `null`
 * branch of nullable values and the `if` of polymorphic dispatch (the
 * subtype's own errors are reported).
 */
function describeErrors(errors: ErrorObject[], root: unknown): SchemaProblem[] {
  const meaningful = errors.filter(
    (e) => e.keyword !== "if" && !(e.keyword === "type" && (e.params as { type?: unknown }).type === "null"),
  );
  const withoutAnyOf = meaningful.filter((e) => e.keyword !== "anyOf");
  const chosen = withoutAnyOf.length > 0 ? withoutAnyOf : meaningful;
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const error of chosen) {
    const problem = problemOf(error, root);
    const key = `${problem.pointer}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(problem);
  }
  return out;
}

let shared: Promise<SchemaValidator> | undefined;

/** The specs prepared for validation (refs made absolute, Swagger semantics, polymorphism); once per process. */
export function specValidator(): Promise<SchemaValidator> {
  shared ??= loadSpecs().then((specs) => {
    for (const file of specs.files.values()) absolutizeRefs(file);
    applySwaggerSemantics(specs.files);
    applyPolymorphism(specs.files);
    return new SchemaValidator(specs);
  });
  return shared;
}
