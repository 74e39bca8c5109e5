/**
 * How the local Batch answers: Batch's error codes, OData entity and list
 * responses (odata.metadata, $filter / $select, paging through odata.nextLink),
 * ETag / Last-Modified headers and conditional requests, and the lookups and
 * checks the routes share.
 */
import { ServiceError, type AzureRequest, type AzureResponse } from "../http";
import { parseDuration } from "../clock";
import { applySelect, compileFilter, invalidQueryParameter } from "./odata";
import type { BatchSimulation, PackageProblem } from "./simulation";
import { findKey, type BatchAccountRecord, type DeallocationOption, type JobRecord, type Json, type NodeRecord, type PoolRecord, type TaskRecord } from "./state";

export const ODATA_CONTENT_TYPE = "application/json;odata=minimalmetadata";

export type BatchRequest = AzureRequest & { account: BatchAccountRecord };
export type BatchHandler = (req: BatchRequest) => AzureResponse | Promise<AzureResponse>;

const DEALLOCATION_OPTIONS = ["requeue", "terminate", "taskcompletion", "retaineddata"];

/** Drops undefined members so rendered entities carry only what is set. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export function notFound(code: string, message: string): ServiceError {
  return new ServiceError(404, code, message);
}

export function missingProperty(name: string): ServiceError {
  return new ServiceError(400, "MissingRequiredProperty", "A required property was not specified in the request body.", { values: [{ key: "PropertyName", value: name }] });
}

export function invalidProperty(name: string, value: unknown, reason: string): ServiceError {
  return new ServiceError(400, "InvalidPropertyValue", "The value provided for one of the properties in the request body is invalid.", {
    values: [
      { key: "PropertyName", value: name },
      { key: "PropertyValue", value: String(value) },
      { key: "Reason", value: reason },
    ],
  });
}

export function invalidPackageReferences(problems: PackageProblem[]): ServiceError {
  return new ServiceError(
    409,
    "InvalidApplicationPackageReferences",
    "One or more of the specified application package references are invalid.",
    { values: problems.flatMap((p) => [{ key: p.applicationId, value: p.reason }]) },
  );
}

export function metadata(sim: BatchSimulation, kind: string, element: boolean): string {
  return `${sim.state.url}/$metadata#${kind}${element ? "/@Element" : ""}`;
}

export function entityResponse(sim: BatchSimulation, kind: string, body: Record<string, unknown>, req: AzureRequest, etag?: string, lastModified?: string): AzureResponse {
  const selected = applySelect(body, req.query.get("$select"));
  return {
    status: 200,
    headers: headers(etag, lastModified),
    body: { "odata.metadata": metadata(sim, kind, true), ...selected },
  };
}

export function headers(etag?: string, lastModified?: string, extra: Record<string, string> = {}): Record<string, string> {
  return compact({
    "content-type": ODATA_CONTENT_TYPE,
    dataserviceversion: "3.0",
    etag,
    "last-modified": lastModified ? new Date(lastModified).toUTCString() : undefined,
    ...extra,
  }) as Record<string, string>;
}

export function accepted(sim: BatchSimulation, status: number, req: AzureRequest, etag?: string, lastModified?: string): AzureResponse {
  return { status, headers: headers(etag, lastModified, { dataserviceid: `${sim.state.url}${req.path}` }) };
}

/** Filters, selects and pages a rendered collection; the next link carries the query on. */
export function listResponse(sim: BatchSimulation, kind: string, req: AzureRequest, items: Record<string, unknown>[]): AzureResponse {
  const filter = compileFilter(req.query.get("$filter"));
  const maxParam = req.query.get("maxresults");
  const max = maxParam === null ? 1000 : Number(maxParam);
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ServiceError(400, "OutOfRangeQueryParameterValue", "A query parameter specified in the request URI is outside the permissible range.", {
      values: [
        { key: "QueryParameterName", value: "maxresults" },
        { key: "QueryParameterValue", value: String(maxParam) },
      ],
    });
  }
  let offset = 0;
  const token = req.query.get("$skiptoken");
  if (token) {
    try {
      offset = (JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { offset: number }).offset;
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0) throw invalidQueryParameter("$skiptoken", token, "The skip token is not valid.");
  }
  const matched = items.filter(filter);
  const page = matched.slice(offset, offset + max).map((e) => applySelect(e, req.query.get("$select")));
  const body: Record<string, unknown> = { "odata.metadata": metadata(sim, kind, false), value: page };
  if (offset + max < matched.length) {
    const carry = ["api-version", "maxresults", "$filter", "$select", "$expand", "recursive"]
      .filter((k) => req.query.get(k) !== null)
      .map((k) => `${k}=${encodeURIComponent(req.query.get(k)!)}`);
    carry.push(`$skiptoken=${Buffer.from(JSON.stringify({ offset: offset + max })).toString("base64url")}`);
    body["odata.nextLink"] = `${sim.state.url}${req.path}?${carry.join("&")}`;
  }
  return { status: 200, headers: headers(), body: body };
}

/** If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since against a resource. */
export function checkConditions(req: AzureRequest, etag: string, lastModified: string, read: boolean): void {
  const h = (n: string) => (req.headers[n] as string | undefined) ?? undefined;
  const ifMatch = h("if-match");
  const ifNoneMatch = h("if-none-match");
  const ifModifiedSince = h("if-modified-since");
  const ifUnmodifiedSince = h("if-unmodified-since");
  const modified = new Date(lastModified).getTime();
  const fail = () =>
    read
      ? new ServiceError(304, "ConditionNotMet", "The condition specified in the conditional header(s) was not met for a read operation.")
      : new ServiceError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
  const matches = (list: string) => list.split(",").some((e) => e.trim() === "*" || e.trim().replace(/^W\//, "").replace(/"/g, "") === etag);
  if (ifMatch && !matches(ifMatch)) throw fail();
  if (ifNoneMatch && matches(ifNoneMatch)) throw fail();
  if (ifUnmodifiedSince && modified > Date.parse(ifUnmodifiedSince) + 999) throw fail();
  if (ifModifiedSince && modified <= Date.parse(ifModifiedSince) + 999) throw fail();
}

export function poolOf(req: BatchRequest): PoolRecord {
  const pool = findKey(req.account.pools, req.params.poolId);
  if (!pool) throw notFound("PoolNotFound", "The specified pool does not exist.");
  return pool;
}

export function activePoolOf(req: BatchRequest): PoolRecord {
  const pool = poolOf(req);
  if (pool.state === "deleting") throw new ServiceError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.");
  return pool;
}

export function nodeOf(req: BatchRequest, pool: PoolRecord): NodeRecord {
  const node = pool.nodes.get(req.params.nodeId);
  if (!node) throw notFound("NodeNotFound", "The specified node does not exist.");
  return node;
}

export function jobOf(req: BatchRequest): JobRecord {
  const job = findKey(req.account.jobs, req.params.jobId);
  if (!job) throw notFound("JobNotFound", "The specified job does not exist.");
  return job;
}

export function taskOf(req: BatchRequest, job: JobRecord): TaskRecord {
  const task = findKey(job.tasks, req.params.taskId);
  if (!task) throw notFound("TaskNotFound", "The specified task does not exist.");
  return task;
}

export function deallocation(value: unknown, name: string, allowed = DEALLOCATION_OPTIONS): DeallocationOption | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !allowed.includes(value.toLowerCase())) throw invalidProperty(name, value, "Unknown option.");
  return value.toLowerCase() as DeallocationOption;
}

export function checkDuration(name: string, value: unknown, minSeconds = 0): void {
  if (value === undefined) return;
  const seconds = typeof value === "string" ? parseDuration(value) : undefined;
  if (seconds === undefined) throw invalidProperty(name, value, "The value is not a valid ISO 8601 duration.");
  if (seconds < minSeconds) throw invalidProperty(name, value, `The value must be at least ${minSeconds / 60} minutes.`);
}

export function checkPackages(sim: BatchSimulation, account: BatchAccountRecord, refs: unknown): void {
  if (refs === undefined) return;
  if (!Array.isArray(refs)) throw invalidProperty("applicationPackageReferences", refs, "Expected an array.");
  if (refs.length > 10) throw invalidProperty("applicationPackageReferences", refs.length, "A pool may reference at most 10 application packages.");
  for (const ref of refs as Json[]) if (!ref || typeof ref.applicationId !== "string") throw missingProperty("applicationPackageReferences.applicationId");
  const { problems } = sim.resolvePackages(account, refs as { applicationId: string; version?: string }[]);
  if (problems.length > 0) throw invalidPackageReferences(problems);
}

export function requireSteady(pool: PoolRecord): void {
  if (pool.allocationState !== "steady") throw new ServiceError(409, "PoolBeingResized", "The specified pool is being resized.");
}
