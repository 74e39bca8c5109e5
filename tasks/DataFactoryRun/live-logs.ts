/**
 * The live log of the Custom activities while the run goes: each poll of the
 * run hands the activity runs to `step`, which finds each in-progress Custom
 * activity's Batch task (job `adfv2-<pool>`, see logtail.ts for how and what
 * is unconfirmed), tails its stdout.txt and stderr.txt, and prints the new
 * lines with the activity's name in front. When an activity ends, what is left
 * of its files is read and printed, the last line even without a newline.
 * When the Batch account cannot be read with the connection, or a task cannot
 * be matched, it says so once and leaves that activity to the report at the
 * end (its blobs). Batch calls go through the injected `BatchTaskFiles`.
 */
import type { ActivityRun } from "@azure/arm-datafactory";
import { describeError, errorStatus } from "../../runtime/errors";
import { adfJobId, linePrefix, matchBatchTask, TaskFileTailer, type BatchTaskSummary } from "./logtail";
import type { BatchPoolRef } from "./preflight";

export type TaskFileName = "stdout.txt" | "stderr.txt";

export interface BatchTaskFiles {
  /** The tasks of a job (its id, command line, creation time). */
  listTasks(jobId: string): Promise<BatchTaskSummary[]>;
  /** A task file's length; undefined while the file does not exist yet (404). */
  fileLength(jobId: string, taskId: string, file: TaskFileName): Promise<number | undefined>;
  /** Bytes start..endInclusive of a task file (`ocp-range: bytes=start-end`). */
  readRange(jobId: string, taskId: string, file: TaskFileName, start: number, endInclusive: number): Promise<Buffer>;
}

export interface LiveLogOptions {
  files: BatchTaskFiles;
  /** The pool an activity run's Custom activity runs on (see batchPoolOf), or why it is not known. */
  poolOf(activityRun: ActivityRun): BatchPoolRef | { reason: string };
  /** Prints one line of the application's output (the entry escapes it). */
  print(line: string): void;
  /** Says something about the live log itself, once per cause. */
  note(message: string): void;
  /** Polls without a matching task before giving up on an activity (default 10). */
  matchAttempts?: number;
  /** Failed Batch reads in a row before giving up on an activity (default 5). */
  maxFailures?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

type Tracked =
  | { state: "matching"; attempts: number; failures: number; lastReason?: string }
  | { state: "tailing"; jobId: string; taskId: string; stdout: TaskFileTailer; stderr: TaskFileTailer; failures: number }
  | { state: "done"; streamed: boolean };

const ACTIVE = new Set(["Queued", "InProgress"]);
const FALLBACK = "its stdout and stderr are shown from the blobs when it ends";

export class LiveLogs {
  private readonly tracked = new Map<string, Tracked>();
  private disabled = false;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly options: LiveLogOptions) {
    this.minDelayMs = options.minDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
  }

  /** True when this activity run's output was printed live (the report need not print it again). */
  streamed(activityRunId: string): boolean {
    const t = this.tracked.get(activityRunId);
    return t !== undefined && (t.state === "tailing" || (t.state === "done" && t.streamed));
  }

  /** One round over the latest activity runs; resolves with how long to wait before the next. */
  async step(activityRuns: readonly ActivityRun[]): Promise<{ nextDelayMs: number }> {
    let next = this.maxDelayMs;
    if (this.disabled) return { nextDelayMs: next };
    const listed = new Map<string, Promise<BatchTaskSummary[]>>();
    for (const run of activityRuns) {
      if (run.activityType !== "Custom" || !run.activityRunId) continue;
      const id = run.activityRunId;
      const active = ACTIVE.has(run.status ?? "");
      let t = this.tracked.get(id);
      if (!t) {
        if (!active && run.status !== "Failed" && run.status !== "Succeeded") continue;
        t = { state: "matching", attempts: 0, failures: 0 };
        this.tracked.set(id, t);
      }
      if (t.state === "done") continue;
      try {
        if (t.state === "matching") {
          const pool = this.options.poolOf(run);
          if ("reason" in pool) {
            this.giveUp(id, run, `its Batch pool is not known (${pool.reason})`);
            continue;
          }
          const jobId = adfJobId(pool.poolName);
          if (!listed.has(jobId)) listed.set(jobId, this.options.files.listTasks(jobId));
          const match = matchBatchTask(run, await listed.get(jobId)!);
          if (!match.matched) {
            t.attempts++;
            t.lastReason = match.reason;
            if (!active || t.attempts >= (this.options.matchAttempts ?? 10)) this.giveUp(id, run, `its Batch task in job '${jobId}' was not found (${match.reason})`);
            else next = Math.min(next, this.minDelayMs * 2);
            continue;
          }
          const name = run.activityName ?? "Custom";
          const reader = (file: TaskFileName) => (start: number, end: number) => this.options.files.readRange(jobId, match.taskId, file, start, end);
          const tail = { minDelayMs: this.minDelayMs, maxDelayMs: this.maxDelayMs };
          t = {
            state: "tailing",
            jobId,
            taskId: match.taskId,
            stdout: new TaskFileTailer({ prefix: linePrefix(name, "stdout"), read: reader("stdout.txt"), ...tail }),
            stderr: new TaskFileTailer({ prefix: linePrefix(name, "stderr"), read: reader("stderr.txt"), ...tail }),
            failures: 0,
          };
          this.tracked.set(id, t);
        }
        if (t.state === "tailing") {
          for (const [file, tailer] of [["stdout.txt", t.stdout], ["stderr.txt", t.stderr]] as const) {
            const length = (await this.options.files.fileLength(t.jobId, t.taskId, file)) ?? 0;
            if (active) {
              const r = await tailer.poll(length);
              r.lines.forEach((l) => this.options.print(l));
              next = Math.min(next, r.nextDelayMs);
            } else {
              (await tailer.finish(length)).forEach((l) => this.options.print(l));
            }
          }
          t.failures = 0;
          if (!active) this.tracked.set(id, { state: "done", streamed: true });
        }
      } catch (error) {
        const status = errorStatus(error);
        if (status === 401 || status === 403) {
          this.disabled = true;
          this.options.note(`The live log is off: the Batch account cannot be read with this service connection (${describeError(error)}); Custom activities' stdout and stderr are shown from the blobs when they end.`);
          return { nextDelayMs: this.maxDelayMs };
        }
        const current = this.tracked.get(id)!;
        if (current.state !== "done") {
          current.failures++;
          if (current.failures >= (this.options.maxFailures ?? 5) || !active) this.giveUp(id, run, `reading its Batch task failed (${describeError(error)})`);
          else next = Math.min(next, this.minDelayMs * 2);
        }
      }
    }
    return { nextDelayMs: next };
  }

  private giveUp(id: string, run: ActivityRun, why: string): void {
    const before = this.tracked.get(id);
    this.tracked.set(id, { state: "done", streamed: before?.state === "tailing" });
    this.options.note(`No live log for activity '${run.activityName ?? id}': ${why}; ${FALLBACK}.`);
  }
}
