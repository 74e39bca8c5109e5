/** Compute node routes: list, get, reboot, reimage, scheduling, node files. */
import { ServiceError, jsonBody, type AzureResponse } from "../http";
import type { BatchSimulation } from "./simulation";
import { type Json, type NodeRecord } from "./state";
import { renderNode } from "./render";
import { type BatchRequest, accepted, activePoolOf, compact, deallocation, entityResponse, listResponse, nodeOf, notFound, poolOf } from "./responses";

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

export function listNodeFiles(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  const node = nodeOf(req, pool);
  const recursive = (req.query.get("recursive") ?? "false").toLowerCase() === "true";
  const base = `${sim.nodeUrl(pool, node)}/files`;
  const files = sim
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
  return listResponse(sim, "files", req, files);
}

export function getNodeFile(sim: BatchSimulation, req: BatchRequest, withContent: boolean): AzureResponse {
  const pool = poolOf(req);
  const node = nodeOf(req, pool);
  const name = decodeURIComponent(req.params.filePath).replace(/^\/+|\/+$/g, "");
  const file = sim.nodeFiles(pool, node).find((f) => f.name === name);
  if (!file) throw notFound("FileNotFound", "The specified file does not exist.");
  const content = node.sim.files.get(name)?.content ?? Buffer.alloc(0);
  const headers = {
    "content-type": file.isDirectory ? "application/octet-stream" : "application/octet-stream",
    "last-modified": new Date(file.created).toUTCString(),
    "ocp-creation-time": new Date(file.created).toUTCString(),
    "ocp-batch-file-isdirectory": String(file.isDirectory),
    "ocp-batch-file-url": `${sim.nodeUrl(pool, node)}/files/${name}`,
    "ocp-batch-file-mode": file.isDirectory ? "0o40755" : "0o100644",
  };
  if (!withContent) return { status: 200, headers };
  return { status: 200, headers, body: content };
}
