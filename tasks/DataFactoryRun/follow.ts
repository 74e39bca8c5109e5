/**
 * Following a pipeline run, as a state machine over snapshots: the entry polls
 * Pipeline Runs - Get and Query Activity Runs, hands each snapshot to
 * `observe`, prints the events, and acts on the decision (wait so long, cancel
 * the run, stop). No clock, no sleeping, no Azure calls here: time comes in
 * with each snapshot, so every decision is testable as data.
 */
import type { ActivityRun, ActivityRunsQueryResponse, PipelineRun, RunFilterParameters } from "@azure/arm-datafactory";
import { formatDuration } from "../../runtime/progress";

export interface FollowOptions {
  /** The longest wait between polls (the task's pollIntervalSeconds, at least 5). */
  pollIntervalSeconds: number;
  timeoutMinutes: number;
  cancelOnTimeout: boolean;
  cancelRecursive: boolean;
  /** First wait, and the wait after anything changed (default 2 s, never above the poll interval). */
  initialDelaySeconds?: number;
  /** Growth of the wait while nothing changes (default 1.5). */
  backoff?: number;
  /** How long to wait for Cancelled after asking for it: after a timeout (default 120 s) and after SIGINT/SIGTERM (default 5 s, the agent kills soon after). */
  cancelGraceSecondsAfterTimeout?: number;
  cancelGraceSecondsAfterSignal?: number;
  /** Failed polls in a row (not throttling) before giving up (default 10). */
  maxConsecutivePollFailures?: number;
}

export type ActivityEvent =
  | { kind: "activityStarted"; activityRunId: string; name: string; type: string; status: string; at?: Date; occurrence: number }
  | { kind: "activityEnded"; activityRunId: string; name: string; type: string; status: string; durationMs?: number; error?: ActivityFailure; occurrence: number };

export type FollowEvent = { kind: "runStatus"; status: string; previous?: string; message?: string } | ActivityEvent;

export interface ActivityFailure {
  activity: string;
  type: string;
  errorCode?: string;
  message: string;
  failureType?: string;
}

export interface RunOutcome {
  status: "Succeeded" | "Failed" | "Cancelled";
  succeeded: boolean;
  /** The run's own message (empty on success). */
  message: string;
  failedActivities: ActivityFailure[];
  /** The wait ran out first (the run was then cancelled, or left running). */
  timedOut: boolean;
  /** SIGINT/SIGTERM came first. */
  interrupted: boolean;
  durationMs?: number;
}

export type FollowDecision =
  | { kind: "wait"; delayMs: number }
  /** The run reached Succeeded, Failed or Cancelled. */
  | { kind: "done"; outcome: RunOutcome }
  /** Ask Data Factory to cancel (Pipeline Runs - Cancel, isRecursive), say `message`, then keep polling with `wait`s. */
  | { kind: "cancel"; reason: "timeout" | "signal"; recursive: boolean; message: string; delayMs: number }
  /** Stop following and fail: `message` says in what state the run was left. */
  | { kind: "stop"; reason: "timeout" | "signal" | "pollFailures" | "cancelNotConfirmed"; message: string; lastStatus?: string };

export interface FollowStep {
  events: FollowEvent[];
  decision: FollowDecision;
}

const TERMINAL_RUN = new Set(["Succeeded", "Failed", "Cancelled"]);
const ACTIVE_ACTIVITY = new Set(["Queued", "InProgress", "Canceling"]);

interface SeenActivity {
  ended: boolean;
  occurrence: number;
  last: ActivityRun;
}

function failureOf(run: ActivityRun): ActivityFailure {
  const e = (run.error ?? {}) as { errorCode?: unknown; message?: unknown; failureType?: unknown };
  return {
    activity: run.activityName ?? "",
    type: run.activityType ?? "",
    errorCode: typeof e.errorCode === "string" && e.errorCode !== "" ? e.errorCode : undefined,
    message: typeof e.message === "string" && e.message !== "" ? e.message : `The activity ended ${run.status ?? "without a status"}.`,
    failureType: typeof e.failureType === "string" && e.failureType !== "" ? e.failureType : undefined,
  };
}

function durationOf(run: ActivityRun): number | undefined {
  if (typeof run.durationInMs === "number") return run.durationInMs;
  if (run.activityRunStart && run.activityRunEnd) return new Date(run.activityRunEnd).getTime() - new Date(run.activityRunStart).getTime();
  return undefined;
}

const startOf = (run: ActivityRun) => (run.activityRunStart ? new Date(run.activityRunStart).getTime() : Number.MAX_SAFE_INTEGER);

export class RunFollower {
  private readonly maxDelayMs: number;
  private readonly initialDelayMs: number;
  private readonly deadline: number;
  private delayMs: number;
  private status: string | undefined;
  private readonly activities = new Map<string, SeenActivity>();
  private readonly occurrences = new Map<string, number>();
  private cancelRequested?: { reason: "timeout" | "signal"; at: number; graceMs: number };
  private pollFailures = 0;
  private lastRun?: PipelineRun;

  constructor(
    private readonly options: FollowOptions,
    /** When the wait began (the run was created), in ms. */
    startedAtMs: number,
  ) {
    this.maxDelayMs = Math.max(1, options.pollIntervalSeconds) * 1000;
    this.initialDelayMs = Math.min(this.maxDelayMs, (options.initialDelaySeconds ?? 2) * 1000);
    this.delayMs = this.initialDelayMs;
    this.deadline = startedAtMs + options.timeoutMinutes * 60_000;
  }

  /** The last status seen, for messages. */
  get lastStatus(): string | undefined {
    return this.status;
  }

  /** Every activity run seen so far, in start order (their latest snapshot). */
  activityRuns(): ActivityRun[] {
    return [...this.activities.values()].map((a) => a.last).sort((a, b) => startOf(a) - startOf(b));
  }

  /** One poll's snapshot: the run and all its activity runs so far (every page). */
  observe(run: PipelineRun, activityRuns: readonly ActivityRun[], nowMs: number): FollowStep {
    this.pollFailures = 0;
    this.lastRun = run;
    const events: FollowEvent[] = [];
    const status = run.status ?? "Unknown";
    // A new status comes before the activities' news, the final one after them.
    const statusEvent: FollowEvent | undefined = status !== this.status ? { kind: "runStatus", status, previous: this.status, message: run.message || undefined } : undefined;
    this.status = status;
    if (statusEvent && !TERMINAL_RUN.has(status)) events.push(statusEvent);
    for (const activity of [...activityRuns].sort((a, b) => startOf(a) - startOf(b))) {
      const id = activity.activityRunId ?? `${activity.activityName}@${String(activity.activityRunStart)}`;
      const name = activity.activityName ?? "(unnamed)";
      const type = activity.activityType ?? "";
      const activityStatus = activity.status ?? "Unknown";
      let seen = this.activities.get(id);
      if (!seen) {
        const occurrence = (this.occurrences.get(name) ?? 0) + 1;
        this.occurrences.set(name, occurrence);
        seen = { ended: false, occurrence, last: activity };
        this.activities.set(id, seen);
        events.push({ kind: "activityStarted", activityRunId: id, name, type, status: activityStatus, at: activity.activityRunStart, occurrence });
      }
      seen.last = activity;
      if (!seen.ended && !ACTIVE_ACTIVITY.has(activityStatus)) {
        seen.ended = true;
        events.push({
          kind: "activityEnded",
          activityRunId: id,
          name,
          type,
          status: activityStatus,
          durationMs: durationOf(activity),
          error: activityStatus === "Failed" ? failureOf(activity) : undefined,
          occurrence: seen.occurrence,
        });
      }
    }

    if (statusEvent && TERMINAL_RUN.has(status)) events.push(statusEvent);
    if (TERMINAL_RUN.has(status)) return { events, decision: { kind: "done", outcome: this.outcome(run) } };

    if (this.cancelRequested) {
      if (nowMs - this.cancelRequested.at >= this.cancelRequested.graceMs) {
        return {
          events,
          decision: {
            kind: "stop",
            reason: "cancelNotConfirmed",
            lastStatus: status,
            message: `Data Factory was asked to cancel ${run.runId ? `run ${run.runId}` : "the run"} but it was still ${status} ${Math.round(this.cancelRequested.graceMs / 1000)} s later; check it in Data Factory Studio.`,
          },
        };
      }
      return { events, decision: { kind: "wait", delayMs: Math.min(this.initialDelayMs, this.cancelRequested.at + this.cancelRequested.graceMs - nowMs) } };
    }

    if (nowMs >= this.deadline) return { events, decision: this.stopFor("timeout", nowMs) };

    this.delayMs = events.length > 0 ? this.initialDelayMs : Math.min(this.maxDelayMs, Math.round(this.delayMs * (this.options.backoff ?? 1.5)));
    return { events, decision: { kind: "wait", delayMs: Math.max(0, Math.min(this.delayMs, this.deadline - nowMs)) } };
  }

  /**
   * A poll that failed. Throttling waits as long as asked and never counts;
   * other failures back off and count, and too many in a row stop the wait.
   */
  pollFailed(nowMs: number, failure: { throttled: boolean; retryAfterMs?: number; description: string }): FollowDecision {
    if (!failure.throttled) this.pollFailures++;
    const limit = this.options.maxConsecutivePollFailures ?? 10;
    if (this.pollFailures >= limit) {
      return { kind: "stop", reason: "pollFailures", lastStatus: this.status, message: `Could not read the run ${limit} times in a row (last: ${failure.description}); it was left ${this.status ?? "running"} in Data Factory.` };
    }
    if (!this.cancelRequested && nowMs >= this.deadline) return this.stopFor("timeout", nowMs);
    this.delayMs = Math.min(this.maxDelayMs, Math.round(this.delayMs * (this.options.backoff ?? 1.5)));
    return { kind: "wait", delayMs: Math.max(failure.retryAfterMs ?? 0, this.delayMs) };
  }

  /** SIGINT/SIGTERM: cancel the run (cancelOnTimeout) or stop, now. */
  interrupted(nowMs: number): FollowDecision {
    if (this.cancelRequested) return { kind: "stop", reason: "signal", lastStatus: this.status, message: "Stopped again while the run was being cancelled." };
    return this.stopFor("signal", nowMs);
  }

  private stopFor(reason: "timeout" | "signal", nowMs: number): FollowDecision {
    const run = this.lastRun?.runId ? `run ${this.lastRun.runId}` : "the run";
    const why = reason === "timeout" ? `The run did not finish within ${this.options.timeoutMinutes} min` : "The task was cancelled";
    if (!this.options.cancelOnTimeout) {
      return {
        kind: "stop",
        reason,
        lastStatus: this.status,
        message: `${why}; ${run} is left ${this.status ?? "running"} in Data Factory (cancelOnTimeout is false).`,
      };
    }
    const graceMs = (reason === "timeout" ? (this.options.cancelGraceSecondsAfterTimeout ?? 120) : (this.options.cancelGraceSecondsAfterSignal ?? 5)) * 1000;
    this.cancelRequested = { reason, at: nowMs, graceMs };
    return {
      kind: "cancel",
      reason,
      recursive: this.options.cancelRecursive,
      message: `${why}; cancelling ${run} in Data Factory${this.options.cancelRecursive ? ", with the pipelines it started" : ""}.`,
      delayMs: Math.min(this.initialDelayMs, graceMs),
    };
  }

  private outcome(run: PipelineRun): RunOutcome {
    const status = run.status as RunOutcome["status"];
    const failedActivities = this.activityRuns()
      .filter((a) => a.status === "Failed")
      .map(failureOf);
    return {
      status,
      succeeded: status === "Succeeded",
      message: run.message ?? "",
      failedActivities,
      timedOut: this.cancelRequested?.reason === "timeout",
      interrupted: this.cancelRequested?.reason === "signal",
      durationMs: typeof run.durationInMs === "number" ? run.durationInMs : undefined,
    };
  }
}

/** The lines the task fails with: the run's message, then each failed activity's error. */
export function describeOutcome(outcome: RunOutcome, runId: string): string[] {
  const lines: string[] = [];
  if (outcome.succeeded) {
    lines.push(`Pipeline run ${runId} Succeeded${outcome.timedOut || outcome.interrupted ? " (while it was being cancelled)" : ""}.`);
    return lines;
  }
  const why = outcome.timedOut ? " after the wait timed out" : outcome.interrupted ? " after the task was cancelled" : "";
  lines.push(`Pipeline run ${runId} ${outcome.status}${why}${outcome.message ? `: ${outcome.message.trim()}` : "."}`);
  for (const f of outcome.failedActivities) {
    lines.push(`Activity '${f.activity}'${f.type ? ` (${f.type})` : ""} failed${f.errorCode ? ` with error ${f.errorCode}` : ""}: ${f.message.trim()}`);
  }
  return lines;
}

/**
 * The time window for Query Activity Runs: from a minute before the run
 * started (clock skew) to a minute from now.
 */
export function activityRunsWindow(run: PipelineRun, nowMs: number): RunFilterParameters {
  const start = run.runStart ? new Date(run.runStart).getTime() : nowMs - 24 * 3600_000;
  return { lastUpdatedAfter: new Date(start - 60_000), lastUpdatedBefore: new Date(nowMs + 60_000) };
}

/**
 * Every page of activity runs, following continuation tokens; a token that
 * comes back again ends the loop instead of spinning on it.
 */
export async function collectActivityRuns(queryPage: (continuationToken: string | undefined) => Promise<ActivityRunsQueryResponse>, maxPages = 100): Promise<ActivityRun[]> {
  const runs: ActivityRun[] = [];
  const seenTokens = new Set<string>();
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const response = await queryPage(token);
    runs.push(...(response.value ?? []));
    token = response.continuationToken ?? undefined;
    if (!token || seenTokens.has(token)) break;
    seenTokens.add(token);
  }
  return runs;
}

/** The log line for an event, e.g. `Activity 'Run app' (Custom) Succeeded after 31 s.` */
export function formatEvent(event: FollowEvent): string {
  if (event.kind === "runStatus") return event.message ? `Pipeline run is ${event.status}: ${event.message.trim().replace(/\.$/, "")}.` : `Pipeline run is ${event.status}.`;
  const which = `Activity '${event.name}'${event.occurrence > 1 ? ` #${event.occurrence}` : ""}${event.type ? ` (${event.type})` : ""}`;
  if (event.kind === "activityStarted") return `${which} started${event.status === "Queued" ? " (queued)" : ""}.`;
  const took = event.durationMs !== undefined ? ` after ${formatDuration(event.durationMs)}` : "";
  const error = event.error ? `: ${event.error.errorCode ? `${event.error.errorCode} ` : ""}${event.error.message}` : ".";
  return `${which} ${event.status}${took}${error}`;
}
