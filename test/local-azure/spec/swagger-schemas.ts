/**
 * Turns Swagger 2.0 schemas, as Azure writes them, into JSON Schema that ajv
 * checks the way Azure's own validator reads them:
 * - `type: "file"` / `format: "file"` is a binary body: marked, never checked;
 * - a bare `type: "object"` (no properties, no additionalProperties) is "any"
 *   (Data Factory types expression-or-value fields that way);
 * - `null` is accepted for optional properties, array items and map values
 *   unless `x-nullable: false`, and for required properties only with
 *   `x-nullable: true`.
 * `enum` stays strict even under `x-ms-enum: { modelAsString: true }`: the
 * SDKs would accept other strings, but the emulator should answer and accept
 * only the values the spec documents.
 */
import { isJsonObject, type JsonObject, type SpecFile } from "./load";
import { followRef } from "./refs";

/** Marker on schemas that describe a binary (non-JSON) body. */
export const BINARY_MARKER = "x-local-binary";

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/** The schema roots of a Swagger document: definitions, parameter and response schemas. */
export function schemaRoots(doc: JsonObject): JsonObject[] {
  const roots: JsonObject[] = [];
  const add = (value: unknown) => {
    if (isJsonObject(value)) roots.push(value);
  };
  const fromParameters = (params: unknown) => {
    if (Array.isArray(params)) for (const p of params) if (isJsonObject(p)) add(p.schema);
  };
  const fromResponses = (responses: unknown) => {
    if (isJsonObject(responses)) for (const r of Object.values(responses)) if (isJsonObject(r)) add(r.schema);
  };
  if (isJsonObject(doc.definitions)) Object.values(doc.definitions).forEach(add);
  if (isJsonObject(doc.parameters)) for (const p of Object.values(doc.parameters)) if (isJsonObject(p)) add(p.schema);
  fromResponses(doc.responses);
  if (isJsonObject(doc.paths)) {
    for (const item of Object.values(doc.paths)) {
      if (!isJsonObject(item)) continue;
      fromParameters(item.parameters);
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (!isJsonObject(op)) continue;
        fromParameters(op.parameters);
        fromResponses(op.responses);
      }
    }
  }
  return roots;
}

/** Visits a schema and every schema nested in it, once each. */
export function forEachSchema(root: JsonObject, visit: (schema: JsonObject) => void, seen = new Set<JsonObject>()): void {
  if (seen.has(root)) return;
  seen.add(root);
  visit(root);
  const children: unknown[] = [];
  if (isJsonObject(root.properties)) children.push(...Object.values(root.properties));
  if (isJsonObject(root.additionalProperties)) children.push(root.additionalProperties);
  if (Array.isArray(root.items)) children.push(...root.items);
  else if (isJsonObject(root.items)) children.push(root.items);
  for (const key of ["allOf", "anyOf", "oneOf"]) if (Array.isArray(root[key])) children.push(...(root[key] as unknown[]));
  if (isJsonObject(root.not)) children.push(root.not);
  for (const child of children) if (isJsonObject(child)) forEachSchema(child, visit, seen);
}

function normaliseTypes(schema: JsonObject): void {
  if (schema.type === "file" || schema.format === "file") {
    delete schema.type;
    delete schema.format;
    schema[BINARY_MARKER] = true;
    return;
  }
  const noProperties = !isJsonObject(schema.properties) || Object.keys(schema.properties).length === 0;
  if (schema.type === "object" && noProperties && schema.additionalProperties === undefined) delete schema.type;
}

function nullableVersion(files: Map<string, SpecFile>, schema: JsonObject, optional: boolean): JsonObject {
  const target = followRef(files, schema) ?? schema;
  const flag = schema["x-nullable"] ?? target["x-nullable"];
  const nullable = flag === true || (flag === undefined && optional);
  if (!nullable) return schema;
  if (typeof schema.$ref === "string") return { anyOf: [schema, { type: "null" }] };
  if (typeof schema.type === "string") {
    schema.type = [schema.type, "null"];
    if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...schema.enum, null];
    return schema;
  }
  // No type: either "any" (already accepts null) or a composition that needs a null branch.
  if (schema.allOf || schema.anyOf || schema.oneOf || schema.enum) return { anyOf: [schema, { type: "null" }] };
  return schema;
}

function applyNullable(files: Map<string, SpecFile>, schema: JsonObject): void {
  if (isJsonObject(schema.properties)) {
    const required = Array.isArray(schema.required) ? schema.required : [];
    for (const [name, property] of Object.entries(schema.properties)) {
      if (isJsonObject(property)) schema.properties[name] = nullableVersion(files, property, !required.includes(name));
    }
  }
  if (isJsonObject(schema.additionalProperties)) schema.additionalProperties = nullableVersion(files, schema.additionalProperties, true);
  if (isJsonObject(schema.items)) schema.items = nullableVersion(files, schema.items, true);
}

export function applySwaggerSemantics(files: Map<string, SpecFile>): void {
  const all = [...files.values()].flatMap((f) => schemaRoots(f.doc));
  const seen = new Set<JsonObject>();
  for (const root of all) forEachSchema(root, normaliseTypes, seen);
  const seenForNull = new Set<JsonObject>();
  for (const root of all) forEachSchema(root, (s) => applyNullable(files, s), seenForNull);
}
