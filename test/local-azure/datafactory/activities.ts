/**
 * How each activity type behaves in a simulated run. Every executor honours a
 * test's script (duration, outcome, error, output); Wait waits its
 * waitTimeInSeconds, ExecutePipeline starts a child run, and Custom goes
 * through the replaceable `CustomActivityRunner`, the hook through which a
 * run can execute the command on a Batch node instead of simulating it.
 */
import type { SimClock } from "../clock";
import { customActivityOutput } from "./custom-output";
import type { ExpressionContext } from "./expressions";
import type { ActivityDefinition, ActivityRunRecord, FactoryEntity, Json, JsonObject, PipelineRunRecord } from "./types";

export interface ScriptedError {
  errorCode: string;
  message: string;
  failureType?: string;
}

/** A test's instructions for one activity of one pipeline. */
export interface ActivityScript {
  /** Simulated seconds the activity runs (default: a few seconds; Wait: its waitTimeInSeconds). */
  durationSeconds?: number;
  outcome?: "Succeeded" | "Failed";
  error?: ScriptedError;
  /** Replaces the output the activity would report (for Custom: merged over ADF's shape). */
  output?: JsonObject;
  /** Custom activity only: the program's exit code (default 0, or 1 when failing). */
  exitCode?: number;
}

/** A script, or a function of the run and attempt (1-based) returning one. */
export type ActivityScriptSource = ActivityScript | ((call: { run: PipelineRunRecord; attempt: number }) => ActivityScript | undefined);

export interface ActivityOutcome {
  status: "Succeeded" | "Failed";
  output: JsonObject;
  error?: ScriptedError;
}

export interface ActivityContext {
  factory: FactoryEntity;
  run: PipelineRunRecord;
  activity: ActivityDefinition;
  activityRun: ActivityRunRecord;
  /** The activity's typeProperties with expressions evaluated. */
  typeProperties: JsonObject;
  /** What the activity's other expressions (dataset reference parameters, ...) are evaluated with. */
  expressions: ExpressionContext;
  script?: ActivityScript;
  attempt: number;
  clock: SimClock;
  /** Aborts when the run is cancelled or the attempt times out; executors reject with an AbortError. */
  signal: AbortSignal;
  defaultDurationSeconds: number;
}

export interface CustomActivityContext extends ActivityContext {
  /** The evaluated command line, as ADF hands it to Batch. */
  command: string;
  batch: { linkedServiceName: string; accountName: string; batchUri: string; poolName: string; jobId: string };
  /** The storage that the Batch linked service names: where adfjobs/<taskId>/ goes. */
  staging: { linkedServiceName: string; accountName: string };
  /** resourceLinkedService + folderPath, when set: files copied to the task's working directory. */
  resources?: { linkedServiceName: string; accountName: string; folderPath: string };
  /** GUID of the Batch task and of its `adfjobs/<taskId>/` folder: the activity run id. */
  taskId: string;
  /** `https://<blob endpoint>/<account>/adfjobs/<taskId>/` on the local Blob service. */
  adfJobsUrl: string;
  location: string;
}

export type CustomActivityRunner = (ctx: CustomActivityContext) => Promise<ActivityOutcome>;

export interface ChildRunStarter {
  /** Starts a child pipeline run; resolves with it once finished when `wait` is set. */
  startChild(pipelineName: string, parameters: JsonObject, wait: boolean, signal: AbortSignal): Promise<PipelineRunRecord>;
}

/** Custom activity errors by exit code, from ADF's troubleshooting guide (code 2500). */
export const CUSTOM_NONZERO_EXIT_ERROR: ScriptedError = {
  errorCode: "2500",
  message: "Hit unexpected exception and execution failed.",
  failureType: "UserError",
};

function failedOutcome(ctx: ActivityContext, fallback: ScriptedError, output: JsonObject): ActivityOutcome {
  return { status: "Failed", output, error: ctx.script?.error ?? fallback };
}

/** Default for any activity without special behaviour: succeed after a short while. */
export async function runGenericActivity(ctx: ActivityContext, defaultOutput: JsonObject = {}): Promise<ActivityOutcome> {
  await ctx.clock.sleep(ctx.script?.durationSeconds ?? ctx.defaultDurationSeconds, ctx.signal);
  const output = ctx.script?.output ?? defaultOutput;
  if (ctx.script?.outcome === "Failed" || (ctx.script?.error && ctx.script.outcome !== "Succeeded")) {
    // Synthetic: real codes depend on the activity type; tests that care script their own error.
    return failedOutcome(ctx, { errorCode: "ActivityFailed", message: `The ${ctx.activity.type} activity '${ctx.activity.name}' failed.`, failureType: "UserError" }, output);
  }
  return { status: "Succeeded", output };
}

export async function runWaitActivity(ctx: ActivityContext): Promise<ActivityOutcome> {
  const seconds = Number(ctx.typeProperties.waitTimeInSeconds ?? 0);
  return runGenericActivity({ ...ctx, script: { ...ctx.script, durationSeconds: ctx.script?.durationSeconds ?? (Number.isFinite(seconds) ? seconds : 0) } });
}

export function copyActivityOutput(location: string, seconds: number): JsonObject {
  return {
    dataRead: 0,
    dataWritten: 0,
    filesRead: 0,
    filesWritten: 0,
    copyDuration: Math.round(seconds),
    throughput: 0,
    errors: [],
    effectiveIntegrationRuntime: customActivityOutput({ exitCode: 0, adfJobsUrl: "", batchAccountName: "", poolName: "", location, executionSeconds: 0 }).effectiveIntegrationRuntime as string,
    usedParallelCopies: 1,
    executionDetails: [],
  };
}

export async function runExecutePipelineActivity(ctx: ActivityContext, starter: ChildRunStarter): Promise<ActivityOutcome> {
  const pipeline = ctx.typeProperties.pipeline as JsonObject | undefined;
  const name = typeof pipeline?.referenceName === "string" ? pipeline.referenceName : "";
  const wait = ctx.typeProperties.waitOnCompletion === true;
  const parameters = (ctx.typeProperties.parameters ?? {}) as JsonObject;
  const child = await starter.startChild(name, parameters, wait, ctx.signal);
  // ADF's ExecutePipeline output names the child run.
  const output: JsonObject = { pipelineName: child.pipelineName, pipelineRunId: child.runId };
  if (ctx.script) return runGenericActivity({ ...ctx, script: { ...ctx.script, output: ctx.script.output ?? output } });
  if (wait && child.status !== "Succeeded") {
    const failed = child.activityRuns.find((a) => a.status === "Failed");
    return {
      status: "Failed",
      output,
      // Unconfirmed: the child's failing error code is passed up with the child run's message.
      error: { errorCode: failed?.error.errorCode || "2011", message: child.message || `The pipeline run ${child.runId} ended as ${child.status}.`, failureType: failed?.error.failureType || "UserError" },
    };
  }
  return { status: "Succeeded", output };
}

/**
 * The default Custom activity runner: no Batch node, just the scripted (or a
 * default successful) result in ADF's output shape.
 */
export const simulatedCustomActivityRunner: CustomActivityRunner = async (ctx) => {
  const seconds = ctx.script?.durationSeconds ?? ctx.defaultDurationSeconds;
  await ctx.clock.sleep(seconds, ctx.signal);
  const failing = ctx.script?.outcome === "Failed" || (ctx.script?.error !== undefined && ctx.script.outcome !== "Succeeded");
  const base = customActivityOutput({
    exitCode: ctx.script?.exitCode ?? (failing ? 1 : 0),
    adfJobsUrl: ctx.adfJobsUrl,
    batchAccountName: ctx.batch.accountName,
    poolName: ctx.batch.poolName,
    location: ctx.location,
    executionSeconds: seconds,
  });
  const output = { ...base, ...(ctx.script?.output ?? {}) };
  return failing ? failedOutcome(ctx, CUSTOM_NONZERO_EXIT_ERROR, output) : { status: "Succeeded", output };
};

/** Account name from a storage linked service (connection string, SAS URI or service endpoint). */
export function storageAccountOf(typeProperties: JsonObject | undefined): string {
  const text = (v: Json | undefined): string => (typeof v === "string" ? v : v && typeof v === "object" && !Array.isArray(v) && typeof v.value === "string" ? v.value : "");
  const cs = text(typeProperties?.connectionString);
  const fromCs = /(?:^|;)\s*AccountName=([^;]+)/i.exec(cs)?.[1];
  if (fromCs) return fromCs;
  const url = text(typeProperties?.serviceEndpoint) || text(typeProperties?.sasUri);
  return /^https?:\/\/([^./]+)\./i.exec(url)?.[1] ?? "";
}
