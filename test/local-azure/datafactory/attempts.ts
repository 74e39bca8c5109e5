/**
 * One activity of a run: its attempts under the activity's retry policy, each
 * bounded by its policy.timeout (policy.ts), the evaluation of its
 * typeProperties and userProperties, and what each activity type does (Wait,
 * ExecutePipeline, Custom through the Custom activity runner, Copy for real
 * on the local Blob service unless scripted, the rest as generic activities).
 */
import { randomUUID } from "node:crypto";
import {
  copyActivityOutput,
  runExecutePipelineActivity,
  runGenericActivity,
  runWaitActivity,
  storageAccountOf,
  type ActivityContext,
  type ActivityOutcome,
  type ActivityScript,
} from "./activities";
import { runCopyActivity } from "./copy-activity";
import { evaluateValue, ExpressionError, type ExpressionContext } from "./expressions";
import { activityTimeoutSeconds, timeoutError } from "./policy";
import { findLinkedService, type RunEngineOptions } from "./runs";
import type { ActivityDefinition, ActivityError, ActivityRunRecord, FactoryEntity, JsonObject, PipelineRunRecord } from "./types";

const MAX_TIMER_MS = 2 ** 31 - 1;

const emptyError = (target: string): ActivityError => ({ errorCode: "", message: "", failureType: "", target, details: "" });

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}

/** Starts a child pipeline run for ExecutePipeline (the run engine does it). */
export type StartChildRun = (ctx: ActivityContext, pipelineName: string, parameters: JsonObject, wait: boolean, signal: AbortSignal) => Promise<PipelineRunRecord>;

export class ActivityAttempts {
  constructor(
    private readonly options: RunEngineOptions,
    private readonly startChild: StartChildRun,
  ) {}

  private expressionContext(factory: FactoryEntity, run: PipelineRunRecord, carried: Map<string, ActivityRunRecord>): ExpressionContext {
    const pipeline: JsonObject = {
      DataFactory: factory.name,
      Pipeline: run.pipelineName,
      RunId: run.runId,
      GroupId: run.runGroupId,
      TriggerType: run.invokedBy.invokedByType,
      TriggerId: run.invokedBy.id,
      TriggerName: run.invokedBy.name,
      TriggerTime: run.runStart.toISOString(),
      parameters: run.parameters as JsonObject,
      globalParameters: {},
    };
    return {
      pipeline,
      activity: (name) => {
        const record = [...run.activityRuns].reverse().find((r) => r.activityName === name) ?? carried.get(name);
        if (!record) return undefined;
        return { output: record.output, error: record.error as unknown as JsonObject, status: record.status, ActivityRunId: record.activityRunId };
      },
    };
  }

  private script(run: PipelineRunRecord, activity: ActivityDefinition, attempt: number): ActivityScript | undefined {
    const source = this.options.findScript(run.pipelineName, activity.name);
    return typeof source === "function" ? source({ run, attempt }) : source;
  }

  async runActivity(factory: FactoryEntity, run: PipelineRunRecord, activity: ActivityDefinition, signal: AbortSignal, carried: Map<string, ActivityRunRecord>): Promise<void> {
    if (activity.state === "Inactive") {
      // Inactive activities do not run; they count as their onInactiveMarkAs outcome.
      run.outcomes.set(activity.name, activity.onInactiveMarkAs ?? "Succeeded");
      return;
    }
    const retries = Math.max(0, Number(activity.policy?.retry ?? 0) || 0);
    const interval = Math.max(0, Number(activity.policy?.retryIntervalInSeconds ?? 30) || 0);
    for (let attempt = 1; ; attempt++) {
      const record = await this.runAttempt(factory, run, activity, signal, carried, attempt);
      if (record.status !== "Failed" || attempt > retries || signal.aborted) {
        run.outcomes.set(activity.name, record.status === "InProgress" || record.status === "Queued" ? "Cancelled" : record.status);
        return;
      }
      try {
        await this.options.clock.sleep(interval, signal);
      } catch (e) {
        if (!isAbort(e)) throw e;
        run.outcomes.set(activity.name, "Failed");
        return;
      }
    }
  }

  private async runAttempt(factory: FactoryEntity, run: PipelineRunRecord, activity: ActivityDefinition, signal: AbortSignal, carried: Map<string, ActivityRunRecord>, attempt: number): Promise<ActivityRunRecord> {
    const { clock } = this.options;
    const now = clock.now();
    const record: ActivityRunRecord = {
      activityRunId: randomUUID(),
      activityName: activity.name,
      activityType: activity.type,
      pipelineName: run.pipelineName,
      pipelineRunId: run.runId,
      linkedServiceName: activity.linkedServiceName?.referenceName ?? "",
      status: "InProgress",
      activityRunStart: now,
      input: {},
      output: {},
      error: emptyError(activity.name),
      userProperties: {},
      lastUpdated: now,
    };
    run.activityRuns.push(record);
    run.lastUpdated = now;
    let outcome: ActivityOutcome | "Cancelled";
    // The attempt's own signal: the run's cancellation, or the activity's policy.timeout.
    const attemptAbort = new AbortController();
    const onRunAbort = () => attemptAbort.abort();
    if (signal.aborted) attemptAbort.abort();
    else signal.addEventListener("abort", onRunAbort, { once: true });
    let timedOut: string | undefined;
    let timer: { cancel(): void } | undefined;
    try {
      const exprs = this.expressionContext(factory, run, carried);
      const typeProperties = evaluateValue((activity.typeProperties ?? {}) as JsonObject, exprs) as JsonObject;
      record.input = typeProperties;
      for (const p of activity.userProperties ?? []) {
        const v = evaluateValue(p.value, exprs);
        record.userProperties[p.name] = typeof v === "string" ? v : JSON.stringify(v);
      }
      const timeout = activityTimeoutSeconds(evaluateValue(activity.policy?.timeout, exprs));
      if ("error" in timeout) throw new ExpressionError(timeout.error);
      // A Node timer holds at most about 24.8 days; a longer timeout (real time scale) can never be reached here.
      if (clock.ms(timeout.seconds) < MAX_TIMER_MS) {
        timer = clock.after(timeout.seconds, () => {
          timedOut = timeout.text;
          attemptAbort.abort();
        });
      }
      const ctx: ActivityContext = {
        factory,
        run,
        activity,
        activityRun: record,
        typeProperties,
        expressions: exprs,
        script: this.script(run, activity, attempt),
        attempt,
        clock,
        signal: attemptAbort.signal,
        defaultDurationSeconds: this.options.timings.activitySeconds,
      };
      outcome = await this.execute(ctx);
    } catch (e) {
      if (isAbort(e)) outcome = timedOut !== undefined && !signal.aborted ? { status: "Failed", output: {}, error: timeoutError(activity.name, timedOut) } : "Cancelled";
      else if (e instanceof ExpressionError) outcome = { status: "Failed", output: {}, error: { errorCode: e.errorCode, message: e.message, failureType: "UserError" } };
      else outcome = { status: "Failed", output: {}, error: { errorCode: "2011", message: e instanceof Error ? e.message : String(e), failureType: "SystemError" } };
    } finally {
      timer?.cancel();
      signal.removeEventListener("abort", onRunAbort);
    }
    const end = clock.now();
    record.activityRunEnd = end;
    record.lastUpdated = end;
    run.lastUpdated = end;
    if (outcome === "Cancelled") {
      record.status = "Cancelled";
      return record;
    }
    record.status = outcome.status;
    record.output = outcome.output;
    if (outcome.status === "Failed") {
      const err = outcome.error ?? { errorCode: "", message: "" };
      record.error = { errorCode: err.errorCode, message: err.message, failureType: err.failureType ?? "UserError", target: activity.name, details: "" };
    }
    return record;
  }

  private execute(ctx: ActivityContext): Promise<ActivityOutcome> {
    switch (ctx.activity.type) {
      case "Wait":
        return runWaitActivity(ctx);
      case "ExecutePipeline":
        return runExecutePipelineActivity(ctx, { startChild: (name, params, wait, signal) => this.startChild(ctx, name, params, wait, signal) });
      case "Custom":
        return this.runCustom(ctx);
      case "Copy":
        // A test's script simulates the copy; otherwise it copies the blobs for real.
        if (ctx.script) return runGenericActivity(ctx, copyActivityOutput(ctx.factory.location, ctx.script.durationSeconds ?? ctx.defaultDurationSeconds));
        return runCopyActivity(ctx, { blobBaseUrl: this.options.blobBaseUrl() });
      default:
        return runGenericActivity(ctx);
    }
  }

  private runCustom(ctx: ActivityContext): Promise<ActivityOutcome> {
    const tp = ctx.typeProperties;
    const batchName = ctx.activity.linkedServiceName?.referenceName ?? "";
    const batchLs = findLinkedService(ctx.factory, batchName);
    const bt = (batchLs?.properties.typeProperties ?? {}) as JsonObject;
    const stagingName = ((bt.linkedServiceName ?? {}) as JsonObject).referenceName as string | undefined;
    const stagingLs = stagingName ? findLinkedService(ctx.factory, stagingName) : undefined;
    const stagingAccount = storageAccountOf(stagingLs?.properties.typeProperties);
    const resourceName = ((tp.resourceLinkedService ?? {}) as JsonObject).referenceName as string | undefined;
    const resourceLs = resourceName ? findLinkedService(ctx.factory, resourceName) : undefined;
    // The Batch task (and its adfjobs/<id>/ folder) is named by the activity run id.
    const taskId = ctx.activityRun.activityRunId;
    const poolName = String(bt.poolName ?? "");
    return this.options.customActivityRunner()({
      ...ctx,
      command: typeof tp.command === "string" ? tp.command : JSON.stringify(tp.command ?? ""),
      batch: { linkedServiceName: batchName, accountName: String(bt.accountName ?? ""), batchUri: String(bt.batchUri ?? ""), poolName, jobId: `adfv2-${poolName}` },
      staging: { linkedServiceName: stagingName ?? "", accountName: stagingAccount },
      resources: resourceName && typeof tp.folderPath === "string" ? { linkedServiceName: resourceName, accountName: storageAccountOf(resourceLs?.properties.typeProperties), folderPath: tp.folderPath } : undefined,
      taskId,
      adfJobsUrl: `${this.options.blobBaseUrl()}/${stagingAccount}/adfjobs/${taskId}/`,
      location: ctx.factory.location,
    });
  }
}
