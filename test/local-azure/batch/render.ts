/** Records as the data plane shows them (2022-10-01.16.0 shapes; unset members left out). */
import type { BatchSimulation } from "./simulation";
import { exactVersionOf } from "./images";
import { type JobRecord, type Json, type NodeRecord, type PoolRecord, type TaskRecord } from "./state";
import { compact } from "./responses";

export function renderPool(sim: BatchSimulation, pool: PoolRecord): Record<string, unknown> {
  let dedicated = 0;
  let lowPriority = 0;
  for (const n of pool.nodes.values()) n.isDedicated ? dedicated++ : lowPriority++;
  return compact({
    id: pool.id,
    displayName: pool.displayName,
    url: sim.poolUrl(pool),
    eTag: pool.eTag,
    lastModified: pool.lastModified,
    creationTime: pool.creationTime,
    state: pool.state,
    stateTransitionTime: pool.stateTransitionTime,
    allocationState: pool.allocationState,
    allocationStateTransitionTime: pool.allocationStateTransitionTime,
    vmSize: pool.vmSize,
    cloudServiceConfiguration: pool.cloudServiceConfiguration,
    virtualMachineConfiguration: pool.virtualMachineConfiguration,
    resizeTimeout: pool.enableAutoScale ? undefined : pool.resizeTimeout,
    resizeErrors: pool.resizeErrors,
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: lowPriority,
    targetDedicatedNodes: pool.targetDedicatedNodes,
    targetLowPriorityNodes: pool.targetLowPriorityNodes,
    enableAutoScale: pool.enableAutoScale,
    autoScaleFormula: pool.autoScaleFormula,
    autoScaleEvaluationInterval: pool.autoScaleEvaluationInterval,
    autoScaleRun: pool.autoScaleRun,
    enableInterNodeCommunication: pool.enableInterNodeCommunication,
    networkConfiguration: pool.networkConfiguration,
    startTask: pool.startTask,
    certificateReferences: pool.certificateReferences.length > 0 ? pool.certificateReferences : undefined,
    applicationPackageReferences: pool.applicationPackageReferences.length > 0 ? pool.applicationPackageReferences : undefined,
    applicationLicenses: pool.applicationLicenses,
    taskSlotsPerNode: pool.taskSlotsPerNode,
    taskSchedulingPolicy: pool.taskSchedulingPolicy,
    userAccounts: pool.userAccounts,
    metadata: pool.metadata.length > 0 ? pool.metadata : undefined,
    mountConfiguration: pool.mountConfiguration,
    identity: pool.identity,
    targetNodeCommunicationMode: pool.targetNodeCommunicationMode,
    currentNodeCommunicationMode: pool.currentNodeCommunicationMode,
  });
}

export function renderNode(sim: BatchSimulation, pool: PoolRecord, node: NodeRecord): Record<string, unknown> {
  const vm = pool.virtualMachineConfiguration as { imageReference?: Json } | undefined;
  return compact({
    id: node.id,
    url: sim.nodeUrl(pool, node),
    state: node.state,
    schedulingState: node.schedulingState,
    stateTransitionTime: node.stateTransitionTime,
    lastBootTime: node.lastBootTime,
    allocationTime: node.allocationTime,
    ipAddress: node.ipAddress,
    affinityId: node.affinityId,
    vmSize: node.vmSize,
    totalTasksRun: node.totalTasksRun,
    runningTasksCount: node.sim.running.size,
    runningTaskSlotsCount: [...node.sim.running].reduce((n, t) => n + t.requiredSlots, 0),
    totalTasksSucceeded: node.totalTasksSucceeded,
    recentTasks: node.recentTasks.length > 0 ? node.recentTasks : undefined,
    startTask: pool.startTask,
    startTaskInfo: node.startTaskInfo,
    certificateReferences: pool.certificateReferences.length > 0 ? pool.certificateReferences : undefined,
    errors: node.errors.length > 0 ? node.errors : undefined,
    isDedicated: node.isDedicated,
    endpointConfiguration: { inboundEndpoints: [{ name: "SSHRule.0", protocol: "tcp", publicIPAddress: "127.0.0.1", publicFQDN: "127.0.0.1", frontendPort: 50000 + (parseInt(node.id.slice(6, 10), 16) % 10000), backendPort: 22 }] },
    nodeAgentInfo: { version: node.nodeAgentVersion, lastUpdateTime: node.allocationTime },
    virtualMachineInfo: vm?.imageReference ? { imageReference: compact({ ...vm.imageReference, exactVersion: exactVersionOf(vm.imageReference) }) } : undefined,
  });
}

export function renderJob(sim: BatchSimulation, job: JobRecord): Record<string, unknown> {
  return compact({
    id: job.id,
    displayName: job.displayName,
    usesTaskDependencies: job.usesTaskDependencies,
    url: `${sim.state.url}/jobs/${job.id}`,
    eTag: job.eTag,
    lastModified: job.lastModified,
    creationTime: job.creationTime,
    state: job.state,
    stateTransitionTime: job.stateTransitionTime,
    previousState: job.previousState,
    previousStateTransitionTime: job.previousStateTransitionTime,
    priority: job.priority,
    allowTaskPreemption: job.allowTaskPreemption,
    maxParallelTasks: job.maxParallelTasks,
    constraints: job.constraints,
    jobManagerTask: job.jobManagerTask,
    jobPreparationTask: job.jobPreparationTask,
    jobReleaseTask: job.jobReleaseTask,
    commonEnvironmentSettings: job.commonEnvironmentSettings,
    poolInfo: job.poolInfo,
    onAllTasksComplete: job.onAllTasksComplete,
    onTaskFailure: job.onTaskFailure,
    networkConfiguration: job.networkConfiguration,
    metadata: job.metadata,
    executionInfo: compact({ ...job.executionInfo }),
  });
}

export function renderTask(sim: BatchSimulation, job: JobRecord, task: TaskRecord): Record<string, unknown> {
  return compact({
    id: task.id,
    displayName: task.displayName,
    url: sim.taskUrl(job, task),
    eTag: task.eTag,
    lastModified: task.lastModified,
    creationTime: task.creationTime,
    exitConditions: task.exitConditions,
    state: task.state,
    stateTransitionTime: task.stateTransitionTime,
    previousState: task.previousState,
    previousStateTransitionTime: task.previousStateTransitionTime,
    commandLine: task.commandLine,
    containerSettings: task.containerSettings,
    resourceFiles: task.resourceFiles,
    outputFiles: task.outputFiles,
    environmentSettings: task.environmentSettings,
    affinityInfo: task.affinityInfo,
    constraints: task.constraints,
    requiredSlots: task.requiredSlots,
    userIdentity: task.userIdentity ?? { autoUser: { scope: "pool", elevationLevel: "nonadmin" } },
    executionInfo: compact({ ...task.executionInfo }),
    nodeInfo: task.nodeInfo,
    multiInstanceSettings: task.multiInstanceSettings,
    dependsOn: task.dependsOn,
    applicationPackageReferences: task.applicationPackageReferences,
    authenticationTokenSettings: task.authenticationTokenSettings,
  });
}
