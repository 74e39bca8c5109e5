/**
 * Account-level data-plane routes: the applications nodes can use
 * (Application_List / Application_Get: only active versions, and only
 * applications that have one) and node counts per pool by state
 * (Account_ListPoolNodeCounts).
 */
import type { AzureResponse } from "../http";
import { entityResponse, listResponse, notFound, type BatchRequest } from "./responses";
import type { BatchSimulation } from "./simulation";
import type { ApplicationRecord, NodeRecord, NodeState } from "./state";

function renderApplication(app: ApplicationRecord): Record<string, unknown> | undefined {
  const versions = [...app.versions.values()].filter((v) => v.state === "Active").map((v) => v.version);
  if (versions.length === 0) return undefined;
  return { id: app.name, displayName: app.displayName ?? app.name, versions };
}

export function listApplications(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const apps = [...req.account.applications.values()].map(renderApplication).filter((a): a is Record<string, unknown> => a !== undefined);
  return listResponse(sim, "applications", req, apps);
}

export function getApplication(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const app = req.account.applications.get(req.params.applicationId.toLowerCase());
  const rendered = app && renderApplication(app);
  if (!rendered) throw notFound("ApplicationNotFound", "The specified application does not exist.");
  return entityResponse(sim, "applications", rendered, req);
}

const COUNTED: Record<string, NodeState> = {
  creating: "creating",
  idle: "idle",
  offline: "offline",
  preempted: "preempted",
  rebooting: "rebooting",
  reimaging: "reimaging",
  running: "running",
  starting: "starting",
  startTaskFailed: "starttaskfailed",
  leavingPool: "leavingpool",
  unknown: "unknown",
  unusable: "unusable",
  waitingForStartTask: "waitingforstarttask",
};

function counts(nodes: NodeRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, state] of Object.entries(COUNTED)) out[name] = nodes.filter((n) => n.state === state).length;
  out.upgradingOS = 0;
  out.total = nodes.length;
  return out;
}

export function listPoolNodeCounts(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const pools = [...req.account.pools.values()].map((pool) => {
    const nodes = [...pool.nodes.values()];
    return { poolId: pool.id, dedicated: counts(nodes.filter((n) => n.isDedicated)), lowPriority: counts(nodes.filter((n) => !n.isDedicated)) };
  });
  return listResponse(sim, "poolnodecounts", req, pools);
}
