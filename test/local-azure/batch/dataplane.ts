/**
 * The Batch data plane (api-version 2022-10-01.16.0, as @azure/batch 10.2.0
 * sends it): SharedKey or Entra bearer authentication, then pools, nodes,
 * node files, jobs and tasks, with OData $filter / $select, paging through
 * odata.nextLink, ETags and conditional headers, and errors in Batch's shape.
 */
import { Router, ServiceError, jsonBody, type AzureRequest, type AzureResponse } from "../http";
import type { EntraService } from "../entra";
import { authenticateBearer } from "../arm/core";
import { parseDuration } from "./clock";
import { applySelect, compileFilter, invalidQueryParameter } from "./odata";
import { verifySharedKey } from "./sharedkey";
import type { BatchSimulation, PackageProblem } from "./simulation";
import { findKey, type BatchAccountRecord, type DeallocationOption, type JobRecord, type Json, type NodeRecord, type PoolRecord, type TaskRecord } from "./state";

/** Audiences the Batch data plane accepts in Entra tokens. */
export const BATCH_AUDIENCES = ["https://batch.core.windows.net/", "https://batch.core.windows.net"];

export const BATCH_API_VERSION = "2022-10-01.16.0";

/** Versions the service answers (shapes are always 2022-10-01.16.0's). */
const KNOWN_API_VERSIONS = new Set([
  "2019-08-01.10.0",
  "2020-03-01.11.0",
  "2020-09-01.12.0",
  "2021-06-01.14.0",
  "2022-01-01.15.0",
  "2022-10-01.16.0",
  "2023-05-01.17.0",
  "2023-11-01.18.0",
  "2024-02-01.19.0",
  "2024-07-01.20.0",
]);

const ODATA_CONTENT_TYPE = "application/json;odata=minimalmetadata";

type BatchRequest = AzureRequest & { account: BatchAccountRecord };
type BatchHandler = (req: BatchRequest) => AzureResponse | Promise<AzureResponse>;

const DEALLOCATION_OPTIONS = ["requeue", "terminate", "taskcompletion", "retaineddata"];

/** Drops undefined members so rendered entities carry only what is set. */
function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function notFound(code: string, message: string): ServiceError {
  return new ServiceError(404, code, message);
}

function missingProperty(name: string): ServiceError {
  return new ServiceError(400, "MissingRequiredProperty", "A required property was not specified in the request body.", { values: [{ key: "PropertyName", value: name }] });
}

function invalidProperty(name: string, value: unknown, reason: string): ServiceError {
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

export class BatchDataPlane {
  private readonly router = new Router();

  constructor(
    private readonly sim: BatchSimulation,
    private readonly entra: EntraService,
  ) {
    const r = (method: string, template: string, handler: BatchHandler) => this.router.add(method, template, (req) => handler(req as BatchRequest));
    r("GET", "/pools", (req) => this.listPools(req));
    r("POST", "/pools", (req) => this.addPool(req));
    r("GET", "/pools/{poolId}", (req) => this.getPool(req));
    r("HEAD", "/pools/{poolId}", (req) => this.poolExists(req));
    r("PATCH", "/pools/{poolId}", (req) => this.patchPool(req));
    r("DELETE", "/pools/{poolId}", (req) => this.deletePool(req));
    r("POST", "/pools/{poolId}/updateproperties", (req) => this.updatePoolProperties(req));
    r("POST", "/pools/{poolId}/resize", (req) => this.resizePool(req));
    r("POST", "/pools/{poolId}/stopresize", (req) => this.stopResize(req));
    r("POST", "/pools/{poolId}/enableautoscale", (req) => this.enableAutoScale(req));
    r("POST", "/pools/{poolId}/disableautoscale", (req) => this.disableAutoScale(req));
    r("POST", "/pools/{poolId}/evaluateautoscale", (req) => this.evaluateAutoScale(req));
    r("POST", "/pools/{poolId}/removenodes", (req) => this.removeNodes(req));
    r("GET", "/pools/{poolId}/nodes", (req) => this.listNodes(req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}", (req) => this.getNode(req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/reboot", (req) => this.rebootNode(req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/reimage", (req) => this.reimageNode(req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling", (req) => this.disableScheduling(req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling", (req) => this.enableScheduling(req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}/files", (req) => this.listNodeFiles(req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", (req) => this.getNodeFile(req, true));
    r("HEAD", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", (req) => this.getNodeFile(req, false));
    r("GET", "/jobs", (req) => this.listJobs(req));
    r("POST", "/jobs", (req) => this.addJob(req));
    r("GET", "/jobs/{jobId}", (req) => this.getJob(req));
    r("DELETE", "/jobs/{jobId}", (req) => this.deleteJob(req));
    r("GET", "/jobs/{jobId}/taskcounts", (req) => this.taskCounts(req));
    r("POST", "/jobs/{jobId}/tasks", (req) => this.addTask(req));
    r("POST", "/jobs/{jobId}/addtaskcollection", (req) => this.addTaskCollection(req));
    r("GET", "/jobs/{jobId}/tasks", (req) => this.listTasks(req));
    r("GET", "/jobs/{jobId}/tasks/{taskId}", (req) => this.getTask(req));
    r("POST", "/jobs/{jobId}/tasks/{taskId}/terminate", (req) => this.terminateTask(req));
  }

  async handle(req: AzureRequest): Promise<AzureResponse & { route?: string }> {
    const account = this.authenticate(req);
    const apiVersion = req.query.get("api-version");
    if (!apiVersion) {
      throw new ServiceError(400, "MissingRequiredQueryParameter", "A query parameter that's mandatory for this request is not specified.", {
        values: [{ key: "QueryParameterName", value: "api-version" }],
      });
    }
    if (!KNOWN_API_VERSIONS.has(apiVersion)) throw invalidQueryParameter("api-version", apiVersion, "The specified api version is not supported.");
    // Node file paths arrive either encoded (%2F) or with literal slashes.
    const fileMatch = /^(\/pools\/[^/]+\/nodes\/[^/]+\/files\/)(.+)$/i.exec(req.path);
    const path = fileMatch ? `${fileMatch[1]}${encodeURIComponent(decodeURIComponent(fileMatch[2]))}` : req.path;
    const match = this.router.match(req.method, path);
    if (!match) throw new ServiceError(404, "ResourceNotFound", "The specified resource does not exist.");
    if ("methodNotAllowed" in match) throw new ServiceError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
    req.params = match.params;
    (req as BatchRequest).account = account;
    return { ...(await match.route.handler(req)), route: match.route.name };
  }

  /** SharedKey (either account key) or an Entra token for the Batch audience. */
  private authenticate(req: AzureRequest): BatchAccountRecord {
    const authorization = String(req.headers.authorization ?? "");
    if (/^SharedKey\s/i.test(authorization)) {
      const name = verifySharedKey(req, req.rawUrl, (account) => {
        const a = findKey(this.sim.state.accounts, account);
        return a && a.allowedAuthenticationModes.includes("SharedKey") ? [a.keys.primary, a.keys.secondary] : undefined;
      });
      req.principal = { oid: `sharedkey:${name}`, kind: "sharedKey" };
      return findKey(this.sim.state.accounts, name)!;
    }
    if (!authorization) {
      throw new ServiceError(401, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.", {
        values: [{ key: "AuthenticationErrorDetail", value: "The Authorization header is missing." }],
      });
    }
    authenticateBearer(this.entra, req, BATCH_AUDIENCES, "batch");
    const account = this.sim.account();
    if (!account.allowedAuthenticationModes.includes("AAD")) {
      throw new ServiceError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.");
    }
    return account;
  }

  // ---------------------------------------------------------------- helpers

  private metadata(kind: string, element: boolean): string {
    return `${this.sim.state.url}/$metadata#${kind}${element ? "/@Element" : ""}`;
  }

  private entityResponse(kind: string, body: Record<string, unknown>, req: AzureRequest, etag?: string, lastModified?: string): AzureResponse {
    const selected = applySelect(body, req.query.get("$select"));
    return {
      status: 200,
      headers: this.headers(etag, lastModified),
      body: { "odata.metadata": this.metadata(kind, true), ...selected },
    };
  }

  private headers(etag?: string, lastModified?: string, extra: Record<string, string> = {}): Record<string, string> {
    return compact({
      "content-type": ODATA_CONTENT_TYPE,
      dataserviceversion: "3.0",
      etag,
      "last-modified": lastModified ? new Date(lastModified).toUTCString() : undefined,
      ...extra,
    }) as Record<string, string>;
  }

  private accepted(status: number, req: AzureRequest, etag?: string, lastModified?: string): AzureResponse {
    return { status, headers: this.headers(etag, lastModified, { dataserviceid: `${this.sim.state.url}${req.path}` }) };
  }

  /** Filters, selects and pages a rendered collection; the next link carries the query on. */
  private listResponse(kind: string, req: AzureRequest, items: Record<string, unknown>[]): AzureResponse {
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
    const body: Record<string, unknown> = { "odata.metadata": this.metadata(kind, false), value: page };
    if (offset + max < matched.length) {
      const carry = ["api-version", "maxresults", "$filter", "$select", "$expand", "recursive"]
        .filter((k) => req.query.get(k) !== null)
        .map((k) => `${k}=${encodeURIComponent(req.query.get(k)!)}`);
      carry.push(`$skiptoken=${Buffer.from(JSON.stringify({ offset: offset + max })).toString("base64url")}`);
      body["odata.nextLink"] = `${this.sim.state.url}${req.path}?${carry.join("&")}`;
    }
    return { status: 200, headers: this.headers(), body: body };
  }

  /** If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since against a resource. */
  private checkConditions(req: AzureRequest, etag: string, lastModified: string, read: boolean): void {
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

  private pool(req: BatchRequest): PoolRecord {
    const pool = findKey(req.account.pools, req.params.poolId);
    if (!pool) throw notFound("PoolNotFound", "The specified pool does not exist.");
    return pool;
  }

  private activePool(req: BatchRequest): PoolRecord {
    const pool = this.pool(req);
    if (pool.state === "deleting") throw new ServiceError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.");
    return pool;
  }

  private node(req: BatchRequest, pool: PoolRecord): NodeRecord {
    const node = pool.nodes.get(req.params.nodeId);
    if (!node) throw notFound("NodeNotFound", "The specified node does not exist.");
    return node;
  }

  private job(req: BatchRequest): JobRecord {
    const job = findKey(req.account.jobs, req.params.jobId);
    if (!job) throw notFound("JobNotFound", "The specified job does not exist.");
    return job;
  }

  private task(req: BatchRequest, job: JobRecord): TaskRecord {
    const task = findKey(job.tasks, req.params.taskId);
    if (!task) throw notFound("TaskNotFound", "The specified task does not exist.");
    return task;
  }

  private deallocation(value: unknown, name: string, allowed = DEALLOCATION_OPTIONS): DeallocationOption | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || !allowed.includes(value.toLowerCase())) throw invalidProperty(name, value, "Unknown option.");
    return value.toLowerCase() as DeallocationOption;
  }

  private checkDuration(name: string, value: unknown, minSeconds = 0): void {
    if (value === undefined) return;
    const seconds = typeof value === "string" ? parseDuration(value) : undefined;
    if (seconds === undefined) throw invalidProperty(name, value, "The value is not a valid ISO 8601 duration.");
    if (seconds < minSeconds) throw invalidProperty(name, value, `The value must be at least ${minSeconds / 60} minutes.`);
  }

  private checkPackages(account: BatchAccountRecord, refs: unknown): void {
    if (refs === undefined) return;
    if (!Array.isArray(refs)) throw invalidProperty("applicationPackageReferences", refs, "Expected an array.");
    if (refs.length > 10) throw invalidProperty("applicationPackageReferences", refs.length, "A pool may reference at most 10 application packages.");
    for (const ref of refs as Json[]) if (!ref || typeof ref.applicationId !== "string") throw missingProperty("applicationPackageReferences.applicationId");
    const { problems } = this.sim.resolvePackages(account, refs as { applicationId: string; version?: string }[]);
    if (problems.length > 0) throw invalidPackageReferences(problems);
  }

  // ---------------------------------------------------------------- rendering

  renderPool(pool: PoolRecord): Record<string, unknown> {
    let dedicated = 0;
    let lowPriority = 0;
    for (const n of pool.nodes.values()) n.isDedicated ? dedicated++ : lowPriority++;
    return compact({
      id: pool.id,
      displayName: pool.displayName,
      url: this.sim.poolUrl(pool),
      eTag: pool.eTag,
      lastModified: pool.lastModified,
      creationTime: pool.creationTime,
      state: pool.state,
      stateTransitionTime: pool.stateTransitionTime,
      allocationState: pool.allocationState,
      allocationStateTransitionTime: pool.allocationStateTransitionTime,
      vmSize: pool.vmSize,
      cloudServiceConfiguration: pool.cloudServiceConfiguration,
      virtualMachineConfiguration: pool.virtualMachineConfiguration,
      resizeTimeout: pool.enableAutoScale ? undefined : pool.resizeTimeout,
      resizeErrors: pool.resizeErrors,
      currentDedicatedNodes: dedicated,
      currentLowPriorityNodes: lowPriority,
      targetDedicatedNodes: pool.targetDedicatedNodes,
      targetLowPriorityNodes: pool.targetLowPriorityNodes,
      enableAutoScale: pool.enableAutoScale,
      autoScaleFormula: pool.autoScaleFormula,
      autoScaleEvaluationInterval: pool.autoScaleEvaluationInterval,
      autoScaleRun: pool.autoScaleRun,
      enableInterNodeCommunication: pool.enableInterNodeCommunication,
      networkConfiguration: pool.networkConfiguration,
      startTask: pool.startTask,
      certificateReferences: pool.certificateReferences.length > 0 ? pool.certificateReferences : undefined,
      applicationPackageReferences: pool.applicationPackageReferences.length > 0 ? pool.applicationPackageReferences : undefined,
      applicationLicenses: pool.applicationLicenses,
      taskSlotsPerNode: pool.taskSlotsPerNode,
      taskSchedulingPolicy: pool.taskSchedulingPolicy,
      userAccounts: pool.userAccounts,
      metadata: pool.metadata.length > 0 ? pool.metadata : undefined,
      mountConfiguration: pool.mountConfiguration,
      identity: pool.identity,
      targetNodeCommunicationMode: pool.targetNodeCommunicationMode,
      currentNodeCommunicationMode: pool.currentNodeCommunicationMode,
    });
  }

  renderNode(pool: PoolRecord, node: NodeRecord): Record<string, unknown> {
    const vm = pool.virtualMachineConfiguration as { imageReference?: Json } | undefined;
    return compact({
      id: node.id,
      url: this.sim.nodeUrl(pool, node),
      state: node.state,
      schedulingState: node.schedulingState,
      stateTransitionTime: node.stateTransitionTime,
      lastBootTime: node.lastBootTime,
      allocationTime: node.allocationTime,
      ipAddress: node.ipAddress,
      affinityId: node.affinityId,
      vmSize: node.vmSize,
      totalTasksRun: node.totalTasksRun,
      runningTasksCount: node.sim.running.size,
      runningTaskSlotsCount: [...node.sim.running].reduce((n, t) => n + t.requiredSlots, 0),
      totalTasksSucceeded: node.totalTasksSucceeded,
      recentTasks: node.recentTasks.length > 0 ? node.recentTasks : undefined,
      startTask: pool.startTask,
      startTaskInfo: node.startTaskInfo,
      certificateReferences: pool.certificateReferences.length > 0 ? pool.certificateReferences : undefined,
      errors: node.errors.length > 0 ? node.errors : undefined,
      isDedicated: node.isDedicated,
      endpointConfiguration: { inboundEndpoints: [{ name: "SSHRule.0", protocol: "tcp", publicIPAddress: "127.0.0.1", publicFQDN: "127.0.0.1", frontendPort: 50000 + (parseInt(node.id.slice(6, 10), 16) % 10000), backendPort: 22 }] },
      nodeAgentInfo: { version: node.nodeAgentVersion, lastUpdateTime: node.allocationTime },
      virtualMachineInfo: vm?.imageReference ? { imageReference: { ...vm.imageReference, exactVersion: "20.04.202401010" } } : undefined,
    });
  }

  renderJob(job: JobRecord): Record<string, unknown> {
    return compact({
      id: job.id,
      displayName: job.displayName,
      usesTaskDependencies: job.usesTaskDependencies,
      url: `${this.sim.state.url}/jobs/${job.id}`,
      eTag: job.eTag,
      lastModified: job.lastModified,
      creationTime: job.creationTime,
      state: job.state,
      stateTransitionTime: job.stateTransitionTime,
      previousState: job.previousState,
      previousStateTransitionTime: job.previousStateTransitionTime,
      priority: job.priority,
      allowTaskPreemption: job.allowTaskPreemption,
      maxParallelTasks: job.maxParallelTasks,
      constraints: job.constraints,
      jobManagerTask: job.jobManagerTask,
      jobPreparationTask: job.jobPreparationTask,
      jobReleaseTask: job.jobReleaseTask,
      commonEnvironmentSettings: job.commonEnvironmentSettings,
      poolInfo: job.poolInfo,
      onAllTasksComplete: job.onAllTasksComplete,
      onTaskFailure: job.onTaskFailure,
      networkConfiguration: job.networkConfiguration,
      metadata: job.metadata,
      executionInfo: compact({ ...job.executionInfo }),
    });
  }

  renderTask(job: JobRecord, task: TaskRecord): Record<string, unknown> {
    return compact({
      id: task.id,
      displayName: task.displayName,
      url: this.sim.taskUrl(job, task),
      eTag: task.eTag,
      lastModified: task.lastModified,
      creationTime: task.creationTime,
      exitConditions: task.exitConditions,
      state: task.state,
      stateTransitionTime: task.stateTransitionTime,
      previousState: task.previousState,
      previousStateTransitionTime: task.previousStateTransitionTime,
      commandLine: task.commandLine,
      containerSettings: task.containerSettings,
      resourceFiles: task.resourceFiles,
      outputFiles: task.outputFiles,
      environmentSettings: task.environmentSettings,
      affinityInfo: task.affinityInfo,
      constraints: task.constraints,
      requiredSlots: task.requiredSlots,
      userIdentity: task.userIdentity ?? { autoUser: { scope: "pool", elevationLevel: "nonadmin" } },
      executionInfo: compact({ ...task.executionInfo }),
      nodeInfo: task.nodeInfo,
      multiInstanceSettings: task.multiInstanceSettings,
      dependsOn: task.dependsOn,
      applicationPackageReferences: task.applicationPackageReferences,
      authenticationTokenSettings: task.authenticationTokenSettings,
    });
  }

  // ---------------------------------------------------------------- pools

  private listPools(req: BatchRequest): AzureResponse {
    return this.listResponse("pools", req, [...req.account.pools.values()].map((p) => this.renderPool(p)));
  }

  private getPool(req: BatchRequest): AzureResponse {
    const pool = this.pool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, true);
    return this.entityResponse("pools", this.renderPool(pool), req, pool.eTag, pool.lastModified);
  }

  private poolExists(req: BatchRequest): AzureResponse {
    const pool = findKey(req.account.pools, req.params.poolId);
    if (!pool) return { status: 404, headers: this.headers() };
    this.checkConditions(req, pool.eTag, pool.lastModified, true);
    return { status: 200, headers: this.headers(pool.eTag, pool.lastModified) };
  }

  private addPool(req: BatchRequest): AzureResponse {
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (typeof body.id !== "string" || !body.id) throw missingProperty("id");
    if (typeof body.vmSize !== "string" || !body.vmSize) throw missingProperty("vmSize");
    if (!body.virtualMachineConfiguration && !body.cloudServiceConfiguration) throw missingProperty("virtualMachineConfiguration");
    if (!/^[\w-]{1,64}$/.test(body.id)) throw invalidProperty("id", body.id, "The id may contain only letters, digits, hyphens and underscores, at most 64 characters.");
    if (findKey(req.account.pools, body.id)) throw new ServiceError(409, "PoolExists", "The specified pool already exists.");
    if (body.enableAutoScale && (body.targetDedicatedNodes !== undefined || body.targetLowPriorityNodes !== undefined)) {
      throw invalidProperty("targetDedicatedNodes", body.targetDedicatedNodes, "targetDedicatedNodes cannot be specified when enableAutoScale is true.");
    }
    if (body.enableAutoScale && !body.autoScaleFormula) throw missingProperty("autoScaleFormula");
    this.checkDuration("resizeTimeout", body.resizeTimeout, 300);
    this.checkPackages(req.account, body.applicationPackageReferences);
    const pool = this.sim.addPool(req.account, body);
    return { status: 201, headers: this.headers(pool.eTag, pool.lastModified, { dataserviceid: this.sim.poolUrl(pool), location: this.sim.poolUrl(pool) }) };
  }

  private patchPool(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    this.checkPackages(req.account, body.applicationPackageReferences);
    if (body.startTask !== undefined) pool.startTask = (body.startTask ?? undefined) as PoolRecord["startTask"];
    if (body.certificateReferences !== undefined) pool.certificateReferences = (body.certificateReferences as Json[]) ?? [];
    if (body.applicationPackageReferences !== undefined) pool.applicationPackageReferences = (body.applicationPackageReferences as PoolRecord["applicationPackageReferences"]) ?? [];
    if (body.metadata !== undefined) pool.metadata = (body.metadata as PoolRecord["metadata"]) ?? [];
    if (body.targetNodeCommunicationMode !== undefined) pool.targetNodeCommunicationMode = body.targetNodeCommunicationMode as string;
    this.sim.touchPool(pool);
    return this.accepted(200, req, pool.eTag, pool.lastModified);
  }

  private updatePoolProperties(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    for (const required of ["certificateReferences", "applicationPackageReferences", "metadata"]) if (!Array.isArray(body[required])) throw missingProperty(required);
    this.checkPackages(req.account, body.applicationPackageReferences);
    pool.startTask = body.startTask as PoolRecord["startTask"];
    pool.certificateReferences = body.certificateReferences as Json[];
    pool.applicationPackageReferences = body.applicationPackageReferences as PoolRecord["applicationPackageReferences"];
    pool.metadata = body.metadata as PoolRecord["metadata"];
    pool.targetNodeCommunicationMode = (body.targetNodeCommunicationMode as string | undefined) ?? "default";
    this.sim.touchPool(pool);
    return this.accepted(204, req, pool.eTag, pool.lastModified);
  }

  private deletePool(req: BatchRequest): AzureResponse {
    const pool = this.pool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    if (pool.state !== "deleting") this.sim.deletePool(req.account, pool);
    return this.accepted(202, req);
  }

  private requireSteady(pool: PoolRecord): void {
    if (pool.allocationState !== "steady") throw new ServiceError(409, "PoolBeingResized", "The specified pool is being resized.");
  }

  private resizePool(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (pool.enableAutoScale) throw new ServiceError(409, "OperationNotValidOnPool", "The specified operation is not valid on the pool: it is configured for automatic scaling.");
    this.requireSteady(pool);
    for (const k of ["targetDedicatedNodes", "targetLowPriorityNodes"]) {
      const v = body[k];
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) throw invalidProperty(k, v, "The value must be a non-negative integer.");
    }
    this.checkDuration("resizeTimeout", body.resizeTimeout, 300);
    this.sim.resize(req.account, pool, {
      targetDedicatedNodes: body.targetDedicatedNodes as number | undefined,
      targetLowPriorityNodes: body.targetLowPriorityNodes as number | undefined,
      resizeTimeout: body.resizeTimeout as string | undefined,
      nodeDeallocationOption: this.deallocation(body.nodeDeallocationOption, "nodeDeallocationOption"),
    });
    return this.accepted(202, req, pool.eTag, pool.lastModified);
  }

  private stopResize(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    this.sim.stopResize(pool);
    return this.accepted(202, req, pool.eTag, pool.lastModified);
  }

  private enableAutoScale(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (pool.sim.resize) this.requireSteady(pool);
    if (!pool.enableAutoScale && !body.autoScaleFormula) throw missingProperty("autoScaleFormula");
    if (body.autoScaleFormula !== undefined && typeof body.autoScaleFormula !== "string") throw invalidProperty("autoScaleFormula", body.autoScaleFormula, "Expected a string.");
    if (typeof body.autoScaleFormula === "string" && body.autoScaleFormula.length > 8192) {
      throw new ServiceError(400, "AutoScalingFormulaTooLong", "The specified auto-scaling formula exceeds lengths limit.");
    }
    this.checkDuration("autoScaleEvaluationInterval", body.autoScaleEvaluationInterval, 300);
    this.sim.enableAutoScale(pool, body.autoScaleFormula as string | undefined, body.autoScaleEvaluationInterval as string | undefined);
    return this.accepted(200, req, pool.eTag, pool.lastModified);
  }

  private disableAutoScale(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.sim.disableAutoScale(pool);
    return this.accepted(200, req, pool.eTag, pool.lastModified);
  }

  /** The formula language is not simulated yet: formulas are stored, evaluation says so in Batch's error shape. */
  private evaluateAutoScale(req: BatchRequest): AzureResponse {
    this.activePool(req);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (typeof body.autoScaleFormula !== "string") throw missingProperty("autoScaleFormula");
    throw new ServiceError(501, "NotImplemented", "Evaluating autoscale formulas is not supported by the local Batch service yet; the formula was not evaluated.", {
      values: [{ key: "Reason", value: "AutoScaleFormulaEvaluationNotSupported" }],
    });
  }

  private removeNodes(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    this.checkConditions(req, pool.eTag, pool.lastModified, false);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (!Array.isArray(body.nodeList)) throw missingProperty("nodeList");
    if (body.nodeList.length === 0 || body.nodeList.length > 100) throw invalidProperty("nodeList", body.nodeList.length, "Between 1 and 100 nodes may be removed in one request.");
    this.checkDuration("resizeTimeout", body.resizeTimeout, 300);
    const option = this.deallocation(body.nodeDeallocationOption, "nodeDeallocationOption");
    this.requireSteady(pool);
    const nodes = (body.nodeList as string[]).map((id) => {
      const node = pool.nodes.get(id);
      if (!node) throw notFound("NodeNotFound", "The specified node does not exist.");
      return node;
    });
    this.sim.removeNodes(req.account, pool, nodes, option, body.resizeTimeout as string | undefined);
    return this.accepted(202, req, pool.eTag, pool.lastModified);
  }

  // ---------------------------------------------------------------- nodes

  private listNodes(req: BatchRequest): AzureResponse {
    const pool = this.pool(req);
    return this.listResponse("nodes", req, [...pool.nodes.values()].map((n) => this.renderNode(pool, n)));
  }

  private getNode(req: BatchRequest): AzureResponse {
    const pool = this.pool(req);
    const node = this.node(req, pool);
    return this.entityResponse("nodes", this.renderNode(pool, node), req);
  }

  /** Reboot and reimage need a node that has finished joining and is not already restarting. */
  private checkRestartable(node: NodeRecord): void {
    const busy: Partial<Record<string, [string, string]>> = {
      creating: ["NodeBeingCreated", "The specified node is being created."],
      starting: ["NodeBeingStarted", "The specified node is being started."],
      rebooting: ["NodeBeingRebooted", "The specified node is being rebooted."],
      reimaging: ["NodeBeingReimaged", "The specified node is being reimaged."],
      leavingpool: ["OperationNotValidOnNode", "The specified operation is not valid on the node."],
    };
    const hit = busy[node.state];
    if (hit) throw new ServiceError(409, hit[0], hit[1]);
  }

  private rebootNode(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    const node = this.node(req, pool);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    const option = this.deallocation(body.nodeRebootOption, "nodeRebootOption");
    this.checkRestartable(node);
    this.sim.rebootNode(req.account, pool, node, option);
    return this.accepted(202, req);
  }

  /** Reimage exists only for CloudServiceConfiguration pools; Batch refuses it on VirtualMachineConfiguration pools. */
  private reimageNode(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    const node = this.node(req, pool);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    const option = this.deallocation(body.nodeReimageOption, "nodeReimageOption");
    if (!pool.cloudServiceConfiguration) {
      throw new ServiceError(409, "OperationNotValidOnNode", "The specified operation is not valid on the node.", {
        values: [{ key: "Reason", value: "Reimage is not supported on nodes of pools with VirtualMachineConfiguration." }],
      });
    }
    this.checkRestartable(node);
    this.sim.reimageNode(req.account, pool, node, option);
    return this.accepted(202, req);
  }

  private disableScheduling(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    const node = this.node(req, pool);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    const option = this.deallocation(body.nodeDisableSchedulingOption, "nodeDisableSchedulingOption", ["requeue", "terminate", "taskcompletion"]);
    if (node.schedulingState === "disabled") throw new ServiceError(409, "NodeAlreadyInTargetSchedulingState", "The specified node is already in the target scheduling state.");
    this.sim.disableScheduling(req.account, node, option as "requeue" | "terminate" | "taskcompletion" | undefined);
    return this.accepted(200, req);
  }

  private enableScheduling(req: BatchRequest): AzureResponse {
    const pool = this.activePool(req);
    const node = this.node(req, pool);
    if (node.schedulingState === "enabled") throw new ServiceError(409, "NodeAlreadyInTargetSchedulingState", "The specified node is already in the target scheduling state.");
    this.sim.enableScheduling(req.account, node);
    return this.accepted(200, req);
  }

  private listNodeFiles(req: BatchRequest): AzureResponse {
    const pool = this.pool(req);
    const node = this.node(req, pool);
    const recursive = (req.query.get("recursive") ?? "false").toLowerCase() === "true";
    const base = `${this.sim.nodeUrl(pool, node)}/files`;
    const files = this.sim
      .nodeFiles(pool, node)
      .filter((f) => recursive || !f.name.includes("/"))
      .map((f) =>
        compact({
          name: f.name,
          url: `${base}/${f.name}`,
          isDirectory: f.isDirectory,
          properties: {
            creationTime: f.created,
            lastModified: f.created,
            contentLength: f.size,
            ...(f.isDirectory ? {} : { contentType: "application/octet-stream" }),
            fileMode: f.isDirectory ? "0o40755" : "0o100644",
          },
        }),
      );
    return this.listResponse("files", req, files);
  }

  private getNodeFile(req: BatchRequest, withContent: boolean): AzureResponse {
    const pool = this.pool(req);
    const node = this.node(req, pool);
    const name = decodeURIComponent(req.params.filePath).replace(/^\/+|\/+$/g, "");
    const file = this.sim.nodeFiles(pool, node).find((f) => f.name === name);
    if (!file) throw notFound("FileNotFound", "The specified file does not exist.");
    const content = node.sim.files.get(name)?.content ?? Buffer.alloc(0);
    const headers = {
      "content-type": file.isDirectory ? "application/octet-stream" : "application/octet-stream",
      "last-modified": new Date(file.created).toUTCString(),
      "ocp-creation-time": new Date(file.created).toUTCString(),
      "ocp-batch-file-isdirectory": String(file.isDirectory),
      "ocp-batch-file-url": `${this.sim.nodeUrl(pool, node)}/files/${name}`,
      "ocp-batch-file-mode": file.isDirectory ? "0o40755" : "0o100644",
    };
    if (!withContent) return { status: 200, headers };
    return { status: 200, headers, body: content };
  }

  // ---------------------------------------------------------------- jobs and tasks

  private listJobs(req: BatchRequest): AzureResponse {
    return this.listResponse("jobs", req, [...req.account.jobs.values()].map((j) => this.renderJob(j)));
  }

  private getJob(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    this.checkConditions(req, job.eTag, job.lastModified, true);
    return this.entityResponse("jobs", this.renderJob(job), req, job.eTag, job.lastModified);
  }

  private addJob(req: BatchRequest): AzureResponse {
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    if (typeof body.id !== "string" || !body.id) throw missingProperty("id");
    if (!body.poolInfo || typeof body.poolInfo !== "object") throw missingProperty("poolInfo");
    if (findKey(req.account.jobs, body.id)) throw new ServiceError(409, "JobExists", "The specified job already exists.");
    const job = this.sim.addJob(req.account, body);
    const url = `${this.sim.state.url}/jobs/${job.id}`;
    return { status: 201, headers: this.headers(job.eTag, job.lastModified, { dataserviceid: url, location: url }) };
  }

  private deleteJob(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    this.checkConditions(req, job.eTag, job.lastModified, false);
    job.state = "deleting";
    for (const task of job.tasks.values()) if (task.state === "running") this.sim.terminateTask(req.account, job, task);
    this.sim.clock.after(1, () => req.account.jobs.delete(job.id));
    return this.accepted(202, req);
  }

  private taskCounts(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    const counts = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    const slots = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
    for (const t of job.tasks.values()) {
      const state = t.state === "preparing" ? "running" : t.state;
      counts[state]++;
      slots[state] += t.requiredSlots;
      if (t.state === "completed") {
        const ok = t.executionInfo.result === "success";
        counts[ok ? "succeeded" : "failed"]++;
        slots[ok ? "succeeded" : "failed"] += t.requiredSlots;
      }
    }
    return { status: 200, headers: this.headers(), body: { "odata.metadata": this.metadata("taskcounts", true), taskCounts: counts, taskSlotCounts: slots } };
  }

  private validateTask(job: JobRecord, body: Json): ServiceError | undefined {
    if (typeof body.id !== "string" || !body.id) return missingProperty("id");
    if (typeof body.commandLine !== "string") return missingProperty("commandLine");
    if (!/^[\w-]{1,64}$/.test(body.id)) return invalidProperty("id", body.id, "The id may contain only letters, digits, hyphens and underscores, at most 64 characters.");
    if (findKey(job.tasks, body.id)) return new ServiceError(409, "TaskExists", "The specified task already exists.");
    return undefined;
  }

  private jobAcceptingTasks(job: JobRecord): void {
    if (job.state === "completed") throw new ServiceError(409, "JobCompleted", "The specified job is already in a completed state.");
    if (job.state === "deleting") throw new ServiceError(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being garbage collected.");
    if (job.state === "terminating") throw new ServiceError(409, "JobBeingTerminated", "The specified job is being terminated.");
  }

  private addTask(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    this.jobAcceptingTasks(job);
    const body = jsonBody<Json>(req, "InvalidRequestBody");
    const error = this.validateTask(job, body);
    if (error) throw error;
    const task = this.sim.addTask(req.account, job, body);
    this.sim.schedule(req.account);
    const url = this.sim.taskUrl(job, task);
    return { status: 201, headers: this.headers(task.eTag, task.lastModified, { dataserviceid: url, location: url }) };
  }

  private addTaskCollection(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    this.jobAcceptingTasks(job);
    const body = jsonBody<{ value?: Json[] }>(req, "InvalidRequestBody");
    if (!Array.isArray(body.value)) throw missingProperty("value");
    if (body.value.length > 100) throw new ServiceError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.");
    const results = body.value.map((params) => {
      const error = this.validateTask(job, params);
      if (error) {
        return {
          status: error.status >= 500 ? "servererror" : "clienterror",
          taskId: String(params.id ?? ""),
          error: { code: error.code, message: { lang: "en-US", value: error.message }, ...(error.extra.values ? { values: error.extra.values } : {}) },
        };
      }
      const task = this.sim.addTask(req.account, job, params);
      return { status: "success", taskId: task.id, eTag: task.eTag, lastModified: task.lastModified, location: this.sim.taskUrl(job, task) };
    });
    this.sim.schedule(req.account);
    return { status: 200, headers: this.headers(), body: { "odata.metadata": this.metadata("taskaddresult", false), value: results } };
  }

  private listTasks(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    return this.listResponse("tasks", req, [...job.tasks.values()].map((t) => this.renderTask(job, t)));
  }

  private getTask(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    const task = this.task(req, job);
    this.checkConditions(req, task.eTag, task.lastModified, true);
    return this.entityResponse("tasks", this.renderTask(job, task), req, task.eTag, task.lastModified);
  }

  private terminateTask(req: BatchRequest): AzureResponse {
    const job = this.job(req);
    const task = this.task(req, job);
    this.checkConditions(req, task.eTag, task.lastModified, false);
    if (task.state === "completed") throw new ServiceError(409, "TaskCompleted", "The specified task is already in a completed state.");
    this.sim.terminateTask(req.account, job, task);
    return this.accepted(204, req, task.eTag, task.lastModified);
  }
}
