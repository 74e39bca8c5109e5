/**
 * The Data Factory's view of the local Azure's simulated time: waits are compressed to
 * `msPerSimulatedSecond` real milliseconds per simulated second, while
 * timestamps stay on the real wall clock so runStart, lastUpdated and a
 * client's `new Date()` query windows agree. Adds what runs need on top:
 * cancellable sleeps.
 */

/**
 * What the Data Factory needs of a simulated clock. The Batch simulation's
 * SimClock (batch/clock.ts) has this shape, so the local Azure can hand the
 * same clock to both; without one, a private TimerClock is used.
 */
export interface SimulatedTime {
  readonly msPerSimulatedSecond: number;
  after(simulatedSeconds: number, fn: () => void): { cancel(): void };
}

/** A minimal SimulatedTime of its own: scaled timeouts, all cleared on close. */
export class TimerClock implements SimulatedTime {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly msPerSimulatedSecond = 20) {}

  after(simulatedSeconds: number, fn: () => void): { cancel(): void } {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.max(0, Math.round(simulatedSeconds * this.msPerSimulatedSecond)));
    this.timers.add(timer);
    return {
      cancel: () => {
        clearTimeout(timer);
        this.timers.delete(timer);
      },
    };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export class FactoryClock {
  constructor(private readonly sim: SimulatedTime) {}

  get msPerSimulatedSecond(): number {
    return this.sim.msPerSimulatedSecond;
  }

  now(): Date {
    return new Date();
  }

  /** Runs `fn` after `simulatedSeconds`; the returned function cancels it. */
  after(simulatedSeconds: number, fn: () => void): () => void {
    const timer = this.sim.after(simulatedSeconds, fn);
    return () => timer.cancel();
  }

  /** Resolves after `simulatedSeconds`, or rejects with an AbortError when `signal` aborts. */
  sleep(simulatedSeconds: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const onAbort = () => {
        cancel();
        reject(abortError());
      };
      const cancel = this.after(simulatedSeconds, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

export function abortError(): Error {
  const e = new Error("The operation was cancelled.");
  e.name = "AbortError";
  return e;
}
