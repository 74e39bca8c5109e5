/**
 * Nodes walk Batch's lifecycle: creating -> starting -> waitingforstarttask ->
 * idle <-> running, rebooting, reimaging, leavingpool, starttaskfailed,
 * unusable. Node operations honour the requeue / terminate / taskcompletion /
 * retaineddata options.
 */
import {
  newNodeId,
  now,
  type BatchAccountRecord,
  type DeallocationOption,
  type Json,
  type NameValuePair,
  type NodeRecord,
  type NodeState,
  type PoolRecord,
} from "./state";
import type { BatchSimulation } from "./simulation";
import { prepareNodeDirectory, removeNodeDirectory } from "./node-files";
import { compactJson, FAILURE_EXIT_CODE, runCommand, writeEmptyOutputs } from "./task-process";
import { deployPackages } from "./packages";
import { maybeSteady } from "./pools";
import { schedule, stopTasks } from "./scheduler";

export function setNodeState(node: NodeRecord, state: NodeState): void {
  if (node.state === state) return;
  node.state = state;
  node.stateTransitionTime = now();
}

export function joinNode(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, dedicated: boolean): NodeRecord {
  const script = pool.sim.nextNodeScripts.shift() ?? {};
  const t = now();
  const id = newNodeId(dedicated);
  // Every node of a pool gets its own address in 10.0.0.4 - 10.0.255.253, never reused while the pool lives.
  const index = pool.sim.nodesCreated++;
  const node: NodeRecord = {
    id,
    poolId: pool.id,
    state: "creating",
    schedulingState: "enabled",
    stateTransitionTime: t,
    allocationTime: t,
    ipAddress: `10.0.${Math.floor(index / 250)}.${(index % 250) + 4}`,
    affinityId: `TVM:${id}`,
    vmSize: pool.vmSize,
    isDedicated: dedicated,
    totalTasksRun: 0,
    totalTasksSucceeded: 0,
    recentTasks: [],
    errors: [],
    nodeAgentVersion: "1.9.27",
    installedPackages: [],
    sim: { script, running: new Set() },
  };
  pool.nodes.set(id, node);
  prepareNodeDirectory(sim, node);
  node.sim.timer = sim.clock.after(script.createSeconds ?? sim.state.timings.createSeconds, () => {
    setNodeState(node, "starting");
    node.lastBootTime = now();
    node.sim.timer = sim.clock.after(sim.state.timings.bootSeconds, () => startNodeSoftware(sim, account, pool, node, "join"));
  });
  return node;
}

/** After a boot: deploy packages, run the start task, become idle (or unusable / starttaskfailed). */
export function startNodeSoftware(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, reason: "join" | "reboot" | "reimage"): void {
  node.errors = [];
  const problems = deployPackages(sim, account, pool, node, reason === "reimage");
  if (node.sim.script.unusable) {
    setNodeState(node, "unusable");
    node.errors = [{ code: "NodeUnusable", message: "The node was scripted to become unusable by the local Batch simulation." }];
    return;
  }
  if (problems.length > 0) {
    setNodeState(node, "unusable");
    node.errors = [
      {
        code: "ApplicationPackageError",
        message: "One or more application packages specified for the pool are invalid",
        errorDetails: problems.flatMap((p) => [
          { name: "ApplicationPackageReference", value: `${p.applicationId}:${p.version ?? "default"}` },
          { name: "Message", value: p.reason },
        ]),
      },
    ];
    return;
  }
  const startTask = pool.startTask;
  if (!startTask) {
    node.startTaskInfo = undefined;
    becomeIdle(sim, account, node);
    return;
  }
  const waitForSuccess = startTask.waitForSuccess ?? true;
  const abort = new AbortController();
  node.sim.startTaskAbort = abort;
  const complete = (retryCount: number, firstStart: string, exitCode: number | undefined, failureInfo: Json | undefined): void => {
    node.startTaskInfo = compactJson({
      state: "completed",
      startTime: firstStart,
      endTime: now(),
      exitCode,
      retryCount,
      lastRetryTime: retryCount > 0 ? node.startTaskInfo?.lastRetryTime : undefined,
      result: failureInfo ? "failure" : "success",
      failureInfo,
    });
    if (node.sim.startTaskAbort === abort) node.sim.startTaskAbort = undefined;
    if (!waitForSuccess) return;
    if (!failureInfo) becomeIdle(sim, account, node);
    else setNodeState(node, "starttaskfailed");
  };
  const runStartTask = (retryCount: number, firstStart: string): void => {
    node.startTaskInfo = { state: "running", startTime: firstStart, retryCount, ...(retryCount > 0 ? { lastRetryTime: now() } : {}) };
    const retry = (exitCode: number) => {
      const maxRetries = startTask.maxTaskRetryCount ?? 0;
      return exitCode !== 0 && (maxRetries === -1 || retryCount < maxRetries);
    };
    const scripted = node.sim.script.startTaskExitCode;
    if (scripted !== undefined) {
      // A scripted start task: no process, the scripted exit code after the simulated run time.
      node.sim.timer = sim.clock.after(sim.state.timings.startTaskSeconds, () => {
        writeEmptyOutputs(node, "startup");
        if (retry(scripted)) return runStartTask(retryCount + 1, firstStart);
        complete(retryCount, firstStart, scripted, scripted === 0 ? undefined : FAILURE_EXIT_CODE);
      });
      return;
    }
    // The node agent's own start-up takes startTaskSeconds (simulated); the start task completes when that and its process are both done.
    const agent = sim.clock.sleep(sim.state.timings.startTaskSeconds, abort.signal).catch(() => undefined);
    void runCommand(sim, {
      account,
      pool,
      node,
      commandLine: startTask.commandLine,
      resourceFiles: startTask.resourceFiles as Json[] | undefined,
      environmentSettings: startTask.environmentSettings as NameValuePair[] | undefined,
      taskDirName: "startup",
      signal: abort.signal,
    }).then(async (outcome) => {
      await agent;
      if (abort.signal.aborted) return;
      if ("failure" in outcome) return complete(retryCount, firstStart, undefined, outcome.failure as unknown as Json);
      if (retry(outcome.exitCode)) return runStartTask(retryCount + 1, firstStart);
      complete(retryCount, firstStart, outcome.exitCode, outcome.exitCode === 0 ? undefined : FAILURE_EXIT_CODE);
    });
  };
  if (waitForSuccess) setNodeState(node, "waitingforstarttask");
  runStartTask(0, now());
  if (!waitForSuccess) becomeIdle(sim, account, node);
}

export function becomeIdle(sim: BatchSimulation, account: BatchAccountRecord, node: NodeRecord): void {
  setNodeState(node, node.sim.running.size > 0 ? "running" : "idle");
  schedule(sim, account);
}

export function rebootNode(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
  if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
    node.sim.pending = { kind: "reboot" };
    return;
  }
  stopTasks(sim, account, node, option);
  restart(sim, account, pool, node, "reboot");
}

export function reimageNode(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
  if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
    node.sim.pending = { kind: "reimage" };
    return;
  }
  stopTasks(sim, account, node, option);
  restart(sim, account, pool, node, "reimage");
}

export function restart(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, kind: "reboot" | "reimage"): void {
  node.sim.timer?.cancel();
  node.sim.startTaskAbort?.abort();
  node.sim.pending = undefined;
  setNodeState(node, kind === "reboot" ? "rebooting" : "reimaging");
  if (kind === "reimage") {
    prepareNodeDirectory(sim, node, true);
    node.startTaskInfo = undefined;
  }
  const seconds = kind === "reboot" ? sim.state.timings.rebootSeconds : sim.state.timings.reimageSeconds;
  node.sim.timer = sim.clock.after(seconds, () => {
    node.lastBootTime = now();
    startNodeSoftware(sim, account, pool, node, kind);
  });
  schedule(sim, account);
}

export function removeNode(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption): void {
  pool.sim.resize?.removing.add(node);
  if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
    node.sim.pending = { kind: "remove" };
    return;
  }
  stopTasks(sim, account, node, option);
  leave(sim, account, pool, node);
}

export function leave(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord): void {
  node.sim.timer?.cancel();
  node.sim.startTaskAbort?.abort();
  node.sim.pending = undefined;
  setNodeState(node, "leavingpool");
  node.sim.timer = sim.clock.after(sim.state.timings.leaveSeconds, () => {
    pool.nodes.delete(node.id);
    removeNodeDirectory(node);
    for (const [, p] of account.pools) p.sim.resize?.removing.delete(node);
    maybeSteady(pool);
    schedule(sim, account);
  });
}

export function disableScheduling(sim: BatchSimulation, account: BatchAccountRecord, node: NodeRecord, option: "requeue" | "terminate" | "taskcompletion" = "requeue"): void {
  node.schedulingState = "disabled";
  if (option !== "taskcompletion") stopTasks(sim, account, node, option);
  if (node.sim.running.size === 0 && node.state === "running") setNodeState(node, "idle");
  schedule(sim, account);
}

export function enableScheduling(sim: BatchSimulation, account: BatchAccountRecord, node: NodeRecord): void {
  node.schedulingState = "enabled";
  schedule(sim, account);
}
