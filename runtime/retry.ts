/**
 * The one retry policy of every Azure client the tasks build: throttling
 * (429, and 503 with Retry-After) waits as long as the service asks, and
 * transient failures (500, 502, 503, 504, 408, connection resets and
 * timeouts) back off exponentially. It is bounded (retries and the longest
 * wait), and cancellable (a wait ends when the request's abort signal fires).
 *
 * The decision and the loop live here once; three thin adapters put them in
 * each SDK's pipeline, in place of the SDK's own retry policies:
 * - `retryPipelinePolicy`: a core-rest-pipeline policy (arm-batch,
 *   arm-datafactory, arm-storage; see runtime/clients.ts);
 * - `retryRequestPolicyFactory`: an ms-rest-js RequestPolicyFactory
 *   (@azure/batch; see runtime/batch.ts);
 * - `blobRetryPolicyFactory`: the same for @azure/storage-blob's pipeline
 *   (see runtime/blob-retry.ts).
 */
import type { BatchManagementClient } from "@azure/arm-batch";
import type { HttpOperationResponse, RequestPolicy, RequestPolicyFactory, RequestPolicyOptionsLike, WebResourceLike } from "@azure/ms-rest-js";
import type {
  HttpOperationResponse as BlobHttpResponse,
  RequestPolicy as BlobRequestPolicy,
  RequestPolicyFactory as BlobRequestPolicyFactory,
  RequestPolicyOptions as BlobRequestPolicyOptions,
  WebResource as BlobWebResource,
} from "@azure/storage-blob";
import { CancelledError, errorCode, errorStatus } from "./errors";

/** core-rest-pipeline's types, as the management clients expose them (the package is theirs, not a dependency of ours). */
type CorePipeline = BatchManagementClient["pipeline"];
export type CorePipelinePolicy = Parameters<CorePipeline["addPolicy"]>[0];
type CoreRequest = Parameters<CorePipelinePolicy["sendRequest"]>[0];

export interface RetryOptions {
  /** Retries after a transient failure (default 5). */
  maxRetries?: number;
  /** Retries after throttling (default 7). */
  maxThrottleRetries?: number;
  /** The first back-off (default 500 ms); it doubles, with ±20% jitter. */
  initialDelayMs?: number;
  /** The longest back-off (default 30 s). */
  maxDelayMs?: number;
  /** The longest Retry-After honoured (default 60 s); a longer one is waited this long. */
  maxRetryAfterMs?: number;
  /** Told before each wait (for a debug line). */
  onRetry?(info: RetryInfo): void;
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  /** `HTTP 429`, `ECONNRESET`. */
  reason: string;
  throttled: boolean;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<Required<Omit<RetryOptions, "onRetry">>> = Object.freeze({
  maxRetries: 5,
  maxThrottleRetries: 7,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
});

/** Network failures worth another try (Node's codes, as the SDKs pass them on). */
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EPIPE", "EAI_AGAIN", "ECONNABORTED", "UND_ERR_SOCKET"]);
/** ms-rest-js reports every network failure as REQUEST_SEND_ERROR; its message keeps Node's code. */
const TRANSIENT_MESSAGE = /\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|ESOCKETTIMEDOUT|EPIPE|EAI_AGAIN|ECONNABORTED)\b|socket hang up/i;
const TRANSIENT_STATUS = new Set([408, 500, 502, 503, 504]);

type HeaderGetter = { get(name: string): string | undefined | null } | undefined;

function retryAfterFromHeaders(headers: HeaderGetter, now = Date.now()): number | undefined {
  const ms = headers?.get("retry-after-ms") ?? headers?.get("x-ms-retry-after-ms");
  if (ms && /^\d+$/.test(ms)) return Number(ms);
  const value = headers?.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The delay an error asks for: Retry-After (seconds or HTTP date) or retry-after-ms. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: HeaderGetter } } | undefined)?.response?.headers;
  try {
    return retryAfterFromHeaders(headers);
  } catch {
    return undefined;
  }
}

/** Whether an error is Azure throttling: 429, or 503 with Retry-After. */
export function isThrottled(error: unknown): boolean {
  const status = errorStatus(error);
  return status === 429 || (status === 503 && retryAfterMs(error) !== undefined);
}

/** What one attempt ended with, as the decision needs it. */
export interface AttemptOutcome {
  status?: number;
  headers?: HeaderGetter;
  /** A network failure's code (ECONNRESET) when there was no answer. */
  errorCode?: string;
}

/**
 * How long to wait before attempt `attempt + 1`, or undefined to stop:
 * the answer is final, or the budget for its kind is spent.
 */
export function retryDelayMs(attempt: number, outcome: AttemptOutcome, options: RetryOptions = {}, random: () => number = Math.random): { delayMs: number; throttled: boolean; reason: string } | undefined {
  const o = { ...DEFAULT_RETRY_OPTIONS, ...options };
  const retryAfter = outcome.status !== undefined ? retryAfterFromHeaders(outcome.headers) : undefined;
  const throttled = outcome.status === 429 || (outcome.status === 503 && retryAfter !== undefined);
  const transient = !throttled && ((outcome.status !== undefined && TRANSIENT_STATUS.has(outcome.status)) || (outcome.status === undefined && outcome.errorCode !== undefined && TRANSIENT_CODES.has(outcome.errorCode)));
  if (!throttled && !transient) return undefined;
  if (attempt > (throttled ? o.maxThrottleRetries : o.maxRetries)) return undefined;
  const backoff = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** (attempt - 1)) * (0.8 + 0.4 * random());
  const delayMs = Math.round(retryAfter !== undefined ? Math.min(o.maxRetryAfterMs, retryAfter) : backoff);
  return { delayMs, throttled, reason: outcome.status !== undefined ? `HTTP ${outcome.status}` : (outcome.errorCode ?? "network error") };
}

interface SignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

function wait(ms: number, signal: SignalLike | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError("The request was cancelled while waiting to retry."));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError("The request was cancelled while waiting to retry."));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Drains an answer that is being retried, so its connection is freed. */
function discard(response: { readableStreamBody?: NodeJS.ReadableStream } | undefined): void {
  const body = response?.readableStreamBody as { resume?(): void } | undefined;
  body?.resume?.();
}

function outcomeOf(response: { status: number; headers: HeaderGetter } | undefined, error: unknown): AttemptOutcome {
  if (response) return { status: response.status, headers: response.headers };
  const status = errorStatus(error);
  if (status !== undefined) return { status, headers: (error as { response?: { headers?: HeaderGetter } }).response?.headers };
  const code = errorCode(error) ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (code === "REQUEST_SEND_ERROR") {
    const named = TRANSIENT_MESSAGE.exec(error instanceof Error ? error.message : "");
    return { errorCode: named ? (named[1] ?? "ECONNRESET").toUpperCase() : code };
  }
  return { errorCode: typeof code === "string" ? code : undefined };
}

/** The loop every adapter runs: send, decide, wait, send again. */
async function sendWithRetries<R extends { status: number; headers: HeaderGetter; readableStreamBody?: NodeJS.ReadableStream }>(
  send: () => Promise<R>,
  signal: SignalLike | undefined,
  options: RetryOptions,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    let response: R | undefined;
    let error: unknown;
    try {
      response = await send();
    } catch (e) {
      error = e;
    }
    const decision = signal?.aborted ? undefined : retryDelayMs(attempt, outcomeOf(response, error), options);
    if (!decision) {
      if (response) return response;
      throw error;
    }
    discard(response);
    options.onRetry?.({ attempt, ...decision });
    await wait(decision.delayMs, signal);
  }
}

export const RETRY_POLICY_NAME = "batchAdfReleaseRetryPolicy";

/** For core-rest-pipeline clients, in the Retry phase in place of the SDK's own retry policies. */
export function retryPipelinePolicy(options: RetryOptions = {}): CorePipelinePolicy {
  return {
    name: RETRY_POLICY_NAME,
    sendRequest: (request: CoreRequest, next) => sendWithRetries(() => next(request), request.abortSignal, options),
  };
}

/** Puts the retry policy in a core-rest-pipeline client's pipeline, replacing the SDK's retry policies. */
export function useRetryPolicy<C extends { pipeline: CorePipeline }>(client: C, options: RetryOptions = {}): C {
  client.pipeline.removePolicy({ phase: "Retry" });
  client.pipeline.addPolicy(retryPipelinePolicy(options), { phase: "Retry" });
  return client;
}

/** For ms-rest-js clients (@azure/batch), with `noRetryPolicy: true` so it is the only one. */
export function retryRequestPolicyFactory(options: RetryOptions = {}): RequestPolicyFactory {
  return {
    create: (nextPolicy: RequestPolicy, _policyOptions: RequestPolicyOptionsLike): RequestPolicy => ({
      sendRequest: (request: WebResourceLike): Promise<HttpOperationResponse> => sendWithRetries(() => nextPolicy.sendRequest(request.clone()), request.abortSignal, options),
    }),
  };
}

/** For @azure/storage-blob's pipeline (its own retry set to a single try, so this is the only one). */
export function blobRetryPolicyFactory(options: RetryOptions = {}): BlobRequestPolicyFactory {
  return {
    create: (nextPolicy: BlobRequestPolicy, _policyOptions: BlobRequestPolicyOptions): BlobRequestPolicy => ({
      sendRequest: (request: BlobWebResource): Promise<BlobHttpResponse> => sendWithRetries(() => nextPolicy.sendRequest(request.clone()), request.abortSignal, options),
    }),
  };
}
