/**
 * One pool's autoscale schedule on simulated time, independent of timers:
 * the simulation calls `tick(now, state)` (every 30 simulated seconds is
 * enough), which records a sample of the pool's task and node counts once per
 * sample period and evaluates the formula once per evaluation interval, the
 * first evaluation at enable time as Batch does. The caller applies the result
 * (`autoScaleRun`, and a resize to `nodes` unless the run failed).
 */
import { evaluatePoolFormula, type AutoScaleEvaluation } from "./evaluate";
import type { DeallocationOption } from "./names";
import { SAMPLE_PERIOD_SECONDS, SampleHistory, type PoolCounts, type SampleHistoryOptions } from "./samples";

export interface PoolAutoScaleState extends PoolCounts {
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  taskSlotsPerNode: number;
  nodeDeallocationOption?: DeallocationOption;
}

export interface PoolAutoScalerOptions extends SampleHistoryOptions {
  formula: string;
  /** Evaluation interval in seconds (Batch: 5 min to 168 h, default 15 min). */
  intervalSeconds: number;
  /** When autoscale was enabled (ms); the first evaluation is due then. */
  enabledAt: number;
  /** The pool's existing history, if it was sampled before autoscale was enabled; a new one otherwise. */
  history?: SampleHistory;
  random?: () => number;
}

export class PoolAutoScaler {
  readonly history: SampleHistory;
  private formula: string;
  private intervalMs: number;
  private nextEvaluation: number;
  private nextSample: number;

  constructor(private readonly options: PoolAutoScalerOptions) {
    this.history = options.history ?? new SampleHistory(options);
    this.formula = options.formula;
    this.intervalMs = options.intervalSeconds * 1000;
    this.nextEvaluation = options.enabledAt;
    this.nextSample = options.enabledAt;
  }

  /**
   * A new formula and/or interval (enable autoscale again). A new interval
   * restarts the schedule from `at`, as the docs say; a new formula alone keeps it.
   * Samples are kept: they belong to the pool, not to the formula.
   */
  update(at: number, formula?: string, intervalSeconds?: number): void {
    if (formula !== undefined) this.formula = formula;
    if (intervalSeconds !== undefined) {
      this.intervalMs = intervalSeconds * 1000;
      this.nextEvaluation = at;
    }
  }

  /** When the next evaluation is due (ms). */
  get dueAt(): number {
    return this.nextEvaluation;
  }

  /** Records a sample if one is due and evaluates if due; returns the evaluation when one ran. */
  tick(now: number, state: PoolAutoScaleState): AutoScaleEvaluation | undefined {
    if (now >= this.nextSample) {
      this.history.recordPool(now, state);
      while (this.nextSample <= now) this.nextSample += SAMPLE_PERIOD_SECONDS * 1000;
    }
    if (now < this.nextEvaluation) return undefined;
    while (this.nextEvaluation <= now) this.nextEvaluation += this.intervalMs;
    return this.evaluate(now, state);
  }

  /** Evaluates `formula` (default: the pool's) against the pool's history now, e.g. for evaluateautoscale. */
  evaluate(now: number, state: PoolAutoScaleState, formula = this.formula): AutoScaleEvaluation {
    return evaluatePoolFormula(formula, {
      now,
      samples: this.history,
      current: {
        $CurrentDedicatedNodes: state.currentDedicatedNodes,
        $CurrentLowPriorityNodes: state.currentLowPriorityNodes,
        $PreemptedNodeCount: state.preemptedNodes ?? 0,
        $SampleNodeCount: state.currentDedicatedNodes + state.currentLowPriorityNodes,
        $ActiveTasks: state.activeTasks,
        $RunningTasks: state.runningTasks,
        $PendingTasks: state.activeTasks + state.runningTasks,
      },
      targetDedicatedNodes: state.targetDedicatedNodes,
      targetLowPriorityNodes: state.targetLowPriorityNodes,
      nodeDeallocationOption: state.nodeDeallocationOption,
      taskSlotsPerNode: state.taskSlotsPerNode,
      random: this.options.random,
    });
  }
}
