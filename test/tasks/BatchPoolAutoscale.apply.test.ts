/**
 * BatchPoolAutoscale's flow (apply.ts) on a scripted pool: what it waits
 * for, what it refuses, and which calls it makes. The bundled task against
 * the local Azure is in BatchPoolAutoscale.test.ts.
 */
import { strict as assert } from "node:assert";
import { CancelledError, InputError, TimeoutError } from "../../runtime/errors";
import { applyAutoscale, describePool, formulaLines, oneLine, type ApplyRequest } from "../../tasks/BatchPoolAutoscale/apply";
import { PoolNotFoundError, type PoolAccess, type PoolView } from "../../tasks/BatchPoolAutoscale/azure";
import { readAutoscaleInputs } from "../../tasks/BatchPoolAutoscale/inputs";

const FORMULA = "$TargetDedicatedNodes = 1;\n$NodeDeallocationOption = taskcompletion;\n";

/** A pool whose reads follow a script (the last read repeats); every call is recorded. */
function scriptedPool(reads: (PoolView | Error)[], options: { pools?: string[] | Error } = {}) {
  const calls: string[] = [];
  let index = 0;
  const access: PoolAccess = {
    poolId: "adf-pool",
    async read() {
      calls.push("read");
      const next = reads[Math.min(index++, reads.length - 1)];
      if (next instanceof Error) throw next;
      return structuredClone(next);
    },
    async listPoolIds() {
      calls.push("list");
      if (options.pools instanceof Error) throw options.pools;
      return options.pools ?? [];
    },
    async enableAutoScale(p) {
      calls.push(`enable ${JSON.stringify(p)}`);
    },
    async evaluateAutoScale() {
      calls.push("evaluate");
      return { results: "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion" };
    },
    async disableAutoScale() {
      calls.push("disable");
    },
    async patchPool() {
      calls.push("patch");
    },
  };
  return { access, calls };
}

const fixedPool = (o: Partial<PoolView> = {}): PoolView => ({
  id: "adf-pool",
  state: "active",
  vmSize: "standard_d2s_v3",
  enableAutoScale: false,
  allocationState: "steady",
  currentDedicatedNodes: 0,
  targetDedicatedNodes: 0,
  currentLowPriorityNodes: 0,
  targetLowPriorityNodes: 0,
  ...o,
});

function request(inputs: Record<string, string>, o: Partial<ApplyRequest> = {}): ApplyRequest {
  return {
    settings: readAutoscaleInputs({ get: (n) => inputs[n] }),
    accountName: "releasebatch",
    accountResourceId: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/releasebatch",
    failInput: (name, message) => {
      throw new InputError(name, `Input '${name}': ${message}`);
    },
    signal: new AbortController().signal,
    steadyPollMs: 5,
    ...o,
  };
}

function recorder() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(m), warning: (m: string) => lines.push(`warning: ${m}`), debug: (m: string) => lines.push(`debug: ${m}`) } };
}

describe("BatchPoolAutoscale apply", () => {
  it("waits for a resize in progress before enabling autoscale, then keeps the targets the resize reached", async () => {
    const resizing = fixedPool({ allocationState: "resizing", currentDedicatedNodes: 1, targetDedicatedNodes: 2 });
    const { access, calls } = scriptedPool([resizing, resizing, resizing, fixedPool({ currentDedicatedNodes: 2, targetDedicatedNodes: 2 })]);
    const { lines, log } = recorder();
    const result = await applyAutoscale(access, request({ formula: FORMULA, dryRun: "true" }), log);
    assert.deepEqual(calls, [
      "read",
      "read",
      "read",
      "read",
      `enable ${JSON.stringify({ autoScaleFormula: "$TargetDedicatedNodes = 2;\n$TargetLowPriorityNodes = 0;\n", autoScaleEvaluationInterval: "PT5M" })}`,
      "evaluate",
      "disable",
    ]);
    assert.ok(lines.includes("Pool 'adf-pool' is resizing: waiting for that to end, since Batch refuses to enable autoscale during a resize."), lines.join("\n"));
    assert.equal(result.before.targetDedicatedNodes, 2);
    assert.equal(result.outcome.evaluation?.targetDedicatedNodes, 1);
    assert.ok(lines.includes("Dry run: autoscale was disabled again on pool 'adf-pool'; it keeps its targets and nothing else changed."));
  });

  it("gives up on a resize that does not end, having changed nothing", async () => {
    const { access, calls } = scriptedPool([fixedPool({ allocationState: "resizing", currentDedicatedNodes: 1, targetDedicatedNodes: 3 })]);
    await assert.rejects(
      applyAutoscale(access, request({ formula: FORMULA }, { steadyTimeoutMs: 40 }), recorder().log),
      (e: unknown) => e instanceof TimeoutError && /^Timed out after \d+ s waiting for pool 'adf-pool' to finish resizing \(last status: resizing, 1 nodes\)\.$/.test(e.message),
    );
    assert.ok(calls.every((c) => c === "read"), calls.join(", "));
  });

  it("stops waiting when the run is cancelled", async () => {
    const controller = new AbortController();
    const { access, calls } = scriptedPool([fixedPool({ allocationState: "stopping" })]);
    const run = applyAutoscale(access, request({ formula: FORMULA }, { signal: controller.signal, steadyPollMs: 1000 }), recorder().log);
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(run, CancelledError);
    assert.ok(calls.every((c) => c === "read"));
  });

  it("does not wait for a resize on a pool that already has autoscale (nothing is enabled first)", async () => {
    const { access, calls } = scriptedPool([fixedPool({ enableAutoScale: true, autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT5M", allocationState: "resizing", targetDedicatedNodes: 1 })]);
    const { lines, log } = recorder();
    await applyAutoscale(access, request({ formula: FORMULA }), log);
    assert.deepEqual(calls, ["read", "evaluate"]);
    assert.ok(lines.includes("Autoscale on pool 'adf-pool' already has this formula and interval (5 minutes): no call made."));
  });

  it("refuses a pool that is being deleted, naming the poolId input", async () => {
    const { access, calls } = scriptedPool([fixedPool({ state: "deleting" })]);
    await assert.rejects(applyAutoscale(access, request({ formula: FORMULA }), recorder().log), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.input, "poolId");
      assert.equal(e.message, "Input 'poolId': pool 'adf-pool' of Batch account 'releasebatch' is being deleted: autoscale can be set only on an active pool.");
      return true;
    });
    assert.deepEqual(calls, ["read"]);
  });

  it("names the poolId input for a pool that does not exist, with the account's pools when it can list them", async () => {
    const missing = new PoolNotFoundError("adf-pool", new Error("Batch Pool_Get failed: PoolNotFound (HTTP 404): The specified pool does not exist."));
    const withList = scriptedPool([missing], { pools: ["render", "etl"] });
    await assert.rejects(applyAutoscale(withList.access, request({}), recorder().log), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.input, "poolId");
      assert.equal(e.message, "Input 'poolId': no pool named 'adf-pool' in Batch account 'releasebatch'. The service connection can see: render, etl.");
      return true;
    });
    const empty = scriptedPool([missing], { pools: [] });
    await assert.rejects(applyAutoscale(empty.access, request({}), recorder().log), (e: Error) => e.message === "Input 'poolId': no pool named 'adf-pool' in Batch account 'releasebatch'. The service connection sees no pools there.");
    const unlisted = scriptedPool([missing], { pools: new Error("403") });
    await assert.rejects(applyAutoscale(unlisted.access, request({}), recorder().log), (e: Error) => e.message === "Input 'poolId': no pool named 'adf-pool' in Batch account 'releasebatch'.");
    assert.deepEqual(unlisted.calls, ["read", "list"]);
  });

  it("reads the pool back after a change and warns when Batch's own evaluation of it failed", async () => {
    const after = fixedPool({
      enableAutoScale: true,
      autoScaleFormula: FORMULA,
      autoScaleEvaluationInterval: "PT5M",
      autoScaleRun: { error: { code: "InsufficientSampleData", message: "Autoscale evaluation failed due to insufficient sample data", values: [{ name: "Message", value: "Line 1, Col 25: Insufficient data" }] } },
    });
    const { access, calls } = scriptedPool([fixedPool({ enableAutoScale: true, autoScaleFormula: "$TargetDedicatedNodes = 0;", autoScaleEvaluationInterval: "PT5M" }), after]);
    const { lines, log } = recorder();
    await applyAutoscale(access, request({ formula: FORMULA }), log);
    assert.deepEqual(calls, ["read", "evaluate", `enable ${JSON.stringify({ autoScaleFormula: FORMULA })}`, "read"]);
    assert.ok(
      lines.includes(
        "warning: Batch's own evaluation of the new formula on pool 'adf-pool' failed: The autoscale formula does not evaluate: InsufficientSampleData: Autoscale evaluation failed due to insufficient sample data. Line 1, Col 25: Insufficient data. Failing statement (line 1, column 25): $TargetDedicatedNodes = 1;",
      ),
      lines.join("\n"),
    );
  });

  it("with only the start task to change: patches, reads back, and shows no old evaluation as the new one's", async () => {
    const current = fixedPool({ enableAutoScale: true, autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT5M", autoScaleRun: { results: "$TargetDedicatedNodes=0" } });
    const { access, calls } = scriptedPool([current, current]);
    const { lines, log } = recorder();
    const result = await applyAutoscale(access, request({ formula: FORMULA, startTaskCommandLine: "/bin/sh -c true" }), log);
    assert.deepEqual(calls, ["read", "evaluate", "patch", "read"]);
    assert.equal(result.plan.autoscale, "none");
    assert.ok(!lines.some((l) => l.startsWith("Batch's own evaluation")), lines.join("\n"));
    assert.ok(lines.includes("The start task reaches nodes when they next join the pool or reboot (BatchPoolCycle@1 reboots nodes safely); nodes already running keep what they have."));
  });

  it("describes a pool on one line, and a formula's lines without trailing blank lines", () => {
    assert.equal(
      describePool(fixedPool({ enableAutoScale: true, autoScaleEvaluationInterval: "PT10M", currentDedicatedNodes: 2, targetDedicatedNodes: 3, targetLowPriorityNodes: 1 }), "Pool 'adf-pool'"),
      "Pool 'adf-pool' (standard_d2s_v3): autoscale on, evaluated every 10 minutes; 2 dedicated and 0 Spot/low-priority nodes (targets 3 and 1); allocation steady.",
    );
    assert.deepEqual(formulaLines("a = 1;\r\nb = 2;\r\n\r\n"), ["a = 1;", "b = 2;"]);
    assert.equal(oneLine("Headline: x\n  detail one\n  detail two;\n\n  last"), "Headline: x. detail one. detail two; last");
  });
});
