/** Microsoft.Batch pools on ARM (get, list, update, stopResize, disableAutoScale), in ARM's casing over the data plane's records. */
import { jsonBody } from "../http";
import type { PackageProblem } from "../batch/simulation";
import type { BatchAccountRecord, Json, PoolRecord } from "../batch/state";
import { ACCOUNT_TYPE, API_VERSIONS, BASE, batchError, type BatchArmContext } from "./batch-accounts";

const capitalize = (s: string | undefined) => (s ? s[0].toUpperCase() + s.slice(1) : s);
const ENUM_CASE: Record<string, string> = {
  nonadmin: "NonAdmin",
  admin: "Admin",
  task: "Task",
  pool: "Pool",
  taskcompletion: "TaskCompletion",
  retaineddata: "RetainedData",
  requeue: "Requeue",
  terminate: "Terminate",
  taskworkingdirectory: "TaskWorkingDirectory",
  containerimagedefault: "ContainerImageDefault",
};

/** Data-plane → ARM casing for the nested task shapes (userIdentity, containerSettings). */
function toArmTask(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toArmTask);
  if (!v || typeof v !== "object") return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    const key = k === "username" ? "userName" : k;
    out[key] = (k === "scope" || k === "elevationLevel" || k === "workingDirectory") && typeof x === "string" ? (ENUM_CASE[x.toLowerCase()] ?? x) : toArmTask(x);
  }
  return out;
}

/** ARM → data-plane casing. */
function toDataTask(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toDataTask);
  if (!v || typeof v !== "object") return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    const key = k === "userName" ? "username" : k;
    out[key] =
      (k === "scope" || k === "elevationLevel") && typeof x === "string"
        ? x.toLowerCase()
        : k === "workingDirectory" && typeof x === "string"
          ? x[0].toLowerCase() + x.slice(1)
          : toDataTask(x);
  }
  return out;
}

export function registerBatchPools(ctx: BatchArmContext): void {
  const { arm, sim, accountId, getAccount, getPool, appId, ok, page } = ctx;
  const renderPool = (a: BatchAccountRecord, pool: PoolRecord) => {
    let dedicated = 0;
    let lowPriority = 0;
    for (const n of pool.nodes.values()) n.isDedicated ? dedicated++ : lowPriority++;
    const vm = pool.virtualMachineConfiguration as (Json & { nodeAgentSKUId?: string }) | undefined;
    const { nodeAgentSKUId, ...vmRest } = vm ?? {};
    const last = pool.sim.lastResize;
    return {
      id: `${accountId(a)}/pools/${pool.id}`,
      name: pool.id,
      type: `${ACCOUNT_TYPE}/pools`,
      etag: `W/"${pool.eTag}"`,
      ...(pool.identity ? { identity: pool.identity } : {}),
      properties: {
        ...(pool.displayName ? { displayName: pool.displayName } : {}),
        lastModified: pool.lastModified,
        creationTime: pool.creationTime,
        provisioningState: pool.state === "deleting" ? "Deleting" : "Succeeded",
        provisioningStateTransitionTime: pool.stateTransitionTime,
        allocationState: capitalize(pool.allocationState),
        allocationStateTransitionTime: pool.allocationStateTransitionTime,
        vmSize: pool.vmSize.toUpperCase(),
        deploymentConfiguration: vm ? { virtualMachineConfiguration: { ...vmRest, nodeAgentSkuId: nodeAgentSKUId } } : { cloudServiceConfiguration: pool.cloudServiceConfiguration },
        currentDedicatedNodes: dedicated,
        currentLowPriorityNodes: lowPriority,
        scaleSettings: pool.enableAutoScale
          ? { autoScale: { formula: pool.autoScaleFormula ?? "", ...(pool.autoScaleEvaluationInterval ? { evaluationInterval: pool.autoScaleEvaluationInterval } : {}) } }
          : { fixedScale: { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes, resizeTimeout: pool.resizeTimeout } },
        ...(pool.autoScaleRun ? { autoScaleRun: { evaluationTime: pool.autoScaleRun.timestamp, ...(pool.autoScaleRun.results ? { results: pool.autoScaleRun.results } : {}) } } : {}),
        interNodeCommunication: pool.enableInterNodeCommunication ? "Enabled" : "Disabled",
        ...(pool.networkConfiguration ? { networkConfiguration: pool.networkConfiguration } : {}),
        taskSlotsPerNode: pool.taskSlotsPerNode,
        taskSchedulingPolicy: { nodeFillType: capitalize(pool.taskSchedulingPolicy.nodeFillType) },
        ...(pool.metadata.length ? { metadata: pool.metadata } : {}),
        ...(pool.startTask ? { startTask: toArmTask(pool.startTask) } : {}),
        ...(pool.applicationPackageReferences.length
          ? { applicationPackages: pool.applicationPackageReferences.map((r) => ({ id: appId(a, r.applicationId), ...(r.version ? { version: r.version } : {}) })) }
          : {}),
        ...(last && pool.allocationState !== "steady"
          ? {
              resizeOperationStatus: {
                targetDedicatedNodes: last.targetDedicatedNodes,
                targetLowPriorityNodes: last.targetLowPriorityNodes,
                resizeTimeout: last.resizeTimeout,
                nodeDeallocationOption: ENUM_CASE[last.nodeDeallocationOption],
                startTime: last.startTime,
              },
            }
          : {}),
        ...(pool.targetNodeCommunicationMode ? { targetNodeCommunicationMode: capitalize(pool.targetNodeCommunicationMode) } : {}),
        ...(pool.currentNodeCommunicationMode ? { currentNodeCommunicationMode: capitalize(pool.currentNodeCommunicationMode) } : {}),
      },
    };
  };
  // Pools.
  const POOL = `${ACCOUNT_TYPE}/pools`;
  const POOL_PATH = `${BASE}/{accountName}/pools/{poolName}`;
  const armPackageRefs = (a: BatchAccountRecord, refs: unknown) => {
    if (!Array.isArray(refs)) throw batchError(400, "InvalidRequestContent", "applicationPackages must be an array.");
    // The spec's ApplicationPackageReference list: "There is a maximum of 10 application package references on any given pool."
    if (refs.length > 10) throw batchError(400, "InvalidPropertyValue", `The value provided for one of the properties in the request body is invalid: applicationPackages has ${refs.length} references; a pool may reference at most 10 application packages.`, [{ code: "InvalidPropertyValue", message: "A pool may reference at most 10 application packages.", target: "applicationPackages" }]);
    const parsed = (refs as { id?: string; version?: string }[]).map((r) => {
      if (!r || typeof r.id !== "string" || !r.id) throw batchError(400, "InvalidRequestContent", "Each application package reference needs an id.");
      const m = /\/applications\/([^/]+)\/?$/i.exec(r.id);
      return { applicationId: m ? m[1] : r.id, ...(r.version ? { version: r.version } : {}) };
    });
    const { problems } = sim.resolvePackages(a, parsed);
    if (problems.length > 0) throw invalidReferences(a, problems);
    return parsed;
  };
  const invalidReferences = (a: BatchAccountRecord, problems: PackageProblem[]) =>
    batchError(
      409,
      "InvalidApplicationPackageReferences",
      "One or more application package references could not be satisfied. This occurs if the application id or version does not exist or is not active, or if the reference did not specify a version and there is no default version configured.",
      problems.map((p) => ({ code: "InvalidApplicationPackageReference", message: p.reason, target: `${appId(a, p.applicationId)}${p.version ? `:${p.version}` : ""}` })),
    );
  arm
    .add("GET", `${BASE}/{accountName}/pools`, { action: `${POOL}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      return page(req, [...a.pools.values()].map((p) => renderPool(a, p)));
    })
    .add("GET", POOL_PATH, { action: `${POOL}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("PATCH", POOL_PATH, { action: `${POOL}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      const ifMatch = req.headers["if-match"] as string | undefined;
      if (ifMatch && ifMatch !== "*" && ifMatch.replace(/^W\//, "").replace(/"/g, "") !== pool.eTag) {
        throw batchError(412, "PreconditionFailed", "The condition specified in the If-Match header was not met: the pool has changed.");
      }
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      const refs = props.applicationPackages !== undefined ? armPackageRefs(a, props.applicationPackages) : undefined;
      const scale = props.scaleSettings as { fixedScale?: Json; autoScale?: Json } | undefined;
      if (scale?.fixedScale && pool.allocationState !== "steady") throw batchError(409, "PoolBeingResized", "The specified pool is being resized.");
      if (refs) pool.applicationPackageReferences = refs;
      if (props.metadata !== undefined) pool.metadata = (props.metadata as PoolRecord["metadata"]) ?? [];
      if (props.startTask !== undefined) {
        const st = toDataTask(props.startTask) as Json | null;
        pool.startTask = st && st.commandLine ? (st as PoolRecord["startTask"]) : undefined;
      }
      if (props.certificates !== undefined) pool.certificateReferences = (props.certificates as Json[]) ?? [];
      if (props.targetNodeCommunicationMode !== undefined) pool.targetNodeCommunicationMode = String(props.targetNodeCommunicationMode).toLowerCase();
      if (scale?.autoScale) {
        if (typeof scale.autoScale.formula !== "string") throw batchError(400, "InvalidRequestContent", "scaleSettings.autoScale.formula is required.");
        sim.enableAutoScale(pool, scale.autoScale.formula, scale.autoScale.evaluationInterval as string | undefined);
      } else if (scale?.fixedScale) {
        if (pool.enableAutoScale) sim.disableAutoScale(pool);
        const f = scale.fixedScale;
        sim.resize(a, pool, {
          targetDedicatedNodes: (f.targetDedicatedNodes as number | undefined) ?? 0,
          targetLowPriorityNodes: (f.targetLowPriorityNodes as number | undefined) ?? 0,
          resizeTimeout: f.resizeTimeout as string | undefined,
          nodeDeallocationOption: f.nodeDeallocationOption ? (String(f.nodeDeallocationOption).toLowerCase() as never) : undefined,
        });
      }
      sim.touchPool(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("POST", `${POOL_PATH}/stopResize`, { action: `${POOL}/stopResize/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      sim.stopResize(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("POST", `${POOL_PATH}/disableAutoScale`, { action: `${POOL}/disableAutoScale/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      sim.disableAutoScale(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    });
}
