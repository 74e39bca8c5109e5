/**
 * The pipeline run simulation: a run is Queued, then InProgress, and its
 * activities start as their `dependsOn` conditions are met; an activity whose
 * conditions can no longer be met is Skipped and gets no activity run, as in
 * ADF. The run's result follows ADF's documented rule: evaluate the leaf
 * activities (a skipped leaf is replaced by its parents); the run succeeds
 * only if all of those succeeded. Cancelling moves the run through Canceling
 * to Cancelled and cancels the activities in progress.
 * This module is the run engine; attempts.ts runs one activity (retries,
 * activity types) and outcomes.ts holds ADF's outcome rules.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { SimClock } from "../clock";
import type { ActivityContext, ActivityScriptSource, CustomActivityRunner } from "./activities";
import { ActivityAttempts, isAbort } from "./attempts";
import { carriedOver, dependenciesMet, failedLeaves } from "./outcomes";
import type { FactoryEntity, Json, JsonObject, PipelineEntity, PipelineRunRecord } from "./types";

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
  clock: SimClock;
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

export class RunEngine {
  readonly runs = new Map<string, PipelineRunRecord>();
  private readonly live = new Map<string, LiveRun>();
  private closed = false;

  private readonly attempts: ActivityAttempts;

  constructor(private readonly options: RunEngineOptions) {
    this.attempts = new ActivityAttempts(options, (ctx, name, params, wait, signal) => this.startChild(ctx, name, params, wait, signal));
  }

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
    const carried = carriedOver(activities, recovery);
    for (const [name, outcome] of carried.outcomes) run.outcomes.set(name, outcome);
    const running = new Map<string, Promise<void>>();

    while (!signal.aborted) {
      let changed = false;
      for (const activity of activities) {
        if (run.outcomes.has(activity.name) || running.has(activity.name)) continue;
        const ready = dependenciesMet(activity, run.outcomes);
        if (ready === "waiting") continue;
        if (ready === "met") {
          const task = this.attempts.runActivity(factory, run, activity, signal, carried.outputs).finally(() => running.delete(activity.name));
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
    const failed = failedLeaves(activities, run.outcomes);
    if (failed.length === 0) return this.finish(run, "Succeeded", "");
    const first = activities.find((a) => failed.includes(a.name))!;
    const record = [...run.activityRuns].reverse().find((r) => r.activityName === first.name);
    // ADF names the failed activity: "Operation on target <name> failed: <activity error message>".
    this.finish(run, "Failed", `Operation on target ${first.name} failed: ${record?.error.message ?? ""}`);
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
