/**
 * The vendored spec examples as captured exchanges, so tests can run the
 * exchange check on what the specs themselves say a request and its
 * response look like.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExchangeRecord } from "./check-exchange";
import { SPEC_FILES, SPEC_ROOT, isJsonObject, type JsonObject, type SpecName } from "./load";
import type { OperationIndex } from "./operations";

export interface SpecExample {
  spec: SpecName;
  operationId: string;
  /** Path relative to the spec root. */
  file: string;
  content: JsonObject;
}

/** The examples named by `x-ms-examples` that are present on disk. */
export function vendoredExamples(): SpecExample[] {
  const out: SpecExample[] = [];
  for (const [spec, relative] of Object.entries(SPEC_FILES) as [SpecName, string][]) {
    const topPath = path.join(SPEC_ROOT, relative);
    const doc = JSON.parse(fs.readFileSync(topPath, "utf8")) as { paths: Record<string, Record<string, JsonObject>> };
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        if (!isJsonObject(op) || !isJsonObject(op["x-ms-examples"])) continue;
        for (const example of Object.values(op["x-ms-examples"])) {
          const ref = isJsonObject(example) ? example.$ref : undefined;
          if (typeof ref !== "string") continue;
          const file = path.join(path.dirname(topPath), ref);
          if (!fs.existsSync(file)) continue;
          out.push({
            spec,
            operationId: String(op.operationId),
            file: path.relative(SPEC_ROOT, file),
            content: JSON.parse(fs.readFileSync(file, "utf8")) as JsonObject,
          });
        }
      }
    }
  }
  return out;
}

/** One exchange per response of the example: the request from its parameters, the response as given. */
export function exchangesFromExample(operations: OperationIndex, example: SpecExample): ExchangeRecord[] {
  const op = operations.operation(example.spec, example.operationId);
  if (!op) throw new Error(`${example.file}: no operation ${example.operationId}`);
  const parameters = isJsonObject(example.content.parameters) ? example.content.parameters : {};
  const responses = isJsonObject(example.content.responses) ? example.content.responses : {};
  const requestPath = op.pathTemplate.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(String(parameters[name] ?? name)));
  const query = new URLSearchParams();
  let requestBody: unknown;
  for (const p of op.parameters) {
    const value = parameters[p.name];
    if (value === undefined || value === null) continue;
    if (p.in === "query") query.set(p.name, String(value));
    if (p.in === "body") requestBody = value;
  }
  const requestHeaders: Record<string, string> = requestBody === undefined ? {} : { "content-type": "application/json" };
  return Object.entries(responses).map(([status, response]): ExchangeRecord => ({
    service: example.spec === "batch" ? "batch" : "arm",
    method: op.method,
    path: requestPath,
    query: `?${query}`,
    status: Number(status),
    exchange: {
      requestBody,
      responseBody: isJsonObject(response) ? response.body : undefined,
      requestHeaders,
      responseHeaders: {},
    },
  }));
}
