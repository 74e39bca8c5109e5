/**
 * BatchPoolAutoscale's adapter over the runtime's Batch seam (azure.ts), on
 * a BatchData whose calls are scripted with the errors the seam makes of
 * Batch's answers (toBatchDataError on the SDK's errors): what each failure
 * becomes, the Enable Auto Scale retry, time limits and cancellation.
 */
import { strict as assert } from "node:assert";
import { RestError } from "@azure/ms-rest-js";
import type { BatchData } from "../../runtime/batch-data";
import { toBatchDataError } from "../../runtime/batch-data-azure";
import { CancelledError, NotAuthorizedError, TaskError, TimeoutError } from "../../runtime/errors";
import { batchPoolAccess, PoolNotFoundError } from "../../tasks/BatchPoolAutoscale/azure";
import { FormulaEvaluationError } from "../../tasks/BatchPoolAutoscale/plan";

/** Batch's error as the seam passes it on: a BatchDataError around the SDK's RestError (whose body holds Batch's code, message and values). */
function batchError(status: number, code: string, message: string, operation: string, values: { key: string; value: string }[] = []): Error {
  const sdk = new RestError(message, code, status);
  Object.assign(sdk, { body: { code, message: { lang: "en-US", value: `${message}\nRequestId:0b7a3c2e-1111-4f6e-9d1a-5f0c2a7d9e10\nTime:2026-12-03T10:00:00.0000000Z` }, values } });
  return toBatchDataError(sdk, operation);
}

function access(batch: Partial<BatchData>, o: { signal?: AbortSignal; requestTimeoutMs?: number; onRetry?: (m: string) => void } = {}) {
  return batchPoolAccess(batch as BatchData, "adf-pool", { accountName: "releasebatch", signal: o.signal ?? new AbortController().signal, requestTimeoutMs: o.requestTimeoutMs, onRetry: o.onRetry, enableRetryMs: 5 });
}

const FORMULA = "maxNodes = 4;\n$TargetDedicatedNodes = min(maxNodes, $PendingTask);\n";

describe("BatchPoolAutoscale Batch adapter", () => {
  it("reads a pool into what the plan needs", async () => {
    const timestamp = new Date("2026-12-03T10:00:00Z");
    const pool = await access({
      getPool: async () => ({
        id: "adf-pool",
        state: "active",
        vmSize: "standard_d2s_v3",
        enableAutoScale: true,
        autoScaleFormula: "$TargetDedicatedNodes = 0;",
        autoScaleEvaluationInterval: "PT5M",
        allocationState: "steady",
        currentDedicatedNodes: 0,
        currentLowPriorityNodes: 0,
        targetDedicatedNodes: 0,
        targetLowPriorityNodes: 0,
        applicationPackageReferences: [],
        autoScaleRun: { timestamp, results: "$TargetDedicatedNodes=0" },
      }),
    }).read();
    assert.deepEqual(pool, {
      id: "adf-pool",
      state: "active",
      vmSize: "standard_d2s_v3",
      enableAutoScale: true,
      allocationState: "steady",
      currentDedicatedNodes: 0,
      targetDedicatedNodes: 0,
      currentLowPriorityNodes: 0,
      targetLowPriorityNodes: 0,
      applicationPackageReferences: [],
      autoScaleFormula: "$TargetDedicatedNodes = 0;",
      autoScaleEvaluationInterval: "PT5M",
      autoScaleRun: { timestamp, results: "$TargetDedicatedNodes=0" },
    });
  });

  it("a missing pool is PoolNotFoundError, and the pools come from the node counts", async () => {
    const batch = {
      getPool: async () => Promise.reject(batchError(404, "PoolNotFound", "The specified pool does not exist.", "Pool_Get")),
      listPoolNodeCounts: async () => [{ poolId: "render" }, { poolId: "etl" }] as Awaited<ReturnType<BatchData["listPoolNodeCounts"]>>,
    };
    await assert.rejects(access(batch).read(), PoolNotFoundError);
    assert.deepEqual(await access(batch).listPoolIds(), ["render", "etl"]);
  });

  it("a formula Batch refuses on enable is a FormulaEvaluationError with Batch's message and the failing statement", async () => {
    const refusal = batchError(400, "InvalidAutoScalingFormula", "The specified auto-scaling formula has a syntax error.", "Pool_EnableAutoScale", [
      { key: "Message", value: "Line 2, Col 37: '$PendingTask' is neither a system variable nor assigned before it is used" },
    ]);
    await assert.rejects(access({ enableAutoScale: async () => Promise.reject(refusal) }).enableAutoScale({ autoScaleFormula: FORMULA }), (e: unknown) => {
      assert.ok(e instanceof FormulaEvaluationError);
      assert.equal(
        e.message,
        "The autoscale formula does not evaluate: InvalidAutoScalingFormula: The specified auto-scaling formula has a syntax error.\n  Line 2, Col 37: '$PendingTask' is neither a system variable nor assigned before it is used\n  Failing statement (line 2, column 37): $TargetDedicatedNodes = min(maxNodes, $PendingTask);",
      );
      return true;
    });
  });

  it("tries an Enable Auto Scale call again when Batch says another came within 30 seconds, up to 3 times", async () => {
    const tooSoon = () => batchError(409, "TooManyEnableAutoScaleRequests", "Too many Enable Pool AutoScale requests are issued on the pool.", "Pool_EnableAutoScale");
    let calls = 0;
    const retries: string[] = [];
    await access(
      {
        enableAutoScale: async () => {
          if (++calls < 3) throw tooSoon();
        },
      },
      { onRetry: (m) => retries.push(m) },
    ).enableAutoScale({ autoScaleFormula: "$TargetDedicatedNodes = 1;" });
    assert.equal(calls, 3);
    assert.deepEqual(retries, Array(2).fill("Batch refused another Enable Auto Scale call on pool 'adf-pool' within 30 seconds; trying again in 1 s."));
    await assert.rejects(
      access({ enableAutoScale: async () => Promise.reject(tooSoon()) }).enableAutoScale({ autoScaleEvaluationInterval: "PT5M" }),
      (e: unknown) =>
        e instanceof TaskError &&
        e.code === "BatchRequestFailed" &&
        e.message === "Batch accepts one Enable Auto Scale call per pool every 30 seconds, and other calls kept reaching pool 'adf-pool' of Batch account 'releasebatch' first. Run the task again in a minute.",
    );
  });

  it("says which role is missing when Batch refuses the identity", async () => {
    await assert.rejects(
      access({ patchPool: async () => Promise.reject(batchError(403, "AuthorizationFailed", "This request is not authorized to perform this operation.", "Pool_Patch")) }).patchPool({ startTask: { commandLine: "/bin/sh -c true" } }),
      (e: unknown) => {
        assert.ok(e instanceof NotAuthorizedError);
        assert.match(
          e.message,
          /^The service connection may not change pool 'adf-pool' of Batch account 'releasebatch' \(updating the start task and application packages\): Batch Pool_Patch failed: AuthorizationFailed \(HTTP 403\): This request is not authorized to perform this operation\.? Grant it the 'Contributor' role \(it includes Microsoft\.Batch\/batchAccounts\/pools\/write\) on the Batch account \(role assignments can take a few minutes to apply\), or use authType 'sharedKey'\.$/,
        );
        return true;
      },
    );
  });

  it("gives up on a call Batch does not answer in time, and stops on cancel", async () => {
    const hang = (...args: unknown[]) =>
      new Promise<never>((_, reject) => {
        const signal = (args.at(-1) as { signal: AbortSignal }).signal;
        signal.addEventListener("abort", () => reject(new CancelledError("Cancelled during Batch Pool_Get.")));
      });
    await assert.rejects(access({ evaluateAutoScale: hang }, { requestTimeoutMs: 30 }).evaluateAutoScale(FORMULA), (e: unknown) => e instanceof TimeoutError && e.message === "Batch did not answer evaluating the formula on pool 'adf-pool' of Batch account 'releasebatch' within 1 s.");
    const controller = new AbortController();
    const pending = access({ getPool: hang }, { signal: controller.signal }).read();
    controller.abort();
    await assert.rejects(pending, CancelledError);
  });

  it("disables autoscale also after the run was cancelled (it puts the pool back)", async () => {
    const controller = new AbortController();
    controller.abort();
    let disabled = false;
    await access({ disableAutoScale: async () => void (disabled = true) }, { signal: controller.signal }).disableAutoScale();
    assert.equal(disabled, true);
  });
});
