/**
 * Bounded concurrency: run asynchronous work over a list with at most a given
 * number in flight, stopping cleanly on the first failure or on cancellation.
 */
import { CancelledError } from "./errors";

/** Runs `work` over `items` with at most `limit` at once; stops scheduling after the first failure. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: unknown;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      if (signal?.aborted) {
        if (!failed) [failed, failure] = [true, new CancelledError()];
        return;
      }
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (e) {
        if (!failed) [failed, failure] = [true, e];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, worker));
  if (failed) throw failure;
}
