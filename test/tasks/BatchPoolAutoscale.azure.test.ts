/**
 * BatchPoolAutoscale's adapter over @azure/batch (azure.ts), on a client
 * whose pool operations are scripted with the errors ms-rest-js makes of
 * Batch's answers: what each failure becomes, retries, time limits.
 */
import { strict as assert } from "node:assert";
import type { BatchServiceClient } from "@azure/batch";
import { RestError } from "@azure/ms-rest-js";
import { CancelledError, TaskError, TimeoutError } from "../../runtime/errors";
import { batchPoolAccess, PoolNotFoundError } from "../../tasks/BatchPoolAutoscale/azure";
import { FormulaEvaluationError } from "../../tasks/BatchPoolAutoscale/plan";

/** A RestError as ms-rest-js's deserialization leaves it for a Batch error: `message` holds Batch's { lang, value }. */
function batchError(status: number, code: string, message: string, values: { key: string; value: string }[] = []): RestError {
  const error = new RestError("", code, status);
  const body = { code, message: { lang: "en-US", value: `${message}\nRequestId:0b7a3c2e-1111-4f6e-9d1a-5f0c2a7d9e10\nTime:2026-12-03T10:00:00.0000000Z` }, values };
  Object.assign(error, { message: body.message, body });
  return error;
}

type PoolOps = Partial<Record<"get" | "list" | "enableAutoScale" | "evaluateAutoScale" | "disableAutoScale" | "patch", (...args: unknown[]) => Promise<unknown>>>;

function access(ops: PoolOps, o: { signal?: AbortSignal; requestTimeoutMs?: number; onRetry?: (m: string) => void; enableRetryMs?: number } = {}) {
  const client = { pool: ops } as unknown as BatchServiceClient;
  return batchPoolAccess(client, "adf-pool", { accountName: "releasebatch", signal: o.signal ?? new AbortController().signal, requestTimeoutMs: o.requestTimeoutMs, onRetry: o.onRetry, enableRetryMs: o.enableRetryMs ?? 5 });
}

const FORMULA = "maxNodes = 4;\n$TargetDedicatedNodes = min(maxNodes, $PendingTask);\n";

describe("BatchPoolAutoscale Batch adapter", () => {
  it("reads a pool into what the plan needs, defaults made explicit", async () => {
    const pool = await access({
      get: async () => ({ id: "adf-pool", state: "active", vmSize: "standard_d2s_v3", enableAutoScale: true, autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M", allocationState: "steady", targetDedicatedNodes: 0, autoScaleRun: { timestamp: new Date("2026-12-03T10:00:00Z"), results: "$TargetDedicatedNodes=0" } }),
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
      autoScaleFormula: "$TargetDedicatedNodes = 0;",
      autoScaleEvaluationInterval: "PT5M",
      autoScaleRun: { timestamp: new Date("2026-12-03T10:00:00Z"), results: "$TargetDedicatedNodes=0" },
    });
  });

  it("a missing pool is PoolNotFoundError with Batch's message on one line", async () => {
    await assert.rejects(access({ get: async () => Promise.reject(batchError(404, "PoolNotFound", "The specified pool does not exist.")) }).read(), (e: unknown) => {
      assert.ok(e instanceof PoolNotFoundError);
      assert.equal(e.message, "Pool 'adf-pool' was not found (PoolNotFound (HTTP 404): The specified pool does not exist.).");
      return true;
    });
  });

  it("a formula Batch refuses on enable is a FormulaEvaluationError with the failing statement", async () => {
    const refusal = batchError(400, "InvalidAutoScalingFormula", "The specified auto-scaling formula has a syntax error.", [{ key: "Message", value: "Line 2, Col 37: '$PendingTask' is neither a system variable nor assigned before it is used" }]);
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
    let calls = 0;
    const retries: string[] = [];
    await access(
      {
        enableAutoScale: async () => {
          calls++;
          if (calls < 3) throw batchError(409, "TooManyEnableAutoScaleRequests", "Too many Enable Pool AutoScale requests are issued on the pool.");
          return {};
        },
      },
      { onRetry: (m) => retries.push(m) },
    ).enableAutoScale({ autoScaleFormula: "$TargetDedicatedNodes = 1;" });
    assert.equal(calls, 3);
    assert.deepEqual(retries, Array(2).fill("Batch refused another Enable Auto Scale call on pool 'adf-pool' within 30 seconds; trying again in 1 s."));
    await assert.rejects(
      access({ enableAutoScale: async () => Promise.reject(batchError(409, "TooManyEnableAutoScaleRequests", "Too many Enable Pool AutoScale requests are issued on the pool.")) }).enableAutoScale({ autoScaleEvaluationInterval: "PT5M" }),
      (e: unknown) => e instanceof TaskError && e.code === "TooManyEnableAutoScaleRequests" && /Run the task again in a minute\.$/.test(e.message),
    );
  });

  it("says which role is missing when Batch refuses the identity", async () => {
    await assert.rejects(
      access({ patch: async () => Promise.reject(batchError(403, "AuthorizationFailed", "This request is not authorized to perform this operation.")) }).patchPool({ startTask: { commandLine: "/bin/sh -c true" } }),
      (e: unknown) =>
        e instanceof TaskError &&
        e.code === "AuthorizationFailed" &&
        e.message ===
          "The service connection may not change pool 'adf-pool' of Batch account 'releasebatch' (updating the start task and application packages: AuthorizationFailed (HTTP 403): This request is not authorized to perform this operation.). Grant its identity a role with Microsoft.Batch/batchAccounts/pools/write on the Batch account (for example Contributor; role assignments can take a few minutes to apply), or use authType 'sharedKey'.",
    );
  });

  it("gives up on a request Batch does not answer in time, and stops on cancel", async () => {
    const hang = (...args: unknown[]) =>
      new Promise((_, reject) => {
        const signal = (args.at(-1) as { abortSignal: AbortSignal }).abortSignal;
        signal.addEventListener("abort", () => reject(new RestError("The request was aborted", "REQUEST_ABORTED_ERROR")));
      });
    await assert.rejects(access({ evaluateAutoScale: hang }, { requestTimeoutMs: 30 }).evaluateAutoScale(FORMULA), (e: unknown) => e instanceof TimeoutError && e.message === "Batch did not answer evaluating the formula on pool 'adf-pool' within 1 s.");
    const controller = new AbortController();
    const pending = access({ get: hang }, { signal: controller.signal }).read();
    controller.abort();
    await assert.rejects(pending, CancelledError);
  });

  it("disables autoscale also after the run was cancelled (it puts the pool back)", async () => {
    const controller = new AbortController();
    controller.abort();
    let disabled = false;
    await access({ disableAutoScale: async () => ((disabled = true), {}) }, { signal: controller.signal }).disableAutoScale();
    assert.equal(disabled, true);
  });

  it("retries a throttled call as long as Batch asks", async () => {
    let calls = 0;
    const retries: string[] = [];
    const throttled = Object.assign(batchError(429, "TooManyRequests", "Too many requests."), { response: { headers: { get: (n: string) => (n === "retry-after-ms" ? "5" : undefined) } } });
    const run = await access(
      {
        evaluateAutoScale: async () => {
          if (++calls === 1) throw throttled;
          return { timestamp: new Date(), results: "$TargetDedicatedNodes=1" };
        },
      },
      { onRetry: (m) => retries.push(m) },
    ).evaluateAutoScale(FORMULA);
    assert.equal(run.results, "$TargetDedicatedNodes=1");
    assert.deepEqual(retries, ["Batch throttled evaluating the formula on pool 'adf-pool'; retrying in 1 s (attempt 2)."]);
  });
});
