/**
 * BatchPoolCycle's one adapter to Azure: the Batch data plane (@azure/batch)
 * as the narrow PoolCycleBatchOps the roll needs, and the applications'
 * default versions from the management plane. Every call goes through
 * callWithRetries; a call that still fails is thrown as a BatchCallError
 * that names what was asked, with Batch's code, status and request id.
 */
import { BatchServiceClient, type CloudPool, type ComputeNode, type ComputeNodeError } from "@azure/batch";
import { AzureIdentityCredentialAdapter, type AbortSignalLike } from "@azure/ms-rest-js";
import { batchManagementClient, type ResolvedBatchAccount } from "../../runtime/batch";
import { describeError, errorCode, errorStatus } from "../../runtime/errors";
import type { AzureSession } from "../../runtime/session";
import type { DefaultVersionLookup } from "./outdated";
import type { CallOptions, NodeErrorInfo, NodeFileView, NodeView, PoolCycleBatchOps, PoolView } from "./ops";
import { callWithRetries, type CallKind, type RetryPolicy } from "./retries";

/** A Batch call that failed: `reason` is Batch's error code (what the roll matches on). */
export class BatchCallError extends Error {
  constructor(
    message: string,
    readonly reason: string | undefined,
    readonly statusCode: number | undefined,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = "BatchCallError";
  }
}

export interface PoolCycleBatch extends PoolCycleBatchOps {
  /** The ids of the account's pools (for the message about a pool that does not exist). */
  listPoolIds(options?: CallOptions): Promise<string[]>;
  /** The last `maxBytes` of a file on a node (a start task's stderr), as UTF-8. */
  readNodeFileTail(poolId: string, nodeId: string, filePath: string, maxBytes: number, options?: CallOptions): Promise<string>;
}

/**
 * A Batch failure in one line: code, status, Batch's message, its `values`
 * (a Reason says why) and the request id. @azure/batch leaves Batch's message
 * object ({ lang, value }) in `message`, so it is made a string first.
 */
export function describeBatchError(error: unknown): string {
  const e = error as { message?: unknown; body?: { values?: { key?: string; value?: string }[] } } | undefined;
  let plain = error;
  if (error instanceof Error && typeof e?.message !== "string") {
    const value = (e?.message as { value?: unknown } | undefined)?.value;
    plain = Object.assign(new Error(typeof value === "string" ? value : JSON.stringify(e?.message)), {
      code: (error as { code?: unknown }).code,
      statusCode: (error as { statusCode?: unknown }).statusCode,
      response: (error as { response?: unknown }).response,
    });
  }
  const values = (e?.body?.values ?? []).filter((v) => v.key && v.value).map((v) => `${v.key}: ${v.value}`);
  const text = describeError(plain);
  if (!values.length) return text;
  // Keep the request id last: `... (Reason: ...) [request id ...]`.
  const at = text.lastIndexOf(" [request id ");
  return at >= 0 ? `${text.slice(0, at)} (${values.join("; ")})${text.slice(at)}` : `${text} (${values.join("; ")})`;
}

/** Whether a Batch failure says the pool does not exist. */
export function isPoolNotFound(error: unknown): boolean {
  const e = error as { reason?: unknown; statusCode?: unknown } | undefined;
  return e?.reason === "PoolNotFound" || (e?.statusCode === 404 && e.reason !== "NodeNotFound");
}

/** A data-plane client signed in with the connection's identity for Batch's own audience, without the SDK's retry policy (callWithRetries retries). */
export function openBatchClient(session: AzureSession, account: ResolvedBatchAccount): BatchServiceClient {
  return new BatchServiceClient(new AzureIdentityCredentialAdapter(session.credential, session.connection.cloud.batchScope), account.url, { noRetryPolicy: true });
}

const NODE_FIELDS = "id,state,schedulingState,isDedicated,runningTasksCount,lastBootTime,stateTransitionTime,startTaskInfo,errors";
const PAGE = 1000;
/** Pool_RemoveNodes takes at most 100 nodes a call. */
const REMOVE_CHUNK = 100;

function nodeErrors(errors: ComputeNodeError[] | undefined): NodeErrorInfo[] | undefined {
  return errors?.map((e) => ({ code: e.code, message: e.message, values: (e.errorDetails ?? []).map((d) => ({ name: d.name ?? "", value: d.value ?? "" })) }));
}

function nodeView(n: ComputeNode): NodeView {
  const st = n.startTaskInfo;
  return {
    id: n.id ?? "",
    state: n.state,
    schedulingState: n.schedulingState,
    isDedicated: n.isDedicated,
    runningTasksCount: n.runningTasksCount,
    lastBootTime: n.lastBootTime,
    stateTransitionTime: n.stateTransitionTime,
    startTaskInfo: st && {
      state: st.state,
      exitCode: st.exitCode,
      result: st.result,
      retryCount: st.retryCount,
      failureInfo: st.failureInfo && { category: st.failureInfo.category, code: st.failureInfo.code, message: st.failureInfo.message },
    },
    errors: nodeErrors(n.errors),
  };
}

function poolView(p: CloudPool): PoolView {
  return {
    id: p.id ?? "",
    allocationState: p.allocationState,
    targetDedicatedNodes: p.targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: p.targetLowPriorityNodes ?? 0,
    currentDedicatedNodes: p.currentDedicatedNodes,
    currentLowPriorityNodes: p.currentLowPriorityNodes,
    enableAutoScale: p.enableAutoScale === true,
    autoScaleFormula: p.autoScaleFormula,
    autoScaleEvaluationInterval: p.autoScaleEvaluationInterval,
    applicationPackageReferences: (p.applicationPackageReferences ?? []).map((r) => ({ applicationId: r.applicationId, ...(r.version ? { version: r.version } : {}) })),
    resizeErrors: p.resizeErrors?.map((e) => ({ code: e.code, message: e.message, values: (e.values ?? []).map((v) => ({ name: v.name ?? "", value: v.value ?? "" })) })),
    configuration: p.virtualMachineConfiguration ? "virtualMachine" : p.cloudServiceConfiguration ? "cloudService" : undefined,
  };
}

/** Every page of a Batch list. */
async function allPages<T>(first: Promise<T[] & { odatanextLink?: string }>, next: (link: string) => Promise<T[] & { odatanextLink?: string }>): Promise<T[]> {
  let page = await first;
  const items = [...page];
  while (page.odatanextLink) {
    page = await next(page.odatanextLink);
    items.push(...page);
  }
  return items;
}

export function poolCycleBatch(client: BatchServiceClient, policy: RetryPolicy = {}): PoolCycleBatch {
  async function call<T>(operation: string, kind: CallKind, options: CallOptions | undefined, send: (abortSignal: AbortSignalLike | undefined) => Promise<T>): Promise<T> {
    const signal = options?.signal;
    // ms-rest-js declares its own AbortSignalLike; a Node AbortSignal is one (addEventListener("abort")).
    const abortSignal = signal as AbortSignalLike | undefined;
    try {
      return await callWithRetries(operation, kind, () => send(abortSignal), { ...policy, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new BatchCallError(`Batch could not ${operation}: ${describeBatchError(e)}`, errorCode(e), errorStatus(e), e);
    }
  }
  const of = (poolId: string) => `pool '${poolId}'`;
  const node = (poolId: string, nodeId: string) => `node '${nodeId}' of ${of(poolId)}`;

  return {
    listPoolIds: (options) =>
      call("list the account's pools", "idempotent", options, (abortSignal) =>
        allPages(client.pool.list({ poolListOptions: { select: "id", maxResults: PAGE }, abortSignal }), (link) => client.pool.listNext(link, { abortSignal })),
      ).then((pools) => pools.map((p) => p.id ?? "").filter(Boolean)),

    readNodeFileTail: async (poolId, nodeId, filePath, maxBytes, options) => {
      const response = await call(`read ${filePath} on ${node(poolId, nodeId)}`, "idempotent", options, (abortSignal) =>
        client.file.getFromComputeNode(poolId, nodeId, filePath, { fileGetFromComputeNodeOptions: { ocpRange: `bytes=-${maxBytes}` }, abortSignal }),
      );
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      return Buffer.concat(chunks).toString("utf8");
    },

    getPool: (poolId, options) => call(`read ${of(poolId)}`, "idempotent", options, async (abortSignal) => poolView(await client.pool.get(poolId, { abortSignal }))),

    listNodes: (poolId, options) =>
      call(`list the nodes of ${of(poolId)}`, "idempotent", options, (abortSignal) =>
        allPages(client.computeNode.list(poolId, { computeNodeListOptions: { select: NODE_FIELDS, maxResults: PAGE }, abortSignal }), (link) => client.computeNode.listNext(link, { abortSignal })),
      ).then((nodes) => nodes.map(nodeView)),

    listApplicationFiles: (poolId, nodeId, options) =>
      call(`list the application files of ${node(poolId, nodeId)}`, "idempotent", options, (abortSignal) =>
        allPages(
          client.file.listFromComputeNode(poolId, nodeId, { recursive: true, fileListFromComputeNodeOptions: { filter: "startswith(name,'applications')", maxResults: PAGE }, abortSignal }),
          (link) => client.file.listFromComputeNodeNext(link, { abortSignal }),
        ),
      ).then((files): NodeFileView[] => files.map((f) => ({ name: f.name ?? "", isDirectory: f.isDirectory }))),

    rebootNode: (poolId, nodeId, option, options) =>
      call(`reboot ${node(poolId, nodeId)}`, "once", options, (abortSignal) => client.computeNode.reboot(poolId, nodeId, { nodeRebootOption: option, abortSignal })).then(() => undefined),

    reimageNode: (poolId, nodeId, option, options) =>
      call(`reimage ${node(poolId, nodeId)}`, "once", options, (abortSignal) => client.computeNode.reimage(poolId, nodeId, { nodeReimageOption: option, abortSignal })).then(() => undefined),

    disableScheduling: (poolId, nodeId, option, options) =>
      call(`disable scheduling on ${node(poolId, nodeId)}`, "once", options, (abortSignal) =>
        client.computeNode.disableScheduling(poolId, nodeId, { nodeDisableSchedulingOption: option, abortSignal }),
      ).then(() => undefined),

    enableScheduling: (poolId, nodeId, options) =>
      call(`enable scheduling on ${node(poolId, nodeId)}`, "idempotent", options, (abortSignal) => client.computeNode.enableScheduling(poolId, nodeId, { abortSignal })).then(() => undefined),

    removeNodes: async (poolId, nodeIds, option, options) => {
      for (let i = 0; i < nodeIds.length; i += REMOVE_CHUNK) {
        const nodeList = nodeIds.slice(i, i + REMOVE_CHUNK);
        await call(`remove nodes ${nodeList.join(", ")} from ${of(poolId)}`, "once", options, (abortSignal) =>
          client.pool.removeNodes(poolId, { nodeList, nodeDeallocationOption: option }, { abortSignal }),
        );
      }
    },

    resizePool: (poolId, target, options) =>
      call(`resize ${of(poolId)} to ${target.targetDedicatedNodes} dedicated and ${target.targetLowPriorityNodes} low-priority node(s)`, "once", options, (abortSignal) =>
        client.pool.resize(poolId, { ...target }, { abortSignal }),
      ).then(() => undefined),

    stopResizePool: (poolId, options) => call(`stop the resize of ${of(poolId)}`, "once", options, (abortSignal) => client.pool.stopResize(poolId, { abortSignal })).then(() => undefined),

    enableAutoScale: (poolId, autoScale, options) =>
      call(`enable autoscale on ${of(poolId)}`, "once", options, (abortSignal) =>
        client.pool.enableAutoScale(
          poolId,
          { autoScaleFormula: autoScale.formula, ...(autoScale.evaluationInterval ? { autoScaleEvaluationInterval: autoScale.evaluationInterval } : {}) },
          { abortSignal },
        ),
      ).then(() => undefined),

    disableAutoScale: (poolId, options) => call(`disable autoscale on ${of(poolId)}`, "once", options, (abortSignal) => client.pool.disableAutoScale(poolId, { abortSignal })).then(() => undefined),
  };
}

/** The applications' default versions, from the account's management plane (the data plane does not say). */
export function defaultVersionLookup(session: AzureSession, account: ResolvedBatchAccount, policy: RetryPolicy = {}): DefaultVersionLookup {
  const client = batchManagementClient(session);
  return async (applicationId) => {
    try {
      const app = await callWithRetries(`read application '${applicationId}'`, "idempotent", () => client.applicationOperations.get(account.resourceGroup, account.name, applicationId, { abortSignal: policy.signal }), policy);
      return app.defaultVersion ?? undefined;
    } catch (e) {
      if (policy.signal?.aborted) throw e;
      throw new BatchCallError(`Could not read application '${applicationId}' of Batch account '${account.name}' (for its default version): ${describeError(e)}`, errorCode(e), errorStatus(e), e);
    }
  };
}
