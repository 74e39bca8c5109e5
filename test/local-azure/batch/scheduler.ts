/**
 * Tasks (jobs are in jobs.ts): tasks are scheduled onto free task slots (job priority,
 * then age; spread or pack), run, and end as exited, requeued or terminated,
 * with Batch's executionInfo, retries and onAllTasksComplete.
 */
import {
  findKey,
  newETag,
  now,
  type ApplicationPackageReference,
  type BatchAccountRecord,
  type DeallocationOption,
  type JobRecord,
  type Json,
  type NameValuePair,
  type NodeRecord,
  type PoolRecord,
  type TaskRecord,
  type TaskScript,
} from "./state";
import { jobMaybeComplete } from "./jobs";
import type { BatchSimulation } from "./simulation";
import { parseDuration } from "../clock";
import { taskDirectoryName } from "./node-files";
import { downloadResourceFiles } from "./resource-files";
import { appendOutputs, batchEnvironment, FAILURE_EXIT_CODE, prepareTaskDirectory } from "./task-process";
import { leave, restart, setNodeState } from "./nodes";

/** Linux exit status of a process ended with SIGKILL (128 + 9); Windows reports STATUS_CONTROL_C_EXIT. */
const TERMINATED_EXIT_CODE_LINUX = 137;
const TERMINATED_EXIT_CODE_WINDOWS = -1073741510;

export function touchTask(task: TaskRecord): void {
  task.eTag = newETag();
  task.lastModified = now();
}

export function setTaskState(task: TaskRecord, state: TaskRecord["state"]): void {
  if (task.state === state) return;
  task.previousState = task.state;
  task.previousStateTransitionTime = task.stateTransitionTime;
  task.state = state;
  task.stateTransitionTime = now();
  touchTask(task);
}

export function addTask(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord, params: Json, script: TaskScript = {}): TaskRecord {
  const t = now();
  const constraints = (params.constraints as Json | undefined) ?? {};
  const task: TaskRecord = {
    jobId: job.id,
    id: String(params.id),
    displayName: params.displayName as string | undefined,
    eTag: newETag(),
    lastModified: t,
    creationTime: t,
    exitConditions: params.exitConditions as Json | undefined,
    state: "active",
    stateTransitionTime: t,
    commandLine: String(params.commandLine),
    containerSettings: params.containerSettings as Json | undefined,
    resourceFiles: params.resourceFiles as Json[] | undefined,
    outputFiles: params.outputFiles as Json[] | undefined,
    environmentSettings: params.environmentSettings as NameValuePair[] | undefined,
    affinityInfo: params.affinityInfo as Json | undefined,
    constraints: {
      maxWallClockTime: (constraints.maxWallClockTime as string | undefined) ?? "P10675199DT2H48M5.4775807S",
      retentionTime: (constraints.retentionTime as string | undefined) ?? "P7D",
      maxTaskRetryCount: (constraints.maxTaskRetryCount as number | undefined) ?? job.constraints.maxTaskRetryCount,
    },
    requiredSlots: (params.requiredSlots as number | undefined) ?? 1,
    userIdentity: params.userIdentity as Json | undefined,
    executionInfo: { retryCount: 0, requeueCount: 0 },
    multiInstanceSettings: params.multiInstanceSettings as Json | undefined,
    dependsOn: params.dependsOn as Json | undefined,
    applicationPackageReferences: params.applicationPackageReferences as ApplicationPackageReference[] | undefined,
    authenticationTokenSettings: params.authenticationTokenSettings as Json | undefined,
    sim: { seq: job.sim.nextSeq++, script, attempt: 0 },
  };
  job.tasks.set(task.id, task);
  return task;
}

export function terminateTask(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord, task: TaskRecord): void {
  if (task.state === "completed") return;
  if (task.state === "running" || task.state === "preparing") {
    endTask(sim, account, task, "terminated");
  } else {
    setTaskState(task, "completed");
    task.executionInfo.endTime = now();
    task.executionInfo.result = "failure";
    task.executionInfo.failureInfo = { category: "usererror", code: "TaskEnded", message: "Task Was Ended by User Request" };
    jobMaybeComplete(sim, account, job);
  }
  schedule(sim, account);
}

/** Requeues (requeue) or ends (terminate) the tasks running on a node. */
export function stopTasks(sim: BatchSimulation, account: BatchAccountRecord, node: NodeRecord, option: DeallocationOption): void {
  if (option !== "requeue" && option !== "terminate") return;
  for (const task of [...node.sim.running]) endTask(sim, account, task, option === "requeue" ? "requeued" : "terminated");
}

export function freeSlots(pool: PoolRecord, node: NodeRecord): number {
  let used = 0;
  for (const t of node.sim.running) used += t.requiredSlots;
  return pool.taskSlotsPerNode - used;
}

export function canTakeTasks(node: NodeRecord): boolean {
  return (node.state === "idle" || node.state === "running") && node.schedulingState === "enabled" && !node.sim.pending;
}

/** Places active tasks on nodes with free slots, job by job (priority, then age). */
export function schedule(sim: BatchSimulation, account: BatchAccountRecord): void {
  const jobs = [...account.jobs.values()].filter((j) => j.state === "active").sort((a, b) => b.priority - a.priority);
  for (const job of jobs) {
    const pool = job.poolInfo.poolId ? findKey(account.pools, job.poolInfo.poolId) : undefined;
    if (!pool || pool.state !== "active") continue;
    const nodes = [...pool.nodes.values()].filter((n) => canTakeTasks(n));
    if (nodes.length === 0) continue;
    let running = 0;
    for (const t of job.tasks.values()) if (t.state === "running" || t.state === "preparing") running++;
    for (const task of job.tasks.values()) {
      if (task.state !== "active") continue;
      if (job.maxParallelTasks !== -1 && running >= job.maxParallelTasks) break;
      const fits = nodes.filter((n) => canTakeTasks(n) && freeSlots(pool, n) >= task.requiredSlots);
      if (fits.length === 0) {
        if (nodes.every((n) => !canTakeTasks(n) || freeSlots(pool, n) <= 0)) break;
        continue;
      }
      const pack = pool.taskSchedulingPolicy.nodeFillType === "pack";
      fits.sort((a, b) => (pack ? freeSlots(pool, a) - freeSlots(pool, b) : freeSlots(pool, b) - freeSlots(pool, a)));
      runTask(sim, account, pool, fits[0], job, task);
      running++;
    }
  }
}

/** The AZ_BATCH_* environment a task sees on a Linux node, with its package variables. */
export function taskEnvironment(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, job: JobRecord, task: TaskRecord): Record<string, string> {
  return batchEnvironment(sim, account, pool, node, taskDirectoryName(job.id, task.id), { job, task });
}

/** Largest delay a Node timer takes (about 24.8 days); a longer maxWallClockTime is no limit here. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Starts a task's run on a node. How it runs, in order: the taskRunner hook
 * when it takes the task; a scripted run (taskScript or scriptTask: simulated
 * duration and exit code, no process) when the task is scripted; else its
 * command line as a real process. A run ends only when its process (or hook)
 * ends, however fast the simulated clock goes; maxWallClockTime (simulated
 * time) kills it.
 */
export function runTask(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, job: JobRecord, task: TaskRecord): void {
  const attempt = ++task.sim.attempt;
  task.sim.node = node;
  node.sim.running.add(task);
  setNodeState(node, "running");
  const t = now();
  task.executionInfo.startTime = t;
  task.executionInfo.endTime = undefined;
  task.executionInfo.exitCode = undefined;
  task.executionInfo.result = undefined;
  task.executionInfo.failureInfo = undefined;
  const nodeUrl = sim.nodeUrl(pool, node);
  const taskRoot = taskDirectoryName(job.id, task.id);
  task.nodeInfo = {
    affinityId: node.affinityId,
    nodeUrl,
    poolId: pool.id,
    nodeId: node.id,
    taskRootDirectory: taskRoot,
    taskRootDirectoryUrl: `${nodeUrl}/files/${taskRoot}`,
  };
  setTaskState(task, "running");
  node.totalTasksRun++;
  recordRecentTask(sim, job, node, task);

  const abort = new AbortController();
  task.sim.abort = abort;
  const current = () => task.sim.attempt === attempt && task.state === "running";
  const finish = (exitCode: number, stdout?: string, stderr?: string) => {
    if (!current()) return;
    appendOutputs(node, taskRoot, stdout, stderr);
    endTask(sim, account, task, "exited", exitCode);
  };
  const fail = (e: unknown) => finish(1, undefined, `${e instanceof Error ? e.message : String(e)}\n`);

  const wallClock = parseDuration(task.constraints.maxWallClockTime);
  if (wallClock !== undefined && sim.clock.ms(wallClock) < MAX_TIMER_MS) {
    task.sim.timer = sim.clock.after(wallClock, () => {
      if (current()) endTask(sim, account, task, "timedout");
    });
  }

  const script = { ...sim.state.taskScript?.(job, task), ...task.sim.script };
  const scripted = script.durationSeconds !== undefined || script.exitCode !== undefined;
  void (async () => {
    const dirs = prepareTaskDirectory(node, taskRoot);
    const hook = sim.state.taskRunner;
    if (hook || !scripted) {
      const failure = await downloadResourceFiles(task.resourceFiles, dirs.workingDir, account, sim.state.autoStorageContainer);
      if (!current()) return;
      if (failure) return endTask(sim, account, task, "preprocessing", undefined, failure as unknown as Json);
    }
    const run = hook?.({
      account,
      pool,
      node,
      job,
      task,
      environment: taskEnvironment(sim, account, pool, node, job, task),
      signal: abort.signal,
      taskDirectory: dirs.taskDir,
      workingDirectory: dirs.workingDir,
    });
    if (run) {
      const r = await run;
      return finish(r.exitCode, r.stdout, r.stderr);
    }
    if (scripted) {
      const timer = sim.clock.after(script.durationSeconds ?? sim.state.timings.taskSeconds, () => finish(script.exitCode ?? 0));
      abort.signal.addEventListener("abort", () => timer.cancel(), { once: true });
      return;
    }
    const result = await sim.processes.run({
      commandLine: task.commandLine,
      cwd: dirs.workingDir,
      env: taskEnvironment(sim, account, pool, node, job, task),
      stdoutPath: dirs.stdoutPath,
      stderrPath: dirs.stderrPath,
      signal: abort.signal,
    });
    if (result.how === "exited") finish(result.exitCode);
  })().catch(fail);
}

export function recordRecentTask(sim: BatchSimulation, job: JobRecord, node: NodeRecord, task: TaskRecord): void {
  node.recentTasks = node.recentTasks.filter((r) => !(r.jobId === job.id && r.taskId === task.id));
  node.recentTasks.unshift({ taskUrl: sim.taskUrl(job, task), jobId: job.id, taskId: task.id, taskState: task.state, executionInfo: task.executionInfo as unknown as Json });
  node.recentTasks.length = Math.min(node.recentTasks.length, 10);
}

/**
 * Ends a task's current run: it exited (exit code), was requeued (back to
 * active, to run again elsewhere or later), was terminated (completed with
 * failureInfo TaskEnded and the exit code of a killed process), ran past its
 * maxWallClockTime (killed; Batch documents the TaskEnded code with category
 * ServerError for it), or failed before its command line ran (a resource file
 * could not be downloaded: no exit code, the download's failureInfo).
 */
export function endTask(
  sim: BatchSimulation,
  account: BatchAccountRecord,
  task: TaskRecord,
  how: "exited" | "requeued" | "terminated" | "timedout" | "preprocessing",
  exitCode = 0,
  preprocessingFailure?: Json,
): void {
  const job = account.jobs.get(task.jobId);
  const node = task.sim.node;
  task.sim.timer?.cancel();
  task.sim.abort?.abort();
  task.sim.abort = undefined;
  task.sim.node = undefined;
  const t = now();
  if (node) node.sim.running.delete(task);

  if (how === "requeued") {
    task.executionInfo.requeueCount++;
    task.executionInfo.lastRequeueTime = t;
    task.executionInfo.startTime = undefined;
    setTaskState(task, "active");
  } else {
    const pool = node && job?.poolInfo.poolId ? findKey(account.pools, job.poolInfo.poolId) : undefined;
    const windows = Boolean(pool?.cloudServiceConfiguration) || /windows/i.test(String((pool?.virtualMachineConfiguration as Json | undefined)?.nodeAgentSKUId ?? ""));
    const killed = how === "terminated" || how === "timedout";
    const code = killed ? (windows ? TERMINATED_EXIT_CODE_WINDOWS : TERMINATED_EXIT_CODE_LINUX) : how === "preprocessing" ? undefined : exitCode;
    task.executionInfo.exitCode = code;
    task.executionInfo.endTime = t;
    const failed = how !== "exited" || code !== 0;
    task.executionInfo.result = failed ? "failure" : "success";
    task.executionInfo.failureInfo = !failed
      ? undefined
      : how === "terminated"
        ? { category: "usererror", code: "TaskEnded", message: "Task Was Ended by User Request" }
        : how === "timedout"
          ? { category: "servererror", code: "TaskEnded", message: "The task ran longer than its maxWallClockTime constraint and was ended." }
          : how === "preprocessing"
            ? preprocessingFailure
            : FAILURE_EXIT_CODE;
    if (node && !failed) node.totalTasksSucceeded++;
    const maxRetries = task.constraints.maxTaskRetryCount;
    if (how === "exited" && failed && (maxRetries === -1 || task.executionInfo.retryCount < maxRetries)) {
      task.executionInfo.retryCount++;
      task.executionInfo.lastRetryTime = t;
      setTaskState(task, "active");
    } else {
      setTaskState(task, "completed");
      if (job) jobMaybeComplete(sim, account, job);
    }
  }
  if (node && job) recordRecentTask(sim, job, node, task);
  if (node) afterTaskLeftNode(sim, account, node);
  schedule(sim, account);
}

export function afterTaskLeftNode(sim: BatchSimulation, account: BatchAccountRecord, node: NodeRecord): void {
  if (node.sim.running.size > 0) return;
  const pool = findKey(account.pools, node.poolId);
  const pending = node.sim.pending;
  if (pool && pending) {
    if (pending.kind === "remove") leave(sim, account, pool, node);
    else restart(sim, account, pool, node, pending.kind);
    return;
  }
  if (node.state === "running") setNodeState(node, "idle");
}

/** Task_Delete: a running task's process is killed and the task is gone. */
export function deleteTask(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord, task: TaskRecord): void {
  if (task.state === "running" || task.state === "preparing") endTask(sim, account, task, "terminated");
  job.tasks.delete(task.id);
  schedule(sim, account);
}

/** Task_Reactivate: a failed, completed task becomes active again with its retry count reset. */
export function reactivateTask(sim: BatchSimulation, account: BatchAccountRecord, task: TaskRecord): void {
  task.executionInfo = { retryCount: 0, requeueCount: task.executionInfo.requeueCount, ...(task.executionInfo.lastRequeueTime ? { lastRequeueTime: task.executionInfo.lastRequeueTime } : {}) };
  task.nodeInfo = undefined;
  setTaskState(task, "active");
  schedule(sim, account);
}

