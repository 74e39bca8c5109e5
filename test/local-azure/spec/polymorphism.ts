/**
 * Swagger 2.0 polymorphism (`discriminator` + `allOf` inheritance +
 * `x-ms-discriminator-value`) in JSON Schema terms. A base such as Data
 * Factory's `Activity` gets a companion definition `Activity__polymorphic`
 * that picks the subtype by the discriminator value (`"Custom"` →
 * `CustomActivity`) and rejects values no subtype declares. Every reference to
 * the base is pointed at the companion, except the `allOf` entries by which
 * subtypes inherit from it.
 */
import { isJsonObject, type JsonObject, type SpecFile } from "./load";
import { escapePointerToken } from "./refs";

export const POLYMORPHIC_SUFFIX = "__polymorphic";

interface Definition {
  ref: string;
  name: string;
  file: SpecFile;
  schema: JsonObject;
  parents: string[];
}

function definitionsOf(files: Map<string, SpecFile>): Map<string, Definition> {
  const out = new Map<string, Definition>();
  for (const file of files.values()) {
    if (!isJsonObject(file.doc.definitions)) continue;
    for (const [name, schema] of Object.entries(file.doc.definitions)) {
      if (!isJsonObject(schema)) continue;
      const parents = Array.isArray(schema.allOf)
        ? schema.allOf.flatMap((entry) => (isJsonObject(entry) && typeof entry.$ref === "string" ? [entry.$ref] : []))
        : [];
      const ref = `${file.uri}#/definitions/${escapePointerToken(name)}`;
      out.set(ref, { ref, name, file, schema, parents });
    }
  }
  return out;
}

function discriminatorOf(defs: Map<string, Definition>, def: Definition, depth = 0): string | undefined {
  if (typeof def.schema.discriminator === "string") return def.schema.discriminator;
  if (depth > 20) return undefined;
  for (const parent of def.parents) {
    const p = defs.get(parent);
    const found = p && discriminatorOf(defs, p, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function discriminatorValue(def: Definition): string {
  return typeof def.schema["x-ms-discriminator-value"] === "string" ? def.schema["x-ms-discriminator-value"] : def.name;
}

function descendantsOf(children: Map<string, Definition[]>, ref: string, out = new Map<string, Definition>()): Map<string, Definition> {
  for (const child of children.get(ref) ?? []) {
    if (out.has(child.ref)) continue;
    out.set(child.ref, child);
    descendantsOf(children, child.ref, out);
  }
  return out;
}

function polymorphicSchema(base: Definition, property: string, descendants: Definition[]): JsonObject {
  const values = new Map<string, string>();
  for (const d of descendants) values.set(discriminatorValue(d), d.ref);
  values.delete(discriminatorValue(base));
  const branches: JsonObject[] = [...values].map(([value, ref]) => ({
    if: { properties: { [property]: { const: value } }, required: [property] },
    then: { $ref: ref },
  }));
  branches.push({
    if: { properties: { [property]: { enum: [...values.keys()] } }, required: [property] },
    else: { allOf: [{ $ref: base.ref }, { properties: { [property]: { enum: [discriminatorValue(base), ...values.keys()] } } }] },
  });
  return { allOf: branches };
}

/** Adds the companion definitions and points references at them. */
export function applyPolymorphism(files: Map<string, SpecFile>): void {
  const defs = definitionsOf(files);
  const children = new Map<string, Definition[]>();
  for (const def of defs.values()) for (const parent of def.parents) children.set(parent, [...(children.get(parent) ?? []), def]);

  const companions = new Map<string, string>();
  for (const def of defs.values()) {
    const property = discriminatorOf(defs, def);
    const descendants = [...descendantsOf(children, def.ref).values()];
    if (!property || descendants.length === 0) continue;
    const companionName = `${def.name}${POLYMORPHIC_SUFFIX}`;
    (def.file.doc.definitions as JsonObject)[companionName] = polymorphicSchema(def, property, descendants);
    companions.set(def.ref, `${def.file.uri}#/definitions/${escapePointerToken(companionName)}`);
  }

  const inheritanceEntries = new Set<JsonObject>();
  for (const def of defs.values()) {
    if (Array.isArray(def.schema.allOf)) for (const entry of def.schema.allOf) if (isJsonObject(entry)) inheritanceEntries.add(entry);
  }
  const rewrite = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(rewrite);
      return;
    }
    if (!isJsonObject(value)) return;
    if (typeof value.$ref === "string" && !inheritanceEntries.has(value)) {
      const companion = companions.get(value.$ref);
      if (companion) value.$ref = companion;
    }
    for (const child of Object.values(value)) rewrite(child);
  };
  for (const file of files.values()) {
    for (const [key, child] of Object.entries(file.doc)) {
      if (key !== "definitions") {
        rewrite(child);
        continue;
      }
      if (!isJsonObject(child)) continue;
      // Companions must reach the plain base and subtypes, so they are left as written.
      for (const [name, schema] of Object.entries(child)) if (!name.endsWith(POLYMORPHIC_SUFFIX)) rewrite(schema);
    }
  }
}
