/**
 * Retries an operation that Azure throttled (429, or 503 with Retry-After),
 * waiting as long as the service asked. Some SDK retry policies do not retry
 * 429 at all (Blob's and Batch's), so the tasks wrap whole idempotent steps.
 */
import { sleep } from "./poll";
import { errorStatus } from "./errors";

export interface ThrottleRetryOptions {
  maxAttempts?: number;
  /** Used when the answer has no Retry-After. */
  defaultDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?(attempt: number, delayMs: number, error: unknown): void;
}

/** The delay an error asks for: Retry-After (seconds or HTTP date) or retry-after-ms. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?(n: string): string | undefined } } }).response?.headers;
  const ms = headers?.get?.("retry-after-ms") ?? headers?.get?.("x-ms-retry-after-ms");
  if (ms && /^\d+$/.test(ms)) return Number(ms);
  const value = headers?.get?.("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function isThrottled(error: unknown): boolean {
  const status = errorStatus(error);
  return status === 429 || (status === 503 && retryAfterMs(error) !== undefined);
}

export async function retryThrottled<T>(operation: () => Promise<T>, options: ThrottleRetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isThrottled(error) || attempt >= maxAttempts || options.signal?.aborted) throw error;
      const delay = Math.min(options.maxDelayMs ?? 60_000, retryAfterMs(error) ?? (options.defaultDelayMs ?? 1000) * 2 ** (attempt - 1));
      options.onRetry?.(attempt, delay, error);
      await sleep(delay, options.signal);
    }
  }
}
