/**
 * The Batch data plane as BatchPoolAutoscale@1 uses it, over the runtime's
 * seam (runtime/batch-data.ts): one pool read into plan.ts's PoolState (and
 * what the log shows of it), and the calls plan.ts's actor makes, each
 * bounded in time and cancellable, with Batch's refusals turned into what to
 * do about them. Retries (throttling, transient failures) are the client's
 * own policy. Everything above this file works on the PoolAccess interface.
 */
import type { AutoScaleSettings, BatchData, BatchPool, PoolPatch } from "../../runtime/batch-data";
import { batchReason, BatchDataError, isBatchNotFound } from "../../runtime/batch-data";
import { CancelledError, NotAuthorizedError, TaskError, TimeoutError } from "../../runtime/errors";
import { sleep } from "../../runtime/poll";
import { describeEvaluationError, ENABLE_INTERVAL_MS, FormulaEvaluationError, type AutoscaleRunResult, type PoolState } from "./plan";

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
  /** The ids of the account's pools (for the message when the pool is not found). */
  listPoolIds(): Promise<string[]>;
  enableAutoScale(parameters: AutoScaleSettings): Promise<void>;
  evaluateAutoScale(autoScaleFormula: string): Promise<AutoscaleRunResult>;
  /** Not bound to the run's cancellation: it puts a pool back as it was, also after a cancel. */
  disableAutoScale(): Promise<void>;
  patchPool(patch: Pick<PoolPatch, "startTask" | "applicationPackageReferences">): Promise<void>;
}

/** The pool is not in the account (Batch answered 404); the flow turns it into the poolId input's error. */
export class PoolNotFoundError extends TaskError {
  constructor(
    readonly poolId: string,
    cause: unknown,
  ) {
    super("ResourceNotFound", `Pool '${poolId}' was not found.`, { cause });
    this.name = "PoolNotFoundError";
  }
}

export interface PoolAccessOptions {
  accountName: string;
  signal: AbortSignal;
  /** Longest a single request may take, its retries included (default 2 minutes). */
  requestTimeoutMs?: number;
  /** Told when a call is tried again. */
  onRetry?(message: string): void;
  /** Wait before another try of an Enable Auto Scale call Batch refused as too soon (default 31 s). */
  enableRetryMs?: number;
}

/** Tries of an Enable Auto Scale call that Batch refuses as too soon after another. */
const ENABLE_ATTEMPTS = 3;

export function batchPoolAccess(batch: BatchData, poolId: string, options: PoolAccessOptions): PoolAccess {
  const timeoutMs = options.requestTimeoutMs ?? 120_000;
  const where = `pool '${poolId}' of Batch account '${options.accountName}'`;

  /** One call: bounded by timeoutMs through its signal, cancelled with the run (unless `signal` says otherwise), its failure explained. */
  const call = async <T>(what: string, operation: (o: { signal: AbortSignal }) => Promise<T>, signal: AbortSignal = options.signal): Promise<T> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await operation({ signal: AbortSignal.any([signal, timeout]) });
    } catch (e) {
      if (timeout.aborted && !signal.aborted) throw new TimeoutError(`Batch did not answer ${what} on ${where} within ${Math.ceil(timeoutMs / 1000)} s.`, { cause: e });
      if (signal.aborted && !(e instanceof CancelledError)) throw new CancelledError(`Cancelled while ${what} on ${where}.`, { cause: e });
      throw explainBatchError(e, what, where);
    }
  };

  return {
    poolId,
    async read() {
      const pool = await call("reading the pool", (o) => batch.getPool(poolId, o)).catch((e: unknown) => {
        if (isBatchNotFound(e) || (e instanceof TaskError && isBatchNotFound(e.cause))) throw new PoolNotFoundError(poolId, e);
        throw e;
      });
      return poolView(pool);
    },
    async listPoolIds() {
      // Node counts come per pool: the one listing of the account's pools the seam has.
      const counts = await call("listing pools", (o) => batch.listPoolNodeCounts(o));
      return counts.map((c) => c.poolId);
    },
    async enableAutoScale(parameters) {
      for (let attempt = 1; ; attempt++) {
        try {
          await call("enabling autoscale", (o) => batch.enableAutoScale(poolId, parameters, o));
          return;
        } catch (e) {
          const refused = e instanceof TaskError && e.cause instanceof BatchDataError ? e.cause : e instanceof BatchDataError ? e : undefined;
          // Batch refuses a formula that does not validate with 400 and the failing position in its values.
          if (parameters.autoScaleFormula !== undefined && refused?.statusCode === 400 && refused.values.length) {
            const error = { code: refused.reason, message: firstLine(refused.cause), values: refused.values };
            throw new FormulaEvaluationError(describeEvaluationError(error, parameters.autoScaleFormula), error);
          }
          // Another Enable Auto Scale call on the pool came first: the 30 seconds start again.
          if (batchReason(refused) !== "TooManyEnableAutoScaleRequests" || attempt >= ENABLE_ATTEMPTS) throw e;
          const wait = options.enableRetryMs ?? ENABLE_INTERVAL_MS;
          options.onRetry?.(`Batch refused another Enable Auto Scale call on pool '${poolId}' within 30 seconds; trying again in ${Math.ceil(wait / 1000)} s.`);
          await sleep(wait, options.signal);
        }
      }
    },
    async evaluateAutoScale(autoScaleFormula) {
      const run = await call("evaluating the formula", (o) => batch.evaluateAutoScale(poolId, autoScaleFormula, o));
      const result: AutoscaleRunResult = { timestamp: run.timestamp };
      if (run.results !== undefined) result.results = run.results;
      if (run.error) result.error = run.error;
      return result;
    },
    async disableAutoScale() {
      // Its own signal: a restore runs also after a cancel (still bounded by timeoutMs).
      await call("disabling autoscale", (o) => batch.disableAutoScale(poolId, o), new AbortController().signal);
    },
    async patchPool(patch) {
      await call("updating the start task and application packages", (o) => batch.patchPool(poolId, patch, o));
    },
  };
}

function poolView(pool: BatchPool): PoolView {
  const view: PoolView = {
    id: pool.id,
    enableAutoScale: pool.enableAutoScale,
    currentDedicatedNodes: pool.currentDedicatedNodes,
    targetDedicatedNodes: pool.targetDedicatedNodes,
    currentLowPriorityNodes: pool.currentLowPriorityNodes,
    targetLowPriorityNodes: pool.targetLowPriorityNodes,
    applicationPackageReferences: pool.applicationPackageReferences,
  };
  if (pool.state !== undefined) view.state = pool.state;
  if (pool.vmSize !== undefined) view.vmSize = pool.vmSize;
  if (pool.allocationState !== undefined) view.allocationState = pool.allocationState;
  if (pool.autoScaleFormula !== undefined) view.autoScaleFormula = pool.autoScaleFormula;
  if (pool.autoScaleEvaluationInterval !== undefined) view.autoScaleEvaluationInterval = pool.autoScaleEvaluationInterval;
  if (pool.startTask) view.startTask = pool.startTask;
  if (pool.autoScaleRun) {
    const run: AutoscaleRunResult = { timestamp: pool.autoScaleRun.timestamp };
    if (pool.autoScaleRun.results !== undefined) run.results = pool.autoScaleRun.results;
    if (pool.autoScaleRun.error) run.error = pool.autoScaleRun.error;
    view.autoScaleRun = run;
  }
  return view;
}

/** Batch's own message (the SDK error's), without the RequestId and Time lines it appends. */
function firstLine(sdkError: unknown): string | undefined {
  const body = (sdkError as { body?: { message?: { value?: unknown } | unknown } } | undefined)?.body;
  const value = typeof body?.message === "string" ? body.message : (body?.message as { value?: unknown } | undefined)?.value;
  return typeof value === "string" ? value.split("\n")[0]?.trim() : undefined;
}

/** A refused Batch call as what to do about it; other failures as they are. */
export function explainBatchError(error: unknown, what: string, where: string): unknown {
  if (!(error instanceof BatchDataError)) return error;
  const reason = error.reason;
  if (error.statusCode === 403 || error.statusCode === 401) {
    return new NotAuthorizedError({
      operation: `change ${where} (${what})`,
      role: "Contributor",
      action: "Microsoft.Batch/batchAccounts/pools/write",
      scope: "on the Batch account (role assignments can take a few minutes to apply)",
      alternative: "or use authType 'sharedKey'",
      cause: error,
    });
  }
  if (reason === "PoolBeingResized") return new TaskError("BatchRequestFailed", `${capital(where)} started resizing while the task was working (${what}). Run the task again once the resize is done.`, { cause: error });
  if (reason === "PoolBeingDeleted") return new TaskError("BatchRequestFailed", `${capital(where)} is being deleted (${what}).`, { cause: error });
  if (reason === "TooManyEnableAutoScaleRequests") {
    return new TaskError("BatchRequestFailed", `Batch accepts one Enable Auto Scale call per pool every 30 seconds, and other calls kept reaching ${where} first. Run the task again in a minute.`, { cause: error });
  }
  return error;
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
