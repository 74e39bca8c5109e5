/**
 * Sample histories of the read-only system variables. Batch records one
 * sample every 30 s; a sample becomes visible to formulas after a delay
 * ("about a minute", here configurable and 0 by default so that a window
 * filled every 30 s reads as 100 %), and samples may be missing. The
 * simulation feeds it task and node counts on its own clock.
 */
import type { SampledVariable } from "./names";

/** Batch's sampling period. */
export const SAMPLE_PERIOD_SECONDS = 30;

export interface Sample {
  /** When the sample was taken, in ms since the epoch (simulated time is fine). */
  time: number;
  value: number;
}

/** What the evaluator reads: the samples of one variable visible at `now`, oldest first. */
export interface SampleSource {
  samples(variable: SampledVariable, now: number): readonly Sample[];
}

export interface SampleHistoryOptions {
  /** How long samples are kept (default 24 h; Batch's retention is not documented). */
  retentionSeconds?: number;
  /** Delay before a sample is visible to a formula (default 0; Batch says about 60 s). */
  visibilityDelaySeconds?: number;
}

/** Task and node counts at one instant, as the simulation knows them. */
export interface PoolCounts {
  activeTasks: number;
  runningTasks: number;
  succeededTasks?: number;
  failedTasks?: number;
  currentDedicatedNodes: number;
  currentLowPriorityNodes: number;
  preemptedNodes?: number;
}

export class SampleHistory implements SampleSource {
  readonly retentionSeconds: number;
  readonly visibilityDelaySeconds: number;
  private readonly series = new Map<SampledVariable, Sample[]>();

  constructor(options: SampleHistoryOptions = {}) {
    this.retentionSeconds = options.retentionSeconds ?? 24 * 3600;
    this.visibilityDelaySeconds = options.visibilityDelaySeconds ?? 0;
  }

  /** Records one sample of each given variable at `time`; samples must come in time order per variable. */
  record(time: Date | number, values: Partial<Record<SampledVariable, number>>): void {
    const t = typeof time === "number" ? time : time.getTime();
    for (const [name, value] of Object.entries(values) as [SampledVariable, number][]) {
      if (!Number.isFinite(value)) throw new RangeError(`Sample of ${name} must be a finite number, got ${value}`);
      let list = this.series.get(name);
      if (!list) this.series.set(name, (list = []));
      const last = list[list.length - 1];
      if (last && last.time > t) throw new RangeError(`Samples of ${name} must be recorded in time order`);
      list.push({ time: t, value });
      this.prune(list, t);
    }
  }

  /**
   * Records the task and node variables Batch derives from a pool's state:
   * `$PendingTasks` = `$ActiveTasks` + `$RunningTasks`, `$SampleNodeCount` = all nodes.
   */
  recordPool(time: Date | number, counts: PoolCounts): void {
    this.record(time, {
      $ActiveTasks: counts.activeTasks,
      $RunningTasks: counts.runningTasks,
      $PendingTasks: counts.activeTasks + counts.runningTasks,
      $SucceededTasks: counts.succeededTasks ?? 0,
      $FailedTasks: counts.failedTasks ?? 0,
      $CurrentDedicatedNodes: counts.currentDedicatedNodes,
      $CurrentLowPriorityNodes: counts.currentLowPriorityNodes,
      $PreemptedNodeCount: counts.preemptedNodes ?? 0,
      $SampleNodeCount: counts.currentDedicatedNodes + counts.currentLowPriorityNodes,
    });
  }

  /** Records `values` (oldest first) one period apart, the last one at `last`. */
  recordSeries(variable: SampledVariable, last: Date | number, values: readonly number[]): void {
    const end = typeof last === "number" ? last : last.getTime();
    values.forEach((value, i) => this.record(end - (values.length - 1 - i) * SAMPLE_PERIOD_SECONDS * 1000, { [variable]: value }));
  }

  samples(variable: SampledVariable, now: number): readonly Sample[] {
    const list = this.series.get(variable) ?? [];
    const newest = now - this.visibilityDelaySeconds * 1000;
    const oldest = now - this.retentionSeconds * 1000;
    return list.filter((s) => s.time <= newest && s.time > oldest);
  }

  /** Forgets everything (autoscale disabled, pool deleted). */
  clear(): void {
    this.series.clear();
  }

  private prune(list: Sample[], now: number): void {
    const oldest = now - this.retentionSeconds * 1000;
    let drop = 0;
    while (drop < list.length && list[drop].time <= oldest) drop++;
    if (drop) list.splice(0, drop);
  }
}
