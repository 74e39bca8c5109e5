/**
 * The run itself, on plain services: parameters checked against the
 * pipeline, recovery options, the pre-flight check, the run started, the
 * wait (back-off, timeout, cancellation, throttling), activity lines and the
 * live log of Custom activities, then the report, the outputs and the
 * summary. Returns the success message, or throws what the task fails with.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ActivityRun, LinkedServiceResource, PipelineRun } from "@azure/arm-datafactory";
import type { Agent } from "../../runtime/agent";
import type { ResolvedBatchAccount } from "../../runtime/batch";
import { CancelledError, describeError, TaskError, TimeoutError } from "../../runtime/errors";
import { formatDuration } from "../../runtime/progress";
import { isThrottled, retryAfterMs } from "../../runtime/retry";
import type { ExpressionScope } from "./expressions";
import type { FoundFactory, FoundPipeline, PipelineRunOperations } from "./factory";
import { activityRunsWindow, collectActivityRuns, describeOutcome, formatEvent, RunFollower, type FollowDecision, type FollowEvent, type RunOutcome } from "./follow";
import type { DataFactoryRunInputs } from "./inputs";
import { LiveLogs, type BatchTaskFiles } from "./live-logs";
import { adfJobId } from "./logtail";
import { effectiveParameters, validateParameters } from "./parameters";
import { batchPoolOf, findCustomActivities, formatFinding, preflight, type BatchPoolRef, type BlobLister, type PoolReader } from "./preflight";
import { activityOutputsJson, customActivityReport, renderRunSummary, type BlobTailReader, type CustomActivityReport } from "./report";
import { createRunOptions } from "./run-options";

/** The Batch job ADF runs a pool's Custom activities in (adfv2-<pool>), and the account it is in. */
export interface BatchJobRoute {
  jobId: string;
  account: ResolvedBatchAccount;
}

export interface RunServices {
  factory: FoundFactory;
  pipeline: FoundPipeline;
  linkedServices(): Promise<LinkedServiceResource[]>;
  runs: PipelineRunOperations;
  /** The run in Data Factory Studio, when the cloud has one. */
  studioUrl(runId: string): string | undefined;
  listBlobs: BlobLister;
  readPool: PoolReader;
  findBatchAccount(name: string): Promise<ResolvedBatchAccount>;
  taskFiles(routes: readonly BatchJobRoute[], createdSince: Date): BatchTaskFiles;
  readBlobTail: BlobTailReader;
}

export type RunAgent = Pick<Agent, "info" | "warning" | "error" | "debug" | "setOutput" | "setSecret" | "uploadSummary" | "getVariable">;

/** Time for the wait: the real one, or a test's. */
export interface WaitClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  pause(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface RunContext {
  agent: RunAgent;
  /** SIGINT/SIGTERM: the run is cancelled (cancelOnTimeout) and the task stops. */
  signal: AbortSignal;
  clock?: WaitClock;
}

const FINAL_STATUSES = new Set(["Succeeded", "Failed", "Cancelled"]);

/** The most of a log tail shown in the report. */
const TAIL_LINES = 30;
/** Tasks created this long before the run started still count (clock skew between ADF and Batch). */
const TASK_CLOCK_SKEW_MS = 5 * 60_000;

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

const REAL_CLOCK: WaitClock = { now: () => Date.now(), pause };

const showValue = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

export async function runPipeline(inputs: DataFactoryRunInputs, services: RunServices, context: RunContext): Promise<string> {
  const { agent, signal } = context;
  const clock = context.clock ?? REAL_CLOCK;
  const { factory, pipeline } = services;

  // 1. Parameters and recovery options, against the pipeline's definition.
  const validated = validateParameters(inputs.parameters, { pipelineName: pipeline.name, declared: pipeline.definition.parameters });
  for (const name of validated.secureNames) {
    const value = validated.parameters[name];
    agent.setSecret(showValue(value));
  }
  for (const name of inputs.overriddenParameters) agent.info(`Parameter '${name}' is in both parametersFile and parameters; the inline value is used.`);
  for (const line of validated.coercions) agent.info(`Parameter ${line}`);
  const { options, notes } = createRunOptions(inputs.recovery, validated.parameters, pipeline);
  for (const note of notes) agent.info(note);
  const sent = options.parameters ?? {};
  const shownParameters = Object.entries(sent).map(([k, v]) => `${k} = ${validated.secureNames.includes(k) ? "***" : showValue(v)}`);
  agent.info(
    `Pipeline '${pipeline.name}' of data factory '${factory.name}' (resource group ${factory.resourceGroup})` +
      (options.referencePipelineRunId ? `, rerun of ${options.referencePipelineRunId}${options.isRecovery ? " in recovery mode" : ""}${options.startActivityName ? ` from '${options.startActivityName}'` : ""}${options.startFromFailure ? " from its failed activities" : ""}` : "") +
      (shownParameters.length ? `; parameters: ${shownParameters.join(", ")}.` : "; no parameters given (the pipeline's defaults apply)."),
  );

  // 2. The Custom activities: pre-flight, and where their Batch tasks run (for the live log).
  const customs = findCustomActivities(pipeline.definition.activities);
  const runParameters = effectiveParameters(validated.parameters, pipeline.definition.parameters);
  const needLinkedServices = customs.length > 0 && (inputs.preflight || inputs.streamActivityLogs);
  let linkedServices: LinkedServiceResource[] = [];
  let linkedServicesProblem: string | undefined;
  if (needLinkedServices) {
    try {
      linkedServices = await services.linkedServices();
    } catch (error) {
      linkedServicesProblem = `the factory's linked services could not be read (${describeError(error)})`;
    }
  }
  if (inputs.preflight) await runPreflight();

  // 3. The run (not when the job was cancelled while the checks ran).
  if (signal.aborted) throw new CancelledError("The task was cancelled before the pipeline run was started; nothing was started.");
  const startedAt = clock.now();
  const runId = await services.runs.createRun(options);
  const studioUrl = services.studioUrl(runId);
  agent.setOutput("PipelineRunId", runId);
  if (studioUrl) agent.setOutput("PipelineRunUrl", studioUrl);
  agent.info(`Started pipeline run ${runId}.${studioUrl ? ` Data Factory Studio: ${studioUrl}` : ""}`);

  if (!inputs.waitForCompletion) {
    let status = "Queued";
    try {
      status = (await services.runs.getRun(runId)).status ?? status;
    } catch (error) {
      agent.debug(`Reading the new run failed: ${describeError(error)}`);
    }
    agent.setOutput("PipelineRunStatus", status);
    return `Started pipeline run ${runId} (${status}); not waiting for it (waitForCompletion is false).`;
  }

  const live = inputs.streamActivityLogs && customs.length > 0 ? await liveLogs(runId, startedAt) : undefined;
  const follower = new RunFollower(
    {
      pollIntervalSeconds: inputs.pollIntervalSeconds,
      timeoutMinutes: inputs.timeoutMinutes,
      cancelOnTimeout: inputs.cancelOnTimeout,
      cancelRecursive: inputs.cancelRecursive,
    },
    startedAt,
  );
  const ended = await follow(follower, runId, live);

  // 4. The report.
  const runs = follower.activityRuns();
  const reports: CustomActivityReport[] = [];
  for (const run of runs.filter((r) => r.activityType === "Custom")) {
    const report = await customActivityReport(run, services.readBlobTail, { maxLines: TAIL_LINES });
    reports.push(report);
    printReport(report, run.activityRunId !== undefined && live?.logs.streamed(run.activityRunId) === true);
  }
  const status = ended.outcome?.status ?? ended.run?.status ?? follower.lastStatus ?? "Unknown";
  const failureLines = ended.outcome ? describeOutcome(ended.outcome, runId) : [ended.stopMessage ?? ""];
  agent.setOutput("PipelineRunStatus", status);
  agent.setOutput("ActivityOutputs", activityOutputsJson(runs, reports));
  publishRunSummary({
    status,
    durationMs: ended.outcome?.durationMs ?? ended.run?.durationInMs,
    runs,
    reports,
    failureLines,
    notes: ended.outcome ? [] : [ended.stopMessage ?? ""],
  });

  if (ended.outcome?.succeeded) return `Pipeline run ${runId} Succeeded${ended.outcome.durationMs !== undefined ? ` in ${formatDuration(ended.outcome.durationMs)}` : ""}.`;
  const message = ended.outcome ? failureLines.join(" ") : ended.stopMessage!;
  const why = ended.outcome ? (ended.outcome.interrupted ? "signal" : ended.outcome.timedOut ? "timeout" : undefined) : (ended.cancelledFor ?? ended.stopReason);
  if (why === "signal") throw new CancelledError(message);
  if (why === "timeout") throw new TimeoutError(message);
  throw new TaskError("PipelineRunFailed", message);

  // ---- steps ----

  async function runPreflight(): Promise<void> {
    if (customs.length === 0) {
      agent.info("Pre-flight: the pipeline has no Custom activities to check.");
      return;
    }
    if (linkedServicesProblem) {
      agent.info(`Pre-flight not done: ${linkedServicesProblem}.`);
      return;
    }
    const result = await preflight({
      pipelineName: pipeline.name,
      factoryName: factory.name,
      pipeline: pipeline.definition,
      linkedServices,
      parameters: runParameters,
      globalParameters: factory.globalParameters,
      listBlobs: services.listBlobs,
      readPool: services.readPool,
      strict: inputs.strictPreflight,
    });
    for (const finding of result.findings) {
      if (finding.severity === "info") agent.info(formatFinding(finding));
      else if (finding.severity === "warning") agent.warning(formatFinding(finding));
      else agent.error(formatFinding(finding));
    }
    const warnings = result.findings.filter((f) => f.severity === "warning").length;
    if (result.blocking.length) {
      throw new TaskError(
        "PreflightFailed",
        `Pre-flight found ${result.blocking.length} problem(s) in the Custom activities of pipeline '${pipeline.name}', listed above, and strictPreflight is true, so no run was started. Fix them, or set strictPreflight to false to run anyway.`,
      );
    }
    agent.info(`Pre-flight: ${result.customActivities.length} Custom activit${result.customActivities.length === 1 ? "y" : "ies"} checked (${result.customActivities.join(", ")}), ${warnings} warning(s).`);
  }

  async function liveLogs(runId: string, startedAtMs: number): Promise<{ logs: LiveLogs } | undefined> {
    if (linkedServicesProblem) {
      agent.info(`No live log of the Custom activities: ${linkedServicesProblem}; their stdout and stderr are shown from the blobs when they end.`);
      return undefined;
    }
    const scope: ExpressionScope = { parameters: runParameters, globalParameters: factory.globalParameters, pipelineName: pipeline.name, factoryName: factory.name, runId };
    const pools = new Map<string, { pool: BatchPoolRef } | { reason: string }>();
    for (const { activity } of customs) {
      const located = batchPoolOf(activity, linkedServices, scope);
      pools.set(activity.name, "reason" in located ? located : { pool: located.pool });
    }
    // Each account once, through ARM; a job id (adfv2-<pool>) must lead to one account.
    const accountNames = [...new Set([...pools.values()].flatMap((p) => ("pool" in p ? [p.pool.accountName.toLowerCase()] : [])))];
    const accounts = new Map<string, ResolvedBatchAccount | { reason: string }>();
    await Promise.all(
      accountNames.map(async (name) => {
        try {
          accounts.set(name, await services.findBatchAccount(name));
        } catch (error) {
          accounts.set(name, { reason: describeError(error) });
        }
      }),
    );
    const routes: BatchJobRoute[] = [];
    const accountOfJob = new Map<string, string>();
    for (const p of pools.values()) {
      if (!("pool" in p)) continue;
      const account = accounts.get(p.pool.accountName.toLowerCase());
      if (!account || "reason" in account) continue;
      const jobId = adfJobId(p.pool.poolName);
      const other = accountOfJob.get(jobId);
      if (other === undefined) {
        accountOfJob.set(jobId, account.name);
        routes.push({ jobId, account });
      } else if (other !== account.name) {
        accountOfJob.set(jobId, "");
      }
    }
    const files = services.taskFiles(
      routes.filter((r) => accountOfJob.get(r.jobId) !== ""),
      new Date(startedAtMs - TASK_CLOCK_SKEW_MS),
    );
    const logs = new LiveLogs({
      files,
      poolOf: (run: ActivityRun) => {
        const p = pools.get(run.activityName ?? "");
        if (!p) return { reason: "the pipeline has no Custom activity of that name" };
        if ("reason" in p) return p;
        const account = accounts.get(p.pool.accountName.toLowerCase());
        if (!account || "reason" in account) return { reason: account?.reason ?? `Batch account '${p.pool.accountName}' is not known` };
        if (accountOfJob.get(adfJobId(p.pool.poolName)) === "") return { reason: `pool '${p.pool.poolName}' exists in more than one of the pipeline's Batch accounts` };
        return p.pool;
      },
      print: (line) => agent.info(line),
      note: (message) => agent.info(message),
    });
    return { logs };
  }

  interface Ended {
    outcome?: RunOutcome;
    run?: PipelineRun;
    stopReason?: "timeout" | "signal" | "pollFailures" | "cancelNotConfirmed";
    stopMessage?: string;
    /** Why the run was being cancelled, when it was. */
    cancelledFor?: "timeout" | "signal";
  }

  async function follow(f: RunFollower, runId: string, live: { logs: LiveLogs } | undefined): Promise<Ended> {
    let nextRunPoll = clock.now();
    let nextLogPoll = Number.POSITIVE_INFINITY;
    let interrupted = false;
    let activities: ActivityRun[] = [];
    let lastRun: PipelineRun | undefined;
    let cancelledFor: Ended["cancelledFor"];
    const print = (events: FollowEvent[]) => events.forEach((e) => agent.info(formatEvent(e)));

    for (;;) {
      await clock.pause(Math.min(nextRunPoll, nextLogPoll) - clock.now(), interrupted ? undefined : signal);
      let decision: FollowDecision | undefined;
      if (signal.aborted && !interrupted) {
        interrupted = true;
        decision = f.interrupted(clock.now());
      } else {
        if (live && !interrupted && clock.now() >= nextLogPoll && clock.now() < nextRunPoll) {
          nextLogPoll = clock.now() + (await logStep(live.logs, activities));
          continue;
        }
        if (clock.now() < nextRunPoll) continue;
        try {
          const pollSignal = interrupted ? undefined : signal;
          const run = await services.runs.getRun(runId, pollSignal);
          const page = (token: string | undefined) => services.runs.queryActivityRuns(runId, { ...activityRunsWindow(run, clock.now()), continuationToken: token }, pollSignal);
          activities = await collectActivityRuns(page);
          lastRun = run;
          const step = f.observe(run, activities, clock.now());
          // The live log's new lines go before the line of the first Custom activity that ended (its output comes first), else after the events.
          const cut = step.events.findIndex((e) => (e.kind === "activityEnded" && e.type === "Custom") || (e.kind === "runStatus" && FINAL_STATUSES.has(e.status)));
          const at = cut < 0 ? step.events.length : cut;
          print(step.events.slice(0, at));
          if (live && !interrupted) nextLogPoll = clock.now() + (await logStep(live.logs, activities));
          print(step.events.slice(at));
          decision = step.decision;
        } catch (error) {
          if (signal.aborted && !interrupted) continue; // the poll was cut short by the signal: handled above
          const throttled = isThrottled(error);
          decision = f.pollFailed(clock.now(), { throttled, retryAfterMs: retryAfterMs(error), description: describeError(error) });
          if (decision.kind === "wait") {
            agent.info(
              throttled
                ? `Data Factory is throttling the status checks (${describeError(error)}); checking again in ${formatDuration(decision.delayMs)}.`
                : `Could not read the run (${describeError(error)}); checking again in ${formatDuration(decision.delayMs)}.`,
            );
          }
        }
      }
      switch (decision.kind) {
        case "wait":
          nextRunPoll = clock.now() + decision.delayMs;
          break;
        case "cancel":
          cancelledFor = decision.reason;
          agent.warning(decision.message);
          try {
            // Throttling and transient failures are retried by the client's policy.
            await services.runs.cancelRun(runId, decision.recursive);
            agent.info(`Data Factory accepted the cancel request for run ${runId}${decision.recursive ? " (recursive)" : ""}; waiting for it to end Cancelled.`);
          } catch (error) {
            return { run: lastRun, stopReason: decision.reason, cancelledFor, stopMessage: `${decision.message.replace(/\.$/, "")}, but the cancel request failed (${describeError(error)}); the run may still be going in Data Factory.` };
          }
          nextRunPoll = clock.now() + decision.delayMs;
          nextLogPoll = Number.POSITIVE_INFINITY;
          break;
        case "done":
          return { outcome: decision.outcome, run: lastRun };
        case "stop":
          return { run: lastRun, stopReason: decision.reason, cancelledFor, stopMessage: decision.message };
      }
    }
  }

  /** One round of the live log; the wait before the next. A failure here never stops the wait for the run. */
  async function logStep(logs: LiveLogs, activities: readonly ActivityRun[]): Promise<number> {
    try {
      return (await logs.step(activities)).nextDelayMs;
    } catch (error) {
      agent.debug(`Live log: ${describeError(error)}`);
      return 15_000;
    }
  }

  function printReport(report: CustomActivityReport, streamed: boolean): void {
    const parts = [`Custom activity '${report.activity}': ${report.status}`];
    if (report.exitCode !== undefined) parts.push(`exit code ${report.exitCode}`);
    if (report.durationMs !== undefined) parts.push(formatDuration(report.durationMs));
    agent.info(`${parts.join(", ")}.`);
    if (report.error) agent.info(`  Error${report.error.errorCode ? ` ${report.error.errorCode}` : ""}: ${report.error.message}`);
    if (report.customOutput !== undefined) agent.info(`  customOutput: ${JSON.stringify(report.customOutput)}`);
    // What the live log printed is not printed again, except the end of stderr beside a failure.
    for (const [name, tail] of [["stdout", report.stdout], ["stderr", report.stderr]] as const) {
      if (!tail || tail.lines.length === 0) continue;
      if (streamed && !(name === "stderr" && report.status === "Failed")) continue;
      agent.info(`  ${name}.txt${tail.truncated ? ` (last ${tail.lines.length} lines)` : ""}, ${tail.url}:`);
      for (const line of tail.lines) agent.info(`    ${line}`);
    }
    for (const note of report.notes) agent.info(`  Note: ${note}`);
  }

  function publishRunSummary(summary: { status: string; durationMs?: number; runs: ActivityRun[]; reports: CustomActivityReport[]; failureLines: string[]; notes: string[] }): void {
    const markdown = renderRunSummary({
      factoryName: factory.name,
      pipelineName: pipeline.name,
      runId,
      status: summary.status,
      durationMs: summary.durationMs,
      parameters: sent,
      secureParameterNames: validated.secureNames,
      activityRuns: summary.runs,
      customReports: summary.reports,
      failureLines: summary.failureLines.filter(Boolean),
      studioUrl,
      notes: summary.notes.filter(Boolean),
    });
    const tempDirectory = agent.getVariable("Agent.TempDirectory");
    if (!tempDirectory) return;
    const file = path.join(tempDirectory, `data-factory-run-${process.pid}-${Date.now()}.md`);
    fs.mkdirSync(tempDirectory, { recursive: true });
    fs.writeFileSync(file, markdown);
    agent.uploadSummary(file);
  }
}
