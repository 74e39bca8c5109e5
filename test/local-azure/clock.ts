/**
 * The local Azure's one simulated clock, shared by Batch and Data Factory.
 * Batch takes minutes to allocate and boot nodes and a pipeline run waits in
 * a queue; the local Azure plays those minutes as simulated seconds, each worth
 * `msPerSimulatedSecond` real milliseconds (20 by default, so a node that
 * takes 60 s to become idle is ready in about 1.2 s; 1000 is real time).
 * Timestamps the APIs show are real wall-clock times, so runStart, lastUpdated
 * and a client's `new Date()` query windows agree; only durations are scaled.
 * An optional idle pace applies while only background steps (autoscale's
 * sampling) are pending.
 */

export interface SimTimer {
  cancel(): void;
  readonly pending: boolean;
}

export interface TimerOptions {
  /**
   * A periodic step that runs whether or not anything happens (autoscale's
   * sampling): it alone does not keep the clock at its busy pace (see
   * `idleMsPerSimulatedSecond`).
   */
  background?: boolean;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface PendingTimer {
  /** Simulated seconds since the clock started at which it fires. */
  due: number;
  background: boolean;
  handle?: NodeJS.Timeout;
  fire(): void;
}

export class SimClock {
  private readonly timers = new Set<PendingTimer>();
  private closed = false;
  private busyPace: number;
  private idlePace?: number;
  /** The pace in effect, and where simulated time stood when it took effect. */
  private pace: number;
  private simBase = 0;
  private realBase = Date.now();

  constructor(msPerSimulatedSecond = 20) {
    this.busyPace = msPerSimulatedSecond;
    this.pace = msPerSimulatedSecond;
  }

  /**
   * Real milliseconds per simulated second. Changing it re-arms the pending
   * steps: each keeps the simulated time it still had to wait, at the new pace.
   */
  get msPerSimulatedSecond(): number {
    return this.busyPace;
  }
  set msPerSimulatedSecond(value: number) {
    this.busyPace = value;
    this.repace();
  }

  /**
   * The pace while nothing but background steps is pending (no node booting,
   * no task or pipeline run going, only autoscale sampling its pool); undefined
   * (the default): the same pace as always. Real time (1000) here makes the
   * idle minutes a pool waits before scaling down pass as fast as a release
   * pipeline's own steps do, while Batch's and Data Factory's waits stay fast.
   */
  get idleMsPerSimulatedSecond(): number | undefined {
    return this.idlePace;
  }
  set idleMsPerSimulatedSecond(value: number | undefined) {
    this.idlePace = value;
    this.repace();
  }

  /** Real milliseconds for a simulated duration, at the busy pace. */
  ms(simulatedSeconds: number): number {
    return Math.max(0, Math.round(simulatedSeconds * this.busyPace));
  }

  /** The wall-clock time (timestamps are never scaled). */
  now(): Date {
    return new Date();
  }

  /** Simulated seconds since the clock started. */
  private simulatedNow(): number {
    return this.pace > 0 ? this.simBase + (Date.now() - this.realBase) / this.pace : this.simBase;
  }

  private wantedPace(): number {
    if (this.idlePace === undefined) return this.busyPace;
    for (const t of this.timers) if (!t.background) return this.busyPace;
    return this.idlePace;
  }

  /** Applies a change of pace (set, or busy / idle) to every pending step. */
  private repace(): void {
    const pace = this.wantedPace();
    if (pace === this.pace) return;
    const now = this.simulatedNow();
    this.simBase = now;
    this.realBase = Date.now();
    this.pace = pace;
    for (const t of this.timers) this.arm(t, now);
  }

  private arm(timer: PendingTimer, now: number): void {
    if (timer.handle) clearTimeout(timer.handle);
    const delay = Math.max(0, Math.round((timer.due - now) * this.pace));
    // A Node timer holds at most MAX_TIMER_MS; a longer wait is armed again when that ends.
    timer.handle = delay > MAX_TIMER_MS ? setTimeout(() => this.arm(timer, this.simulatedNow()), MAX_TIMER_MS) : setTimeout(() => timer.fire(), delay);
  }

  /** Runs `fn` after `simulatedSeconds`; errors are reported, never thrown into the timer loop. */
  after(simulatedSeconds: number, fn: () => void, options: TimerOptions = {}): SimTimer {
    let pending = !this.closed;
    if (!pending) return { cancel() {}, pending: false };
    const now = this.simulatedNow();
    const timer: PendingTimer = {
      due: now + Math.max(0, simulatedSeconds),
      background: options.background ?? false,
      fire: () => {
        this.timers.delete(timer);
        pending = false;
        if (this.closed) return;
        try {
          fn();
        } catch (e) {
          console.error("[local-azure] simulation step failed", e);
        }
        // After the step, which often schedules the next one: busy stays busy.
        this.repace();
      },
    };
    this.timers.add(timer);
    this.arm(timer, now);
    this.repace();
    const remove = () => {
      if (!pending) return;
      pending = false;
      if (timer.handle) clearTimeout(timer.handle);
      this.timers.delete(timer);
      this.repace();
    };
    return {
      cancel: remove,
      get pending() {
        return pending;
      },
    };
  }

  /** Resolves after `simulatedSeconds`, or rejects with an AbortError when `signal` aborts. */
  sleep(simulatedSeconds: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const onAbort = () => {
        timer.cancel();
        reject(abortError());
      };
      const timer = this.after(simulatedSeconds, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Stops every pending step; nothing runs afterwards. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) if (t.handle) clearTimeout(t.handle);
    this.timers.clear();
  }
}

export function abortError(): Error {
  const e = new Error("The operation was cancelled.");
  e.name = "AbortError";
  return e;
}

/** ISO 8601 durations as Batch writes them (PT15M, P1D, PT1H30M5S) to seconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value);
  if (!m || value === "P" || value.endsWith("T")) return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x ? Number(x) : 0));
  return ((d * 24 + h) * 60 + min) * 60 + s;
}
