/**
 * The pipeline run simulation: a run is Queued, then InProgress, and its
 * activities start as their `dependsOn` conditions are met; an activity whose
 * conditions can no longer be met is Skipped and gets no activity run, as in
 * ADF. The run's result follows ADF's documented rule: evaluate the leaf
 * activities (a skipped leaf is replaced by its parents); the run succeeds
 * only if all of those succeeded. Cancelling moves the run through Canceling
 * to Cancelled and cancels the activities in progress.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { FactoryClock } from "./clock";
import {
  copyActivityOutput,
  newTaskId,
  runExecutePipelineActivity,
  runGenericActivity,
  runWaitActivity,
  storageAccountOf,
  type ActivityContext,
  type ActivityOutcome,
  type ActivityScript,
  type ActivityScriptSource,
  type CustomActivityRunner,
} from "./activities";
import { evaluateValue, ExpressionError, type ExpressionContext } from "./expressions";
import type { ActivityDefinition, ActivityError, ActivityRunRecord, FactoryEntity, Json, JsonObject, PipelineEntity, PipelineRunRecord } from "./types";

/** Simulated durations of the run lifecycle; tests may change them. */
export interface RunTimings {
  /** Simulated seconds a run stays Queued. */
  queueSeconds: number;
  /** Simulated seconds an activity without a script runs. */
  activitySeconds: number;
  /** Simulated seconds between Canceling and Cancelled. */
  cancelSeconds: number;
}

export interface RunEngineOptions {
  clock: FactoryClock;
  timings: RunTimings;
  findScript(pipelineName: string, activityName: string): ActivityScriptSource | undefined;
  customActivityRunner(): CustomActivityRunner;
  /** Local Blob endpoint base without the account, e.g. https://127.0.0.1:P. */
  blobBaseUrl(): string;
}

export interface StartRunOptions {
  invokedBy: PipelineRunRecord["invokedBy"];
  parentRunId?: string;
  /** Rerun in recovery mode: outcomes of activities that are not rerun come from the reference run. */
  recovery?: { reference: PipelineRunRecord; startActivityName?: string; startFromFailure?: boolean };
}

interface LiveRun {
  abort: AbortController;
  finished: Promise<void>;
}

type Outcome = "Succeeded" | "Failed" | "Skipped" | "Cancelled";

const emptyError = (target: string): ActivityError => ({ errorCode: "", message: "", failureType: "", target, details: "" });

function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}

export class RunEngine {
  readonly runs = new Map<string, PipelineRunRecord>();
  private readonly live = new Map<string, LiveRun>();
  private closed = false;

  constructor(private readonly options: RunEngineOptions) {}

  start(factory: FactoryEntity, pipeline: PipelineEntity, parameters: Record<string, Json>, start: StartRunOptions): PipelineRunRecord {
    const now = this.options.clock.now();
    const reference = start.recovery?.reference;
    const run: PipelineRunRecord = {
      runId: randomUUID(),
      runGroupId: "",
      isLatest: true,
      factoryName: factory.name,
      resourceGroup: factory.resourceGroup,
      pipelineName: pipeline.name,
      parameters,
      invokedBy: start.invokedBy,
      runStart: now,
      lastUpdated: now,
      status: "Queued",
      message: "",
      activityRuns: [],
      outcomes: new Map(),
      childRunIds: [],
      parentRunId: start.parentRunId,
    };
    run.runGroupId = reference ? reference.runGroupId : run.runId;
    if (reference) reference.isLatest = false;
    this.runs.set(run.runId, run);
    const abort = new AbortController();
    // Every parallel activity and child run listens on the run's signal.
    setMaxListeners(0, abort.signal);
    const finished = this.drive(factory, pipeline, run, abort.signal, start.recovery).catch((e) => {
      console.error("[local-azure:datafactory] run simulation failed", e);
      this.finish(run, "Failed", `Internal error in the simulation: ${e instanceof Error ? e.message : String(e)}`);
    });
    this.live.set(run.runId, { abort, finished });
    return run;
  }

  /** Resolves once the run has reached a final status. */
  async whenFinished(runId: string): Promise<PipelineRunRecord> {
    await this.live.get(runId)?.finished;
    return this.runs.get(runId)!;
  }

  /** Cancels a run that is still going; with `recursive`, its child runs too. Finished runs are left alone. */
  cancel(runId: string, recursive: boolean): void {
    const run = this.runs.get(runId);
    if (!run) return;
    if (recursive) for (const child of run.childRunIds) this.cancel(child, true);
    if (run.status !== "Queued" && run.status !== "InProgress") return;
    run.status = "Canceling";
    run.lastUpdated = this.options.clock.now();
    this.live.get(runId)?.abort.abort();
  }

  /** Stops every simulated run without waiting (timers are cleared by the clock). */
  close(): void {
    this.closed = true;
    for (const live of this.live.values()) live.abort.abort();
  }

  private async drive(factory: FactoryEntity, pipeline: PipelineEntity, run: PipelineRunRecord, signal: AbortSignal, recovery: StartRunOptions["recovery"]): Promise<void> {
    const { clock } = this.options;
    try {
      await clock.sleep(this.options.timings.queueSeconds, signal);
    } catch (e) {
      if (!isAbort(e)) throw e;
      return this.finishCancelled(run);
    }
    run.status = "InProgress";
    run.lastUpdated = clock.now();

    const activities = pipeline.properties.activities ?? [];
    const carried = this.carriedOver(activities, recovery);
    for (const [name, outcome] of carried.outcomes) run.outcomes.set(name, outcome);
    const running = new Map<string, Promise<void>>();

    while (!signal.aborted) {
      let changed = false;
      for (const activity of activities) {
        if (run.outcomes.has(activity.name) || running.has(activity.name)) continue;
        const deps = activity.dependsOn ?? [];
        if (deps.some((d) => !run.outcomes.has(d.activity))) continue;
        const met = deps.every((d) => {
          const outcome = run.outcomes.get(d.activity)!;
          return d.dependencyConditions.some((c) => c === outcome || (c === "Completed" && (outcome === "Succeeded" || outcome === "Failed")));
        });
        if (met) {
          const task = this.runActivity(factory, run, activity, signal, carried.outputs).finally(() => running.delete(activity.name));
          running.set(activity.name, task);
        } else {
          run.outcomes.set(activity.name, "Skipped");
          changed = true;
        }
      }
      if (running.size > 0) await Promise.race(running.values());
      else if (!changed) break;
    }
    await Promise.all(running.values());
    if (signal.aborted) return this.finishCancelled(run);

    // Activities that never became ready (a dependency on a missing activity) count as skipped.
    for (const a of activities) if (!run.outcomes.has(a.name)) run.outcomes.set(a.name, "Skipped");
    const failed = this.failedLeaves(activities, run.outcomes);
    if (failed.length === 0) return this.finish(run, "Succeeded", "");
    const first = activities.find((a) => failed.includes(a.name))!;
    const record = [...run.activityRuns].reverse().find((r) => r.activityName === first.name);
    // ADF names the failed activity: "Operation on target <name> failed: <activity error message>".
    this.finish(run, "Failed", `Operation on target ${first.name} failed: ${record?.error.message ?? ""}`);
  }

  /** ADF's rule: leaves decide; a skipped leaf is replaced by the activities it depends on. */
  private failedLeaves(activities: ActivityDefinition[], outcomes: Map<string, Outcome>): string[] {
    const byName = new Map(activities.map((a) => [a.name, a]));
    const dependedOn = new Set(activities.flatMap((a) => (a.dependsOn ?? []).map((d) => d.activity)));
    const failed = new Set<string>();
    const seen = new Set<string>();
    const evaluate = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const outcome = outcomes.get(name);
      if (outcome === "Skipped") {
        for (const d of byName.get(name)?.dependsOn ?? []) evaluate(d.activity);
      } else if (outcome === "Failed" || outcome === "Cancelled") {
        failed.add(name);
      }
    };
    for (const a of activities) if (!dependedOn.has(a.name)) evaluate(a.name);
    return [...failed];
  }

  private carriedOver(activities: ActivityDefinition[], recovery: StartRunOptions["recovery"]): { outcomes: Map<string, Outcome>; outputs: Map<string, ActivityRunRecord> } {
    const outcomes = new Map<string, Outcome>();
    const outputs = new Map<string, ActivityRunRecord>();
    if (!recovery) return { outcomes, outputs };
    const { reference, startActivityName, startFromFailure } = recovery;
    const lastRecord = (name: string) => [...reference.activityRuns].reverse().find((r) => r.activityName === name);
    let keep: string[] = [];
    if (startActivityName) {
      // Everything the start activity depends on, transitively, is not rerun.
      const byName = new Map(activities.map((a) => [a.name, a]));
      const stack = (byName.get(startActivityName)?.dependsOn ?? []).map((d) => d.activity);
      while (stack.length) {
        const name = stack.pop()!;
        if (keep.includes(name)) continue;
        keep.push(name);
        stack.push(...(byName.get(name)?.dependsOn ?? []).map((d) => d.activity));
      }
    } else if (startFromFailure) {
      keep = activities.filter((a) => reference.outcomes.get(a.name) === "Succeeded").map((a) => a.name);
    }
    for (const name of keep) {
      outcomes.set(name, reference.outcomes.get(name) === "Failed" ? "Failed" : (reference.outcomes.get(name) ?? "Succeeded"));
      const record = lastRecord(name);
      if (record) outputs.set(name, record);
    }
    return { outcomes, outputs };
  }

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

  private async runActivity(factory: FactoryEntity, run: PipelineRunRecord, activity: ActivityDefinition, signal: AbortSignal, carried: Map<string, ActivityRunRecord>): Promise<void> {
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
    try {
      const exprs = this.expressionContext(factory, run, carried);
      const typeProperties = evaluateValue((activity.typeProperties ?? {}) as JsonObject, exprs) as JsonObject;
      record.input = typeProperties;
      for (const p of activity.userProperties ?? []) {
        const v = evaluateValue(p.value, exprs);
        record.userProperties[p.name] = typeof v === "string" ? v : JSON.stringify(v);
      }
      const ctx: ActivityContext = {
        factory,
        run,
        activity,
        activityRun: record,
        typeProperties,
        script: this.script(run, activity, attempt),
        attempt,
        clock,
        signal,
        defaultDurationSeconds: this.options.timings.activitySeconds,
      };
      outcome = await this.execute(ctx);
    } catch (e) {
      if (isAbort(e)) outcome = "Cancelled";
      else if (e instanceof ExpressionError) outcome = { status: "Failed", output: {}, error: { errorCode: e.errorCode, message: e.message, failureType: "UserError" } };
      else outcome = { status: "Failed", output: {}, error: { errorCode: "2011", message: e instanceof Error ? e.message : String(e), failureType: "SystemError" } };
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
        return runGenericActivity(ctx, copyActivityOutput(ctx.factory.location, ctx.script?.durationSeconds ?? ctx.defaultDurationSeconds));
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
    const taskId = newTaskId();
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

  private async startChild(ctx: ActivityContext, pipelineName: string, parameters: JsonObject, wait: boolean, signal: AbortSignal): Promise<PipelineRunRecord> {
    const pipeline = findPipeline(ctx.factory, pipelineName);
    if (!pipeline) throw new Error(`Pipeline '${pipelineName}' referenced by activity '${ctx.activity.name}' does not exist.`);
    const effective = effectiveParameters(pipeline, parameters);
    const child = this.start(ctx.factory, pipeline, effective, {
      invokedBy: { id: ctx.run.runId, name: ctx.run.pipelineName, invokedByType: "PipelineActivity", pipelineName: ctx.run.pipelineName, pipelineRunId: ctx.run.runId },
      parentRunId: ctx.run.runId,
    });
    ctx.run.childRunIds.push(child.runId);
    if (!wait) return child;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(Object.assign(new Error("The operation was cancelled."), { name: "AbortError" }));
      signal.addEventListener("abort", onAbort, { once: true });
      void this.whenFinished(child.runId).then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
    return child;
  }

  private finish(run: PipelineRunRecord, status: "Succeeded" | "Failed", message: string): void {
    const now = this.options.clock.now();
    run.status = status;
    run.message = message;
    run.runEnd = now;
    run.lastUpdated = now;
  }

  private async finishCancelled(run: PipelineRunRecord): Promise<void> {
    run.status = "Canceling";
    run.lastUpdated = this.options.clock.now();
    if (this.closed) return;
    await new Promise<void>((resolve) => this.options.clock.after(this.options.timings.cancelSeconds, resolve));
    const now = this.options.clock.now();
    run.status = "Cancelled";
    run.runEnd = now;
    run.lastUpdated = now;
  }
}

export function findPipeline(factory: FactoryEntity, name: string): PipelineEntity | undefined {
  for (const [k, v] of factory.pipelines) if (k.toLowerCase() === name.toLowerCase()) return v;
  return undefined;
}

export function findLinkedService(factory: FactoryEntity, name: string) {
  for (const [k, v] of factory.linkedServices) if (k.toLowerCase() === name.toLowerCase()) return v;
  return undefined;
}

/** Passed values over declared defaults; callers have already rejected unknown or missing ones. */
export function effectiveParameters(pipeline: PipelineEntity, passed: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, spec] of Object.entries(pipeline.properties.parameters ?? {})) {
    if (name in passed) out[name] = passed[name];
    else if (spec.defaultValue !== undefined) out[name] = spec.defaultValue;
  }
  for (const [name, value] of Object.entries(passed)) if (!(name in out)) out[name] = value;
  return out;
}

/** ADF's manual-run invoker id is a 32-hex-digit id. */
export function manualInvoker(): PipelineRunRecord["invokedBy"] {
  return { id: randomBytes(16).toString("hex"), name: "Manual", invokedByType: "Manual" };
}
