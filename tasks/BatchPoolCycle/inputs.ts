/**
 * BatchPoolCycle@1's inputs as plain values: each parser takes the input's
 * YAML name and its raw text, and refuses bad values with an InputError that
 * names the input, shows the value and says what would be valid, before
 * anything changes in Azure. The entry reads the text through the runtime's
 * InputReader and hands it here.
 */
import { InputError } from "../../runtime/errors";

export const CYCLE_METHODS = ["reboot", "replace", "surge", "reimage"] as const;
export type CycleMethod = (typeof CYCLE_METHODS)[number];

export const WHEN_TASKS_RUNNING = ["taskcompletion", "requeue", "terminate", "retaineddata"] as const;
export type WhenTasksRunning = (typeof WHEN_TASKS_RUNNING)[number];

/** Batch's option for reboot, reimage, resize and remove nodes. */
export type NodeDeallocationOption = "requeue" | "terminate" | "taskcompletion" | "retaineddata";
/** Batch's option for disable scheduling: it has no retaineddata. */
export type DisableSchedulingOption = "requeue" | "terminate" | "taskcompletion";

/** A node count as given: a whole number, or a percentage of the pool's nodes. */
export type NodeCountSpec = { kind: "count"; count: number } | { kind: "percent"; percent: number };

export interface PoolCycleOptions {
  method: CycleMethod;
  whenTasksRunning: WhenTasksRunning;
  maxUnavailable: NodeCountSpec;
  /** Used by `surge` only. */
  maxSurge: NodeCountSpec;
  drain: boolean;
  onlyOutdated: boolean;
  batchTimeoutMinutes: number;
  timeoutMinutes: number;
  /** First wait between polls, and after each batch starts (default 5 s). */
  pollInitialSeconds?: number;
  /** Longest wait between polls (default 30 s). */
  pollMaxSeconds?: number;
  /** Growth of the wait while nothing changes (default 1.5). */
  pollBackoff?: number;
  /** How long clean-up after a failure or cancellation may wait for a resizing pool (default 120 s). */
  cleanupTimeoutSeconds?: number;
}

/** Raw input text as the agent gives it (absent or blank: the default). */
export interface PoolCycleRawInputs {
  poolIds?: string;
  method?: string;
  whenTasksRunning?: string;
  maxUnavailable?: string;
  maxSurge?: string;
  drain?: string;
  onlyOutdated?: string;
  batchTimeoutMinutes?: string;
  timeoutMinutes?: string;
  pollIntervalSeconds?: string;
}

export const DEFAULTS = {
  method: "reboot",
  whenTasksRunning: "taskcompletion",
  maxUnavailable: "1",
  maxSurge: "1",
  drain: "true",
  onlyOutdated: "false",
  batchTimeoutMinutes: "30",
  timeoutMinutes: "120",
  pollIntervalSeconds: "30",
} as const;

const fail = (input: string, message: string): never => {
  throw new InputError(input, `Input '${input}': ${message}`);
};

const blank = (v: string | undefined): v is undefined => v === undefined || v.trim() === "";

/** `5` or `25%`: a whole number of nodes of at least 1, or a percentage above 0 and at most 100. */
export function parseNodeCount(input: string, value: string): NodeCountSpec {
  const text = value.trim();
  const valid = "Use a whole number of nodes of at least 1 (for example 5) or a percentage of the pool's nodes above 0 and at most 100 (for example 25%).";
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    if (!(p > 0) || p > 100) fail(input, `'${text}' is not a valid percentage. ${valid}`);
    return { kind: "percent", percent: p };
  }
  if (!/^[+-]?\d+$/.test(text)) fail(input, `'${text}' is not a number or a percentage. ${valid}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) fail(input, `${n} is not allowed: at least 1 node is needed. ${valid}`);
  return { kind: "count", count: n };
}

/** The count for a pool of `nodeCount` nodes: a percentage is rounded down, but is at least 1. */
export function resolveNodeCount(spec: NodeCountSpec, nodeCount: number): number {
  if (spec.kind === "count") return spec.count;
  return Math.max(1, Math.floor((nodeCount * spec.percent) / 100));
}

export function describeNodeCount(spec: NodeCountSpec): string {
  return spec.kind === "count" ? String(spec.count) : `${spec.percent}%`;
}

/** A timeout in minutes: a number above 0 (fractions allowed), at most 7 days. */
export function parsePositiveMinutes(input: string, value: string): number {
  const text = value.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0)) fail(input, `'${text}' is not a positive number of minutes. Use a number above 0, for example 30.`);
  if (n > 7 * 24 * 60) fail(input, `${n} minutes is more than 7 days (10080 minutes).`);
  return n;
}

/** The longest wait between status checks: a number of seconds from 1 to 300 (fractions allowed). */
export function parsePollInterval(input: string, value: string): number {
  const text = value.trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 300)) fail(input, `'${text}' is not a number of seconds from 1 to 300. Use for example 30.`);
  return n;
}

/** Checks start this often after a batch starts (or the poll interval, when that is shorter), then back off to the poll interval. */
const FIRST_POLL_SECONDS = 5;

function pick<T extends string>(input: string, value: string, allowed: readonly T[]): T {
  const match = allowed.find((a) => a === value.trim().toLowerCase());
  if (!match) fail(input, `'${value.trim()}' is not one of ${allowed.map((a) => `'${a}'`).join(", ")}.`);
  return match as T;
}

export const parseMethod = (value: string): CycleMethod => pick("method", value, CYCLE_METHODS);
export const parseWhenTasksRunning = (value: string): WhenTasksRunning => pick("whenTasksRunning", value, WHEN_TASKS_RUNNING);

export function parseBoolean(input: string, value: string): boolean {
  const text = value.trim();
  if (/^(true|yes|1)$/i.test(text)) return true;
  if (/^(false|no|0)$/i.test(text)) return false;
  return fail(input, `'${text}' is not a boolean. Use true or false.`);
}

/** Batch pool ids: letters, digits, hyphens and underscores, at most 64 characters; case-insensitive. */
const POOL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** One pool id per line (commas also separate); blank lines and `#` comments skipped; duplicates (any case) dropped. */
export function parsePoolIds(input: string, text: string): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(/\r?\n|,/)) {
    const id = raw.trim();
    if (id === "" || id.startsWith("#")) continue;
    if (!POOL_ID.test(id)) {
      fail(input, `'${id}' is not a valid pool id. A pool id has 1 to 64 letters, digits, hyphens or underscores.`);
    }
    if (seen.has(id.toLowerCase())) continue;
    seen.add(id.toLowerCase());
    ids.push(id);
  }
  if (ids.length === 0) fail(input, "at least one pool id is required (one per line).");
  return ids;
}

/**
 * The options Batch is sent for `whenTasksRunning`: reboot, reimage, resize
 * and remove nodes take it as it is; disable scheduling has no
 * `retaineddata`, so a drain waits for running tasks (`taskcompletion`) and the
 * cycle itself then waits for the data retention.
 */
export function nodeOptionsFor(when: WhenTasksRunning): { cycle: NodeDeallocationOption; disableScheduling: DisableSchedulingOption } {
  return { cycle: when, disableScheduling: when === "retaineddata" ? "taskcompletion" : when };
}

/** All inputs at once; defaults for the ones left out. */
export function parsePoolCycleInputs(raw: PoolCycleRawInputs): { poolIds: string[]; options: PoolCycleOptions } {
  const or = (v: string | undefined, d: string) => (blank(v) ? d : v);
  const poolIds = parsePoolIds("poolIds", raw.poolIds ?? "");
  const method = parseMethod(or(raw.method, DEFAULTS.method));
  const options: PoolCycleOptions = {
    method,
    whenTasksRunning: parseWhenTasksRunning(or(raw.whenTasksRunning, DEFAULTS.whenTasksRunning)),
    maxUnavailable: parseNodeCount("maxUnavailable", or(raw.maxUnavailable, DEFAULTS.maxUnavailable)),
    maxSurge: parseNodeCount("maxSurge", or(raw.maxSurge, DEFAULTS.maxSurge)),
    drain: parseBoolean("drain", or(raw.drain, DEFAULTS.drain)),
    onlyOutdated: parseBoolean("onlyOutdated", or(raw.onlyOutdated, DEFAULTS.onlyOutdated)),
    batchTimeoutMinutes: parsePositiveMinutes("batchTimeoutMinutes", or(raw.batchTimeoutMinutes, DEFAULTS.batchTimeoutMinutes)),
    timeoutMinutes: parsePositiveMinutes("timeoutMinutes", or(raw.timeoutMinutes, DEFAULTS.timeoutMinutes)),
  };
  const poll = parsePollInterval("pollIntervalSeconds", or(raw.pollIntervalSeconds, DEFAULTS.pollIntervalSeconds));
  options.pollMaxSeconds = poll;
  options.pollInitialSeconds = Math.min(FIRST_POLL_SECONDS, poll);
  // A batch cannot outlast the whole task. The agent passes every input's default, so a shorter
  // timeoutMinutes with batchTimeoutMinutes left at its default is common: the batch then gets it all.
  options.batchTimeoutMinutes = Math.min(options.batchTimeoutMinutes, options.timeoutMinutes);
  return { poolIds, options };
}

/** Pool configuration as far as reimage cares: only CloudServiceConfiguration pools can reimage nodes. */
export type PoolConfiguration = "virtualMachine" | "cloudService";

/** Reimage on a pool that cannot: refused before anything changes, with what to use instead. */
export function checkMethodForPool(method: CycleMethod, poolId: string, configuration: PoolConfiguration | undefined): void {
  if (method === "reimage" && configuration === "virtualMachine") throw reimageNotSupported(poolId);
}

export function reimageNotSupported(poolId: string): InputError {
  return new InputError(
    "method",
    `Input 'method': 'reimage' is not supported on pool '${poolId}': Batch does not reimage nodes of VirtualMachineConfiguration pools (OperationNotValidOnNode). ` +
      "Use 'reboot' (nodes reinstall the pool's application packages on restart) or 'replace' (fresh nodes).",
  );
}
