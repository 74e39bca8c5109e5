/**
 * Node and task file routes: list (recursive, $filter), get (with `ocp-range`
 * for a part such as a log's tail) and properties (HEAD), read from the
 * node's real directory. Task files are relative to the task directory
 * (stdout.txt, stderr.txt, wd/...), on the node the task last ran on.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ServiceError, type AzureResponse } from "../http";
import { taskDirectoryName, taskFiles, statFile, type NodeFile } from "./node-files";
import { compact, jobOf, listResponse, nodeOf, notFound, poolOf, taskOf, type BatchRequest } from "./responses";
import type { BatchSimulation } from "./simulation";
import { findKey, type NodeRecord } from "./state";

function renderFile(f: NodeFile, urlBase: string): Record<string, unknown> {
  return compact({
    name: f.name,
    url: `${urlBase}/${f.name}`,
    isDirectory: f.isDirectory,
    properties: {
      creationTime: f.created,
      lastModified: f.lastModified,
      contentLength: f.size,
      ...(f.isDirectory ? {} : { contentType: "application/octet-stream" }),
      fileMode: f.isDirectory ? "0o40755" : "0o100644",
    },
  });
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` (the last n bytes); undefined for the whole file. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) {
    throw new ServiceError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.", {
      values: [
        { key: "HeaderName", value: "ocp-range" },
        { key: "HeaderValue", value: header },
      ],
    });
  }
  if (m[1] === "") {
    const n = Math.min(Number(m[2]), size);
    return { start: size - n, end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size && size > 0) {
    throw new ServiceError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
  }
  return { start, end };
}

function fileResponse(req: BatchRequest, file: NodeFile & { fullPath: string }, url: string, withContent: boolean): AzureResponse {
  const range = file.isDirectory ? undefined : parseRange(req.headers["ocp-range"] as string | undefined, file.size);
  const content = file.isDirectory ? Buffer.alloc(0) : fs.readFileSync(file.fullPath);
  const body = range ? content.subarray(range.start, range.end + 1) : content;
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "last-modified": new Date(file.lastModified).toUTCString(),
    "ocp-creation-time": new Date(file.created).toUTCString(),
    "ocp-batch-file-isdirectory": String(file.isDirectory),
    "ocp-batch-file-url": url,
    "ocp-batch-file-mode": file.isDirectory ? "0o40755" : "0o100644",
  };
  // HEAD: the server sends the headers of the whole file (its content-length) and no body.
  return { status: 200, headers, body: withContent ? body : content };
}

const fileName = (req: BatchRequest) => decodeURIComponent(req.params.filePath).replace(/^\/+|\/+$/g, "");
const recursive = (req: BatchRequest) => (req.query.get("recursive") ?? "false").toLowerCase() === "true";

export function listNodeFiles(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pool = poolOf(req);
  const node = nodeOf(req, pool);
  const base = `${sim.nodeUrl(pool, node)}/files`;
  return listResponse(sim, "files", req, sim.nodeFiles(node, recursive(req)).map((f) => renderFile(f, base)));
}

export function getNodeFile(sim: BatchSimulation, req: BatchRequest, withContent: boolean): AzureResponse {
  const pool = poolOf(req);
  const node = nodeOf(req, pool);
  const name = fileName(req);
  const file = node.sim.rootDir ? statFile(node.sim.rootDir, name) : undefined;
  if (!file) throw notFound("FileNotFound", "The specified file does not exist.");
  return fileResponse(req, file, `${sim.nodeUrl(pool, node)}/files/${name}`, withContent);
}

/** The node a task's files are on: the one it runs or last ran on. */
function taskNode(req: BatchRequest): { node: NodeRecord; jobId: string; taskId: string } {
  const job = jobOf(req);
  const task = taskOf(req, job);
  const info = task.nodeInfo as { poolId?: string; nodeId?: string } | undefined;
  if (!info?.nodeId) {
    throw new ServiceError(409, "OperationInvalidForCurrentState", "The specified operation is not valid for the current state of the resource.", {
      values: [{ key: "Reason", value: "The task has not run on a compute node yet, so it has no files." }],
    });
  }
  const node = findKey(req.account.pools, info.poolId ?? "")?.nodes.get(info.nodeId);
  if (!node) throw notFound("NodeNotFound", "The specified node does not exist.");
  return { node, jobId: job.id, taskId: task.id };
}

export function listTaskFiles(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const { node, jobId, taskId } = taskNode(req);
  const base = `${sim.state.url}/jobs/${jobId}/tasks/${taskId}/files`;
  return listResponse(sim, "files", req, taskFiles(node, jobId, taskId, recursive(req)).map((f) => renderFile(f, base)));
}

export function getTaskFile(sim: BatchSimulation, req: BatchRequest, withContent: boolean): AzureResponse {
  const { node, jobId, taskId } = taskNode(req);
  const name = fileName(req);
  const file = node.sim.rootDir ? statFile(path.join(node.sim.rootDir, taskDirectoryName(jobId, taskId)), name) : undefined;
  if (!file) throw notFound("FileNotFound", "The specified file does not exist.");
  return fileResponse(req, file, `${sim.state.url}/jobs/${jobId}/tasks/${taskId}/files/${name}`, withContent);
}
