/**
 * The names a formula can use besides its own variables: Batch's system
 * variables (matched case-insensitively: a 2014 REST example writes
 * `$targetDedicatedNodes`), the `$NodeDeallocationOption` keywords, the
 * `TimeInterval_*` constants and the documented functions.
 */

export type DeallocationOption = "requeue" | "terminate" | "taskcompletion" | "retaineddata";

export const DEALLOCATION_OPTIONS: readonly DeallocationOption[] = ["requeue", "terminate", "taskcompletion", "retaineddata"];

/** Read-only variables backed by samples (one per 30 s); used bare they read their current value. */
export const SAMPLED_VARIABLES = [
  "$CPUPercent",
  "$WallClockSeconds",
  "$MemoryBytes",
  "$DiskBytes",
  "$DiskReadBytes",
  "$DiskWriteBytes",
  "$DiskReadOps",
  "$DiskWriteOps",
  "$NetworkInBytes",
  "$NetworkOutBytes",
  "$SampleNodeCount",
  "$ActiveTasks",
  "$RunningTasks",
  "$PendingTasks",
  "$SucceededTasks",
  "$FailedTasks",
  "$CurrentDedicatedNodes",
  "$CurrentLowPriorityNodes",
  "$PreemptedNodeCount",
] as const;

export type SampledVariable = (typeof SAMPLED_VARIABLES)[number];

/** The variables a formula sets; their aliases write a separate slot that the full name overrides. */
export type TargetVariable = "$TargetDedicatedNodes" | "$TargetLowPriorityNodes" | "$NodeDeallocationOption";

export type SystemVariable =
  | { kind: "target"; name: TargetVariable; alias: boolean }
  | { kind: "sampled"; name: SampledVariable }
  /** A pool property read as a plain double. */
  | { kind: "property"; name: "$TaskSlotsPerNode" };

const SYSTEM = new Map<string, SystemVariable>();
for (const name of SAMPLED_VARIABLES) SYSTEM.set(name.toLowerCase(), { kind: "sampled", name });
for (const name of ["$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption"] as const) SYSTEM.set(name.toLowerCase(), { kind: "target", name, alias: false });
// Aliases documented in the variable table's note.
SYSTEM.set("$targetdedicated", { kind: "target", name: "$TargetDedicatedNodes", alias: true });
SYSTEM.set("$targetlowpriority", { kind: "target", name: "$TargetLowPriorityNodes", alias: true });
// Older formulas (2017 REST docs, the Az.Batch example) read $CurrentDedicated; not in today's table.
SYSTEM.set("$currentdedicated", { kind: "sampled", name: "$CurrentDedicatedNodes" });
SYSTEM.set("$taskslotspernode", { kind: "property", name: "$TaskSlotsPerNode" });

export function systemVariable(name: string): SystemVariable | undefined {
  return name.startsWith("$") ? SYSTEM.get(name.toLowerCase()) : undefined;
}

/**
 * `TimeInterval_*` constants in seconds. Microsoft gives no values; these are
 * the unit each name says, with a 365-day year (unconfirmed).
 */
export const TIME_INTERVAL_CONSTANTS: Readonly<Record<string, number>> = {
  TimeInterval_Zero: 0,
  TimeInterval_100ns: 1e-7,
  TimeInterval_Microsecond: 1e-6,
  TimeInterval_Millisecond: 1e-3,
  TimeInterval_Second: 1,
  TimeInterval_Minute: 60,
  TimeInterval_Hour: 3600,
  TimeInterval_Day: 86400,
  TimeInterval_Week: 604800,
  TimeInterval_Year: 365 * 86400,
};

/** Number of arguments per documented function: [min, max]. A doubleVecList may be empty. */
export const FUNCTION_ARITY: Readonly<Record<string, readonly [number, number]>> = {
  avg: [0, Infinity],
  ceil: [1, Infinity],
  floor: [1, Infinity],
  len: [0, Infinity],
  lg: [1, Infinity],
  ln: [1, Infinity],
  log: [1, Infinity],
  max: [0, Infinity],
  min: [0, Infinity],
  norm: [0, Infinity],
  percentile: [2, 2],
  rand: [0, 0],
  range: [0, Infinity],
  round: [1, Infinity],
  std: [0, Infinity],
  stop: [0, 0],
  sum: [0, Infinity],
  time: [0, 1],
  val: [2, 2],
};

/** Methods of sampled variables: [min, max] arguments. */
export const METHOD_ARITY: Readonly<Record<string, readonly [number, number]>> = {
  GetSample: [1, 3],
  GetSamplePercent: [1, 2],
  GetSamplePeriod: [0, 0],
  Count: [0, 0],
  HistoryBeginTime: [0, 0],
};

/** Members of a timestamp. */
export const TIMESTAMP_MEMBERS = ["year", "month", "day", "weekday", "hour", "minute", "second"] as const;
