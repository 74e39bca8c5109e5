/** Compute node routes: list, get, reboot, reimage, scheduling, node files. */
import { ServiceError, jsonBody, type AzureResponse } from "../http";
import type { BatchSimulation } from "./simulation";
import { type Json, type NodeRecord } from "./state";
import { renderNode } from "./render";
import { type BatchRequest, accepted, activePoolOf, deallocation, entityResponse, listResponse, nodeOf, poolOf } from "./responses";

export function listNodes(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  return listResponse(sim, "nodes", req, [...pool.nodes.values()].map((n) => renderNode(sim, pool, n)));
}

export function getNode(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  const node = nodeOf(req, pool);
  return entityResponse(sim, "nodes", renderNode(sim, pool, node), req);
}

/** Reboot and reimage need a node that has finished joining and is not already restarting. */
export function checkRestartable(node: NodeRecord): void {
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

export function rebootNode(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  const node = nodeOf(req, pool);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  const option = deallocation(body.nodeRebootOption, "nodeRebootOption");
  checkRestartable(node);
  sim.rebootNode(req.account, pool, node, option);
  return accepted(sim, 202, req);
}

/** Reimage exists only for CloudServiceConfiguration pools; Batch refuses it on VirtualMachineConfiguration pools. */
export function reimageNode(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  const node = nodeOf(req, pool);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  const option = deallocation(body.nodeReimageOption, "nodeReimageOption");
  if (!pool.cloudServiceConfiguration) {
    throw new ServiceError(409, "OperationNotValidOnNode", "The specified operation is not valid on the node.", {
      values: [{ key: "Reason", value: "Reimage is not supported on nodes of pools with VirtualMachineConfiguration." }],
    });
  }
  checkRestartable(node);
  sim.reimageNode(req.account, pool, node, option);
  return accepted(sim, 202, req);
}

export function disableScheduling(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  const node = nodeOf(req, pool);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  const option = deallocation(body.nodeDisableSchedulingOption, "nodeDisableSchedulingOption", ["requeue", "terminate", "taskcompletion"]);
  if (node.schedulingState === "disabled") throw new ServiceError(409, "NodeAlreadyInTargetSchedulingState", "The specified node is already in the target scheduling state.");
  sim.disableScheduling(req.account, node, option as "requeue" | "terminate" | "taskcompletion" | undefined);
  return accepted(sim, 200, req);
}

export function enableScheduling(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = activePoolOf(req);
  const node = nodeOf(req, pool);
  if (node.schedulingState === "enabled") throw new ServiceError(409, "NodeAlreadyInTargetSchedulingState", "The specified node is already in the target scheduling state.");
  sim.enableScheduling(req.account, node);
  return accepted(sim, 200, req);
}
