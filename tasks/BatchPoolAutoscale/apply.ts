/**
 * What BatchPoolAutoscale@1 does once its inputs are checked: read the pool,
 * plan (plan.ts), wait for a resize in progress when the plan must enable
 * autoscale, carry the plan out, and say what happened. It works on
 * PoolAccess (azure.ts), so it holds no SDK, and all its text goes to a log
 * that the entry binds to the agent (which escapes it).
 */
import { NotFoundError } from "../../runtime/errors";
import { pollUntil, sleep } from "../../runtime/poll";
import { PoolNotFoundError, type PoolAccess, type PoolView } from "./azure";
import type { AutoscaleSettings } from "./inputs";
import { describeDuration, describeEvaluationError, evaluationLines, planAutoscale, runPlan, type AutoscaleActor, type AutoscalePlan, type PlanOutcome } from "./plan";

export interface ApplyLog {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
}

export interface ApplyRequest {
  settings: AutoscaleSettings;
  accountName: string;
  /** The Batch account's resource id: application packages are referenced by their full id. */
  accountResourceId: string;
  /** Raises the input error for `poolId` (a pool that does not exist is bad input). */
  failInput(name: "poolId", message: string): never;
  signal: AbortSignal;
  /** How long to wait for a resize in progress to end (default 20 minutes). */
  steadyTimeoutMs?: number;
  /** First wait between checks of a resizing pool (default 5 s). */
  steadyPollMs?: number;
}

export interface ApplyResult {
  before: PoolView;
  plan: AutoscalePlan;
  outcome: PlanOutcome;
  /** The pool read back after a change. */
  after?: PoolView;
}

/** Batch's default resize timeout is 15 minutes; a resize still running after 20 is stuck. */
const STEADY_TIMEOUT_MS = 20 * 60_000;

export async function applyAutoscale(access: PoolAccess, request: ApplyRequest, log: ApplyLog): Promise<ApplyResult> {
  const { settings } = request;
  let pool = await readPool(access, request);
  if (pool.state !== undefined && pool.state !== "active") {
    request.failInput("poolId", `pool '${pool.id}' of Batch account '${request.accountName}' is ${pool.state === "deleting" ? "being deleted" : pool.state}: autoscale can be set only on an active pool.`);
  }
  log.info(describePool(pool, `Pool '${pool.id}' in Batch account '${request.accountName}'`));
  if (pool.enableAutoScale && pool.autoScaleFormula !== undefined) {
    log.debug("The pool's formula now:");
    for (const line of formulaLines(pool.autoScaleFormula)) log.debug(`  ${line}`);
  }

  const desired = {
    formula: settings.formula,
    evaluationInterval: settings.evaluationInterval,
    dryRun: settings.dryRun,
    startTask: settings.startTask,
    applicationPackages: settings.applicationPackages,
    accountResourceId: request.accountResourceId,
  };
  let plan = planAutoscale(pool, desired);
  if (plan.requiresSteadyPool && pool.allocationState !== undefined && pool.allocationState !== "steady") {
    pool = await waitUntilSteady(access, pool, request, log);
    plan = planAutoscale(pool, desired);
  }
  for (const note of plan.notes) log.info(note);

  const actor: AutoscaleActor = {
    enableAutoScale: (_poolId, parameters) => access.enableAutoScale(parameters),
    evaluateAutoScale: (_poolId, formula) => access.evaluateAutoScale(formula),
    disableAutoScale: () => access.disableAutoScale(),
    patchPool: (_poolId, patch) => access.patchPool(patch),
    sleep: (ms) => sleep(ms, request.signal),
    now: () => Date.now(),
    log: (message) => log.info(message),
  };
  const outcome = await runPlan(plan, actor);

  if (outcome.evaluation) {
    log.info(`The formula evaluates on pool '${pool.id}' to:`);
    for (const line of evaluationLines(outcome.evaluation)) log.info(`  ${line}`);
  }
  if (settings.dryRun) {
    log.info(outcome.restored ? `Dry run: autoscale was disabled again on pool '${pool.id}'; it keeps its targets and nothing else changed.` : `Dry run: nothing was changed on pool '${pool.id}'.`);
    return { before: pool, plan, outcome };
  }
  if (plan.autoscale === "none") log.info(`Autoscale on pool '${pool.id}' already has this formula and interval (${describeDuration(settings.evaluationInterval)}): no call made.`);
  if (plan.startTask === "unchanged") log.info(`The pool's start task is already as wanted: no change.`);
  if (plan.applicationPackages === "unchanged") log.info(`The pool's application packages are already as wanted: no change.`);

  const changed = outcome.done.some((k) => k === "enableAutoScale" || k === "patchPool");
  if (!changed) return { before: pool, plan, outcome };
  const after = await access.read();
  log.info(describePool(after, `Pool '${after.id}' now`));
  // Batch evaluates a formula as it is enabled; after a start task or package change alone the run shown would be an old one.
  const run = outcome.done.includes("enableAutoScale") ? after.autoScaleRun : undefined;
  if (run?.error) {
    // Evaluated a moment ago without an error; the pool's own run can still differ (its samples move on).
    log.warning(`Batch's own evaluation of the new formula on pool '${after.id}' failed: ${oneLine(describeEvaluationError(run.error, settings.formula, run.results))}`);
  } else if (run?.results) {
    log.info(`Batch's own evaluation${run.timestamp ? ` at ${run.timestamp.toISOString()}` : ""}: ${run.results}`);
  }
  return { before: pool, plan, outcome, after };
}

async function readPool(access: PoolAccess, request: ApplyRequest): Promise<PoolView> {
  try {
    return await access.read();
  } catch (e) {
    if (!(e instanceof PoolNotFoundError)) throw e;
    const visible = await access.listPoolIds().catch(() => undefined);
    const notFound = new NotFoundError({ kind: "pool", name: access.poolId, where: `Batch account '${request.accountName}'`, ...(visible && { visible }) });
    return request.failInput("poolId", notFound.detail);
  }
}

async function waitUntilSteady(access: PoolAccess, pool: PoolView, request: ApplyRequest, log: ApplyLog): Promise<PoolView> {
  log.info(`Pool '${pool.id}' is ${pool.allocationState}: waiting for that to end, since Batch refuses to enable autoscale during a resize.`);
  let lastReport = 0;
  return pollUntil({
    description: `pool '${pool.id}' to finish resizing`,
    timeoutMs: request.steadyTimeoutMs ?? STEADY_TIMEOUT_MS,
    initialDelayMs: request.steadyPollMs ?? 5000,
    maxDelayMs: 30_000,
    signal: request.signal,
    check: async () => {
      const now = await access.read();
      return now.allocationState === "steady" ? { done: true, value: now } : { done: false, status: `${now.allocationState}, ${now.currentDedicatedNodes + (now.currentLowPriorityNodes ?? 0)} nodes` };
    },
    onPending: (status, elapsedMs) => {
      if (elapsedMs - lastReport < 30_000) return;
      lastReport = elapsedMs;
      log.info(`Still waiting for pool '${pool.id}' (${status}) after ${Math.round(elapsedMs / 1000)} s.`);
    },
  });
}

/** One line: autoscale, nodes, targets, allocation state. */
export function describePool(pool: PoolView, subject: string): string {
  const scaling = pool.enableAutoScale
    ? `autoscale on, evaluated every ${pool.autoScaleEvaluationInterval ? describeDuration(pool.autoScaleEvaluationInterval) : "15 minutes"}`
    : "autoscale off";
  const nodes = `${pool.currentDedicatedNodes} dedicated and ${pool.currentLowPriorityNodes ?? 0} Spot/low-priority nodes (targets ${pool.targetDedicatedNodes} and ${pool.targetLowPriorityNodes ?? 0})`;
  return `${subject}${pool.vmSize ? ` (${pool.vmSize})` : ""}: ${scaling}; ${nodes}; allocation ${pool.allocationState ?? "unknown"}.`;
}

/** A formula's lines for the log, without trailing blank lines. */
export function formulaLines(formula: string): string[] {
  const lines = formula.replace(/\r\n?/g, "\n").split("\n");
  while (lines.length && lines.at(-1)?.trim() === "") lines.pop();
  return lines;
}

/** Several lines as one sentence each, on one line (a log message or a result is one line). */
export function oneLine(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l, i, all) => (i < all.length - 1 && !/[.:;!?]$/.test(l) ? `${l}.` : l))
    .join(" ");
}
