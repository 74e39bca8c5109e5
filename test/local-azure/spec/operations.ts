/**
 * The operations of the specs, found by (service, method, path): path
 * templates become regular expressions (parameters may sit inside a segment,
 * as in Batch's `/certificates(thumbprintAlgorithm={a},thumbprint={t})`);
 * literal segments match case-insensitively, as ARM and Batch do. When several
 * templates match, the one with the most literal text wins.
 */
import { isJsonObject, type JsonObject, type LoadedSpecs, type SpecFile, type SpecName } from "./load";
import { followRef } from "./refs";

/** Which specs describe a local Azure service. */
export const SPECS_BY_SERVICE: Record<"arm" | "batch", SpecName[]> = {
  arm: ["batchManagement", "dataFactory"],
  batch: ["batch"],
};

export interface SpecParameter {
  name: string;
  in: "path" | "query" | "header" | "body" | "formData";
  required: boolean;
  /** The body schema, or the value schema of a query/header/path parameter (type, format, enum...). */
  schema: JsonObject;
}

export interface SpecResponse {
  /** "200", "201", ... or "default". */
  status: string;
  schema?: JsonObject;
}

export interface SpecOperation {
  spec: SpecName;
  apiVersion: string;
  operationId: string;
  method: string;
  pathTemplate: string;
  parameters: SpecParameter[];
  responses: SpecResponse[];
}

interface PathEntry {
  spec: SpecName;
  template: string;
  pattern: RegExp;
  literalLength: number;
  operations: Map<string, SpecOperation>;
}

export type OperationLookup =
  | { kind: "found"; operation: SpecOperation; pathParams: Record<string, string> }
  | { kind: "method-not-in-spec"; pathTemplate: string; methods: string[] }
  | { kind: "no-path" };

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

function templatePattern(template: string): { pattern: RegExp; literalLength: number } {
  let literalLength = 0;
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      if (/^\{[^}]+\}$/.test(part)) return "([^/]+?)";
      literalLength += part.length;
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  return { pattern: new RegExp(`^${source}/?$`, "i"), literalLength };
}

function parametersOf(files: Map<string, SpecFile>, list: unknown): SpecParameter[] {
  if (!Array.isArray(list)) return [];
  const out: SpecParameter[] = [];
  for (const raw of list) {
    const p = isJsonObject(raw) ? followRef(files, raw) : undefined;
    if (!p || typeof p.name !== "string" || typeof p.in !== "string") continue;
    // The host parameter (Batch's `{batchUrl}`) is not part of the path.
    if (p["x-ms-parameter-location"] === "client" && p["x-ms-skip-url-encoding"] === true && p.in === "path") continue;
    // A non-body parameter is its own value schema once the parameter fields are set aside.
    const { name, in: location, required, description: _description, schema, ...valueSchema } = p;
    out.push({
      name,
      in: location as SpecParameter["in"],
      required: required === true,
      schema: location === "body" && isJsonObject(schema) ? schema : valueSchema,
    });
  }
  return out;
}

function responsesOf(files: Map<string, SpecFile>, responses: unknown): SpecResponse[] {
  if (!isJsonObject(responses)) return [];
  return Object.entries(responses).flatMap(([status, raw]) => {
    const r = isJsonObject(raw) ? followRef(files, raw) : undefined;
    if (!r) return [];
    return [{ status, schema: isJsonObject(r.schema) ? r.schema : undefined }];
  });
}

export class OperationIndex {
  private readonly entries: Record<"arm" | "batch", PathEntry[]> = { arm: [], batch: [] };
  // Keyed by spec and operationId: Batch management and the Batch data plane both have a `Pool_Get`.
  private readonly byOperationId = new Map<string, SpecOperation>();

  constructor(specs: LoadedSpecs) {
    for (const service of ["arm", "batch"] as const) {
      for (const spec of SPECS_BY_SERVICE[service]) {
        const file = specs.top[spec];
        const info = isJsonObject(file.doc.info) ? file.doc.info : {};
        const apiVersion = String(info.version ?? "");
        const paths = isJsonObject(file.doc.paths) ? file.doc.paths : {};
        for (const [template, item] of Object.entries(paths)) {
          if (!isJsonObject(item)) continue;
          const shared = parametersOf(specs.files, item.parameters);
          const operations = new Map<string, SpecOperation>();
          for (const method of HTTP_METHODS) {
            const op = item[method];
            if (!isJsonObject(op)) continue;
            const own = parametersOf(specs.files, op.parameters);
            const parameters = [...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in)), ...own];
            const operation: SpecOperation = {
              spec,
              apiVersion,
              operationId: String(op.operationId ?? `${method} ${template}`),
              method: method.toUpperCase(),
              pathTemplate: template,
              parameters,
              responses: responsesOf(specs.files, op.responses),
            };
            operations.set(operation.method, operation);
            this.byOperationId.set(`${spec}:${operation.operationId}`, operation);
          }
          this.entries[service].push({ spec, template, ...templatePattern(template), operations });
        }
      }
      this.entries[service].sort((a, b) => b.literalLength - a.literalLength);
    }
  }

  operation(spec: SpecName, operationId: string): SpecOperation | undefined {
    return this.byOperationId.get(`${spec}:${operationId}`);
  }

  /** The spec operation for a request path (without query) as the service received it. */
  find(service: "arm" | "batch", method: string, path: string): OperationLookup {
    let pathOnly: OperationLookup | undefined;
    for (const entry of this.entries[service]) {
      const m = entry.pattern.exec(path);
      if (!m) continue;
      const operation = entry.operations.get(method.toUpperCase());
      if (!operation) {
        pathOnly ??= { kind: "method-not-in-spec", pathTemplate: entry.template, methods: [...entry.operations.keys()] };
        continue;
      }
      const names = [...entry.template.matchAll(/\{([^}]+)\}/g)].map((n) => n[1]);
      const pathParams: Record<string, string> = {};
      names.forEach((name, i) => (pathParams[name] = safeDecode(m[i + 1])));
      return { kind: "found", operation, pathParams };
    }
    return pathOnly ?? { kind: "no-path" };
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
