/**
 * What the task reports once the run is over: per Custom activity its exit
 * code, error, customOutput and the tails of stdout.txt and stderr.txt (read
 * from the blobs its `outputs` point to, through an injected reader); the
 * Markdown summary for the run's summary tab; the link to the run in Data
 * Factory Studio; and the `ActivityOutputs` output variable, JSON bounded in size.
 */
import type { ActivityRun } from "@azure/arm-datafactory";
import { describeError } from "../../runtime/errors";
import { formatDuration } from "../../runtime/progress";
import type { ActivityFailure } from "./follow";

/** The last `maxBytes` of a blob (or all of it, when smaller), and the blob's whole size. */
export type BlobTailReader = (url: string, maxBytes: number) => Promise<{ bytes: Buffer; totalBytes: number }>;

export interface LogTail {
  /** The blob's URL without any query (no SAS is ever shown). */
  url: string;
  lines: string[];
  /** Lines before these were left out. */
  truncated: boolean;
  totalBytes: number;
}

export interface CustomActivityReport {
  activity: string;
  activityRunId?: string;
  status: string;
  durationMs?: number;
  exitCode?: number;
  error?: ActivityFailure;
  customOutput?: unknown;
  stdout?: LogTail;
  stderr?: LogTail;
  /** Why a part is missing, e.g. that stderr.txt could not be read. */
  notes: string[];
}

export interface TailLimits {
  /** Lines kept from the end (default 30). */
  maxLines?: number;
  /** Bytes read from the end (default 8 KiB). */
  maxBytes?: number;
}

const withoutQuery = (url: string) => url.split("?")[0] ?? url;

function errorOf(run: ActivityRun): ActivityFailure | undefined {
  const e = run.error as { errorCode?: unknown; message?: unknown; failureType?: unknown } | undefined;
  if (!e || ((e.errorCode === undefined || e.errorCode === "") && (e.message === undefined || e.message === ""))) return undefined;
  return {
    activity: run.activityName ?? "",
    type: run.activityType ?? "",
    errorCode: typeof e.errorCode === "string" && e.errorCode ? e.errorCode : undefined,
    message: typeof e.message === "string" ? e.message : "",
    failureType: typeof e.failureType === "string" && e.failureType ? e.failureType : undefined,
  };
}

/** The last lines of a log: a first line cut by the byte limit is dropped, and a UTF-8 character cut at the start is skipped. */
export function tailLines(bytes: Buffer, totalBytes: number, maxLines: number): { lines: string[]; truncated: boolean } {
  let start = 0;
  const cutAtStart = bytes.length < totalBytes;
  if (cutAtStart) {
    const nl = bytes.indexOf(0x0a);
    start = nl >= 0 ? nl + 1 : 0;
    // No newline at all: keep the bytes, but not half a character.
    while (nl < 0 && start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  }
  let text = bytes.subarray(start).toString("utf8");
  if (text.endsWith("\n")) text = text.slice(0, -1);
  const all = text === "" ? [] : text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const lines = all.slice(-maxLines);
  return { lines, truncated: cutAtStart || lines.length < all.length };
}

async function readTail(url: string, read: BlobTailReader, limits: TailLimits): Promise<LogTail> {
  const { bytes, totalBytes } = await read(url, limits.maxBytes ?? 8 * 1024);
  const { lines, truncated } = tailLines(bytes, totalBytes, limits.maxLines ?? 30);
  return { url: withoutQuery(url), lines, truncated, totalBytes };
}

/** Everything the task says about one Custom activity run. */
export async function customActivityReport(run: ActivityRun, readBlobTail: BlobTailReader | undefined, limits: TailLimits = {}): Promise<CustomActivityReport> {
  const output = (run.output ?? {}) as { exitcode?: unknown; outputs?: unknown; customOutput?: unknown };
  const report: CustomActivityReport = {
    activity: run.activityName ?? "",
    activityRunId: run.activityRunId,
    status: run.status ?? "Unknown",
    durationMs: run.durationInMs,
    exitCode: typeof output.exitcode === "number" ? output.exitcode : typeof output.exitcode === "string" && /^-?\d+$/.test(output.exitcode) ? Number(output.exitcode) : undefined,
    error: errorOf(run),
    customOutput: output.customOutput,
    notes: [],
  };
  const urls = Array.isArray(output.outputs) ? output.outputs.filter((u): u is string => typeof u === "string") : [];
  const stdoutUrl = urls.find((u) => /\/stdout\.txt(\?|$)/i.test(u));
  const stderrUrl = urls.find((u) => /\/stderr\.txt(\?|$)/i.test(u));
  if (!stdoutUrl && !stderrUrl) {
    report.notes.push("The activity run has no stdout/stderr URLs in its output.");
    return report;
  }
  if (!readBlobTail) {
    report.notes.push("stdout.txt and stderr.txt were not read (no storage access); they are at " + [stdoutUrl, stderrUrl].filter(Boolean).map((u) => withoutQuery(u!)).join(" and ") + ".");
    return report;
  }
  for (const [name, url] of [["stdout", stdoutUrl], ["stderr", stderrUrl]] as const) {
    if (!url) continue;
    try {
      report[name] = await readTail(url, readBlobTail, limits);
    } catch (error) {
      report.notes.push(`${name}.txt could not be read at ${withoutQuery(url)}: ${describeError(error)}`);
    }
  }
  return report;
}

/** Data Factory Studio's host per cloud; none for a custom cloud. */
const STUDIO_HOSTS: Record<string, string> = {
  azurecloud: "https://adf.azure.com",
  azureusgovernment: "https://adf.azure.us",
  azurechinacloud: "https://adf.azure.cn",
};

export function factoryResourceId(subscriptionId: string, resourceGroup: string, factoryName: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DataFactory/factories/${factoryName}`;
}

/**
 * The run in Data Factory Studio's monitoring view:
 * `https://adf.azure.com/en/monitoring/pipelineruns/<runId>?factory=<factory id, URL-encoded>`.
 * Undefined for a cloud whose Studio host is not known.
 */
export function studioRunUrl(runId: string, factoryId: string, cloudName = "AzureCloud"): string | undefined {
  const host = STUDIO_HOSTS[cloudName.toLowerCase()];
  if (!host) return undefined;
  return `${host}/en/monitoring/pipelineruns/${encodeURIComponent(runId)}?factory=${encodeURIComponent(factoryId)}`;
}

export interface RunSummaryInput {
  factoryName: string;
  pipelineName: string;
  runId: string;
  status: string;
  durationMs?: number;
  /** The parameters sent; SecureString ones are shown as ***. */
  parameters: Record<string, unknown>;
  secureParameterNames: readonly string[];
  /** All activity runs, in start order. */
  activityRuns: readonly ActivityRun[];
  customReports: readonly CustomActivityReport[];
  /** The run's message and each failed activity's error (see describeOutcome). */
  failureLines: readonly string[];
  studioUrl?: string;
  /** Extra lines, e.g. that the wait timed out and the run was cancelled. */
  notes?: readonly string[];
}

/** Text from Azure or the application, made harmless in a table cell. */
function cell(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function inline(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r?\n/g, " ");
}

/** A fenced block that the content cannot close: the fence is longer than any run of backticks in it. */
function codeBlock(lines: readonly string[]): string[] {
  const longest = Math.max(2, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((m) => m.length))));
  const fence = "`".repeat(longest + 1);
  return [fence, ...lines, fence];
}

function showValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The Markdown for the summary tab. */
export function renderRunSummary(input: RunSummaryInput): string {
  const lines: string[] = [];
  lines.push(`### Data Factory pipeline '${inline(input.pipelineName)}': ${inline(input.status)}`, "");
  lines.push("| | |", "|---|---|");
  lines.push(`| Factory | ${cell(input.factoryName)} |`);
  lines.push(`| Pipeline | ${cell(input.pipelineName)} |`);
  lines.push(`| Run ID | ${cell(input.runId)} |`);
  lines.push(`| Status | ${cell(input.status)} |`);
  if (input.durationMs !== undefined) lines.push(`| Duration | ${formatDuration(input.durationMs)} |`);
  const params = Object.entries(input.parameters);
  if (params.length) {
    lines.push(`| Parameters | ${cell(params.map(([k, v]) => `${k} = ${input.secureParameterNames.includes(k) ? "***" : showValue(v)}`).join(", "))} |`);
  }
  if (input.studioUrl) lines.push(`| Data Factory Studio | [Open the run](${input.studioUrl}) |`);
  lines.push("");

  if (input.activityRuns.length) {
    const exitCodes = new Map(input.customReports.map((r) => [r.activityRunId ?? r.activity, r.exitCode]));
    lines.push("#### Activities", "", "| Activity | Type | Status | Duration | Exit code |", "|---|---|---|---|---|");
    for (const run of input.activityRuns) {
      const exit = exitCodes.get(run.activityRunId ?? run.activityName ?? "");
      lines.push(
        `| ${cell(run.activityName ?? "")} | ${cell(run.activityType ?? "")} | ${cell(run.status ?? "")} | ${typeof run.durationInMs === "number" ? formatDuration(run.durationInMs) : ""} | ${exit ?? ""} |`,
      );
    }
    lines.push("");
  }

  if (input.failureLines.length && input.status !== "Succeeded") {
    lines.push("#### Failure", "");
    for (const l of input.failureLines) lines.push(`- ${inline(l)}`);
    lines.push("");
  }

  for (const r of input.customReports) {
    const hasLogs = (r.stdout?.lines.length ?? 0) + (r.stderr?.lines.length ?? 0) > 0;
    if (!hasLogs && r.customOutput === undefined && r.notes.length === 0) continue;
    lines.push(`#### Custom activity '${inline(r.activity)}'${r.exitCode !== undefined ? `: exit code ${r.exitCode}` : ""}`, "");
    for (const [name, tail] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
      if (!tail || tail.lines.length === 0) continue;
      lines.push(`${name}${tail.truncated ? ` (last ${tail.lines.length} lines)` : ""}:`, "", ...codeBlock(tail.lines), "");
    }
    if (r.customOutput !== undefined) {
      const json = JSON.stringify(r.customOutput, null, 2) ?? "";
      const shown = json.length > 4000 ? `${json.slice(0, 4000)}\n… (${json.length - 4000} more characters)` : json;
      lines.push("customOutput:", "", ...codeBlock(shown.split("\n")), "");
    }
    for (const n of r.notes) lines.push(`- ${inline(n)}`);
    if (r.notes.length) lines.push("");
  }
  for (const n of input.notes ?? []) lines.push(`- ${inline(n)}`);
  return `${lines.join("\n").trimEnd()}\n`;
}

/** One activity's entry in ActivityOutputs. */
export interface ActivityOutputEntry {
  status: string;
  type?: string;
  durationMs?: number;
  exitCode?: number;
  customOutput?: unknown;
  error?: { errorCode?: string; message: string };
  output?: unknown;
}

export const TRUNCATED_KEY = "_truncated";

/**
 * The ActivityOutputs variable: `{ "<activity>": { status, … } }` for every
 * activity (the last run of a name wins), Custom ones with exitCode and
 * customOutput, others with their output. Never more than `maxBytes` of UTF-8
 * and always valid JSON: the largest values are replaced by
 * `"[truncated: N bytes]"` until it fits, then whole activities are left out,
 * and `_truncated` says what was cut.
 */
export function activityOutputsJson(activityRuns: readonly ActivityRun[], customReports: readonly CustomActivityReport[], maxBytes = 16 * 1024): string {
  const byRun = new Map(customReports.map((r) => [r.activityRunId ?? r.activity, r]));
  const entries: Record<string, ActivityOutputEntry> = {};
  for (const run of activityRuns) {
    const name = run.activityName ?? "";
    const custom = byRun.get(run.activityRunId ?? name);
    const error = errorOf(run);
    const entry: ActivityOutputEntry = { status: run.status ?? "Unknown", type: run.activityType, durationMs: run.durationInMs };
    if (custom) {
      entry.exitCode = custom.exitCode;
      if (custom.customOutput !== undefined) entry.customOutput = custom.customOutput;
    } else if (run.output !== undefined) {
      entry.output = run.output;
    }
    if (error) entry.error = { errorCode: error.errorCode, message: error.message };
    entries[name] = entry;
  }
  return boundedJson(entries, maxBytes);
}

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");

/** JSON of an object of objects, at most `maxBytes`, cut as described above. */
export function boundedJson(value: Record<string, Record<string, unknown> | unknown>, maxBytes: number): string {
  const copy: Record<string, unknown> = JSON.parse(JSON.stringify(value));
  const cut: string[] = [];
  const fits = () => bytesOf(copy) <= maxBytes;
  // 1. Replace the largest field of any entry, largest first.
  while (!fits()) {
    let best: { entry: Record<string, unknown>; key: string; size: number; name: string } | undefined;
    for (const [name, entry] of Object.entries(copy)) {
      if (name === TRUNCATED_KEY || !entry || typeof entry !== "object" || Array.isArray(entry)) continue;
      for (const [key, field] of Object.entries(entry as Record<string, unknown>)) {
        const size = bytesOf(field);
        if (size > 40 && (!best || size > best.size)) best = { entry: entry as Record<string, unknown>, key, size, name };
      }
    }
    if (!best) break;
    best.entry[best.key] = `[truncated: ${best.size} bytes]`;
    cut.push(`${best.name}.${best.key}`);
    copy[TRUNCATED_KEY] = `Values cut to stay within ${maxBytes} bytes: ${cut.slice(0, 10).join(", ")}${cut.length > 10 ? ` and ${cut.length - 10} more` : ""}`;
  }
  // 2. Leave out whole entries from the end.
  const names = Object.keys(copy).filter((n) => n !== TRUNCATED_KEY);
  let left = 0;
  while (!fits() && names.length > 0) {
    delete copy[names.pop()!];
    left++;
    copy[TRUNCATED_KEY] = `${left} activities left out and ${cut.length} values cut to stay within ${maxBytes} bytes`;
  }
  if (fits()) return JSON.stringify(copy);
  const marker = JSON.stringify({ [TRUNCATED_KEY]: `Cut to stay within ${maxBytes} bytes` });
  return Buffer.byteLength(marker) <= maxBytes ? marker : "{}";
}
