/** Job and task routes: jobs add / get / list / patch / terminate / delete, task counts, tasks add / collection / list / get / terminate / delete / reactivate. */
import { ServiceError, jsonBody, type AzureResponse } from "../http";
import type { BatchSimulation } from "./simulation";
import { findKey, type JobRecord, type Json } from "./state";
import { renderJob, renderTask } from "./render";
import { type BatchRequest, accepted, checkConditions, entityResponse, headers, invalidProperty, jobOf, listResponse, metadata, missingProperty, taskOf } from "./responses";

export function listJobs(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  return listResponse(sim, "jobs", req, [...req.account.jobs.values()].map((j) => renderJob(sim, j)));
}

export function getJob(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  checkConditions(req, job.eTag, job.lastModified, true);
  return entityResponse(sim, "jobs", renderJob(sim, job), req, job.eTag, job.lastModified);
}

export function addJob(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (typeof body.id !== "string" || !body.id) throw missingProperty("id");
  if (!body.poolInfo || typeof body.poolInfo !== "object") throw missingProperty("poolInfo");
  if (findKey(req.account.jobs, body.id)) throw new ServiceError(409, "JobExists", "The specified job already exists.");
  const job = sim.addJob(req.account, body);
  const url = `${sim.state.url}/jobs/${job.id}`;
  return { status: 201, headers: headers(job.eTag, job.lastModified, { dataserviceid: url, location: url }) };
}

export function deleteJob(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  checkConditions(req, job.eTag, job.lastModified, false);
  job.state = "deleting";
  for (const task of job.tasks.values()) if (task.state === "running") sim.terminateTask(req.account, job, task);
  sim.clock.after(1, () => req.account.jobs.delete(job.id));
  return accepted(sim, 202, req);
}

export function taskCounts(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  const counts = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
  const slots = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
  for (const t of job.tasks.values()) {
    const state = t.state === "preparing" ? "running" : t.state;
    counts[state]++;
    slots[state] += t.requiredSlots;
    if (t.state === "completed") {
      const ok = t.executionInfo.result === "success";
      counts[ok ? "succeeded" : "failed"]++;
      slots[ok ? "succeeded" : "failed"] += t.requiredSlots;
    }
  }
  return { status: 200, headers: headers(), body: { "odata.metadata": metadata(sim, "taskcounts", true), taskCounts: counts, taskSlotCounts: slots } };
}

export function validateTask(job: JobRecord, body: Json): ServiceError | undefined {
  if (typeof body.id !== "string" || !body.id) return missingProperty("id");
  if (typeof body.commandLine !== "string") return missingProperty("commandLine");
  if (!/^[\w-]{1,64}$/.test(body.id)) return invalidProperty("id", body.id, "The id may contain only letters, digits, hyphens and underscores, at most 64 characters.");
  if (findKey(job.tasks, body.id)) return new ServiceError(409, "TaskExists", "The specified task already exists.");
  return undefined;
}

export function jobAcceptingTasks(job: JobRecord): void {
  if (job.state === "completed") throw new ServiceError(409, "JobCompleted", "The specified job is already in a completed state.");
  if (job.state === "deleting") throw new ServiceError(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being garbage collected.");
  if (job.state === "terminating") throw new ServiceError(409, "JobBeingTerminated", "The specified job is being terminated.");
}

export function addTask(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  jobAcceptingTasks(job);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  const error = validateTask(job, body);
  if (error) throw error;
  const task = sim.addTask(req.account, job, body);
  sim.schedule(req.account);
  const url = sim.taskUrl(job, task);
  return { status: 201, headers: headers(task.eTag, task.lastModified, { dataserviceid: url, location: url }) };
}

export function addTaskCollection(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  jobAcceptingTasks(job);
  const body = jsonBody<{ value?: Json[] }>(req, "InvalidRequestBody");
  if (!Array.isArray(body.value)) throw missingProperty("value");
  if (body.value.length > 100) throw new ServiceError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.");
  const results = body.value.map((params) => {
    const error = validateTask(job, params);
    if (error) {
      return {
        status: error.status >= 500 ? "servererror" : "clienterror",
        taskId: String(params.id ?? ""),
        error: { code: error.code, message: { lang: "en-US", value: error.message }, ...(error.extra.values ? { values: error.extra.values } : {}) },
      };
    }
    const task = sim.addTask(req.account, job, params);
    return { status: "success", taskId: task.id, eTag: task.eTag, lastModified: task.lastModified, location: sim.taskUrl(job, task) };
  });
  sim.schedule(req.account);
  return { status: 200, headers: headers(), body: { "odata.metadata": metadata(sim, "taskaddresult", false), value: results } };
}

export function listTasks(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  return listResponse(sim, "tasks", req, [...job.tasks.values()].map((t) => renderTask(sim, job, t)));
}

export function getTask(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  const task = taskOf(req, job);
  checkConditions(req, task.eTag, task.lastModified, true);
  return entityResponse(sim, "tasks", renderTask(sim, job, task), req, task.eTag, task.lastModified);
}

export function terminateTask(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  const task = taskOf(req, job);
  checkConditions(req, task.eTag, task.lastModified, false);
  if (task.state === "completed") throw new ServiceError(409, "TaskCompleted", "The specified task is already in a completed state.");
  sim.terminateTask(req.account, job, task);
  return accepted(sim, 204, req, task.eTag, task.lastModified);
}

export function patchJob(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  checkConditions(req, job.eTag, job.lastModified, false);
  const body = jsonBody<Json>(req, "InvalidRequestBody");
  if (job.state === "completed") throw new ServiceError(409, "JobCompleted", "The specified job is already in a completed state.");
  if (job.state === "deleting") throw new ServiceError(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being garbage collected.");
  if (job.state === "terminating") throw new ServiceError(409, "JobBeingTerminated", "The specified job is being terminated.");
  if (body.priority !== undefined) {
    if (!Number.isInteger(body.priority) || (body.priority as number) < -1000 || (body.priority as number) > 1000) throw invalidProperty("priority", body.priority, "The priority must be an integer between -1000 and 1000.");
    job.priority = body.priority as number;
  }
  if (body.maxParallelTasks !== undefined) {
    const v = body.maxParallelTasks as number;
    if (!Number.isInteger(v) || (v < 1 && v !== -1)) throw invalidProperty("maxParallelTasks", v, "The value must be -1 or greater than 0.");
    job.maxParallelTasks = v;
  }
  if (body.allowTaskPreemption !== undefined) job.allowTaskPreemption = Boolean(body.allowTaskPreemption);
  if (body.onAllTasksComplete !== undefined) {
    const v = String(body.onAllTasksComplete).toLowerCase();
    if (v !== "noaction" && v !== "terminatejob") throw invalidProperty("onAllTasksComplete", body.onAllTasksComplete, "Unknown option.");
    if (job.onAllTasksComplete === "terminatejob" && v === "noaction") throw invalidProperty("onAllTasksComplete", body.onAllTasksComplete, "onAllTasksComplete cannot be changed from terminatejob to noaction.");
    job.onAllTasksComplete = v;
  }
  if (body.constraints !== undefined) {
    const c = (body.constraints ?? {}) as Json;
    if (c.maxWallClockTime !== undefined) job.constraints.maxWallClockTime = String(c.maxWallClockTime);
    if (c.maxTaskRetryCount !== undefined) job.constraints.maxTaskRetryCount = Number(c.maxTaskRetryCount);
  }
  if (body.poolInfo !== undefined) {
    if (job.state !== "disabled") throw new ServiceError(409, "JobNotDisabled", "The specified job is not in a disabled state: the pool can only be changed while the job is disabled.");
    job.poolInfo = body.poolInfo as JobRecord["poolInfo"];
  }
  if (body.metadata !== undefined) job.metadata = body.metadata as JobRecord["metadata"];
  sim.jobChanged(req.account, job);
  return accepted(sim, 200, req, job.eTag, job.lastModified);
}

export function terminateJob(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  checkConditions(req, job.eTag, job.lastModified, false);
  const body = jsonBody<{ terminateReason?: string }>(req, "InvalidRequestBody");
  if (job.state === "completed") throw new ServiceError(409, "JobCompleted", "The specified job is already in a completed state.");
  if (job.state === "deleting") throw new ServiceError(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being garbage collected.");
  if (job.state === "terminating") throw new ServiceError(409, "JobBeingTerminated", "The specified job is being terminated.");
  sim.terminateJob(req.account, job, body.terminateReason || "UserTerminate");
  return accepted(sim, 202, req, job.eTag, job.lastModified);
}

export function deleteTask(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  const task = taskOf(req, job);
  checkConditions(req, task.eTag, task.lastModified, false);
  sim.deleteTask(req.account, job, task);
  return { status: 200, headers: headers() };
}

export function reactivateTask(sim: BatchSimulation, req: BatchRequest): AzureResponse {
  const job = jobOf(req);
  const task = taskOf(req, job);
  checkConditions(req, task.eTag, task.lastModified, false);
  if (job.state === "completed") throw new ServiceError(409, "JobCompleted", "The specified job is already in a completed state.");
  if (job.state === "terminating" || job.state === "deleting") throw new ServiceError(409, job.state === "deleting" ? "JobBeingDeleted" : "JobBeingTerminated", "The specified job is being terminated or deleted.");
  if (task.state !== "completed" || task.executionInfo.result !== "failure") {
    throw new ServiceError(409, "OperationInvalidForCurrentState", "The specified operation is not valid for the current state of the resource.", {
      values: [{ key: "Reason", value: task.state !== "completed" ? "The task has not completed." : "The task completed successfully; only failed tasks can be reactivated." }],
    });
  }
  sim.reactivateTask(req.account, task);
  return accepted(sim, 204, req, task.eTag, task.lastModified);
}
