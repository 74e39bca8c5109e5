/**
 * Live log of a Custom activity: the stdout.txt and stderr.txt of its Batch
 * task, read while it runs through the Batch data plane's task files
 * (Get Properties for the length, then Get with `ocp-range: bytes=start-end`
 * for only the new bytes), printed as whole lines, each once, in order.
 *
 * Which Batch task belongs to an activity run is not documented. What is
 * known (see the reference notes on the Custom activity): ADF uses one job
 * per pool named `adfv2-<poolName>` and one task per activity run whose id is
 * a GUID; the logs go to `adfjobs/<GUID>/output/` "with a GUID of the task".
 * Unconfirmed: whether that GUID is the activity run id, and whether the
 * task's command line is exactly the activity's evaluated command. So
 * `matchBatchTask` tries, in order: a task whose id is the activity run id;
 * a task whose id is the GUID in the activity's `outputs` URLs (known once
 * the activity has output); a single task in the job whose command line is the
 * activity's evaluated command (`input.command`), created since the activity
 * started. Two tasks running the same command at once are not told apart:
 * no match, and the entry falls back to the blobs at the end.
 */

export type TaskFileReader = (start: number, endInclusive: number) => Promise<Buffer>;

export interface TailOptions {
  /** Printed before every line, e.g. `[Run app] `. */
  prefix: string;
  /** Reads bytes start..endInclusive of the file (ocp-range is inclusive). */
  read: TaskFileReader;
  /** The most bytes read per poll (default 1 MiB); the rest is read on the next, without waiting. */
  maxReadBytes?: number;
  /** A line longer than this without a newline is printed in parts (default 64 KiB). */
  maxLineBytes?: number;
  /** Wait after new bytes (default 1 s) and the most it grows to while nothing is new (default 15 s). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface TailResult {
  /** New complete lines, prefixed, in order. */
  lines: string[];
  /** How long to wait before the next poll. */
  nextDelayMs: number;
}

const NEWLINE = 0x0a;

/** Where a cut at or before `at` keeps UTF-8 sequences whole. */
function utf8SafeCut(buffer: Buffer, at: number): number {
  let cut = Math.min(at, buffer.length);
  // Step back over continuation bytes (10xxxxxx) to the start of the character.
  let back = 0;
  while (cut > 0 && back < 4 && ((buffer[cut] ?? 0) & 0xc0) === 0x80) {
    cut--;
    back++;
  }
  return cut > 0 ? cut : Math.min(at, buffer.length);
}

export class TaskFileTailer {
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  private delayMs: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private finished = false;

  constructor(private readonly options: TailOptions) {
    this.minDelayMs = options.minDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 15_000;
    this.delayMs = this.minDelayMs;
  }

  /** Bytes of the file consumed so far. */
  get bytesRead(): number {
    return this.offset;
  }

  /**
   * Reads what the file gained since the last poll (the file is `fileLength`
   * bytes now) and returns the lines it completed. A last line without its
   * newline is kept until it is completed or `finish` is called.
   */
  async poll(fileLength: number): Promise<TailResult> {
    if (this.finished || fileLength <= this.offset) {
      // Nothing new (a shorter file is a replaced one; Batch task files only grow, so it is ignored).
      this.delayMs = Math.min(this.maxDelayMs, this.delayMs * 2);
      return { lines: [], nextDelayMs: this.delayMs };
    }
    const maxRead = this.options.maxReadBytes ?? 1024 * 1024;
    const end = Math.min(fileLength, this.offset + maxRead) - 1;
    const chunk = await this.options.read(this.offset, end);
    // The service may give fewer bytes than asked (never more that we use).
    const used = chunk.subarray(0, Math.min(chunk.length, end - this.offset + 1));
    this.offset += used.length;
    const lines = this.take(used);
    const more = this.offset < fileLength;
    this.delayMs = used.length > 0 ? this.minDelayMs : Math.min(this.maxDelayMs, this.delayMs * 2);
    return { lines, nextDelayMs: more && used.length > 0 ? 0 : this.delayMs };
  }

  /**
   * The task ended: reads what is left (up to `fileLength`) and returns the
   * remaining lines, the last one even without its newline. Later polls return nothing.
   */
  async finish(fileLength: number): Promise<string[]> {
    const lines: string[] = [];
    while (!this.finished && fileLength > this.offset) {
      const before = this.offset;
      lines.push(...(await this.poll(fileLength)).lines);
      if (this.offset === before) break;
    }
    if (this.pending.length > 0) {
      lines.push(this.format(this.pending));
      this.pending = Buffer.alloc(0);
    }
    this.finished = true;
    return lines;
  }

  private take(bytes: Buffer): string[] {
    const lines: string[] = [];
    let buffer = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
    const maxLine = this.options.maxLineBytes ?? 64 * 1024;
    for (;;) {
      // A newline byte never occurs inside a UTF-8 sequence, so cutting at it is always safe.
      const nl = buffer.indexOf(NEWLINE);
      if (nl >= 0 && nl <= maxLine) {
        lines.push(this.format(buffer.subarray(0, nl)));
        buffer = buffer.subarray(nl + 1);
        continue;
      }
      if (buffer.length > maxLine) {
        const cut = utf8SafeCut(buffer, maxLine);
        lines.push(this.format(buffer.subarray(0, cut)));
        buffer = buffer.subarray(cut);
        continue;
      }
      break;
    }
    this.pending = Buffer.from(buffer);
    return lines;
  }

  private format(line: Buffer): string {
    const text = line.toString("utf8");
    return `${this.options.prefix}${text.endsWith("\r") ? text.slice(0, -1) : text}`;
  }
}

/** `[Run app] ` for stdout, `[Run app stderr] ` for stderr. */
export function linePrefix(activityName: string, stream: "stdout" | "stderr"): string {
  return stream === "stdout" ? `[${activityName}] ` : `[${activityName} stderr] `;
}

/** The Batch job ADF runs a pool's Custom activities in. */
export function adfJobId(poolName: string): string {
  return `adfv2-${poolName}`;
}

/** What matching needs of a Batch task (a CloudTask has all of it). */
export interface BatchTaskSummary {
  id?: string;
  commandLine?: string;
  creationTime?: Date;
  state?: string;
}

/** What matching needs of an activity run (an ActivityRun has all of it). */
export interface ActivityRunSummary {
  activityRunId?: string;
  activityRunStart?: Date;
  activityRunEnd?: Date;
  input?: unknown;
  output?: unknown;
}

export type TaskMatch =
  | { matched: true; taskId: string; basis: "activityRunId" | "outputFolder" | "commandLine" }
  | { matched: false; reason: string };

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The GUID of `adfjobs/<GUID>/` in the activity output's `outputs` URLs. */
export function outputFolderGuid(output: unknown): string | undefined {
  const outputs = (output as { outputs?: unknown } | undefined)?.outputs;
  if (!Array.isArray(outputs)) return undefined;
  for (const url of outputs) {
    if (typeof url !== "string") continue;
    const m = /\/adfjobs\/([^/]+)\//i.exec(url);
    if (m?.[1] && GUID.test(m[1])) return m[1];
  }
  return undefined;
}

/**
 * The Batch task (in job `adfv2-<pool>`) that runs an activity run, by the
 * signals in the module comment; `clockSkewMs` (default 2 min) widens the
 * time window for the command-line match.
 */
export function matchBatchTask(activityRun: ActivityRunSummary, tasks: readonly BatchTaskSummary[], options: { clockSkewMs?: number } = {}): TaskMatch {
  const byId = (id: string | undefined) => (id ? tasks.find((t) => t.id?.toLowerCase() === id.toLowerCase()) : undefined);
  const direct = byId(activityRun.activityRunId);
  if (direct?.id) return { matched: true, taskId: direct.id, basis: "activityRunId" };
  const folder = byId(outputFolderGuid(activityRun.output));
  if (folder?.id) return { matched: true, taskId: folder.id, basis: "outputFolder" };

  const command = (activityRun.input as { command?: unknown } | undefined)?.command;
  if (typeof command !== "string" || command.trim() === "") return { matched: false, reason: "the activity run shows no command to match its Batch task by" };
  const skew = options.clockSkewMs ?? 120_000;
  const from = activityRun.activityRunStart ? new Date(activityRun.activityRunStart).getTime() - skew : -Infinity;
  const to = activityRun.activityRunEnd ? new Date(activityRun.activityRunEnd).getTime() + skew : Infinity;
  const candidates = tasks.filter((t) => {
    if (!t.id || t.commandLine?.trim() !== command.trim()) return false;
    const created = t.creationTime ? new Date(t.creationTime).getTime() : undefined;
    return created === undefined || (created >= from && created <= to);
  });
  const [only] = candidates;
  if (candidates.length === 1 && only?.id) return { matched: true, taskId: only.id, basis: "commandLine" };
  if (candidates.length === 0) return { matched: false, reason: "no task in the job runs the activity's command since it started" };
  return { matched: false, reason: `${candidates.length} tasks in the job run the same command in the same time window (${candidates.map((t) => t.id).join(", ")}); which one is this activity's cannot be told` };
}
