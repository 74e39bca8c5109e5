/**
 * The local Batch's state: one model shared by the ARM provider
 * (Microsoft.Batch: accounts, applications, application packages, pools) and
 * the Batch data plane (pools, nodes, jobs, tasks). Records keep the fields the
 * REST API shows under the names the data-plane spec (2022-10-01.16.0) gives
 * them; the ARM provider maps them to its own casing on the way out. Fields
 * under `sim` belong to the simulation and are never rendered.
 */
import * as crypto from "node:crypto";
import type { SimTimer } from "../clock";
import type { AutoStorageContainer } from "./resource-files";

export type Json = Record<string, unknown>;

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

/** What happens to running tasks when a node reboots, is reimaged, removed or has scheduling disabled. */
export type DeallocationOption = "requeue" | "terminate" | "taskcompletion" | "retaineddata";

export interface ApplicationPackageReference {
  applicationId: string;
  version?: string;
}

export interface NameValuePair {
  name: string;
  value: string;
}

export interface StartTask extends Json {
  commandLine: string;
  waitForSuccess?: boolean;
  maxTaskRetryCount?: number;
}

/** Per-node script: how the simulation should treat the node's next boots. */
export interface NodeScript {
  /** Simulate the start task with this exit code instead of running it. Non-zero with waitForSuccess → starttaskfailed. */
  startTaskExitCode?: number;
  /** The node ends its boot unusable (as when the VM or an extension fails). */
  unusable?: boolean;
  /** Simulated seconds from allocation to the node leaving `creating` (overrides timings). */
  createSeconds?: number;
}

/** Per-task script: a simulated run instead of the real process (how long it runs, how it exits). */
export interface TaskScript {
  durationSeconds?: number;
  exitCode?: number;
}

export interface Timings {
  /** Pool resize: seconds until the new VMs are allocated and join the pool (allocation state returns to steady). */
  allocateSeconds: number;
  /** Seconds a node spends in `creating`. */
  createSeconds: number;
  /** Seconds a node spends in `starting` (booting). */
  bootSeconds: number;
  /** Seconds the start task runs. */
  startTaskSeconds: number;
  rebootSeconds: number;
  reimageSeconds: number;
  /** Seconds a node spends in `leavingpool` before it is gone. */
  leaveSeconds: number;
  /** Default run time of a task. */
  taskSeconds: number;
  /** Seconds in the `stopping` allocation state after stopresize. */
  stopResizeSeconds: number;
}

export const DEFAULT_TIMINGS: Timings = {
  allocateSeconds: 5,
  createSeconds: 15,
  bootSeconds: 30,
  startTaskSeconds: 10,
  rebootSeconds: 30,
  reimageSeconds: 60,
  leaveSeconds: 10,
  taskSeconds: 30,
  stopResizeSeconds: 2,
};

/** A file inside an installed application package (from the zip's central directory). */
export interface PackageEntry {
  name: string;
  size: number;
  /** The file's bytes, unzipped onto nodes that deploy the package. */
  data?: Buffer;
}

export interface InstalledPackage {
  applicationId: string;
  version: string;
  /** Directory under the node root, e.g. `applications/myapp1.02024-10-24-20-44`. */
  directory: string;
  installedAt: string;
  entries: PackageEntry[];
  /**
   * The application's default version was this one when the node last
   * deployed packages (join, reboot, reimage): AZ_BATCH_APP_PACKAGE_<app>
   * points here until the node deploys again.
   */
  defaultAtDeployment: boolean;
}

export interface TaskInformation extends Json {
  taskUrl: string;
  jobId: string;
  taskId: string;
  taskState: string;
}

export interface NodeRecord {
  id: string;
  poolId: string;
  state: NodeState;
  schedulingState: "enabled" | "disabled";
  stateTransitionTime: string;
  lastBootTime?: string;
  allocationTime: string;
  ipAddress: string;
  affinityId: string;
  vmSize: string;
  isDedicated: boolean;
  totalTasksRun: number;
  totalTasksSucceeded: number;
  recentTasks: TaskInformation[];
  startTaskInfo?: Json;
  errors: Json[];
  nodeAgentVersion: string;
  installedPackages: InstalledPackage[];
  sim: {
    script: NodeScript;
    timer?: SimTimer;
    running: Set<TaskRecord>;
    /** An operation waiting for running tasks to finish (taskcompletion / retaineddata). */
    pending?: { kind: "reboot" | "reimage" | "remove" };
    /** The node's real directory (AZ_BATCH_NODE_ROOT_DIR), made when the node joins. */
    rootDir?: string;
    /** Aborts the start task's process (reboot, removal). */
    startTaskAbort?: AbortController;
  };
}

export interface PoolRecord {
  id: string;
  displayName?: string;
  eTag: string;
  lastModified: string;
  creationTime: string;
  state: "active" | "deleting";
  stateTransitionTime: string;
  allocationState: "steady" | "resizing" | "stopping";
  allocationStateTransitionTime: string;
  vmSize: string;
  virtualMachineConfiguration?: Json;
  cloudServiceConfiguration?: Json;
  resizeTimeout: string;
  resizeErrors?: Json[];
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  autoScaleEvaluationInterval?: string;
  autoScaleRun?: Json;
  enableInterNodeCommunication: boolean;
  networkConfiguration?: Json;
  startTask?: StartTask;
  certificateReferences: Json[];
  applicationPackageReferences: ApplicationPackageReference[];
  applicationLicenses?: string[];
  taskSlotsPerNode: number;
  taskSchedulingPolicy: { nodeFillType: "spread" | "pack" };
  userAccounts?: Json[];
  metadata: NameValuePair[];
  mountConfiguration?: Json[];
  identity?: Json;
  targetNodeCommunicationMode?: string;
  currentNodeCommunicationMode?: string;
  nodes: Map<string, NodeRecord>;
  sim: {
    /** The resize in progress, if any. */
    resize?: { nodeDeallocationOption: DeallocationOption; startTime: string; allocation?: SimTimer; removing: Set<NodeRecord> };
    /** Scripts handed to the next nodes that join, in order. */
    nextNodeScripts: NodeScript[];
    /** Nodes ever created in the pool; each new node takes the next private IP address. */
    nodesCreated: number;
    /** The deallocation option of the last resize, shown by ARM's resizeOperationStatus. */
    lastResize?: { targetDedicatedNodes: number; targetLowPriorityNodes: number; resizeTimeout: string; nodeDeallocationOption: DeallocationOption; startTime: string };
  };
}

export interface TaskRecord {
  jobId: string;
  id: string;
  displayName?: string;
  eTag: string;
  lastModified: string;
  creationTime: string;
  exitConditions?: Json;
  state: "active" | "preparing" | "running" | "completed";
  stateTransitionTime: string;
  previousState?: string;
  previousStateTransitionTime?: string;
  commandLine: string;
  containerSettings?: Json;
  resourceFiles?: Json[];
  outputFiles?: Json[];
  environmentSettings?: NameValuePair[];
  affinityInfo?: Json;
  constraints: { maxWallClockTime: string; retentionTime: string; maxTaskRetryCount: number };
  requiredSlots: number;
  userIdentity?: Json;
  executionInfo: {
    startTime?: string;
    endTime?: string;
    exitCode?: number;
    failureInfo?: Json;
    retryCount: number;
    lastRetryTime?: string;
    requeueCount: number;
    lastRequeueTime?: string;
    result?: "success" | "failure";
  };
  nodeInfo?: Json;
  multiInstanceSettings?: Json;
  dependsOn?: Json;
  applicationPackageReferences?: ApplicationPackageReference[];
  authenticationTokenSettings?: Json;
  sim: {
    seq: number;
    script: TaskScript;
    node?: NodeRecord;
    timer?: SimTimer;
    abort?: AbortController;
    /** Bumped each time the task starts, so a stale completion is ignored. */
    attempt: number;
    stdout?: string;
    stderr?: string;
  };
}

export interface JobRecord {
  id: string;
  displayName?: string;
  usesTaskDependencies: boolean;
  eTag: string;
  lastModified: string;
  creationTime: string;
  state: "active" | "disabling" | "disabled" | "enabling" | "terminating" | "completed" | "deleting";
  stateTransitionTime: string;
  previousState?: string;
  previousStateTransitionTime?: string;
  priority: number;
  allowTaskPreemption: boolean;
  maxParallelTasks: number;
  constraints: { maxWallClockTime: string; maxTaskRetryCount: number };
  jobManagerTask?: Json;
  jobPreparationTask?: Json;
  jobReleaseTask?: Json;
  commonEnvironmentSettings?: NameValuePair[];
  poolInfo: { poolId?: string; autoPoolSpecification?: Json };
  onAllTasksComplete: "noaction" | "terminatejob";
  onTaskFailure: "noaction" | "performexitoptionsjobaction";
  networkConfiguration?: Json;
  metadata?: NameValuePair[];
  executionInfo: { startTime: string; endTime?: string; poolId?: string; terminateReason?: string };
  tasks: Map<string, TaskRecord>;
  sim: { nextSeq: number };
}

export interface PackageRecord {
  version: string;
  state: "Pending" | "Active";
  format?: string;
  lastActivationTime?: string;
  etag: string;
  /** Where the package lives in the auto-storage account. */
  container: string;
  blobName: string;
  /** Read from the zip's central directory at activation; undefined when the blob is not a zip. */
  entries?: PackageEntry[];
}

export interface ApplicationRecord {
  name: string;
  displayName?: string;
  allowUpdates: boolean;
  defaultVersion?: string;
  etag: string;
  /** Keyed by lower-cased version. */
  versions: Map<string, PackageRecord>;
}

export interface AutoStorage {
  storageAccountName: string;
  /** StorageKeys: storageUrl is a SAS URL; BatchAccountManagedIdentity: a plain URL. */
  authenticationMode: "StorageKeys" | "BatchAccountManagedIdentity";
  lastKeySync: string;
  nodeIdentityResourceId?: string;
}

export interface BatchAccountRecord {
  name: string;
  resourceGroup: string;
  location: string;
  keys: { primary: string; secondary: string };
  created: string;
  autoStorage?: AutoStorage;
  identity: { type: "None" } | { type: "SystemAssigned"; principalId: string; tenantId: string };
  allowedAuthenticationModes: ("SharedKey" | "AAD" | "TaskAuthenticationToken")[];
  /** Keyed by lower-cased name (application names are case-insensitive). */
  applications: Map<string, ApplicationRecord>;
  pools: Map<string, PoolRecord>;
  jobs: Map<string, JobRecord>;
}

/** Everything a task runner needs to execute a task. */
export interface TaskRunContext {
  account: BatchAccountRecord;
  pool: PoolRecord;
  node: NodeRecord;
  job: JobRecord;
  task: TaskRecord;
  /** The AZ_BATCH_* variables Batch gives the task, application package variables included. */
  environment: Record<string, string>;
  /** Aborted when the task is requeued or terminated (node reboot, removal, task or job terminate, maxWallClockTime). */
  signal: AbortSignal;
  /** The task directory on the node (stdout.txt and stderr.txt go here) and its working directory (wd), real paths. */
  taskDirectory: string;
  workingDirectory: string;
}

export interface TaskRunResult {
  exitCode: number;
  stdout?: string;
  stderr?: string;
}

/**
 * A hook that takes over running a task (its resource files are already in
 * the working directory). Return undefined to let the local Batch run it: the
 * scripted duration and exit code when the task is scripted, else the command
 * line as a real process. A result's stdout and stderr are appended to the
 * task's stdout.txt and stderr.txt.
 */
export type TaskRunner = (context: TaskRunContext) => Promise<TaskRunResult> | undefined;

export interface BatchState {
  accounts: Map<string, BatchAccountRecord>;
  /** The account the data plane serves to bearer-token callers (SharedKey names its account). */
  defaultAccountName: string;
  /** The data plane's base URL, https://127.0.0.1:P (set when the host starts). */
  url: string;
  timings: Timings;
  taskRunner?: TaskRunner;
  /** How resource files with autoStorageContainerName are read (set by the ARM provider, which owns auto-storage). */
  autoStorageContainer?: AutoStorageContainer;
  /** Default script for tasks that have none of their own (duration, exit code); tests set it. */
  taskScript?: (job: JobRecord, task: TaskRecord) => TaskScript | undefined;
}

let etagCounter = 0;

/** Batch's ETag form: 0x followed by the hex .NET tick count of the change. */
export function newETag(): string {
  const ticks = (BigInt(Date.now()) + 62135596800000n) * 10000n + BigInt(etagCounter++ % 10000);
  return `0x${ticks.toString(16).toUpperCase()}`;
}

/** ARM's weak ETag form for Batch resources: W/"0x…". */
export function newArmETag(): string {
  return `W/"${newETag()}"`;
}

export function now(): string {
  return new Date().toISOString();
}

export function newAccountKey(): string {
  return crypto.randomBytes(64).toString("base64");
}

/** Node ids as Batch gives them on VirtualMachineConfiguration pools: tvmps_<64 hex>_d (dedicated) or _p (low priority). */
export function newNodeId(dedicated: boolean): string {
  return `tvmps_${crypto.randomBytes(32).toString("hex")}_${dedicated ? "d" : "p"}`;
}

export function findKey<T>(map: Map<string, T>, key: string): T | undefined {
  const direct = map.get(key);
  if (direct) return direct;
  for (const [k, v] of map) if (k.toLowerCase() === key.toLowerCase()) return v;
  return undefined;
}

export function createAccount(options: {
  name: string;
  resourceGroup: string;
  location: string;
  autoStorage?: Omit<AutoStorage, "lastKeySync"> & { lastKeySync?: string };
}): BatchAccountRecord {
  return {
    name: options.name,
    resourceGroup: options.resourceGroup,
    location: options.location,
    keys: { primary: newAccountKey(), secondary: newAccountKey() },
    created: now(),
    autoStorage: options.autoStorage ? { lastKeySync: now(), ...options.autoStorage } : undefined,
    identity: { type: "None" },
    allowedAuthenticationModes: ["SharedKey", "AAD", "TaskAuthenticationToken"],
    applications: new Map(),
    pools: new Map(),
    jobs: new Map(),
  };
}
