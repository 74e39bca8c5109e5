/**
 * Jobs: creation, completion when all tasks are done (onAllTasksComplete:
 * terminatejob), termination (its tasks end, their processes killed) and
 * changes that may complete a job.
 */
import { newETag, now, type BatchAccountRecord, type JobRecord, type Json, type NameValuePair } from "./state";
import { schedule, terminateTask } from "./scheduler";
import type { BatchSimulation } from "./simulation";

export function addJob(sim: BatchSimulation, account: BatchAccountRecord, params: Json): JobRecord {
  const t = now();
  const constraints = (params.constraints as Json | undefined) ?? {};
  const job: JobRecord = {
    id: String(params.id),
    displayName: params.displayName as string | undefined,
    usesTaskDependencies: Boolean(params.usesTaskDependencies),
    eTag: newETag(),
    lastModified: t,
    creationTime: t,
    state: "active",
    stateTransitionTime: t,
    priority: (params.priority as number | undefined) ?? 0,
    allowTaskPreemption: Boolean(params.allowTaskPreemption),
    maxParallelTasks: (params.maxParallelTasks as number | undefined) ?? -1,
    constraints: {
      maxWallClockTime: (constraints.maxWallClockTime as string | undefined) ?? "P10675199DT2H48M5.4775807S",
      maxTaskRetryCount: (constraints.maxTaskRetryCount as number | undefined) ?? 0,
    },
    jobManagerTask: params.jobManagerTask as Json | undefined,
    jobPreparationTask: params.jobPreparationTask as Json | undefined,
    jobReleaseTask: params.jobReleaseTask as Json | undefined,
    commonEnvironmentSettings: params.commonEnvironmentSettings as NameValuePair[] | undefined,
    poolInfo: params.poolInfo as JobRecord["poolInfo"],
    onAllTasksComplete: (params.onAllTasksComplete as JobRecord["onAllTasksComplete"] | undefined) ?? "noaction",
    onTaskFailure: (params.onTaskFailure as JobRecord["onTaskFailure"] | undefined) ?? "noaction",
    networkConfiguration: params.networkConfiguration as Json | undefined,
    metadata: params.metadata as NameValuePair[] | undefined,
    executionInfo: { startTime: t, poolId: (params.poolInfo as { poolId?: string }).poolId },
    tasks: new Map(),
    sim: { nextSeq: 0 },
  };
  account.jobs.set(job.id, job);
  return job;
}

export function jobMaybeComplete(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord): void {
  if (job.state !== "active" || job.onAllTasksComplete !== "terminatejob") return;
  for (const t of job.tasks.values()) if (t.state !== "completed") return;
  job.previousState = job.state;
  job.previousStateTransitionTime = job.stateTransitionTime;
  job.state = "completed";
  job.stateTransitionTime = now();
  job.executionInfo.endTime = job.stateTransitionTime;
  job.executionInfo.terminateReason = "AllTasksComplete";
  job.eTag = newETag();
  job.lastModified = job.stateTransitionTime;
  void account;
}

/** Job_Terminate: the job goes terminating, its tasks that have not completed end (their processes killed), then it is completed. */
export function terminateJob(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord, reason: string): void {
  const setJobState = (state: JobRecord["state"]) => {
    job.previousState = job.state;
    job.previousStateTransitionTime = job.stateTransitionTime;
    job.state = state;
    job.stateTransitionTime = now();
    job.eTag = newETag();
    job.lastModified = job.stateTransitionTime;
  };
  setJobState("terminating");
  for (const task of job.tasks.values()) if (task.state !== "completed") terminateTask(sim, account, job, task);
  sim.clock.after(1, () => {
    if (job.state !== "terminating") return;
    setJobState("completed");
    job.executionInfo.endTime = job.stateTransitionTime;
    job.executionInfo.terminateReason = reason;
  });
}

/** After a change that may complete a job (onAllTasksComplete set to terminatejob). */
export function jobChanged(sim: BatchSimulation, account: BatchAccountRecord, job: JobRecord): void {
  job.eTag = newETag();
  job.lastModified = now();
  jobMaybeComplete(sim, account, job);
  schedule(sim, account);
}
