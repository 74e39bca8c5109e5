/**
 * The runtime's Batch data-plane seam as what BatchPoolCycle needs: the roll's
 * PoolCycleBatchOps (the seam's pool and node shapes pass through), the
 * account's pool ids for the message about a pool that does not exist, the
 * end of a node's file for a start task that failed, and the applications'
 * default versions from the management plane. Retries are the runtime's
 * (its policy sits in each client's pipeline).
 */
import type { BatchData, CallOptions } from "../../runtime/batch-data";
import { batchReason, isBatchNotFound } from "../../runtime/batch-data";
import type { ResolvedBatchAccount } from "../../runtime/batch";
import { batchManagementClient } from "../../runtime/clients";
import { errorStatus, NotAuthorizedError, NotFoundError } from "../../runtime/errors";
import type { RetryOptions } from "../../runtime/retry";
import type { AzureSession } from "../../runtime/session";
import type { DefaultVersionLookup } from "./outdated";
import type { PoolCycleBatchOps, PoolView } from "./ops";

export interface PoolCycleBatch extends PoolCycleBatchOps {
  /** The ids of the account's pools. */
  listPoolIds(options?: CallOptions): Promise<string[]>;
  /** The last `maxBytes` of a file on a node (a start task's stderr), as UTF-8; empty when the file is. */
  readNodeFileTail(poolId: string, nodeId: string, filePath: string, maxBytes: number, options?: CallOptions): Promise<string>;
}

/** What the roll reads of a node: the rest of ComputeNode stays on the wire. */
const NODE_FIELDS = "id,state,schedulingState,isDedicated,runningTasksCount,lastBootTime,stateTransitionTime,startTaskInfo,errors";
/** Pool_RemoveNodes takes at most 100 nodes a call. */
const REMOVE_CHUNK = 100;

/** Whether a Batch failure says the pool does not exist. */
export function isPoolNotFound(error: unknown): boolean {
  return batchReason(error) === "PoolNotFound" || (isBatchNotFound(error) && batchReason(error) !== "NodeNotFound");
}

export function poolCycleBatch(batch: BatchData): PoolCycleBatch {
  return {
    getPool: async (poolId, o): Promise<PoolView> => {
      const p = await batch.getPool(poolId, o);
      return { ...p, configuration: p.virtualMachineConfiguration ? "virtualMachine" : p.cloudServiceConfiguration ? "cloudService" : undefined };
    },
    listNodes: (poolId, o) => batch.listNodes(poolId, { ...o, select: NODE_FIELDS }),
    listApplicationFiles: (poolId, nodeId, o) => batch.listNodeFiles(poolId, nodeId, { ...o, recursive: true, filter: "startswith(name,'applications')" }),
    rebootNode: (poolId, nodeId, option, o) => batch.rebootNode(poolId, nodeId, option, o),
    reimageNode: (poolId, nodeId, option, o) => batch.reimageNode(poolId, nodeId, option, o),
    disableScheduling: (poolId, nodeId, option, o) => batch.disableNodeScheduling(poolId, nodeId, option, o),
    enableScheduling: (poolId, nodeId, o) => batch.enableNodeScheduling(poolId, nodeId, o),
    removeNodes: async (poolId, nodeIds, option, o) => {
      for (let i = 0; i < nodeIds.length; i += REMOVE_CHUNK) await batch.removeNodes(poolId, nodeIds.slice(i, i + REMOVE_CHUNK), option, o);
    },
    resizePool: (poolId, target, o) => batch.resizePool(poolId, target, o),
    stopResizePool: (poolId, o) => batch.stopResizePool(poolId, o),
    enableAutoScale: (poolId, a, o) => batch.enableAutoScale(poolId, { autoScaleFormula: a.formula, ...(a.evaluationInterval ? { autoScaleEvaluationInterval: a.evaluationInterval } : {}) }, o),
    disableAutoScale: (poolId, o) => batch.disableAutoScale(poolId, o),

    // The seam has no pool list; the node counts list every pool of the account.
    listPoolIds: async (o) => (await batch.listPoolNodeCounts(o)).map((c) => c.poolId),

    readNodeFileTail: async (poolId, nodeId, filePath, maxBytes, o) => {
      const folder = filePath.includes("/") ? filePath.slice(0, filePath.lastIndexOf("/") + 1) : "";
      const files = await batch.listNodeFiles(poolId, nodeId, { ...o, recursive: true, filter: `startswith(name,'${folder.replace(/'/g, "''")}')` });
      const length = files.find((f) => f.name === filePath)?.contentLength ?? 0;
      if (length === 0) return "";
      const data = await batch.readNodeFile(poolId, nodeId, filePath, { ...o, range: { start: Math.max(0, length - maxBytes), endInclusive: length - 1 } });
      return data.toString("utf8");
    },
  };
}

/** The names of the Batch accounts in a resource group (for the message about one that is not there). */
export async function batchAccountNames(session: AzureSession, resourceGroup: string): Promise<string[]> {
  const names: string[] = [];
  for await (const a of batchManagementClient(session).batchAccountOperations.listByResourceGroup(resourceGroup)) if (a.name) names.push(a.name);
  return names;
}

/** The applications' default versions, from the account's management plane (the data plane does not say). */
export function defaultVersionLookup(session: AzureSession, account: ResolvedBatchAccount, options: { retry?: RetryOptions; signal?: AbortSignal } = {}): DefaultVersionLookup {
  // The account's own subscription: a resource id may name another than the connection's.
  const client = batchManagementClient(session, { retry: options.retry, ...(account.subscriptionId ? { subscriptionId: account.subscriptionId } : {}) });
  return async (applicationId) => {
    try {
      return (await client.applicationOperations.get(account.resourceGroup, account.name, applicationId, { abortSignal: options.signal })).defaultVersion ?? undefined;
    } catch (e) {
      if (errorStatus(e) === 404) throw new NotFoundError({ kind: "application", name: applicationId, where: `Batch account '${account.name}' (a pool references it)`, cause: e });
      if (errorStatus(e) === 403) {
        throw new NotAuthorizedError({
          operation: `read application '${applicationId}' of Batch account '${account.name}' (for its default version)`,
          role: "Reader",
          action: "Microsoft.Batch/batchAccounts/applications/read",
          scope: "on the account",
          cause: e,
        });
      }
      throw e;
    }
  };
}
