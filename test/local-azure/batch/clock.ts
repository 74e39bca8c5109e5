/**
 * The simulation's clock. Batch takes minutes to allocate and boot nodes; the
 * local Batch plays those minutes as simulated seconds, each worth
 * `msPerSimulatedSecond` real milliseconds (20 by default, so a node that
 * takes 60 s to become idle is ready in about 1.2 s). Timestamps the API shows
 * are real wall-clock times; only durations are scaled.
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
        console.error("[local-azure:batch] simulation step failed", e);
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

  /** Resolves after a simulated duration (tests use it to wait for the simulation). */
  sleep(simulatedSeconds: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.ms(simulatedSeconds)));
  }

  /** Stops every pending step; nothing runs afterwards. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** ISO 8601 durations as Batch writes them (PT15M, P1D, PT1H30M5S) to seconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value);
  if (!m || value === "P" || value.endsWith("T")) return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x ? Number(x) : 0));
  return ((d * 24 + h) * 60 + min) * 60 + s;
}
