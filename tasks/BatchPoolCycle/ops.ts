/**
 * What cycling a pool needs from Batch, and nothing more: the entry adapts the
 * runtime's Batch data-plane seam to it (the shapes are a subset of that
 * seam's BatchPool / BatchNode / BatchFile, so the adapter is mostly
 * pass-through), and the tests drive an in-memory pool through it.
 *
 * Every method may throw; a Batch error is expected to carry Batch's error
 * code as `reason` (the runtime seam) or `code`.
 */
import type { DisableSchedulingOption, NodeDeallocationOption, PoolConfiguration } from "./inputs";
import type { PackageReference } from "./outdated";

export interface CallOptions {
  signal?: AbortSignal;
}

export interface NameValue {
  name: string;
  value: string;
}

export interface NodeErrorInfo {
  code?: string;
  message?: string;
  values?: NameValue[];
}

export interface PoolView {
  id: string;
  /** steady, resizing, stopping */
  allocationState?: string;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  currentDedicatedNodes?: number;
  currentLowPriorityNodes?: number;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  /** ISO 8601 duration, e.g. PT15M. */
  autoScaleEvaluationInterval?: string;
  applicationPackageReferences: PackageReference[];
  resizeErrors?: NodeErrorInfo[];
  /** When known: reimage is refused up front on virtualMachine pools. */
  configuration?: PoolConfiguration;
}

export interface StartTaskInfoView {
  /** running, completed */
  state?: string;
  exitCode?: number;
  /** success, failure */
  result?: string;
  failureInfo?: { category?: string; code?: string; message?: string };
  retryCount?: number;
}

export interface NodeView {
  id: string;
  /** idle, running, rebooting, reimaging, starting, creating, waitingforstarttask, starttaskfailed, unusable, leavingpool, offline, preempted, unknown */
  state?: string;
  /** enabled, disabled */
  schedulingState?: string;
  isDedicated?: boolean;
  runningTasksCount?: number;
  lastBootTime?: Date;
  stateTransitionTime?: Date;
  startTaskInfo?: StartTaskInfoView;
  errors?: NodeErrorInfo[];
}

export interface NodeFileView {
  /** Relative to the node's root, e.g. `applications/app1.02024-10-24-20-44`. */
  name: string;
  isDirectory?: boolean;
}

export interface PoolCycleBatchOps {
  getPool(poolId: string, options?: CallOptions): Promise<PoolView>;
  listNodes(poolId: string, options?: CallOptions): Promise<NodeView[]>;
  /** The node's files under `applications/` (a recursive listing of the node root filtered to that folder will do). */
  listApplicationFiles(poolId: string, nodeId: string, options?: CallOptions): Promise<NodeFileView[]>;
  rebootNode(poolId: string, nodeId: string, option: NodeDeallocationOption, options?: CallOptions): Promise<void>;
  reimageNode(poolId: string, nodeId: string, option: NodeDeallocationOption, options?: CallOptions): Promise<void>;
  disableScheduling(poolId: string, nodeId: string, option: DisableSchedulingOption, options?: CallOptions): Promise<void>;
  enableScheduling(poolId: string, nodeId: string, options?: CallOptions): Promise<void>;
  /** Pool_RemoveNodes: the pool's targets drop by the nodes removed. */
  removeNodes(poolId: string, nodeIds: string[], option: NodeDeallocationOption, options?: CallOptions): Promise<void>;
  resizePool(poolId: string, target: { targetDedicatedNodes: number; targetLowPriorityNodes: number; nodeDeallocationOption: NodeDeallocationOption }, options?: CallOptions): Promise<void>;
  stopResizePool(poolId: string, options?: CallOptions): Promise<void>;
  enableAutoScale(poolId: string, autoScale: { formula: string; evaluationInterval?: string }, options?: CallOptions): Promise<void>;
  disableAutoScale(poolId: string, options?: CallOptions): Promise<void>;
}

/** Time for the driver: the entry passes Date.now and the runtime's sleep; tests a fake clock. */
export interface CycleClock {
  now(): number;
  /** Rejects (with anything) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Batch's error code of a failure, from the runtime seam's `reason`, the SDK's `code` or `details.errorCode`. */
export function batchErrorCode(error: unknown): string | undefined {
  const e = error as { reason?: unknown; code?: unknown; details?: { errorCode?: unknown } } | undefined;
  for (const c of [e?.reason, e?.details?.errorCode, e?.code]) if (typeof c === "string" && c !== "") return c;
  return undefined;
}
