/**
 * The one polling helper: checks until done, backing off between checks,
 * with a timeout and cancellation.
 */
import { CancelledError, TimeoutError } from "./errors";

export interface PollOptions<T> {
  /** What is being waited for, for messages: "pool 'adf-pool' to be steady". */
  description: string;
  check: () => Promise<{ done: true; value: T } | { done: false; status?: string }>;
  timeoutMs: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Multiplier between checks (default 1.5). */
  backoff?: number;
  signal?: AbortSignal;
  /** Called after each check that is not done. */
  onPending?: (status: string | undefined, elapsedMs: number) => void;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export async function pollUntil<T>(options: PollOptions<T>): Promise<T> {
  const started = Date.now();
  let delay = options.initialDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 15_000;
  for (;;) {
    if (options.signal?.aborted) throw new CancelledError(`Cancelled while waiting for ${options.description}.`);
    const result = await options.check();
    if (result.done) return result.value;
    const elapsed = Date.now() - started;
    options.onPending?.(result.status, elapsed);
    if (elapsed + delay > options.timeoutMs) {
      throw new TimeoutError(
        `Timed out after ${Math.round(elapsed / 1000)} s waiting for ${options.description}${result.status ? ` (last status: ${result.status})` : ""}.`,
      );
    }
    try {
      await sleep(delay, options.signal);
    } catch {
      throw new CancelledError(`Cancelled while waiting for ${options.description}.`);
    }
    delay = Math.min(maxDelay, delay * (options.backoff ?? 1.5));
  }
}
