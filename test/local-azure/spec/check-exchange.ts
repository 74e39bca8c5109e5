/**
 * Checks one captured exchange of the local Azure against the REST specs:
 * the route must be an operation of the spec, the response body must match
 * the schema of its status code (or `default` for errors), and a request the
 * emulator accepted must match the operation's parameters (api-version and
 * other required query parameters, query and header values, the body schema).
 * Errors produced by the front door before any route (authentication,
 * authorization, throttling, injected faults, missing api-version) are
 * checked against the service's error shape instead.
 */
import type { CapturedExchange, RequestLogEntry, ServiceName } from "../http";
import type { OperationIndex, OperationLookup, SpecOperation } from "./operations";
import type { SchemaValidator, SchemaProblem } from "./validate";

/** A request-log entry (query with its leading "?", the route template when one handled it) and its bodies. */
export interface ExchangeRecord extends Pick<RequestLogEntry, "service" | "method" | "path" | "query" | "status" | "route" | "fault"> {
  exchange: CapturedExchange;
  /** The test that was running when the exchange happened. */
  test?: string;
}

export interface Mismatch {
  service: ServiceName;
  method: string;
  path: string;
  status: number;
  /** The spec operation (`operationId` and template) or, failing that, the emulator route. */
  route: string;
  part: "route" | "request" | "response";
  /** JSON pointer into the body, or `query:<name>` / `header:<name>` for parameters. */
  pointer: string;
  message: string;
  test?: string;
}

export type SpecScope = "arm" | "batch";

const SPEC_PROVIDERS = /\/providers\/microsoft\.(batch|datafactory)(\/|$)/i;
// Provider registration is Microsoft.Resources, whose spec is not vendored here.
const PROVIDER_REGISTRATION = /^\/subscriptions\/[^/]+\/providers\/[^/]+(\/(register|unregister))?\/?$/i;

/** Which spec family covers an exchange; undefined when no vendored spec does (Storage, Entra, Blob, ...). */
export function specScope(record: Pick<ExchangeRecord, "service" | "path">): SpecScope | undefined {
  if (record.service === "batch") return "batch";
  if (record.service === "arm" && SPEC_PROVIDERS.test(record.path) && !PROVIDER_REGISTRATION.test(record.path)) return "arm";
  return undefined;
}

function errorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as { code?: unknown; error?: { code?: unknown } };
  const code = b.error?.code ?? b.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Errors the front door answers before a provider route runs: injected
 * faults, 401/403/429/5xx (501 NotImplemented for an operation the local
 * Azure does not implement among them), a missing api-version, and any error
 * no emulator route produced (an unknown Batch path answered 404 in Batch's
 * shape, an unserved api-version, an unknown resource group).
 */
export function isFrontDoorError(record: ExchangeRecord): boolean {
  if (record.fault && record.fault !== "slow") return true;
  if (record.status === 401 || record.status === 403 || record.status === 429 || record.status >= 500) return true;
  if (record.status >= 400 && record.route === undefined) return true;
  return errorCode(record.exchange.responseBody) === "MissingApiVersionParameter";
}

export interface CheckContext {
  operations: OperationIndex;
  validator: SchemaValidator;
  /**
   * Paths handed out in Location / Azure-AsyncOperation headers. Long-running
   * operations are polled there, and those status URLs are not in the specs.
   */
  pollingPaths?: Set<string>;
}

/** The paths of the polling URLs that responses handed out. */
export function pollingPathsOf(records: ExchangeRecord[]): Set<string> {
  const out = new Set<string>();
  for (const r of records) {
    for (const header of ["location", "azure-asyncoperation"]) {
      const value = r.exchange.responseHeaders[header];
      if (!value) continue;
      try {
        out.add(new URL(value, "https://local.invalid").pathname.toLowerCase());
      } catch {
        // Not a URL: nothing to poll.
      }
    }
  }
  return out;
}

function errorSchemaRef(ctx: CheckContext, scope: SpecScope, path: string): string {
  const top = ctx.validator.specs.top;
  if (scope === "batch") return `${top.batch.uri}#/definitions/BatchError`;
  return /\/providers\/microsoft\.datafactory(\/|$)/i.test(path)
    ? `${top.dataFactory.uri}#/definitions/CloudError`
    : `${top.batchManagement.uri}#/definitions/CloudError`;
}

/** Batch clients may address an account below a path prefix (`/<account>/pools`); the spec paths start at `/pools`. */
export function findOperation(ctx: CheckContext, scope: SpecScope, method: string, path: string): OperationLookup {
  const direct = ctx.operations.find(scope, method, path);
  if (direct.kind === "found" || scope !== "batch") return direct;
  const unprefixed = path.replace(/^\/[^/]+(?=\/)/, "");
  if (unprefixed === path) return direct;
  const again = ctx.operations.find(scope, method, unprefixed);
  return again.kind === "no-path" ? direct : again;
}

function coerceQueryValue(raw: string, schema: { type?: unknown }): unknown {
  if (schema.type === "integer" || schema.type === "number") return raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  if (schema.type === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
  if (schema.type === "array") return raw.split(",");
  return raw;
}

function checkRequest(ctx: CheckContext, record: ExchangeRecord, op: SpecOperation, report: (part: Mismatch["part"], p: SchemaProblem) => void): void {
  const query = new URLSearchParams(record.query);
  for (const param of op.parameters.filter((p) => p.in === "query")) {
    const raw = query.get(param.name);
    if (raw === null) {
      if (param.required) report("request", { pointer: `query:${param.name}`, message: "required query parameter is missing" });
      continue;
    }
    if (param.name === "api-version" && raw !== op.apiVersion) {
      report("request", { pointer: "query:api-version", message: `api-version ${raw} is not the spec's ${op.apiVersion}` });
      continue;
    }
    for (const problem of ctx.validator.validate(param.schema, coerceQueryValue(raw, param.schema))) {
      report("request", { pointer: `query:${param.name}${problem.pointer}`, message: problem.message });
    }
  }
  const headers = record.exchange.requestHeaders;
  for (const param of op.parameters.filter((p) => p.in === "header")) {
    const raw = headers[param.name.toLowerCase()];
    // Only a few headers are captured; an absent one is judged only when required.
    if (raw === undefined) {
      if (param.required) report("request", { pointer: `header:${param.name}`, message: "required header is missing" });
      continue;
    }
    for (const problem of ctx.validator.validate(param.schema, coerceQueryValue(raw, param.schema))) {
      report("request", { pointer: `header:${param.name}${problem.pointer}`, message: problem.message });
    }
  }
  const bodyParam = op.parameters.find((p) => p.in === "body");
  const { requestBody, requestBodyInvalid } = record.exchange;
  if (requestBodyInvalid !== undefined) {
    report("request", { pointer: "", message: `request body is not valid JSON: ${requestBodyInvalid}` });
  } else if (bodyParam && requestBody === undefined) {
    if (bodyParam.required) report("request", { pointer: "", message: `required body parameter '${bodyParam.name}' is missing` });
  } else if (bodyParam && requestBody !== undefined) {
    for (const problem of ctx.validator.validate(bodyParam.schema, requestBody)) report("request", problem);
  } else if (!bodyParam && requestBody !== undefined) {
    report("request", { pointer: "", message: "request has a JSON body but the operation takes none" });
  }
}

function checkResponse(ctx: CheckContext, record: ExchangeRecord, op: SpecOperation, report: (part: Mismatch["part"], p: SchemaProblem) => void): void {
  const status = String(record.status);
  const response = op.responses.find((r) => r.status === status) ?? (record.status >= 400 ? op.responses.find((r) => r.status === "default") : undefined);
  if (!response) {
    const documented = op.responses.map((r) => r.status).join(", ");
    report("response", { pointer: "", message: `status ${status} is not a documented response (documented: ${documented})` });
    return;
  }
  if (!response.schema || ctx.validator.isBinary(response.schema)) return;
  const { responseBody, responseBinary } = record.exchange;
  if (responseBody === undefined) {
    if (record.method !== "HEAD" && !responseBinary) report("response", { pointer: "", message: "response has no JSON body but the spec defines one" });
    if (responseBinary) report("response", { pointer: "", message: "response body is not JSON but the spec defines a JSON schema" });
    return;
  }
  for (const problem of ctx.validator.validate(response.schema, responseBody)) report("response", problem);
}

export function checkExchange(ctx: CheckContext, record: ExchangeRecord): Mismatch[] {
  const scope = specScope(record);
  if (!scope || record.status === 0) return [];
  const mismatches: Mismatch[] = [];
  let route = record.route ?? `${record.method} ${record.path}`;
  const report = (part: Mismatch["part"], problem: SchemaProblem) =>
    mismatches.push({
      service: record.service,
      method: record.method,
      path: record.path,
      status: record.status,
      route,
      part,
      pointer: problem.pointer,
      message: problem.message,
      test: record.test,
    });

  if (isFrontDoorError(record)) {
    const body = record.exchange.responseBody;
    if (body === undefined) report("response", { pointer: "", message: "error response has no JSON body" });
    else for (const problem of ctx.validator.validateRef(errorSchemaRef(ctx, scope, record.path), body)) report("response", problem);
    return mismatches;
  }

  const found = findOperation(ctx, scope, record.method, record.path);
  if (found.kind !== "found" && record.method === "GET" && ctx.pollingPaths?.has(record.path.toLowerCase())) return mismatches;
  if (found.kind === "no-path") {
    report("route", { pointer: "", message: `no operation in the spec for ${record.method} ${record.path}` });
    return mismatches;
  }
  if (found.kind === "method-not-in-spec") {
    route = found.pathTemplate;
    report("route", { pointer: "", message: `the spec has no ${record.method} on ${found.pathTemplate} (it has ${found.methods.join(", ")})` });
    return mismatches;
  }
  const op = found.operation;
  route = `${op.operationId} (${op.method} ${op.pathTemplate})`;
  // A request the emulator rejected is often a deliberate bad request; only accepted ones must match the spec.
  if (record.status < 400) checkRequest(ctx, record, op, report);
  checkResponse(ctx, record, op, report);
  return mismatches;
}
