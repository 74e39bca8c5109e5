/**
 * Pools: creation, deletion, resizes towards their targets (nodes join after
 * the allocation delay; nodes to remove are picked as Batch picks them),
 * stop resize and the autoscale switch.
 */
import { withImageDefaults } from "./images";
import { removeNodeDirectory } from "./node-files";
import {
  newETag,
  now,
  type ApplicationPackageReference,
  type BatchAccountRecord,
  type DeallocationOption,
  type Json,
  type NameValuePair,
  type NodeRecord,
  type PoolRecord,
  type StartTask,
} from "./state";
import type { BatchSimulation } from "./simulation";
import { joinNode, removeNode } from "./nodes";
import { schedule, stopTasks } from "./scheduler";

export function touchPool(pool: PoolRecord): void {
  pool.eTag = newETag();
  pool.lastModified = now();
}

export function setAllocationState(pool: PoolRecord, state: PoolRecord["allocationState"]): void {
  if (pool.allocationState === state) return;
  pool.allocationState = state;
  pool.allocationStateTransitionTime = now();
}

/** Adds a pool from a data-plane PoolAddParameter body (validated by the caller). */
export function addPool(sim: BatchSimulation, account: BatchAccountRecord, params: Json): PoolRecord {
  const t = now();
  const pool: PoolRecord = {
    id: String(params.id),
    displayName: params.displayName as string | undefined,
    eTag: newETag(),
    lastModified: t,
    creationTime: t,
    state: "active",
    stateTransitionTime: t,
    allocationState: "steady",
    allocationStateTransitionTime: t,
    vmSize: String(params.vmSize).toLowerCase(),
    virtualMachineConfiguration: withImageDefaults(params.virtualMachineConfiguration as Json | undefined),
    cloudServiceConfiguration: params.cloudServiceConfiguration as Json | undefined,
    resizeTimeout: (params.resizeTimeout as string | undefined) ?? "PT15M",
    targetDedicatedNodes: 0,
    targetLowPriorityNodes: 0,
    enableAutoScale: Boolean(params.enableAutoScale),
    autoScaleFormula: params.enableAutoScale ? (params.autoScaleFormula as string | undefined) : undefined,
    autoScaleEvaluationInterval: params.enableAutoScale ? ((params.autoScaleEvaluationInterval as string | undefined) ?? "PT15M") : undefined,
    enableInterNodeCommunication: Boolean(params.enableInterNodeCommunication),
    networkConfiguration: params.networkConfiguration as Json | undefined,
    startTask: params.startTask as StartTask | undefined,
    certificateReferences: (params.certificateReferences as Json[] | undefined) ?? [],
    applicationPackageReferences: (params.applicationPackageReferences as ApplicationPackageReference[] | undefined) ?? [],
    applicationLicenses: params.applicationLicenses as string[] | undefined,
    taskSlotsPerNode: (params.taskSlotsPerNode as number | undefined) ?? 1,
    taskSchedulingPolicy: (params.taskSchedulingPolicy as PoolRecord["taskSchedulingPolicy"] | undefined) ?? { nodeFillType: "spread" },
    userAccounts: params.userAccounts as Json[] | undefined,
    metadata: (params.metadata as NameValuePair[] | undefined) ?? [],
    mountConfiguration: params.mountConfiguration as Json[] | undefined,
    identity: params.identity as Json | undefined,
    targetNodeCommunicationMode: (params.targetNodeCommunicationMode as string | undefined) ?? "default",
    currentNodeCommunicationMode: "classic",
    nodes: new Map(),
    sim: { nextNodeScripts: [], nodesCreated: 0 },
  };
  account.pools.set(pool.id, pool);
  const dedicated = (params.targetDedicatedNodes as number | undefined) ?? 0;
  const lowPriority = (params.targetLowPriorityNodes as number | undefined) ?? 0;
  if (!pool.enableAutoScale && dedicated + lowPriority > 0) {
    resize(sim, account, pool, { targetDedicatedNodes: dedicated, targetLowPriorityNodes: lowPriority });
  }
  return pool;
}

/** Deleting a pool: resize to zero with requeue, then the pool is gone. */
export function deletePool(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord): void {
  pool.state = "deleting";
  pool.stateTransitionTime = now();
  pool.sim.resize?.allocation?.cancel();
  pool.sim.resize = undefined;
  pool.targetDedicatedNodes = 0;
  pool.targetLowPriorityNodes = 0;
  setAllocationState(pool, "resizing");
  for (const node of pool.nodes.values()) stopTasks(sim, account, node, "requeue");
  for (const node of pool.nodes.values()) node.sim.timer?.cancel();
  sim.clock.after(sim.state.timings.leaveSeconds, () => {
    account.pools.delete(pool.id);
    for (const node of pool.nodes.values()) removeNodeDirectory(node);
    schedule(sim, account);
  });
}

export function resize(
  sim: BatchSimulation,
  account: BatchAccountRecord,
  pool: PoolRecord,
  target: { targetDedicatedNodes?: number; targetLowPriorityNodes?: number; resizeTimeout?: string; nodeDeallocationOption?: DeallocationOption },
): void {
  pool.targetDedicatedNodes = target.targetDedicatedNodes ?? pool.targetDedicatedNodes;
  pool.targetLowPriorityNodes = target.targetLowPriorityNodes ?? pool.targetLowPriorityNodes;
  if (target.resizeTimeout) pool.resizeTimeout = target.resizeTimeout;
  pool.resizeErrors = undefined;
  const option = target.nodeDeallocationOption ?? "requeue";
  const startTime = now();
  pool.sim.resize = { nodeDeallocationOption: option, startTime, removing: new Set() };
  pool.sim.lastResize = {
    targetDedicatedNodes: pool.targetDedicatedNodes,
    targetLowPriorityNodes: pool.targetLowPriorityNodes,
    resizeTimeout: pool.resizeTimeout,
    nodeDeallocationOption: option,
    startTime,
  };
  setAllocationState(pool, "resizing");
  touchPool(pool);

  const add = { dedicated: 0, lowPriority: 0 };
  for (const dedicated of [true, false]) {
    const target = dedicated ? pool.targetDedicatedNodes : pool.targetLowPriorityNodes;
    const staying = [...pool.nodes.values()].filter((n) => n.isDedicated === dedicated && !isLeaving(pool, n));
    const delta = target - staying.length;
    if (delta > 0) add[dedicated ? "dedicated" : "lowPriority"] = delta;
    if (delta < 0) for (const node of pickNodesToRemove(staying, -delta)) removeNode(sim, account, pool, node, option);
  }
  if (add.dedicated + add.lowPriority > 0) {
    const resize = pool.sim.resize;
    resize.allocation = sim.clock.after(sim.state.timings.allocateSeconds, () => {
      resize.allocation = undefined;
      for (let i = 0; i < add.dedicated; i++) joinNode(sim, account, pool, true);
      for (let i = 0; i < add.lowPriority; i++) joinNode(sim, account, pool, false);
      maybeSteady(pool);
    });
  }
  maybeSteady(pool);
}

export function stopResize(sim: BatchSimulation, pool: PoolRecord): void {
  const resize = pool.sim.resize;
  if (!resize) return;
  resize.allocation?.cancel();
  resize.allocation = undefined;
  setAllocationState(pool, "stopping");
  touchPool(pool);
  sim.clock.after(sim.state.timings.stopResizeSeconds, () => {
    if (pool.sim.resize !== resize) return;
    pool.sim.resize = undefined;
    setAllocationState(pool, "steady");
  });
}

/** Remove specific nodes (Pool_RemoveNodes): the targets drop by the nodes removed. */
export function removeNodes(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, nodes: NodeRecord[], option: DeallocationOption = "requeue", resizeTimeout?: string): void {
  const dedicated = nodes.filter((n) => n.isDedicated).length;
  pool.targetDedicatedNodes = Math.max(0, pool.targetDedicatedNodes - dedicated);
  pool.targetLowPriorityNodes = Math.max(0, pool.targetLowPriorityNodes - (nodes.length - dedicated));
  if (resizeTimeout) pool.resizeTimeout = resizeTimeout;
  const startTime = now();
  pool.sim.resize = { nodeDeallocationOption: option, startTime, removing: new Set() };
  pool.sim.lastResize = { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes, resizeTimeout: pool.resizeTimeout, nodeDeallocationOption: option, startTime };
  setAllocationState(pool, "resizing");
  touchPool(pool);
  for (const node of nodes) removeNode(sim, account, pool, node, option);
  maybeSteady(pool);
}

export function enableAutoScale(pool: PoolRecord, formula: string | undefined, interval: string | undefined): void {
  pool.enableAutoScale = true;
  if (formula !== undefined) pool.autoScaleFormula = formula;
  pool.autoScaleEvaluationInterval = interval ?? pool.autoScaleEvaluationInterval ?? "PT15M";
  touchPool(pool);
}

export function disableAutoScale(pool: PoolRecord): void {
  pool.enableAutoScale = false;
  pool.autoScaleFormula = undefined;
  pool.autoScaleEvaluationInterval = undefined;
  pool.autoScaleRun = undefined;
  touchPool(pool);
}

export function isLeaving(pool: PoolRecord, node: NodeRecord): boolean {
  return node.state === "leavingpool" || node.sim.pending?.kind === "remove" || Boolean(pool.sim.resize?.removing.has(node));
}

/** Batch removes nodes that have not started yet, then broken ones, then idle ones, then the least busy. */
export function pickNodesToRemove(nodes: NodeRecord[], count: number): NodeRecord[] {
  const rank = (n: NodeRecord): number => {
    if (n.state === "creating" || n.state === "starting") return 0;
    if (n.state === "unusable" || n.state === "starttaskfailed" || n.state === "offline") return 1;
    if (n.state === "idle" || n.state === "waitingforstarttask") return 2;
    return 3 + n.sim.running.size;
  };
  return [...nodes].sort((a, b) => rank(a) - rank(b)).slice(0, count);
}

export function maybeSteady(pool: PoolRecord): void {
  const resize = pool.sim.resize;
  if (!resize || resize.allocation || resize.removing.size > 0) return;
  if (pool.allocationState === "stopping") return;
  pool.sim.resize = undefined;
  if (pool.state === "active") setAllocationState(pool, "steady");
}
