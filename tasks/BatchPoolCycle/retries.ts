/**
 * How BatchPoolCycle retries a Batch call. Throttling (429, or 503 Server
 * Busy) means Batch did not act on the request, so every call is sent again,
 * after the Retry-After Batch asked for. Other transient failures (500, 502,
 * 504, a dropped connection) are retried only for idempotent calls (reads,
 * enable scheduling): a reboot or resize that failed that way may have been
 * done, and sending it again could do it twice. The Batch client's own retry policy is off (its first 5xx retry
 * waits about 30 s, and it never retries 429), so this is the only one.
 */
import { errorCode, errorStatus } from "../../runtime/errors";
import { sleep as defaultSleep } from "../../runtime/poll";
import { retryAfterMs } from "../../runtime/retry";

/** `idempotent`: sending it twice does no harm (reads, enable scheduling); `once`: it might act twice. */
export type CallKind = "idempotent" | "once";

export interface RetryInfo {
  /** Which call, for the log: `reboot node tvmps_1 of pool adf-pool`. */
  operation: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  /** `HTTP 429 ServerBusy`, `ECONNRESET` ... */
  reason: string;
}

export interface RetryPolicy {
  signal?: AbortSignal;
  onRetry?(info: RetryInfo): void;
  /** Attempts in all while Batch throttles (default 8). */
  maxThrottledAttempts?: number;
  /** Attempts in all for an idempotent call that failed otherwise transiently (default 5). */
  maxTransientAttempts?: number;
  /** First wait when Batch gave no Retry-After; doubles each time (default 1 s). */
  baseDelayMs?: number;
  /** Longest wait, Retry-After included (default 60 s). */
  maxDelayMs?: number;
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
}

const TRANSIENT_STATUS = new Set([500, 502, 504]);
/** Errors of the connection itself (no answer): Node's codes and ms-rest-js's wrapper. */
const CONNECTION_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "REQUEST_SEND_ERROR", "UND_ERR_SOCKET"]);

export function isBatchThrottled(error: unknown): boolean {
  const status = errorStatus(error);
  return status === 429 || status === 503;
}

export function isTransient(error: unknown): boolean {
  const status = errorStatus(error);
  if (status !== undefined) return TRANSIENT_STATUS.has(status);
  const code = errorCode(error) ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === "string" && CONNECTION_CODES.has(code);
}

function reasonOf(error: unknown): string {
  const status = errorStatus(error);
  const code = errorCode(error);
  return [status !== undefined ? `HTTP ${status}` : undefined, code].filter(Boolean).join(" ") || (error instanceof Error ? error.message : String(error));
}

export async function callWithRetries<T>(operation: string, kind: CallKind, call: () => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const maxThrottled = policy.maxThrottledAttempts ?? 8;
  const maxTransient = policy.maxTransientAttempts ?? 5;
  const base = policy.baseDelayMs ?? 1000;
  const maxDelay = policy.maxDelayMs ?? 60_000;
  const sleep = policy.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (policy.signal?.aborted) throw error;
      const throttled = isBatchThrottled(error);
      const retryable = throttled ? attempt < maxThrottled : kind === "idempotent" && isTransient(error) && attempt < maxTransient;
      if (!retryable) throw error;
      const delayMs = Math.min(maxDelay, retryAfterMs(error) ?? base * 2 ** (attempt - 1));
      policy.onRetry?.({ operation, attempt, delayMs, reason: reasonOf(error) });
      await sleep(delayMs, policy.signal);
    }
  }
}
