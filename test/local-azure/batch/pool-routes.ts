/** Pool routes: add, get, exists, list, patch, update properties, delete, resize, stop resize, autoscale, remove nodes. */
import { isKnownNodeAgentSku } from "./images";
import { ServiceError, jsonBody, type AzureResponse } from "../http";
import type { BatchSimulation } from "./simulation";
import { findKey, type Json, type PoolRecord } from "./state";
import { renderPool } from "./render";
import { evaluateOnPool } from "./autoscale/pool";
import { validateFormula } from "./autoscale";
import { type BatchRequest, accepted, activePoolOf, checkConditions, checkDuration, checkPackages, deallocation, entityResponse, headers, invalidProperty, listResponse, missingProperty, notFound, poolOf, requireSteady } from "./responses";

export function listPools(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  return listResponse(sim, "pools", req, [...req.account.pools.values()].map((p) => renderPool(sim, p)));
}

export function getPool(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, true);
  return entityResponse(sim, "pools", renderPool(sim, pool), req, pool.eTag, pool.lastModified);
}

export function poolExists(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = findKey(req.account.pools, req.params.poolId);
  if (!pool) return { status: 404, headers: headers() };
  checkConditions(req, pool.eTag, pool.lastModified, true);
  return { status: 200, headers: headers(pool.eTag, pool.lastModified) };
}

export function addPool(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (typeof body.id !== "string" || !body.id) throw missingProperty("id");
  if (typeof body.vmSize !== "string" || !body.vmSize) throw missingProperty("vmSize");
  if (!body.virtualMachineConfiguration && !body.cloudServiceConfiguration) throw missingProperty("virtualMachineConfiguration");
  const vm = body.virtualMachineConfiguration as Json | undefined;
  if (vm) {
    if (!vm.imageReference) throw missingProperty("virtualMachineConfiguration.imageReference");
    if (vm.nodeAgentSKUId === undefined) throw missingProperty("virtualMachineConfiguration.nodeAgentSKUId");
    if (!isKnownNodeAgentSku(vm.nodeAgentSKUId)) throw invalidProperty("nodeAgentSKUId", vm.nodeAgentSKUId, "The specified node agent sku is not supported.");
  }
  if (!/^[\w-]{1,64}$/.test(body.id)) throw invalidProperty("id", body.id, "The id may contain only letters, digits, hyphens and underscores, at most 64 characters.");
  if (findKey(req.account.pools, body.id)) throw new ServiceError(409, "PoolExists", "The specified pool already exists.");
  if (body.enableAutoScale && (body.targetDedicatedNodes !== undefined || body.targetLowPriorityNodes !== undefined)) {
    throw invalidProperty("targetDedicatedNodes", body.targetDedicatedNodes, "targetDedicatedNodes cannot be specified when enableAutoScale is true.");
  }
  if (body.enableAutoScale && !body.autoScaleFormula) throw missingProperty("autoScaleFormula");
  if (body.enableAutoScale) refuseInvalidFormula(body.autoScaleFormula);
  checkDuration("resizeTimeout", body.resizeTimeout, 300);
  checkPackages(sim, req.account, body.applicationPackageReferences);
  const pool = sim.addPool(req.account, body);
  return { status: 201, headers: headers(pool.eTag, pool.lastModified, { dataserviceid: sim.poolUrl(pool), location: sim.poolUrl(pool) }) };
}

export function patchPool(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  checkPackages(sim, req.account, body.applicationPackageReferences);
  if (body.startTask !== undefined) pool.startTask = (body.startTask ?? undefined) as PoolRecord["startTask"];
  if (body.certificateReferences !== undefined) pool.certificateReferences = (body.certificateReferences as Json[]) ?? [];
  if (body.applicationPackageReferences !== undefined) pool.applicationPackageReferences = (body.applicationPackageReferences as PoolRecord["applicationPackageReferences"]) ?? [];
  if (body.metadata !== undefined) pool.metadata = (body.metadata as PoolRecord["metadata"]) ?? [];
  if (body.targetNodeCommunicationMode !== undefined) pool.targetNodeCommunicationMode = body.targetNodeCommunicationMode as string;
  sim.touchPool(pool);
  return accepted(sim, 200, req, pool.eTag, pool.lastModified);
}

export function updatePoolProperties(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  for (const required of ["certificateReferences", "applicationPackageReferences", "metadata"]) if (!Array.isArray(body[required])) throw missingProperty(required);
  checkPackages(sim, req.account, body.applicationPackageReferences);
  pool.startTask = body.startTask as PoolRecord["startTask"];
  pool.certificateReferences = body.certificateReferences as Json[];
  pool.applicationPackageReferences = body.applicationPackageReferences as PoolRecord["applicationPackageReferences"];
  pool.metadata = body.metadata as PoolRecord["metadata"];
  pool.targetNodeCommunicationMode = (body.targetNodeCommunicationMode as string | undefined) ?? "default";
  sim.touchPool(pool);
  return accepted(sim, 204, req, pool.eTag, pool.lastModified);
}

export function deletePool(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  if (pool.state !== "deleting") sim.deletePool(req.account, pool);
  return accepted(sim, 202, req);
}

export function resizePool(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (pool.enableAutoScale) throw new ServiceError(409, "OperationNotValidOnPool", "The specified operation is not valid on the pool: it is configured for automatic scaling.");
  requireSteady(pool);
  for (const k of ["targetDedicatedNodes", "targetLowPriorityNodes"]) {
    const v = body[k];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) throw invalidProperty(k, v, "The value must be a non-negative integer.");
  }
  checkDuration("resizeTimeout", body.resizeTimeout, 300);
  sim.resize(req.account, pool, {
    targetDedicatedNodes: body.targetDedicatedNodes as number | undefined,
    targetLowPriorityNodes: body.targetLowPriorityNodes as number | undefined,
    resizeTimeout: body.resizeTimeout as string | undefined,
    nodeDeallocationOption: deallocation(body.nodeDeallocationOption, "nodeDeallocationOption"),
  });
  return accepted(sim, 202, req, pool.eTag, pool.lastModified);
}

export function stopResize(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  sim.stopResize(pool);
  return accepted(sim, 202, req, pool.eTag, pool.lastModified);
}

export function enableAutoScale(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (pool.sim.resize) requireSteady(pool);
  if (!pool.enableAutoScale && !body.autoScaleFormula) throw missingProperty("autoScaleFormula");
  if (body.autoScaleFormula !== undefined && typeof body.autoScaleFormula !== "string") throw invalidProperty("autoScaleFormula", body.autoScaleFormula, "Expected a string.");
  if (typeof body.autoScaleFormula === "string" && body.autoScaleFormula.length > 8192) {
    throw new ServiceError(400, "AutoScalingFormulaTooLong", "The specified auto-scaling formula exceeds lengths limit.");
  }
  checkDuration("autoScaleEvaluationInterval", body.autoScaleEvaluationInterval, 300);
  if (body.autoScaleFormula !== undefined) refuseInvalidFormula(body.autoScaleFormula);
  sim.enableAutoScale(pool, body.autoScaleFormula as string | undefined, body.autoScaleEvaluationInterval as string | undefined);
  return accepted(sim, 200, req, pool.eTag, pool.lastModified);
}

export function disableAutoScale(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  sim.disableAutoScale(pool);
  return accepted(sim, 200, req, pool.eTag, pool.lastModified);
}

/**
 * Batch refuses a formula that does not parse or type-check (syntax, unknown
 * variable, type mismatch) with 400 and the failing position; failures that
 * depend on the pool's data (too few samples) only show in its autoScaleRun.
 */
function refuseInvalidFormula(formula: unknown): void {
  const error = typeof formula === "string" ? validateFormula(formula) : undefined;
  if (!error) return;
  const run = error.toRunError();
  throw new ServiceError(400, run.code, run.message, { values: run.values.map((v) => ({ key: v.name, value: v.value })) });
}

/** Evaluates a formula on the pool's data without applying it; formula errors come back inside the AutoScaleRun. */
export function evaluateAutoScale(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (typeof body.autoScaleFormula !== "string") throw missingProperty("autoScaleFormula");
  // The docs: "The Pool must have auto scaling enabled in order to evaluate a formula." The code is unconfirmed.
  if (!pool.enableAutoScale) throw new ServiceError(409, "OperationNotValidOnPool", "The specified operation is not valid on the pool: automatic scaling is not enabled on it.");
  const run = evaluateOnPool(sim, pool, body.autoScaleFormula);
  return {
    status: 200,
    headers: headers(pool.eTag, pool.lastModified, { dataserviceid: `${sim.state.url}${req.path}` }),
    body: { "odata.metadata": `${sim.state.url}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun`, ...run },
  };
}

export function removeNodes(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  checkConditions(req, pool.eTag, pool.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (!Array.isArray(body.nodeList)) throw missingProperty("nodeList");
  if (body.nodeList.length === 0 || body.nodeList.length > 100) throw invalidProperty("nodeList", body.nodeList.length, "Between 1 and 100 nodes may be removed in one request.");
  checkDuration("resizeTimeout", body.resizeTimeout, 300);
  const option = deallocation(body.nodeDeallocationOption, "nodeDeallocationOption");
  requireSteady(pool);
  const nodes = (body.nodeList as string[]).map((id) => {
    const node = pool.nodes.get(id);
    if (!node) throw notFound("NodeNotFound", "The specified node does not exist.");
    return node;
  });
  sim.removeNodes(req.account, pool, nodes, option, body.resizeTimeout as string | undefined);
  return accepted(sim, 202, req, pool.eTag, pool.lastModified);
}
