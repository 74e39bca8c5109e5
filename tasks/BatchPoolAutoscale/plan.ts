/**
 * What BatchPoolAutoscale@1 does to a pool, decided as data from the pool as
 * it is and the settings wanted; `runPlan` carries it out through an injected
 * actor, so the decisions are tested without Batch.
 *
 * Order, and why:
 * 1. Evaluate the formula on the pool (evaluateautoscale) before anything is
 *    applied: a formula that does not evaluate is never applied.
 *    Evaluate Auto Scale works only on a pool with autoscale enabled ("The
 *    Pool must have auto scaling enabled in order to evaluate a formula",
 *    Batch REST spec, Pool_EvaluateAutoScale). So on a pool without autoscale
 *    autoscale is first enabled with a formula that keeps the pool's targets
 *    (`$TargetDedicatedNodes = <target>; $TargetLowPriorityNodes = <target>;`),
 *    the approach of Microsoft's autoscale article ("Evaluate an autoscale
 *    formula": enable with `$TargetDedicatedNodes = {pool.CurrentDedicatedNodes};`,
 *    wait past the 30-second limit between Enable Auto Scale calls, evaluate,
 *    then enable the real formula). The targets rather than the current counts
 *    are kept so a pool short of its target (quota) is not shrunk. Enabling is
 *    refused while the pool resizes, so that path needs a steady pool. If
 *    anything fails after that enable, autoscale is disabled again, which
 *    leaves the pool at the targets it had: as it was.
 * 2. Patch the start task and application packages, before autoscale can add
 *    nodes, so new nodes join with them. They reach nodes that are already in
 *    the pool only when those reboot or are reimaged.
 * 3. Enable autoscale, or update it with only what changed (an omitted field
 *    keeps its value, and a new interval restarts the evaluation schedule);
 *    nothing when the formula (whitespace and line endings aside) and the
 *    interval (as a duration) are unchanged.
 * `dryRun` evaluates only; on a pool without autoscale that still needs the
 * size-keeping enable, which is disabled again at once (the pool's size never
 * changes).
 */
import type { ApplicationPackageReference, StartTask } from "../../runtime/batch-data";
import { TaskError } from "../../runtime/errors";
import { normalizeFormula, settableVariable, statementAt } from "./lint";
import type { ApplicationPackageSpec } from "./inputs";


/** The pool as read (Pool - Get), the fields the plan needs. */
export interface PoolState {
  id: string;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  /** ISO 8601 duration, as Batch returns it (PT5M, PT06M00S, P1D...). */
  autoScaleEvaluationInterval?: string;
  allocationState?: string;
  startTask?: StartTask;
  applicationPackageReferences?: ApplicationPackageReference[];
  currentDedicatedNodes: number;
  targetDedicatedNodes: number;
  currentLowPriorityNodes?: number;
  targetLowPriorityNodes?: number;
}

export interface DesiredPool {
  formula: string;
  /** ISO 8601 duration: PT5M. */
  evaluationInterval: string;
  dryRun: boolean;
  /** Undefined: not managed, left as it is. */
  startTask?: StartTask;
  /** Undefined: not managed. */
  applicationPackages?: ApplicationPackageSpec[];
  /** The Batch account's resource id, to send fully qualified application ids. */
  accountResourceId?: string;
}

export type PlanStep =
  | { kind: "enableKeepingSize"; autoScaleFormula: string; autoScaleEvaluationInterval: string }
  | { kind: "evaluate"; autoScaleFormula: string }
  | { kind: "patchPool"; startTask?: StartTask; applicationPackageReferences?: ApplicationPackageReference[] }
  | {
      kind: "enableAutoScale";
      change: "enable" | "update";
      autoScaleFormula?: string;
      autoScaleEvaluationInterval?: string;
      /** Batch accepts one Enable Auto Scale call per pool every 30 seconds: wait this long after the size-keeping enable. */
      waitAfterKeepingSizeMs?: number;
    }
  | { kind: "disableAutoScale"; reason: string };

export type AutoscaleChange = "enable" | "update formula" | "update interval" | "update formula and interval" | "none";

export interface AutoscalePlan {
  poolId: string;
  steps: PlanStep[];
  /** Run when a step after `enableKeepingSize` fails, to leave the pool as it was. */
  restoreOnFailure?: Extract<PlanStep, { kind: "disableAutoScale" }>;
  /** The pool must be steady (not resizing) before the first step: Batch refuses to enable autoscale during a resize. */
  requiresSteadyPool: boolean;
  autoscale: AutoscaleChange;
  startTask: "set" | "unchanged" | "not managed";
  applicationPackages: "set" | "unchanged" | "not managed";
  notes: string[];
}

/** Batch's limit between two Enable Auto Scale calls on a pool is 30 s; one more for clock skew. */
export const ENABLE_INTERVAL_MS = 31_000;
const DEFAULT_EVALUATION_INTERVAL = "PT15M";

/** Seconds in an ISO 8601 duration (days and smaller, and weeks); undefined when it is not one. */
export function durationSeconds(iso: string): number | undefined {
  const m = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(iso.trim());
  if (!m || iso.trim().toUpperCase() === "P" || /T$/i.test(iso.trim())) return undefined;
  const [w = 0, d = 0, h = 0, min = 0, s = 0] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  return (((w * 7 + d) * 24 + h) * 60 + min) * 60 + s;
}

/** `7 minutes`, `2 hours 30 minutes` for a log line. */
export function describeDuration(iso: string): string {
  const total = durationSeconds(iso);
  if (total === undefined) return iso;
  const parts: string[] = [];
  const units: [number, string][] = [
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  let rest = total;
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? "" : "s"}`);
    rest -= n * size;
  }
  return parts.length ? parts.join(" ") : "0 seconds";
}

/** The formula that enables autoscale without changing the pool's size. */
export function keepSizeFormula(pool: Pick<PoolState, "targetDedicatedNodes" | "targetLowPriorityNodes">): string {
  return `$TargetDedicatedNodes = ${pool.targetDedicatedNodes};\n$TargetLowPriorityNodes = ${pool.targetLowPriorityNodes ?? 0};\n`;
}

/** Application package references as sent to Batch: fully qualified ids when the account is known. */
export function packageReferences(specs: readonly ApplicationPackageSpec[], accountResourceId?: string): ApplicationPackageReference[] {
  return specs.map((s) => {
    const applicationId = accountResourceId ? `${accountResourceId.replace(/\/+$/, "")}/applications/${s.application}` : s.application;
    return s.version === undefined ? { applicationId } : { applicationId, version: s.version };
  });
}

/** `app` from a name or a `.../applications/app` resource id. */
const applicationName = (id: string) => (id.match(/\/applications\/([^/]+)\/*$/i)?.[1] ?? id).toLowerCase();

function samePackages(a: readonly ApplicationPackageReference[], b: readonly ApplicationPackageReference[]): boolean {
  const key = (r: ApplicationPackageReference) => `${applicationName(r.applicationId)}:${r.version ?? ""}`;
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/** A start task with Batch's defaults made explicit, for comparing. */
function comparableStartTask(t: StartTask): unknown {
  const auto = t.userIdentity?.autoUser;
  return {
    commandLine: t.commandLine,
    user: t.userIdentity?.userName ?? `auto:${(auto?.scope ?? "pool").toLowerCase()}:${(auto?.elevationLevel ?? "nonadmin").toLowerCase()}`,
    maxTaskRetryCount: t.maxTaskRetryCount ?? 0,
    waitForSuccess: t.waitForSuccess ?? true,
    resourceFiles: (t.resourceFiles ?? []).map((f) => ({
      autoStorageContainerName: f.autoStorageContainerName,
      storageContainerUrl: f.storageContainerUrl,
      httpUrl: f.httpUrl,
      blobPrefix: f.blobPrefix,
      filePath: f.filePath,
      fileMode: f.fileMode,
    })),
    environmentSettings: (t.environmentSettings ?? []).map((e) => [e.name, e.value ?? ""]),
    containerSettings: t.containerSettings ?? null,
  };
}

/** Whether two start tasks do the same (defaults counted as set). */
export function sameStartTask(a: StartTask | undefined, b: StartTask | undefined): boolean {
  if (!a || !b) return a === b;
  return JSON.stringify(comparableStartTask(a)) === JSON.stringify(comparableStartTask(b));
}

/**
 * The start task to send: the one wanted, keeping what the task does not
 * manage (environment settings, container settings) from the pool's, since a
 * patch replaces the whole start task.
 */
export function mergedStartTask(wanted: StartTask, current: StartTask | undefined): StartTask {
  const merged: StartTask = { ...wanted };
  if (current?.environmentSettings?.length && !wanted.environmentSettings) merged.environmentSettings = current.environmentSettings;
  if (current?.containerSettings && !wanted.containerSettings) merged.containerSettings = current.containerSettings;
  return merged;
}

export function planAutoscale(pool: PoolState, desired: DesiredPool): AutoscalePlan {
  const notes: string[] = [];
  const steps: PlanStep[] = [];
  let restoreOnFailure: AutoscalePlan["restoreOnFailure"];
  const wantedSeconds = durationSeconds(desired.evaluationInterval);
  if (wantedSeconds === undefined) throw new TaskError("InvalidInterval", `'${desired.evaluationInterval}' is not an ISO 8601 duration.`);

  // 1. Evaluate.
  if (!pool.enableAutoScale) {
    steps.push({ kind: "enableKeepingSize", autoScaleFormula: keepSizeFormula(pool), autoScaleEvaluationInterval: desired.evaluationInterval });
    restoreOnFailure = { kind: "disableAutoScale", reason: `Pool '${pool.id}' had no autoscale: it was enabled only to evaluate the formula, and is disabled again, keeping its targets.` };
    notes.push(
      `Pool '${pool.id}' has no autoscale, and Batch evaluates a formula only on a pool with autoscale: autoscale is enabled first with a formula that keeps its targets (${pool.targetDedicatedNodes} dedicated, ${pool.targetLowPriorityNodes ?? 0} low-priority), so its size does not change.`,
    );
  }
  steps.push({ kind: "evaluate", autoScaleFormula: desired.formula });

  // 2 and 3 are worked out for the summary also in a dry run, but not carried out.
  let startTask: AutoscalePlan["startTask"] = "not managed";
  let wantedStartTask: StartTask | undefined;
  if (desired.startTask) {
    wantedStartTask = mergedStartTask(desired.startTask, pool.startTask);
    startTask = sameStartTask(wantedStartTask, pool.startTask) ? "unchanged" : "set";
    const kept = [wantedStartTask.environmentSettings && !desired.startTask.environmentSettings ? "environment settings" : "", wantedStartTask.containerSettings && !desired.startTask.containerSettings ? "container settings" : ""].filter(Boolean);
    if (startTask === "set" && kept.length) notes.push(`The pool's start task ${kept.join(" and ")} are kept.`);
  }
  let applicationPackages: AutoscalePlan["applicationPackages"] = "not managed";
  let wantedPackages: ApplicationPackageReference[] | undefined;
  if (desired.applicationPackages) {
    wantedPackages = packageReferences(desired.applicationPackages, desired.accountResourceId);
    applicationPackages = samePackages(wantedPackages, pool.applicationPackageReferences ?? []) ? "unchanged" : "set";
  }
  if (startTask === "set" || applicationPackages === "set") {
    const what = [startTask === "set" ? "start task" : "", applicationPackages === "set" ? "application packages" : ""].filter(Boolean).join(" and ");
    const verb = startTask === "set" && applicationPackages !== "set" ? "reaches" : "reach";
    notes.push(`The ${what} ${verb} nodes when they next join the pool or reboot (BatchPoolCycle@1 reboots nodes safely); nodes already running keep what they have.`);
  }

  let autoscale: AutoscaleChange;
  let enable: Extract<PlanStep, { kind: "enableAutoScale" }> | undefined;
  if (!pool.enableAutoScale) {
    autoscale = "enable";
    enable = { kind: "enableAutoScale", change: "enable", autoScaleFormula: desired.formula, autoScaleEvaluationInterval: desired.evaluationInterval, waitAfterKeepingSizeMs: ENABLE_INTERVAL_MS };
  } else {
    const formulaChanged = normalizeFormula(pool.autoScaleFormula ?? "") !== normalizeFormula(desired.formula);
    const currentSeconds = durationSeconds(pool.autoScaleEvaluationInterval ?? DEFAULT_EVALUATION_INTERVAL);
    const intervalChanged = currentSeconds !== wantedSeconds;
    autoscale = formulaChanged && intervalChanged ? "update formula and interval" : formulaChanged ? "update formula" : intervalChanged ? "update interval" : "none";
    if (autoscale !== "none") {
      enable = { kind: "enableAutoScale", change: "update" };
      if (formulaChanged) enable.autoScaleFormula = desired.formula;
      if (intervalChanged) enable.autoScaleEvaluationInterval = desired.evaluationInterval;
    }
    if (intervalChanged) notes.push(`A new evaluation interval restarts the pool's evaluation schedule from now.`);
  }

  if (desired.dryRun) {
    if (restoreOnFailure) steps.push({ ...restoreOnFailure });
    notes.push("Dry run: the formula is evaluated only; nothing is applied.");
  } else {
    if (startTask === "set" || applicationPackages === "set") {
      steps.push({
        kind: "patchPool",
        ...(startTask === "set" ? { startTask: wantedStartTask } : {}),
        ...(applicationPackages === "set" ? { applicationPackageReferences: wantedPackages } : {}),
      });
    }
    if (enable) steps.push(enable);
  }

  return {
    poolId: pool.id,
    steps,
    restoreOnFailure,
    requiresSteadyPool: !pool.enableAutoScale,
    autoscale,
    startTask,
    applicationPackages,
    notes,
  };
}

// ---------------------------------------------------------------- results

export interface EvaluationValues {
  /** Every `name=value` of the results, in the service's order, names as written. */
  variables: { name: string; value: string }[];
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  nodeDeallocationOption?: string;
}

/**
 * Parses AutoScaleRun.results (`$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;
 * $NodeDeallocationOption=taskcompletion;...`). System names are matched
 * case-insensitively, with the older aliases ($TargetDedicated); a full name
 * wins over its alias, as Batch documents.
 */
export function parseEvaluationResults(results: string | undefined): EvaluationValues {
  const variables: { name: string; value: string }[] = [];
  for (const part of (results ?? "").split(";")) {
    const text = part.trim();
    if (!text) continue;
    const eq = text.indexOf("=");
    if (eq <= 0) continue;
    variables.push({ name: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim() });
  }
  const pick = (canonical: string): string | undefined => {
    const full = variables.find((v) => v.name.toLowerCase() === canonical.toLowerCase());
    return (full ?? variables.find((v) => settableVariable(v.name) === canonical))?.value;
  };
  const number = (v: string | undefined) => (v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);
  const out: EvaluationValues = { variables };
  const dedicated = number(pick("$TargetDedicatedNodes"));
  const lowPriority = number(pick("$TargetLowPriorityNodes"));
  const deallocation = pick("$NodeDeallocationOption");
  if (dedicated !== undefined) out.targetDedicatedNodes = dedicated;
  if (lowPriority !== undefined) out.targetLowPriorityNodes = lowPriority;
  if (deallocation !== undefined) out.nodeDeallocationOption = deallocation;
  return out;
}

/** The results for the log, one variable a line; a fractional target is explained. */
export function evaluationLines(values: EvaluationValues): string[] {
  const lines = values.variables.map((v) => `${v.name} = ${v.value}`);
  const fractional = [values.targetDedicatedNodes, values.targetLowPriorityNodes].some((n) => n !== undefined && !Number.isInteger(n));
  if (fractional) lines.push("(A fractional target is Batch's to round: it allocates whole nodes.)");
  return lines;
}

/** The task's output variables from an evaluation; only those the results hold. */
export function evaluationOutputs(values: EvaluationValues): Record<string, string> {
  const outputs: Record<string, string> = {};
  if (values.targetDedicatedNodes !== undefined) outputs.TargetDedicatedNodes = String(values.targetDedicatedNodes);
  if (values.targetLowPriorityNodes !== undefined) outputs.TargetLowPriorityNodes = String(values.targetLowPriorityNodes);
  return outputs;
}

/** An AutoScaleRunError (data plane) or an ARM-style error with details. */
export interface EvaluationErrorLike {
  code?: string;
  message?: string;
  values?: { name?: string; value?: string }[];
  details?: { code?: string; message?: string }[];
}

const MAX_STATEMENT_CHARS = 240;

/**
 * The evaluation error as one message: code, message, the service's values,
 * and the statement at the line and column the service names. The texts come
 * from Batch and the formula: the entry prints them through the runtime's
 * escaping path.
 */
export function describeEvaluationError(error: EvaluationErrorLike, formula: string, partialResults?: string): string {
  const lines = [`The autoscale formula does not evaluate: ${[error.code, error.message].filter(Boolean).join(": ") || "no reason given"}`];
  const details = [
    ...(error.values ?? []).map((v) => (v.name && v.name !== "Message" ? `${v.name}: ${v.value ?? ""}` : (v.value ?? ""))),
    ...(error.details ?? []).map((d) => [d.code, d.message].filter(Boolean).join(": ")),
  ].filter((d) => d.trim() !== "");
  for (const d of details) lines.push(`  ${d}`);
  const location = details.map((d) => /Line (\d+), Col(?:umn)? (\d+)/i.exec(d)).find((m) => m) ?? /Line (\d+), Col(?:umn)? (\d+)/i.exec(error.message ?? "");
  if (location) {
    const line = Number(location[1]);
    const column = Number(location[2]);
    const statement = statementAt(formula, line, column);
    if (statement) {
      let text = formula.slice(statement.start, statement.end).replace(/\s+/g, " ").trim();
      if (text.length > MAX_STATEMENT_CHARS) text = `${text.slice(0, MAX_STATEMENT_CHARS - 1)}…`;
      lines.push(`  Failing statement (line ${line}, column ${column}): ${text}`);
    }
  }
  if (partialResults?.trim()) lines.push(`  Values before the failure: ${partialResults.trim()}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------- running

export interface AutoscaleRunResult {
  timestamp?: Date;
  results?: string;
  error?: EvaluationErrorLike;
}

/** The Batch calls the plan needs, on one pool; the entry binds them to its client. */
export interface AutoscaleActor {
  enableAutoScale(poolId: string, parameters: { autoScaleFormula?: string; autoScaleEvaluationInterval?: string }): Promise<void>;
  evaluateAutoScale(poolId: string, autoScaleFormula: string): Promise<AutoscaleRunResult>;
  disableAutoScale(poolId: string): Promise<void>;
  patchPool(poolId: string, patch: { startTask?: StartTask; applicationPackageReferences?: ApplicationPackageReference[] }): Promise<void>;
  /** Waits (honouring cancellation). */
  sleep(ms: number): Promise<void>;
  now(): number;
  log(message: string): void;
}

export interface PlanOutcome {
  evaluation?: EvaluationValues;
  /** Steps carried out, in order (the restore too, when it ran). */
  done: PlanStep["kind"][];
  restored: boolean;
}

/** An evaluation that came back with an error (the AutoScaleRun holds it; the call itself succeeded). */
export class FormulaEvaluationError extends TaskError {
  constructor(
    message: string,
    readonly error: EvaluationErrorLike,
  ) {
    super("FormulaEvaluationFailed", message);
    this.name = "FormulaEvaluationError";
  }
}

/**
 * Carries out a plan. An evaluation error or a failed call stops it; when
 * autoscale was enabled only to evaluate, it is disabled again before the
 * error is rethrown (a failed restore is logged and the first error kept).
 */
export async function runPlan(plan: AutoscalePlan, actor: AutoscaleActor): Promise<PlanOutcome> {
  const outcome: PlanOutcome = { done: [], restored: false };
  let keptSizeAt: number | undefined;
  try {
    for (const step of plan.steps) {
      switch (step.kind) {
        case "enableKeepingSize":
          await actor.enableAutoScale(plan.poolId, { autoScaleFormula: step.autoScaleFormula, autoScaleEvaluationInterval: step.autoScaleEvaluationInterval });
          keptSizeAt = actor.now();
          break;
        case "evaluate": {
          const run = await actor.evaluateAutoScale(plan.poolId, step.autoScaleFormula);
          if (run.error) throw new FormulaEvaluationError(describeEvaluationError(run.error, step.autoScaleFormula, run.results), run.error);
          outcome.evaluation = parseEvaluationResults(run.results);
          break;
        }
        case "patchPool":
          await actor.patchPool(plan.poolId, { ...(step.startTask ? { startTask: step.startTask } : {}), ...(step.applicationPackageReferences ? { applicationPackageReferences: step.applicationPackageReferences } : {}) });
          break;
        case "enableAutoScale": {
          if (step.waitAfterKeepingSizeMs !== undefined && keptSizeAt !== undefined) {
            const wait = keptSizeAt + step.waitAfterKeepingSizeMs - actor.now();
            if (wait > 0) {
              actor.log(`Waiting ${Math.ceil(wait / 1000)} s: Batch accepts one Enable Auto Scale call per pool every 30 seconds.`);
              await actor.sleep(wait);
            }
          }
          const parameters: { autoScaleFormula?: string; autoScaleEvaluationInterval?: string } = {};
          if (step.autoScaleFormula !== undefined) parameters.autoScaleFormula = step.autoScaleFormula;
          if (step.autoScaleEvaluationInterval !== undefined) parameters.autoScaleEvaluationInterval = step.autoScaleEvaluationInterval;
          await actor.enableAutoScale(plan.poolId, parameters);
          break;
        }
        case "disableAutoScale":
          await actor.disableAutoScale(plan.poolId);
          outcome.restored = true;
          break;
      }
      outcome.done.push(step.kind);
    }
  } catch (error) {
    if (plan.restoreOnFailure && keptSizeAt !== undefined && !outcome.restored) {
      try {
        await actor.disableAutoScale(plan.poolId);
        outcome.restored = true;
        outcome.done.push("disableAutoScale");
        actor.log(plan.restoreOnFailure.reason);
      } catch (restoreError) {
        actor.log(`Could not disable autoscale on pool '${plan.poolId}' again: ${restoreError instanceof Error ? restoreError.message : String(restoreError)}. Disable it by hand to leave the pool as it was.`);
      }
    }
    throw error;
  }
  return outcome;
}
