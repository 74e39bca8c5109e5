/**
 * Autoscale on the local Batch's simulated pools. While a pool has autoscale
 * enabled, every 30 simulated seconds its task and node counts are sampled,
 * and every evaluation interval (and at once when autoscale is enabled) its
 * formula is evaluated: the pool's `autoScaleRun` shows the run, and a
 * successful run resizes the pool to the formula's targets with its
 * `$NodeDeallocationOption` (when no other resize is in progress; a pending
 * target is applied as soon as the pool is steady). A failed run leaves the
 * pool's size alone, as Batch does.
 *
 * Samples live on the pool's own simulated timeline (wall time at the first
 * enable, plus 30 s per sample), so a "5 minute" window holds the 10 samples
 * Batch would have, however fast the simulation runs; the AutoScaleRun
 * timestamp is wall time, like every timestamp the local Batch shows.
 */
import type { SimTimer } from "../../clock";
import { parseDuration } from "../../clock";
import type { BatchSimulation } from "../simulation";
import { findKey, type BatchAccountRecord, type Json, type PoolRecord } from "../state";
import { PoolAutoScaler, type PoolAutoScaleState } from "./autoscaler";
import type { AutoScaleEvaluation, AutoScaleRun } from "./evaluate";
import type { DeallocationOption } from "./names";
import { SAMPLE_PERIOD_SECONDS, SampleHistory } from "./samples";

interface PoolAutoScale {
  history: SampleHistory;
  /** The pool's simulated now, in ms. */
  simNow: number;
  scaler?: PoolAutoScaler;
  timer?: SimTimer;
  /** The targets of the last successful run, applied when the pool is free to resize. */
  wanted?: { dedicated: number; lowPriority: number; option: DeallocationOption };
}

/** Per pool, kept across disable / enable so the pool's samples survive. */
const pools = new WeakMap<PoolRecord, PoolAutoScale>();

function entry(sim: BatchSimulation, pool: PoolRecord): PoolAutoScale {
  let e = pools.get(pool);
  if (!e) pools.set(pool, (e = { history: new SampleHistory(), simNow: sim.clock.now().getTime() }));
  return e;
}

const intervalSeconds = (pool: PoolRecord) => parseDuration(pool.autoScaleEvaluationInterval ?? "PT15M") ?? 900;

/**
 * Starts or updates autoscale after `pool.autoScaleFormula` / `autoScaleEvaluationInterval`
 * changed (pool add, enable autoscale on the data plane or ARM); evaluates at once.
 */
export function startPoolAutoScale(sim: BatchSimulation, pool: PoolRecord, change: { intervalChanged: boolean }): void {
  const e = entry(sim, pool);
  e.simNow = Math.max(e.simNow, sim.clock.now().getTime());
  if (!e.scaler) {
    e.scaler = new PoolAutoScaler({ formula: pool.autoScaleFormula ?? "", intervalSeconds: intervalSeconds(pool), enabledAt: e.simNow, history: e.history });
  } else {
    e.scaler.update(e.simNow, pool.autoScaleFormula, change.intervalChanged ? intervalSeconds(pool) : undefined);
  }
  // Batch evaluates the formula when autoscale is enabled (the pool resizes right after).
  const state = poolState(sim, pool);
  const run = e.scaler.tick(e.simNow, state) ?? e.scaler.evaluate(e.simNow, state);
  apply(sim, pool, e, run);
  if (!e.timer?.pending) schedule(sim, pool, e);
}

/** Stops sampling and evaluating (disable autoscale, pool deleted); the samples are kept. */
export function stopPoolAutoScale(pool: PoolRecord): void {
  const e = pools.get(pool);
  if (!e) return;
  e.timer?.cancel();
  e.timer = undefined;
  e.scaler = undefined;
  e.wanted = undefined;
}

/** Evaluates `formula` on the pool's current data without applying it (evaluateautoscale). */
export function evaluateOnPool(sim: BatchSimulation, pool: PoolRecord, formula: string): AutoScaleRun {
  const e = entry(sim, pool);
  const scaler = e.scaler ?? new PoolAutoScaler({ formula, intervalSeconds: intervalSeconds(pool), enabledAt: e.simNow, history: e.history });
  return wallClockRun(sim, scaler.evaluate(e.simNow, poolState(sim, pool), formula));
}

function schedule(sim: BatchSimulation, pool: PoolRecord, e: PoolAutoScale): void {
  // Sampling goes on whether or not anything happens: it alone does not keep the clock busy.
  e.timer = sim.clock.after(SAMPLE_PERIOD_SECONDS, () => {
    e.timer = undefined;
    const account = accountOf(sim, pool);
    if (!account || !pool.enableAutoScale || pool.state !== "active" || !e.scaler) return stopPoolAutoScale(pool);
    e.simNow += SAMPLE_PERIOD_SECONDS * 1000;
    const run = e.scaler.tick(e.simNow, poolState(sim, pool));
    if (run) apply(sim, pool, e, run);
    else resizeIfWanted(sim, pool, e);
    schedule(sim, pool, e);
  }, { background: true });
}

function apply(sim: BatchSimulation, pool: PoolRecord, e: PoolAutoScale, evaluation: AutoScaleEvaluation): void {
  pool.autoScaleRun = wallClockRun(sim, evaluation) as unknown as Json;
  if (evaluation.error || !evaluation.nodes) return;
  e.wanted = { dedicated: evaluation.nodes.dedicated, lowPriority: evaluation.nodes.lowPriority, option: evaluation.nodeDeallocationOption ?? "requeue" };
  resizeIfWanted(sim, pool, e);
}

function resizeIfWanted(sim: BatchSimulation, pool: PoolRecord, e: PoolAutoScale): void {
  const wanted = e.wanted;
  const account = accountOf(sim, pool);
  if (!wanted || !account || pool.state !== "active" || pool.sim.resize) return;
  if (wanted.dedicated === pool.targetDedicatedNodes && wanted.lowPriority === pool.targetLowPriorityNodes) return;
  sim.resize(account, pool, { targetDedicatedNodes: wanted.dedicated, targetLowPriorityNodes: wanted.lowPriority, nodeDeallocationOption: wanted.option });
}

/** The AutoScaleRun as the API shows it: wall-clock timestamp, only the members that are set. */
function wallClockRun(sim: BatchSimulation, evaluation: AutoScaleEvaluation): AutoScaleRun {
  const run: AutoScaleRun = { timestamp: sim.clock.now().toISOString() };
  if (evaluation.run.results !== undefined) run.results = evaluation.run.results;
  if (evaluation.run.error) run.error = evaluation.run.error;
  return run;
}

function accountOf(sim: BatchSimulation, pool: PoolRecord): BatchAccountRecord | undefined {
  for (const account of sim.state.accounts.values()) if (account.pools.get(pool.id) === pool) return account;
  return undefined;
}

/** What the formula sees of a pool: its jobs' task counts, its nodes and targets. */
export function poolState(sim: BatchSimulation, pool: PoolRecord): PoolAutoScaleState {
  const account = accountOf(sim, pool);
  let activeTasks = 0;
  let runningTasks = 0;
  let succeededTasks = 0;
  let failedTasks = 0;
  for (const job of account?.jobs.values() ?? []) {
    if (!job.poolInfo.poolId || findKey(account!.pools, job.poolInfo.poolId) !== pool) continue;
    const live = job.state === "active" || job.state === "enabling";
    for (const task of job.tasks.values()) {
      // A multi-instance task counts its instances.
      const instances = Number((task.multiInstanceSettings as { numberOfInstances?: number } | undefined)?.numberOfInstances ?? 1);
      if (task.state === "active" && live) activeTasks += instances;
      else if (task.state === "running" || task.state === "preparing") runningTasks += instances;
      else if (task.state === "completed") task.executionInfo.result === "failure" ? failedTasks++ : succeededTasks++;
    }
  }
  let dedicated = 0;
  let lowPriority = 0;
  let preempted = 0;
  for (const node of pool.nodes.values()) {
    if (node.isDedicated) dedicated++;
    else lowPriority++;
    if (node.state === "preempted") preempted++;
  }
  return {
    activeTasks,
    runningTasks,
    succeededTasks,
    failedTasks,
    currentDedicatedNodes: dedicated,
    currentLowPriorityNodes: lowPriority,
    preemptedNodes: preempted,
    targetDedicatedNodes: pool.targetDedicatedNodes,
    targetLowPriorityNodes: pool.targetLowPriorityNodes,
    taskSlotsPerNode: pool.taskSlotsPerNode,
  };
}
