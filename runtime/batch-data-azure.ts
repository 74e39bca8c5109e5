/**
 * BatchData on `@azure/batch` 10.2.0, signed in as runtime/batch.ts does
 * (Entra ID with Batch's own scope, or the account key). The SDK's models
 * are copied into the seam's plain types field by field (its responses also
 * carry the raw HTTP response, which must not travel), lists are read to the
 * last page, and every failure becomes a BatchDataError (or CancelledError).
 */
import { BatchServiceClient, type BatchServiceModels as Models } from "@azure/batch";
import type { AbortSignalLike, RequestOptionsBase } from "@azure/ms-rest-js";
import { batchServiceClient, type BatchAuth, type ResolvedBatchAccount } from "./batch";
import {
  BatchDataError,
  type AutoScaleRun,
  type BatchApplication,
  type BatchData,
  type BatchErrorInfo,
  type BatchFile,
  type BatchJob,
  type BatchNode,
  type BatchPool,
  type BatchTask,
  type CallOptions,
  type NameValue,
  type NodeCounts,
  type PoolNodeCounts,
  type StartTask,
  type StartTaskInfo,
  type TaskFailureInfo,
} from "./batch-data";
import { CancelledError, errorCode, errorRequestId, errorStatus } from "./errors";
import type { RetryOptions } from "./retry";
import type { AzureSession } from "./session";

/** Opens the data plane of a Batch account found through ARM (runtime/batch.ts). */
export async function openBatchData(session: AzureSession, account: ResolvedBatchAccount, auth: BatchAuth, options: { retry?: RetryOptions } = {}): Promise<BatchData> {
  return batchDataFromClient(await batchServiceClient(session, account, auth, options), account.url);
}

/** BatchData over a BatchServiceClient already signed in. */
export function batchDataFromClient(client: BatchServiceClient, accountUrl: string): BatchData {
  return new AzureBatchData(client, accountUrl);
}

interface BatchErrorBody {
  code?: string;
  message?: { value?: string } | string;
  values?: { key?: string; value?: string }[];
}

/** An SDK failure as a BatchDataError: Batch's code, its message's first line and its values; the SDK's error as the cause. */
export function toBatchDataError(error: unknown, operation: string, signal?: AbortSignal): Error {
  if (error instanceof BatchDataError || error instanceof CancelledError) return error;
  if (signal?.aborted) return new CancelledError(`Cancelled during Batch ${operation}.`, { cause: error });
  const body = (error as { body?: BatchErrorBody } | undefined)?.body;
  const reason = (typeof body?.code === "string" && body.code) || errorCode(error);
  const rawMessage = typeof body?.message === "string" ? body.message : (body?.message?.value ?? (error instanceof Error ? error.message : String(error)));
  // Batch ends its messages with "RequestId:..." and "Time:..." lines.
  const message = (rawMessage.split("\n")[0] ?? "").trim();
  const values: NameValue[] = (body?.values ?? []).filter((v) => v.key).map((v) => ({ name: v.key ?? "", value: v.value ?? "" }));
  const status = errorStatus(error);
  const shown = values.filter((v) => v.name !== "RequestId" && v.value.trim() !== "").map((v) => `${v.name}: ${v.value}`);
  const head = [reason, status !== undefined ? `(HTTP ${status})` : undefined].filter(Boolean).join(" ");
  const requestId = errorRequestId(error);
  const text = `Batch ${operation} failed: ${head ? `${head}: ` : ""}${message}${shown.length ? ` (${shown.join("; ")})` : ""}${requestId ? ` [request id ${requestId}]` : ""}`;
  return new BatchDataError(text, { reason: reason || undefined, values, operation }, { cause: error });
}
const nv = (items: readonly { name?: string; key?: string; value?: string }[] | undefined): NameValue[] | undefined =>
  items?.map((i) => ({ name: i.name ?? i.key ?? "", value: i.value ?? "" }));

function errorInfo(e: { code?: string; message?: string; values?: Models.NameValuePair[]; errorDetails?: Models.NameValuePair[] }): BatchErrorInfo {
  const values = nv(e.values ?? e.errorDetails);
  return { ...(e.code !== undefined && { code: e.code }), ...(e.message !== undefined && { message: e.message }), ...(values && { values }) };
}

function failureInfo(f: Models.TaskFailureInformation | undefined): TaskFailureInfo | undefined {
  if (!f) return undefined;
  const details = nv(f.details);
  return { category: f.category, ...(f.code !== undefined && { code: f.code }), ...(f.message !== undefined && { message: f.message }), ...(details && { details }) };
}

function startTask(t: Models.StartTask | undefined): StartTask | undefined {
  if (!t) return undefined;
  return {
    commandLine: t.commandLine,
    ...(t.containerSettings && { containerSettings: { ...t.containerSettings } }),
    ...(t.resourceFiles && { resourceFiles: t.resourceFiles.map((r) => ({ ...r })) }),
    ...(t.environmentSettings && { environmentSettings: t.environmentSettings.map((e) => ({ ...e })) }),
    ...(t.userIdentity && { userIdentity: { ...t.userIdentity, ...(t.userIdentity.autoUser && { autoUser: { ...t.userIdentity.autoUser } }) } }),
    ...(t.maxTaskRetryCount !== undefined && { maxTaskRetryCount: t.maxTaskRetryCount }),
    ...(t.waitForSuccess !== undefined && { waitForSuccess: t.waitForSuccess }),
  };
}

function autoScaleRun(r: Models.AutoScaleRun): AutoScaleRun {
  return { timestamp: r.timestamp, ...(r.results !== undefined && { results: r.results }), ...(r.error && { error: errorInfo(r.error) }) };
}

function pool(p: Models.CloudPool): BatchPool {
  const vm = p.virtualMachineConfiguration;
  return {
    id: p.id ?? "",
    displayName: p.displayName,
    url: p.url,
    eTag: p.eTag,
    lastModified: p.lastModified,
    creationTime: p.creationTime,
    state: p.state,
    allocationState: p.allocationState,
    allocationStateTransitionTime: p.allocationStateTransitionTime,
    vmSize: p.vmSize,
    ...(vm && {
      virtualMachineConfiguration: {
        // exactVersion is in the REST API (it says which image version the nodes run) but not in the SDK's model.
        imageReference: { ...vm.imageReference },
        nodeAgentSKUId: vm.nodeAgentSKUId,
      },
    }),
    ...(p.cloudServiceConfiguration && { cloudServiceConfiguration: { osFamily: p.cloudServiceConfiguration.osFamily, osVersion: p.cloudServiceConfiguration.osVersion } }),
    resizeTimeout: p.resizeTimeout,
    ...(p.resizeErrors && { resizeErrors: p.resizeErrors.map(errorInfo) }),
    currentDedicatedNodes: p.currentDedicatedNodes ?? 0,
    currentLowPriorityNodes: p.currentLowPriorityNodes ?? 0,
    targetDedicatedNodes: p.targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: p.targetLowPriorityNodes ?? 0,
    enableAutoScale: p.enableAutoScale === true,
    autoScaleFormula: p.autoScaleFormula,
    autoScaleEvaluationInterval: p.autoScaleEvaluationInterval,
    ...(p.autoScaleRun && { autoScaleRun: autoScaleRun(p.autoScaleRun) }),
    startTask: startTask(p.startTask),
    applicationPackageReferences: (p.applicationPackageReferences ?? []).map((r) => ({ applicationId: r.applicationId, ...(r.version !== undefined && { version: r.version }) })),
    taskSlotsPerNode: p.taskSlotsPerNode,
    metadata: nv(p.metadata),
  };
}

function startTaskInfo(i: Models.StartTaskInformation | undefined): StartTaskInfo | undefined {
  if (!i) return undefined;
  return {
    state: i.state,
    startTime: i.startTime,
    endTime: i.endTime,
    exitCode: i.exitCode,
    result: i.result,
    failureInfo: failureInfo(i.failureInfo),
    retryCount: i.retryCount ?? 0,
  };
}

function node(n: Models.ComputeNode): BatchNode {
  return {
    id: n.id ?? "",
    url: n.url,
    state: n.state,
    schedulingState: n.schedulingState,
    stateTransitionTime: n.stateTransitionTime,
    lastBootTime: n.lastBootTime,
    allocationTime: n.allocationTime,
    ipAddress: n.ipAddress,
    vmSize: n.vmSize,
    isDedicated: n.isDedicated,
    runningTasksCount: n.runningTasksCount ?? 0,
    totalTasksRun: n.totalTasksRun,
    startTaskInfo: startTaskInfo(n.startTaskInfo),
    ...(n.errors && { errors: n.errors.map(errorInfo) }),
  };
}

function file(f: Models.NodeFile): BatchFile {
  return {
    name: f.name ?? "",
    url: f.url,
    isDirectory: f.isDirectory === true,
    contentLength: f.properties?.contentLength ?? 0,
    lastModified: f.properties?.lastModified,
    creationTime: f.properties?.creationTime,
  };
}

function job(j: Models.CloudJob): BatchJob {
  const e = j.executionInfo;
  return {
    id: j.id ?? "",
    displayName: j.displayName,
    url: j.url,
    creationTime: j.creationTime,
    state: j.state,
    ...(j.poolInfo && { poolInfo: { poolId: j.poolInfo.poolId } }),
    onAllTasksComplete: j.onAllTasksComplete,
    onTaskFailure: j.onTaskFailure,
    ...(e && {
      executionInfo: {
        startTime: e.startTime,
        endTime: e.endTime,
        poolId: e.poolId,
        terminateReason: e.terminateReason,
        ...(e.schedulingError && { schedulingError: { ...errorInfo({ code: e.schedulingError.code, message: e.schedulingError.message, values: e.schedulingError.details }), category: e.schedulingError.category } }),
      },
    }),
  };
}

function task(t: Models.CloudTask): BatchTask {
  const e = t.executionInfo;
  return {
    id: t.id ?? "",
    displayName: t.displayName,
    url: t.url,
    creationTime: t.creationTime,
    state: t.state,
    stateTransitionTime: t.stateTransitionTime,
    commandLine: t.commandLine,
    ...(e && {
      executionInfo: {
        startTime: e.startTime,
        endTime: e.endTime,
        exitCode: e.exitCode,
        result: e.result,
        failureInfo: failureInfo(e.failureInfo),
        retryCount: e.retryCount ?? 0,
        requeueCount: e.requeueCount ?? 0,
      },
    }),
    ...(t.nodeInfo && { nodeInfo: { poolId: t.nodeInfo.poolId, nodeId: t.nodeInfo.nodeId, taskRootDirectory: t.nodeInfo.taskRootDirectory } }),
  };
}

const NO_COUNTS: NodeCounts = {
  creating: 0,
  idle: 0,
  offline: 0,
  preempted: 0,
  rebooting: 0,
  reimaging: 0,
  running: 0,
  starting: 0,
  startTaskFailed: 0,
  leavingPool: 0,
  unknown: 0,
  unusable: 0,
  waitingForStartTask: 0,
  total: 0,
};

function counts(c: Models.NodeCounts | undefined): NodeCounts {
  return { ...NO_COUNTS, ...(c && Object.fromEntries(Object.keys(NO_COUNTS).map((k) => [k, (c as unknown as Record<string, number | undefined>)[k] ?? 0]))) };
}

/** Drops undefined fields, so an object read back compares as Batch sent it. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

async function readBody(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

const rangeHeader = (range: { start: number; endInclusive: number } | undefined) => (range ? `bytes=${range.start}-${range.endInclusive}` : undefined);

class AzureBatchData implements BatchData {
  constructor(
    private readonly client: BatchServiceClient,
    readonly accountUrl: string,
  ) {}

  private async call<T>(operation: string, options: CallOptions | undefined, send: (base: RequestOptionsBase) => Promise<T>): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) throw new CancelledError(`Cancelled before Batch ${operation}.`);
    try {
      // A Node AbortSignal is what ms-rest-js listens to; its typing predates `reason`.
      return await send(signal ? { abortSignal: signal as unknown as AbortSignalLike } : {});
    } catch (error) {
      throw toBatchDataError(error, operation, signal);
    }
  }

  /** Every page of a list. */
  private async list<T>(operation: string, options: CallOptions | undefined, first: (base: RequestOptionsBase) => Promise<T[] & { odatanextLink?: string }>, next: (link: string, base: RequestOptionsBase) => Promise<T[] & { odatanextLink?: string }>): Promise<T[]> {
    const all: T[] = [];
    let page = await this.call(operation, options, first);
    all.push(...page);
    while (page.odatanextLink) {
      const link = page.odatanextLink;
      page = await this.call(operation, options, (base) => next(link, base));
      all.push(...page);
    }
    return all;
  }

  async getPool(poolId: string, options?: CallOptions): Promise<BatchPool> {
    return compact(pool(await this.call("Pool_Get", options, (base) => this.client.pool.get(poolId, base))));
  }

  async patchPool(poolId: string, patch: Parameters<BatchData["patchPool"]>[1], options?: CallOptions): Promise<void> {
    const body: Models.PoolPatchParameter = {};
    if (patch.startTask !== undefined) body.startTask = patch.startTask;
    if (patch.applicationPackageReferences !== undefined) body.applicationPackageReferences = patch.applicationPackageReferences.map((r) => ({ ...r }));
    if (patch.metadata !== undefined) body.metadata = patch.metadata.map((m) => ({ ...m }));
    await this.call("Pool_Patch", options, (base) => this.client.pool.patch(poolId, body, base));
  }

  async resizePool(poolId: string, resize: Parameters<BatchData["resizePool"]>[1], options?: CallOptions): Promise<void> {
    await this.call("Pool_Resize", options, (base) => this.client.pool.resize(poolId, compact({ ...resize }), base));
  }

  async stopResizePool(poolId: string, options?: CallOptions): Promise<void> {
    await this.call("Pool_StopResize", options, (base) => this.client.pool.stopResize(poolId, base));
  }

  async enableAutoScale(poolId: string, settings: Parameters<BatchData["enableAutoScale"]>[1], options?: CallOptions): Promise<void> {
    await this.call("Pool_EnableAutoScale", options, (base) => this.client.pool.enableAutoScale(poolId, compact({ ...settings }), base));
  }

  async disableAutoScale(poolId: string, options?: CallOptions): Promise<void> {
    await this.call("Pool_DisableAutoScale", options, (base) => this.client.pool.disableAutoScale(poolId, base));
  }

  async evaluateAutoScale(poolId: string, formula: string, options?: CallOptions): Promise<AutoScaleRun> {
    return autoScaleRun(await this.call("Pool_EvaluateAutoScale", options, (base) => this.client.pool.evaluateAutoScale(poolId, formula, base)));
  }

  async removeNodes(poolId: string, nodeIds: readonly string[], option?: Parameters<BatchData["removeNodes"]>[2], options?: CallOptions): Promise<void> {
    const body: Models.NodeRemoveParameter = { nodeList: [...nodeIds], ...(option && { nodeDeallocationOption: option }) };
    await this.call("Pool_RemoveNodes", options, (base) => this.client.pool.removeNodes(poolId, body, base));
  }

  async listNodes(poolId: string, options?: Parameters<BatchData["listNodes"]>[1]): Promise<BatchNode[]> {
    const listOptions = compact({ filter: options?.filter, select: options?.select });
    const nodes = await this.list(
      "ComputeNode_List",
      options,
      (base) => this.client.computeNode.list(poolId, { ...base, computeNodeListOptions: listOptions }),
      (link, base) => this.client.computeNode.listNext(link, base),
    );
    return nodes.map((n) => compact(node(n)));
  }

  async getNode(poolId: string, nodeId: string, options?: CallOptions): Promise<BatchNode> {
    return compact(node(await this.call("ComputeNode_Get", options, (base) => this.client.computeNode.get(poolId, nodeId, base))));
  }

  async rebootNode(poolId: string, nodeId: string, option?: Parameters<BatchData["rebootNode"]>[2], options?: CallOptions): Promise<void> {
    await this.call("ComputeNode_Reboot", options, (base) => this.client.computeNode.reboot(poolId, nodeId, { ...base, ...(option && { nodeRebootOption: option }) }));
  }

  async reimageNode(poolId: string, nodeId: string, option?: Parameters<BatchData["reimageNode"]>[2], options?: CallOptions): Promise<void> {
    await this.call("ComputeNode_Reimage", options, (base) => this.client.computeNode.reimage(poolId, nodeId, { ...base, ...(option && { nodeReimageOption: option }) }));
  }

  async disableNodeScheduling(poolId: string, nodeId: string, option?: Parameters<BatchData["disableNodeScheduling"]>[2], options?: CallOptions): Promise<void> {
    await this.call("ComputeNode_DisableScheduling", options, (base) =>
      this.client.computeNode.disableScheduling(poolId, nodeId, { ...base, ...(option && { nodeDisableSchedulingOption: option }) }),
    );
  }

  async enableNodeScheduling(poolId: string, nodeId: string, options?: CallOptions): Promise<void> {
    await this.call("ComputeNode_EnableScheduling", options, (base) => this.client.computeNode.enableScheduling(poolId, nodeId, base));
  }

  async listNodeFiles(poolId: string, nodeId: string, options?: Parameters<BatchData["listNodeFiles"]>[2]): Promise<BatchFile[]> {
    const files = await this.list(
      "File_ListFromComputeNode",
      options,
      (base) =>
        this.client.file.listFromComputeNode(poolId, nodeId, {
          ...base,
          ...(options?.recursive !== undefined && { recursive: options.recursive }),
          fileListFromComputeNodeOptions: compact({ filter: options?.filter }),
        }),
      (link, base) => this.client.file.listFromComputeNodeNext(link, base),
    );
    return files.map((f) => compact(file(f)));
  }

  async readNodeFile(poolId: string, nodeId: string, filePath: string, options?: Parameters<BatchData["readNodeFile"]>[3]): Promise<Buffer> {
    const ocpRange = rangeHeader(options?.range);
    return this.call("File_GetFromComputeNode", options, async (base) => {
      const response = await this.client.file.getFromComputeNode(poolId, nodeId, filePath, { ...base, ...(ocpRange && { fileGetFromComputeNodeOptions: { ocpRange } }) });
      return readBody(response.readableStreamBody);
    });
  }

  async getJob(jobId: string, options?: CallOptions): Promise<BatchJob> {
    return compact(job(await this.call("Job_Get", options, (base) => this.client.job.get(jobId, base))));
  }

  async addJob(add: Parameters<BatchData["addJob"]>[0], options?: CallOptions): Promise<void> {
    const body: Models.JobAddParameter = compact({
      id: add.id,
      displayName: add.displayName,
      poolInfo: { poolId: add.poolId },
      onAllTasksComplete: add.onAllTasksComplete,
      onTaskFailure: add.onTaskFailure,
      constraints: add.constraints && { ...add.constraints },
      usesTaskDependencies: add.usesTaskDependencies,
    });
    await this.call("Job_Add", options, (base) => this.client.job.add(body, base));
  }

  async terminateJob(jobId: string, reason?: string, options?: CallOptions): Promise<void> {
    await this.call("Job_Terminate", options, (base) => this.client.job.terminate(jobId, { ...base, ...(reason !== undefined && { terminateReason: reason }) }));
  }

  async addTask(jobId: string, add: Parameters<BatchData["addTask"]>[1], options?: CallOptions): Promise<void> {
    const body: Models.TaskAddParameter = compact({
      id: add.id,
      commandLine: add.commandLine,
      displayName: add.displayName,
      resourceFiles: add.resourceFiles?.map((r) => ({ ...r })),
      environmentSettings: add.environmentSettings?.map((e) => ({ ...e })),
      userIdentity: add.userIdentity,
      applicationPackageReferences: add.applicationPackageReferences?.map((r) => ({ ...r })),
      constraints: add.constraints && { ...add.constraints },
    });
    await this.call("Task_Add", options, (base) => this.client.task.add(jobId, body, base));
  }

  async listTasks(jobId: string, options?: Parameters<BatchData["listTasks"]>[1]): Promise<BatchTask[]> {
    const listOptions = compact({ filter: options?.filter, select: options?.select });
    const tasks = await this.list(
      "Task_List",
      options,
      (base) => this.client.task.list(jobId, { ...base, taskListOptions: listOptions }),
      (link, base) => this.client.task.listNext(link, base),
    );
    return tasks.map((t) => compact(task(t)));
  }

  async getTask(jobId: string, taskId: string, options?: CallOptions): Promise<BatchTask> {
    return compact(task(await this.call("Task_Get", options, (base) => this.client.task.get(jobId, taskId, base))));
  }

  async listTaskFiles(jobId: string, taskId: string, options?: Parameters<BatchData["listTaskFiles"]>[2]): Promise<BatchFile[]> {
    const files = await this.list(
      "File_ListFromTask",
      options,
      (base) =>
        this.client.file.listFromTask(jobId, taskId, {
          ...base,
          ...(options?.recursive !== undefined && { recursive: options.recursive }),
          fileListFromTaskOptions: compact({ filter: options?.filter }),
        }),
      (link, base) => this.client.file.listFromTaskNext(link, base),
    );
    return files.map((f) => compact(file(f)));
  }

  async getTaskFileProperties(jobId: string, taskId: string, filePath: string, options?: CallOptions): Promise<BatchFile> {
    const h = await this.call("File_GetPropertiesFromTask", options, (base) => this.client.file.getPropertiesFromTask(jobId, taskId, filePath, base));
    return compact({
      name: filePath,
      url: h.ocpBatchFileUrl,
      isDirectory: h.ocpBatchFileIsdirectory === true,
      contentLength: h.contentLength ?? 0,
      lastModified: h.lastModified,
      creationTime: h.ocpCreationTime,
    });
  }

  async readTaskFile(jobId: string, taskId: string, filePath: string, options?: Parameters<BatchData["readTaskFile"]>[3]): Promise<Buffer> {
    const ocpRange = rangeHeader(options?.range);
    return this.call("File_GetFromTask", options, async (base) => {
      const response = await this.client.file.getFromTask(jobId, taskId, filePath, { ...base, ...(ocpRange && { fileGetFromTaskOptions: { ocpRange } }) });
      return readBody(response.readableStreamBody);
    });
  }

  async listPoolNodeCounts(options?: Parameters<BatchData["listPoolNodeCounts"]>[0]): Promise<PoolNodeCounts[]> {
    const listOptions = compact({ filter: options?.filter });
    const all = await this.list(
      "Account_ListPoolNodeCounts",
      options,
      (base) => this.client.account.listPoolNodeCounts({ ...base, accountListPoolNodeCountsOptions: listOptions }),
      (link, base) => this.client.account.listPoolNodeCountsNext(link, base),
    );
    return all.map((c) => ({ poolId: c.poolId, dedicated: counts(c.dedicated), lowPriority: counts(c.lowPriority) }));
  }

  async listApplications(options?: CallOptions): Promise<BatchApplication[]> {
    const apps = await this.list(
      "Application_List",
      options,
      (base) => this.client.application.list(base),
      (link, base) => this.client.application.listNext(link, base),
    );
    return apps.map((a) => ({ id: a.id, displayName: a.displayName, versions: [...a.versions] }));
  }
}
