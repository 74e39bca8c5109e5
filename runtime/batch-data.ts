/**
 * The Batch data plane as the tasks see it: a narrow interface with plain
 * types of its own, so no task binds to the types of `@azure/batch` 10.2
 * (built on the legacy ms-rest-js; the only Batch data-plane SDK for
 * JavaScript published today). runtime/batch-data-azure.ts implements it on
 * that SDK; tests can implement it in memory.
 *
 * Shapes follow the Batch REST API (2022-10-01.16.0) field for field, with
 * the counts and flags a task always needs filled in (0, false, []), so a
 * subset can be passed through to the tasks' own views unchanged. Every
 * method may throw a BatchDataError (Batch's error code as `reason`), or a
 * CancelledError when `signal` aborts.
 */
import { errorCode, TaskError, type TaskErrorOptions } from "./errors";

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /** An OData `$filter`, e.g. `state eq 'running'`. */
  filter?: string;
  /** An OData `$select`: the properties to return, e.g. `id,state`. */
  select?: string;
}

export interface NameValue {
  name: string;
  value: string;
}

/** A resize error, a node error or an autoscale evaluation error, as Batch reports it. */
export interface BatchErrorInfo {
  code?: string;
  message?: string;
  values?: NameValue[];
}

export interface ApplicationPackageReference {
  /** The application's name, or its full ARM resource id. */
  applicationId: string;
  /** Omitted: the application's default version. */
  version?: string;
}

export interface ResourceFile {
  autoStorageContainerName?: string;
  storageContainerUrl?: string;
  httpUrl?: string;
  blobPrefix?: string;
  filePath?: string;
  fileMode?: string;
  identityReference?: { resourceId?: string };
}

export interface EnvironmentSetting {
  name: string;
  value?: string;
}

export interface UserIdentity {
  userName?: string;
  autoUser?: { scope?: "task" | "pool"; elevationLevel?: "nonadmin" | "admin" };
}

export interface TaskContainerSettings {
  imageName: string;
  containerRunOptions?: string;
  registry?: { registryServer?: string; userName?: string; password?: string; identityReference?: { resourceId?: string } };
  workingDirectory?: "taskWorkingDirectory" | "containerImageDefault";
}

export interface StartTask {
  commandLine: string;
  containerSettings?: TaskContainerSettings;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  userIdentity?: UserIdentity;
  maxTaskRetryCount?: number;
  waitForSuccess?: boolean;
}

export interface AutoScaleRun {
  timestamp: Date;
  /** `$TargetDedicatedNodes=2;$NodeDeallocationOption=requeue;...` */
  results?: string;
  error?: BatchErrorInfo & { details?: BatchErrorInfo[] };
}

export type PoolState = "active" | "deleting";
export type AllocationState = "steady" | "resizing" | "stopping";

export interface BatchPool {
  id: string;
  displayName?: string;
  url?: string;
  eTag?: string;
  lastModified?: Date;
  creationTime?: Date;
  state?: PoolState;
  allocationState?: AllocationState;
  allocationStateTransitionTime?: Date;
  vmSize?: string;
  virtualMachineConfiguration?: {
    imageReference: { publisher?: string; offer?: string; sku?: string; version?: string; virtualMachineImageId?: string; exactVersion?: string };
    nodeAgentSKUId: string;
  };
  cloudServiceConfiguration?: { osFamily: string; osVersion?: string };
  /** ISO 8601 duration. */
  resizeTimeout?: string;
  resizeErrors?: BatchErrorInfo[];
  currentDedicatedNodes: number;
  currentLowPriorityNodes: number;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  /** ISO 8601 duration, as Batch returns it (PT5M, PT06M00S, ...). */
  autoScaleEvaluationInterval?: string;
  autoScaleRun?: AutoScaleRun;
  startTask?: StartTask;
  applicationPackageReferences: ApplicationPackageReference[];
  taskSlotsPerNode?: number;
  metadata?: NameValue[];
}

/** Pool_Patch: a field given replaces the pool's; one omitted is left as it is. */
export interface PoolPatch {
  startTask?: StartTask;
  applicationPackageReferences?: ApplicationPackageReference[];
  metadata?: NameValue[];
}

export type NodeDeallocationOption = "requeue" | "terminate" | "taskcompletion" | "retaineddata";
export type DisableSchedulingOption = "requeue" | "terminate" | "taskcompletion";

export interface PoolResize {
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  /** ISO 8601 duration (default PT15M). */
  resizeTimeout?: string;
  nodeDeallocationOption?: NodeDeallocationOption;
}

export interface AutoScaleSettings {
  autoScaleFormula?: string;
  /** ISO 8601 duration, PT5M to PT168H. */
  autoScaleEvaluationInterval?: string;
}

export type NodeState =
  | "idle"
  | "rebooting"
  | "reimaging"
  | "running"
  | "unusable"
  | "creating"
  | "starting"
  | "waitingforstarttask"
  | "starttaskfailed"
  | "unknown"
  | "leavingpool"
  | "offline"
  | "preempted";

export interface TaskFailureInfo {
  /** usererror, servererror */
  category: string;
  code?: string;
  message?: string;
  details?: NameValue[];
}

export interface StartTaskInfo {
  /** running, completed */
  state: "running" | "completed";
  startTime?: Date;
  endTime?: Date;
  exitCode?: number;
  /** success, failure */
  result?: "success" | "failure";
  failureInfo?: TaskFailureInfo;
  retryCount: number;
}

export interface BatchNode {
  id: string;
  url?: string;
  state?: NodeState;
  schedulingState?: "enabled" | "disabled";
  stateTransitionTime?: Date;
  lastBootTime?: Date;
  allocationTime?: Date;
  ipAddress?: string;
  vmSize?: string;
  isDedicated?: boolean;
  runningTasksCount: number;
  totalTasksRun?: number;
  startTaskInfo?: StartTaskInfo;
  errors?: BatchErrorInfo[];
}

export interface BatchFile {
  /** Relative to the node root or the task directory, e.g. `applications/app1.02024-10-24-20-44`, `stdout.txt`. */
  name: string;
  url?: string;
  isDirectory: boolean;
  /** Bytes; 0 for a directory. */
  contentLength: number;
  lastModified?: Date;
  creationTime?: Date;
}

export interface FileListOptions extends ListOptions {
  /** Lists the folders' contents too. */
  recursive?: boolean;
}

export interface FileReadOptions extends CallOptions {
  /** Bytes start..endInclusive (`ocp-range: bytes=start-end`, inclusive as HTTP ranges are). */
  range?: { start: number; endInclusive: number };
}

export interface BatchJob {
  id: string;
  displayName?: string;
  url?: string;
  creationTime?: Date;
  /** active, disabling, disabled, enabling, terminating, completed, deleting */
  state?: string;
  poolInfo?: { poolId?: string };
  onAllTasksComplete?: "noaction" | "terminatejob";
  onTaskFailure?: "noaction" | "performexitoptionsjobaction";
  executionInfo?: { startTime?: Date; endTime?: Date; poolId?: string; terminateReason?: string; schedulingError?: BatchErrorInfo & { category?: string } };
}

export interface JobAdd {
  id: string;
  displayName?: string;
  poolId: string;
  onAllTasksComplete?: "noaction" | "terminatejob";
  onTaskFailure?: "noaction" | "performexitoptionsjobaction";
  /** Batch's limits: the job and its tasks' retries. */
  constraints?: { maxWallClockTime?: string; maxTaskRetryCount?: number };
  usesTaskDependencies?: boolean;
}

export interface TaskAdd {
  id: string;
  commandLine: string;
  displayName?: string;
  resourceFiles?: ResourceFile[];
  environmentSettings?: EnvironmentSetting[];
  userIdentity?: UserIdentity;
  applicationPackageReferences?: ApplicationPackageReference[];
  constraints?: { maxWallClockTime?: string; retentionTime?: string; maxTaskRetryCount?: number };
}

export type TaskState = "active" | "preparing" | "running" | "completed";

export interface BatchTask {
  id: string;
  displayName?: string;
  url?: string;
  creationTime?: Date;
  state?: TaskState;
  stateTransitionTime?: Date;
  commandLine?: string;
  executionInfo?: {
    startTime?: Date;
    endTime?: Date;
    exitCode?: number;
    /** success, failure */
    result?: "success" | "failure";
    failureInfo?: TaskFailureInfo;
    retryCount: number;
    requeueCount: number;
  };
  nodeInfo?: { poolId?: string; nodeId?: string; taskRootDirectory?: string };
}

export interface NodeCounts {
  creating: number;
  idle: number;
  offline: number;
  preempted: number;
  rebooting: number;
  reimaging: number;
  running: number;
  starting: number;
  startTaskFailed: number;
  leavingPool: number;
  unknown: number;
  unusable: number;
  waitingForStartTask: number;
  total: number;
}

export interface PoolNodeCounts {
  poolId: string;
  dedicated: NodeCounts;
  lowPriority: NodeCounts;
}

export interface BatchApplication {
  id: string;
  displayName: string;
  /** Active versions only. */
  versions: string[];
}

/** What the tasks do on a Batch account's data plane. */
export interface BatchData {
  /** https://<account>.<region>.batch.azure.com */
  readonly accountUrl: string;

  getPool(poolId: string, options?: CallOptions): Promise<BatchPool>;
  /** Pool_Patch: only the fields given change. */
  patchPool(poolId: string, patch: PoolPatch, options?: CallOptions): Promise<void>;
  resizePool(poolId: string, resize: PoolResize, options?: CallOptions): Promise<void>;
  stopResizePool(poolId: string, options?: CallOptions): Promise<void>;
  /** Enables autoscale, or updates it with only what is given (Batch accepts one call per pool every 30 s). */
  enableAutoScale(poolId: string, settings: AutoScaleSettings, options?: CallOptions): Promise<void>;
  disableAutoScale(poolId: string, options?: CallOptions): Promise<void>;
  /** Evaluates a formula on a pool with autoscale enabled; an evaluation error is in the run's `error`, not thrown. */
  evaluateAutoScale(poolId: string, formula: string, options?: CallOptions): Promise<AutoScaleRun>;
  /** Pool_RemoveNodes (at most 100 nodes per call): the pool's targets drop by the nodes removed. */
  removeNodes(poolId: string, nodeIds: readonly string[], option?: NodeDeallocationOption, options?: CallOptions): Promise<void>;

  listNodes(poolId: string, options?: ListOptions): Promise<BatchNode[]>;
  getNode(poolId: string, nodeId: string, options?: CallOptions): Promise<BatchNode>;
  rebootNode(poolId: string, nodeId: string, option?: NodeDeallocationOption, options?: CallOptions): Promise<void>;
  reimageNode(poolId: string, nodeId: string, option?: NodeDeallocationOption, options?: CallOptions): Promise<void>;
  disableNodeScheduling(poolId: string, nodeId: string, option?: DisableSchedulingOption, options?: CallOptions): Promise<void>;
  enableNodeScheduling(poolId: string, nodeId: string, options?: CallOptions): Promise<void>;
  /** Files on a node, relative to its root (`applications/...`, `startup/...`, `workitems/...`). */
  listNodeFiles(poolId: string, nodeId: string, options?: FileListOptions): Promise<BatchFile[]>;
  readNodeFile(poolId: string, nodeId: string, filePath: string, options?: FileReadOptions): Promise<Buffer>;

  getJob(jobId: string, options?: CallOptions): Promise<BatchJob>;
  addJob(job: JobAdd, options?: CallOptions): Promise<void>;
  terminateJob(jobId: string, reason?: string, options?: CallOptions): Promise<void>;
  addTask(jobId: string, task: TaskAdd, options?: CallOptions): Promise<void>;
  listTasks(jobId: string, options?: ListOptions): Promise<BatchTask[]>;
  getTask(jobId: string, taskId: string, options?: CallOptions): Promise<BatchTask>;
  /** Files of a task, relative to its directory (`stdout.txt`, `stderr.txt`, `wd/...`). */
  listTaskFiles(jobId: string, taskId: string, options?: FileListOptions): Promise<BatchFile[]>;
  /** A task file's properties (its length for a tail). */
  getTaskFileProperties(jobId: string, taskId: string, filePath: string, options?: CallOptions): Promise<BatchFile>;
  readTaskFile(jobId: string, taskId: string, filePath: string, options?: FileReadOptions): Promise<Buffer>;

  listPoolNodeCounts(options?: ListOptions): Promise<PoolNodeCounts[]>;
  /** Applications nodes can use (Application_List: those with an active version). */
  listApplications(options?: CallOptions): Promise<BatchApplication[]>;
}

export interface BatchDataErrorDetails {
  /** Batch's error code: PoolNotFound, OperationInvalidForCurrentState, ... */
  reason?: string;
  /** The `values` of Batch's error body (Reason, PropertyName, ...). */
  values?: NameValue[];
  /** The operation, for messages: "Pool_Get". */
  operation: string;
}

/**
 * A request Batch refused (or could not be sent). `reason` is Batch's own
 * error code; `statusCode` and `requestId` the service's; the SDK's error is
 * the cause.
 */
export class BatchDataError extends TaskError {
  readonly reason?: string;
  readonly values: NameValue[];
  readonly operation: string;

  constructor(message: string, details: BatchDataErrorDetails, options: TaskErrorOptions = {}) {
    super("BatchRequestFailed", message, options);
    this.name = "BatchDataError";
    if (details.reason !== undefined) this.reason = details.reason;
    this.values = details.values ?? [];
    this.operation = details.operation;
  }
}

/** Batch's error code of a failure: a BatchDataError's `reason`, or an SDK error's code. */
export function batchReason(error: unknown): string | undefined {
  if (error instanceof BatchDataError) return error.reason;
  return error instanceof TaskError ? undefined : errorCode(error);
}

/** True when Batch answered 404 (the pool, node, job, task or file does not exist). */
export function isBatchNotFound(error: unknown): boolean {
  return error instanceof BatchDataError && error.statusCode === 404;
}
