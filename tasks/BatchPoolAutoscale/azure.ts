/**
 * The Batch data plane as BatchPoolAutoscale@1 uses it, over @azure/batch:
 * one pool read into plan.ts's PoolState (and what the log shows of it), and
 * the calls plan.ts's actor makes. Every @azure/batch call of the task is
 * here, each throttle-retried, bounded in time and cancellable; everything
 * above this file works on the PoolAccess interface.
 */
import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import type { AbortSignalLike } from "@azure/ms-rest-js";
import { CancelledError, describeError, errorCode, errorStatus, TaskError, TimeoutError } from "../../runtime/errors";
import { sleep } from "../../runtime/poll";
import { retryThrottled } from "../../runtime/retry";
import { describeEvaluationError, ENABLE_INTERVAL_MS, FormulaEvaluationError, type AutoscaleRunResult, type EvaluationErrorLike, type PoolState } from "./plan";

/** The pool as the task shows and plans it. */
export interface PoolView extends PoolState {
  /** active, deleting. */
  state?: string;
  vmSize?: string;
  /** The pool's last autoscale evaluation, when it has autoscale. */
  autoScaleRun?: AutoscaleRunResult;
}

/** What the task does with one pool. */
export interface PoolAccess {
  readonly poolId: string;
  /** Pool - Get; throws PoolNotFoundError when there is no such pool. */
  read(): Promise<PoolView>;
  /** The ids of the account's pools (for the message when the pool is not found), at most `max`. */
  listPoolIds(max: number): Promise<string[]>;
  enableAutoScale(parameters: { autoScaleFormula?: string; autoScaleEvaluationInterval?: string }): Promise<void>;
  evaluateAutoScale(autoScaleFormula: string): Promise<AutoscaleRunResult>;
  /** Not bound to the run's cancellation: it puts a pool back as it was, also after a cancel. */
  disableAutoScale(): Promise<void>;
  patchPool(patch: { startTask?: BatchServiceModels.StartTask; applicationPackageReferences?: BatchServiceModels.ApplicationPackageReference[] }): Promise<void>;
}

/** Tries of an Enable Auto Scale call that Batch refuses as too soon after another. */
const ENABLE_ATTEMPTS = 3;

export class PoolNotFoundError extends TaskError {
  constructor(
    readonly poolId: string,
    cause: unknown,
  ) {
    super("PoolNotFound", `Pool '${poolId}' was not found (${describeError(cause)}).`);
    this.name = "PoolNotFoundError";
  }
}

export interface PoolAccessOptions {
  accountName: string;
  signal: AbortSignal;
  /** Longest a single request may take (default 2 minutes). */
  requestTimeoutMs?: number;
  /** Told when a throttled request is retried. */
  onRetry?(message: string): void;
  /** Wait before another try of an Enable Auto Scale call Batch refused as too soon (default 31 s). */
  enableRetryMs?: number;
}

/** The error body Batch sends with a 4xx: code, message and name/value details (`key` on the wire). */
interface BatchErrorBody {
  code?: string;
  message?: { value?: string } | string;
  values?: { key?: string; name?: string; value?: string }[];
}

function batchErrorOf(error: unknown): EvaluationErrorLike | undefined {
  const body = (error as { body?: BatchErrorBody }).body;
  if (!body || typeof body !== "object") return undefined;
  const message = typeof body.message === "string" ? body.message : body.message?.value;
  return {
    code: body.code ?? errorCode(error),
    // Batch appends "RequestId:..." and "Time:..." lines to its messages.
    message: message?.split("\n")[0].trim(),
    values: (body.values ?? []).map((v) => ({ name: v.key ?? v.name, value: v.value })),
  };
}

/**
 * ms-rest-js puts Batch's error message object ({ lang, value }) where an
 * Error's message string belongs; the value's first line is the message
 * (Batch appends RequestId and Time lines).
 */
function normalizeBatchError(error: unknown): unknown {
  if (error instanceof Error && typeof (error as { message: unknown }).message !== "string") {
    const value = (error as unknown as { message: { value?: unknown } }).message?.value;
    error.message = typeof value === "string" ? value.split("\n")[0].trim() : JSON.stringify((error as { message: unknown }).message);
  }
  return error;
}

export function batchPoolAccess(client: BatchServiceClient, poolId: string, options: PoolAccessOptions): PoolAccess {
  const timeoutMs = options.requestTimeoutMs ?? 120_000;
  /**
   * One request: retried while throttled, given up after timeoutMs (through
   * the signal: ms-rest-js's own `timeout` leaves a timer behind that keeps
   * the process alive), and its failure explained.
   */
  const call = async <T>(what: string, operation: (options: { abortSignal: AbortSignalLike }) => Promise<T>, signal: AbortSignal = options.signal): Promise<T> => {
    const attempt = (): Promise<T> => {
      const timeout = AbortSignal.timeout(timeoutMs);
      // ms-rest-js types its signal as its own AbortSignalLike, which a DOM AbortSignal meets at run time.
      return operation({ abortSignal: AbortSignal.any([signal, timeout]) as unknown as AbortSignalLike }).catch((e: unknown) => {
        if (timeout.aborted && !signal.aborted) throw new TimeoutError(`Batch did not answer ${what} on pool '${poolId}' within ${Math.ceil(timeoutMs / 1000)} s.`);
        if (signal.aborted) throw new CancelledError(`Cancelled while ${what} on pool '${poolId}'.`);
        throw normalizeBatchError(e);
      });
    };
    return retryThrottled(attempt, {
      signal,
      onRetry: (n, delayMs) => options.onRetry?.(`Batch throttled ${what} on pool '${poolId}'; retrying in ${Math.ceil(delayMs / 1000)} s (attempt ${n + 1}).`),
    });
  };
  const explained = (what: string) => (e: unknown) => {
    throw explainBatchError(e, what, poolId, options.accountName);
  };

  return {
    poolId,
    async read() {
      const pool = await call("reading the pool", (o) => client.pool.get(poolId, o)).catch((e: unknown) => {
        if (errorStatus(e) === 404) throw new PoolNotFoundError(poolId, e);
        return explained("reading the pool")(e);
      });
      return poolView(poolId, pool);
    },
    async listPoolIds(max) {
      const ids: string[] = [];
      const list = await call("listing pools", (o) => client.pool.list({ ...o, poolListOptions: { select: "id", maxResults: Math.min(max, 1000) } })).catch(explained("listing pools"));
      for (const pool of list) if (pool.id) ids.push(pool.id);
      return ids.slice(0, max);
    },
    async enableAutoScale(parameters) {
      for (let attempt = 1; ; attempt++) {
        try {
          await call("enabling autoscale", (o) => client.pool.enableAutoScale(poolId, parameters, o)).catch(explained("enabling autoscale"));
          return;
        } catch (e) {
          // Batch refuses a formula that does not validate with 400 and the failing position in its values.
          const refusal = e instanceof TaskError ? undefined : batchErrorOf(e);
          if (parameters.autoScaleFormula !== undefined && errorStatus(e) === 400 && refusal?.values?.length) {
            throw new FormulaEvaluationError(describeEvaluationError(refusal, parameters.autoScaleFormula), refusal);
          }
          // Another Enable Auto Scale call on the pool came first: the 30 seconds start again.
          if (!(e instanceof TaskError && e.code === "TooManyEnableAutoScaleRequests") || attempt >= ENABLE_ATTEMPTS) throw e;
          const wait = options.enableRetryMs ?? ENABLE_INTERVAL_MS;
          options.onRetry?.(`Batch refused another Enable Auto Scale call on pool '${poolId}' within 30 seconds; trying again in ${Math.ceil(wait / 1000)} s.`);
          await sleep(wait, options.signal);
        }
      }
    },
    async evaluateAutoScale(autoScaleFormula) {
      const run = await call("evaluating the formula", (o) => client.pool.evaluateAutoScale(poolId, autoScaleFormula, o)).catch(explained("evaluating the formula"));
      return autoscaleRun(run);
    },
    async disableAutoScale() {
      // Its own signal: a restore runs also after a cancel (the request is still bounded by timeoutMs).
      await call("disabling autoscale", (o) => client.pool.disableAutoScale(poolId, o), new AbortController().signal).catch(explained("disabling autoscale"));
    },
    async patchPool(patch) {
      await call("updating the start task and application packages", (o) => client.pool.patch(poolId, patch, o)).catch(explained("updating the start task and application packages"));
    },
  };
}

function autoscaleRun(run: BatchServiceModels.AutoScaleRun): AutoscaleRunResult {
  const result: AutoscaleRunResult = {};
  if (run.timestamp) result.timestamp = new Date(run.timestamp);
  if (run.results !== undefined) result.results = run.results;
  if (run.error) result.error = { code: run.error.code, message: run.error.message, values: (run.error.values ?? []).map((v) => ({ name: v.name, value: v.value })) };
  return result;
}

function poolView(poolId: string, pool: BatchServiceModels.CloudPool): PoolView {
  const view: PoolView = {
    id: pool.id ?? poolId,
    state: pool.state,
    vmSize: pool.vmSize,
    enableAutoScale: pool.enableAutoScale === true,
    allocationState: pool.allocationState,
    currentDedicatedNodes: pool.currentDedicatedNodes ?? 0,
    targetDedicatedNodes: pool.targetDedicatedNodes ?? 0,
    currentLowPriorityNodes: pool.currentLowPriorityNodes ?? 0,
    targetLowPriorityNodes: pool.targetLowPriorityNodes ?? 0,
  };
  if (pool.autoScaleFormula !== undefined) view.autoScaleFormula = pool.autoScaleFormula;
  if (pool.autoScaleEvaluationInterval !== undefined) view.autoScaleEvaluationInterval = String(pool.autoScaleEvaluationInterval);
  if (pool.startTask) view.startTask = pool.startTask;
  if (pool.applicationPackageReferences) view.applicationPackageReferences = pool.applicationPackageReferences;
  if (pool.autoScaleRun) view.autoScaleRun = autoscaleRun(pool.autoScaleRun);
  return view;
}

/** A failed Batch call as what to do about it. */
export function explainBatchError(error: unknown, what: string, poolId: string, accountName: string): unknown {
  if (error instanceof TaskError) return error;
  const status = errorStatus(error);
  const code = batchErrorOf(error)?.code ?? errorCode(error);
  const where = `pool '${poolId}' of Batch account '${accountName}'`;
  if (status === 403 || status === 401) {
    return Object.assign(
      new TaskError(
        "AuthorizationFailed",
        `The service connection may not change ${where} (${what}: ${describeError(error)}). Grant its identity a role with Microsoft.Batch/batchAccounts/pools/write on the Batch account (for example Contributor; role assignments can take a few minutes to apply), or use authType 'sharedKey'.`,
      ),
      { cause: error },
    );
  }
  if (status === 409 && code === "PoolBeingResized") {
    return Object.assign(new TaskError("PoolBeingResized", `${where} started resizing while the task was working (${what}: ${describeError(error)}). Run the task again once the resize is done.`), { cause: error });
  }
  if (status === 409 && code === "PoolBeingDeleted") {
    return Object.assign(new TaskError("PoolBeingDeleted", `${where} is being deleted (${what}).`), { cause: error });
  }
  if ((status === 409 || status === 503) && code === "TooManyEnableAutoScaleRequests") {
    return Object.assign(
      new TaskError("TooManyEnableAutoScaleRequests", `Batch accepts one Enable Auto Scale call per pool every 30 seconds, and another one reached ${where} first (${describeError(error)}). Run the task again in a minute.`),
      { cause: error },
    );
  }
  return error;
}
