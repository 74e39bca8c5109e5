/**
 * `$ref` handling across the spec files: every reference is made absolute
 * (`spec:/<file>#<pointer>`) so any schema can be compiled on its own, and
 * references can be followed to their target.
 */
import * as path from "node:path";
import { isJsonObject, type JsonObject, type SpecFile } from "./load";

/** `spec:/a/b.json` + `../c.json#/definitions/X` → `spec:/a/c.json#/definitions/X`. */
export function absoluteRef(baseUri: string, ref: string): string {
  const hash = ref.indexOf("#");
  const filePart = hash < 0 ? ref : ref.slice(0, hash);
  const fragment = hash < 0 ? "" : ref.slice(hash);
  if (filePart === "") return `${baseUri}${fragment}`;
  if (filePart.startsWith("spec:")) return ref;
  const basePath = baseUri.slice("spec:".length);
  return `spec:${path.posix.normalize(path.posix.join(path.posix.dirname(basePath), filePart))}${fragment}`;
}

export function splitRef(ref: string): { uri: string; pointer: string } {
  const hash = ref.indexOf("#");
  return hash < 0 ? { uri: ref, pointer: "" } : { uri: ref.slice(0, hash), pointer: ref.slice(hash + 1) };
}

export function pointerGet(doc: unknown, pointer: string): unknown {
  if (pointer === "" || pointer === "/") return doc;
  let node: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isJsonObject(node)) node = node[key];
    else return undefined;
  }
  return node;
}

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Follows `$ref` chains to the object they name (undefined when dangling). */
export function followRef(files: Map<string, SpecFile>, node: JsonObject): JsonObject | undefined {
  let current: JsonObject | undefined = node;
  for (let hops = 0; current && typeof current.$ref === "string" && hops < 20; hops++) {
    const { uri, pointer } = splitRef(current.$ref);
    const target = pointerGet(files.get(uri)?.doc, pointer);
    current = isJsonObject(target) ? target : undefined;
  }
  return current;
}

/** Rewrites every `$ref` in a file to its absolute form. */
export function absolutizeRefs(file: SpecFile): void {
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (!isJsonObject(value)) return;
    if (typeof value.$ref === "string") value.$ref = absoluteRef(file.uri, value.$ref);
    for (const child of Object.values(value)) visit(child);
  };
  visit(file.doc);
}
