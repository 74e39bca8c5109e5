/**
 * The local Azure's one simulated clock, shared by Batch and Data Factory.
 * Batch takes minutes to allocate and boot nodes and a pipeline run waits in
 * a queue; the local Azure plays those minutes as simulated seconds, each worth
 * `msPerSimulatedSecond` real milliseconds (20 by default, so a node that
 * takes 60 s to become idle is ready in about 1.2 s; 1000 is real time).
 * Timestamps the APIs show are real wall-clock times, so runStart, lastUpdated
 * and a client's `new Date()` query windows agree; only durations are scaled.
 */

export interface SimTimer {
  cancel(): void;
  readonly pending: boolean;
}

export class SimClock {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(public msPerSimulatedSecond = 20) {}

  /** Real milliseconds for a simulated duration. */
  ms(simulatedSeconds: number): number {
    return Math.max(0, Math.round(simulatedSeconds * this.msPerSimulatedSecond));
  }

  /** The wall-clock time (timestamps are never scaled). */
  now(): Date {
    return new Date();
  }

  /** Runs `fn` after `simulatedSeconds`; errors are reported, never thrown into the timer loop. */
  after(simulatedSeconds: number, fn: () => void): SimTimer {
    let pending = !this.closed;
    if (!pending) return { cancel() {}, pending: false };
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      pending = false;
      if (this.closed) return;
      try {
        fn();
      } catch (e) {
        console.error("[local-azure] simulation step failed", e);
      }
    }, this.ms(simulatedSeconds));
    this.timers.add(handle);
    const timers = this.timers;
    return {
      cancel() {
        if (!pending) return;
        pending = false;
        clearTimeout(handle);
        timers.delete(handle);
      },
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
    for (const t of this.timers) clearTimeout(t);
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
