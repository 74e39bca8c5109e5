/**
 * The Batch data plane (api-version 2022-10-01.16.0, as @azure/batch 10.2.0
 * sends it): SharedKey or Entra bearer authentication, then pools, nodes,
 * node files, jobs and tasks, with OData $filter / $select, paging through
 * odata.nextLink, ETags and conditional headers, and errors in Batch's shape.
 * This module is the router and authentication; responses.ts answers,
 * render.ts shapes records, and pool-, node- and job-routes.ts hold the routes.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Router, ServiceError, type AzureRequest, type AzureResponse } from "../http";
import type { EntraService } from "../entra";
import { authenticateBearer } from "../arm/core";
import * as account from "./account-routes";
import * as files from "./file-routes";
import * as jobs from "./job-routes";
import * as nodes from "./node-routes";
import { invalidQueryParameter } from "./odata";
import { batchOperationId } from "./operations";
import * as pools from "./pool-routes";
import { headers, type BatchHandler, type BatchRequest } from "./responses";
import { verifySharedKey } from "./sharedkey";
import type { BatchSimulation } from "./simulation";
import { findKey, type BatchAccountRecord } from "./state";

export { invalidPackageReferences } from "./responses";

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

export class BatchDataPlane {
  private readonly router = new Router();

  constructor(
    private readonly sim: BatchSimulation,
    private readonly entra: EntraService,
  ) {
    const r = (method: string, template: string, handler: BatchHandler) => this.router.add(method, template, (req) => handler(req as BatchRequest));
    r("GET", "/applications", (req) => account.listApplications(sim, req));
    r("GET", "/applications/{applicationId}", (req) => account.getApplication(sim, req));
    r("GET", "/nodecounts", (req) => account.listPoolNodeCounts(sim, req));
    r("GET", "/pools", (req) => pools.listPools(sim, req));
    r("POST", "/pools", (req) => pools.addPool(sim, req));
    r("GET", "/pools/{poolId}", (req) => pools.getPool(sim, req));
    r("HEAD", "/pools/{poolId}", (req) => pools.poolExists(sim, req));
    r("PATCH", "/pools/{poolId}", (req) => pools.patchPool(sim, req));
    r("DELETE", "/pools/{poolId}", (req) => pools.deletePool(sim, req));
    r("POST", "/pools/{poolId}/updateproperties", (req) => pools.updatePoolProperties(sim, req));
    r("POST", "/pools/{poolId}/resize", (req) => pools.resizePool(sim, req));
    r("POST", "/pools/{poolId}/stopresize", (req) => pools.stopResize(sim, req));
    r("POST", "/pools/{poolId}/enableautoscale", (req) => pools.enableAutoScale(sim, req));
    r("POST", "/pools/{poolId}/disableautoscale", (req) => pools.disableAutoScale(sim, req));
    r("POST", "/pools/{poolId}/evaluateautoscale", (req) => pools.evaluateAutoScale(sim, req));
    r("POST", "/pools/{poolId}/removenodes", (req) => pools.removeNodes(sim, req));
    r("GET", "/pools/{poolId}/nodes", (req) => nodes.listNodes(sim, req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}", (req) => nodes.getNode(sim, req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/reboot", (req) => nodes.rebootNode(sim, req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/reimage", (req) => nodes.reimageNode(sim, req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/disablescheduling", (req) => nodes.disableScheduling(sim, req));
    r("POST", "/pools/{poolId}/nodes/{nodeId}/enablescheduling", (req) => nodes.enableScheduling(sim, req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}/files", (req) => files.listNodeFiles(sim, req));
    r("GET", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", (req) => files.getNodeFile(sim, req, true));
    r("HEAD", "/pools/{poolId}/nodes/{nodeId}/files/{filePath}", (req) => files.getNodeFile(sim, req, false));
    r("GET", "/jobs", (req) => jobs.listJobs(sim, req));
    r("POST", "/jobs", (req) => jobs.addJob(sim, req));
    r("GET", "/jobs/{jobId}", (req) => jobs.getJob(sim, req));
    r("DELETE", "/jobs/{jobId}", (req) => jobs.deleteJob(sim, req));
    r("PATCH", "/jobs/{jobId}", (req) => jobs.patchJob(sim, req));
    r("POST", "/jobs/{jobId}/terminate", (req) => jobs.terminateJob(sim, req));
    r("GET", "/jobs/{jobId}/taskcounts", (req) => jobs.taskCounts(sim, req));
    r("POST", "/jobs/{jobId}/tasks", (req) => jobs.addTask(sim, req));
    r("POST", "/jobs/{jobId}/addtaskcollection", (req) => jobs.addTaskCollection(sim, req));
    r("GET", "/jobs/{jobId}/tasks", (req) => jobs.listTasks(sim, req));
    r("GET", "/jobs/{jobId}/tasks/{taskId}", (req) => jobs.getTask(sim, req));
    r("POST", "/jobs/{jobId}/tasks/{taskId}/terminate", (req) => jobs.terminateTask(sim, req));
    r("DELETE", "/jobs/{jobId}/tasks/{taskId}", (req) => jobs.deleteTask(sim, req));
    r("POST", "/jobs/{jobId}/tasks/{taskId}/reactivate", (req) => jobs.reactivateTask(sim, req));
    r("GET", "/jobs/{jobId}/tasks/{taskId}/files", (req) => files.listTaskFiles(sim, req));
    r("GET", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}", (req) => files.getTaskFile(sim, req, true));
    r("HEAD", "/jobs/{jobId}/tasks/{taskId}/files/{filePath}", (req) => files.getTaskFile(sim, req, false));
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
    const fileMatch = /^(\/pools\/[^/]+\/nodes\/[^/]+\/files\/|\/jobs\/[^/]+\/tasks\/[^/]+\/files\/)(.+)$/i.exec(req.path);
    const path = fileMatch ? `${fileMatch[1]}${encodeURIComponent(decodeURIComponent(fileMatch[2]))}` : req.path;
    const match = this.router.match(req.method, path);
    if (!match || "methodNotAllowed" in match) {
      // An operation of the API that the local Batch does not implement says so, naming it; a 404 would read as "not found".
      const operationId = batchOperationId(req.method, path);
      if (operationId) {
        throw new ServiceError(501, "NotImplemented", `The local Batch service does not implement the operation ${operationId} (${req.method} ${req.path}).`, {
          values: [{ key: "OperationId", value: operationId }],
        });
      }
      if (!match) throw new ServiceError(404, "ResourceNotFound", "The specified resource does not exist.");
      throw new ServiceError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
    }
    req.params = match.params;
    (req as BatchRequest).account = account;
    return { ...(await match.route.handler(req)), route: match.route.name };
  }

  /**
   * Headers of every answer: `request-id` is the service's own (set by the
   * host), and the client's `client-request-id` comes back only when the
   * request asks with `return-client-request-id: true`, as Batch does.
   */
  answerHeaders(requestHeaders: IncomingHttpHeaders): Record<string, string> {
    const clientId = requestHeaders["client-request-id"];
    const wanted = String(requestHeaders["return-client-request-id"] ?? "").toLowerCase() === "true";
    return wanted && typeof clientId === "string" ? { "client-request-id": clientId } : {};
  }

  /** Batch's error body, with the same odata.metadata base and headers (content type, dataserviceversion) as its successes. */
  renderError(err: ServiceError, requestId: string): { body: unknown; headers: Record<string, string> } {
    return {
      body: {
        "odata.metadata": `${this.sim.state.url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
        code: err.code,
        message: { lang: "en-US", value: `${err.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}` },
        ...(err.extra.values ? { values: err.extra.values } : {}),
      },
      headers: { ...headers(), ...(err.extra.headers ?? {}) },
    };
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
}
