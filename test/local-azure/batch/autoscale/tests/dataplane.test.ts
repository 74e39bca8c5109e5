/**
 * The engine behind the local Batch data plane: evaluateautoscale answers
 * with an AutoScaleRun, enable autoscale and pool add refuse a formula that
 * does not validate, and an autoscale pool evaluates its formula every
 * interval on the simulated clock, resizing as the formula says.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import { localAzure, resetLocalAzure } from "../../../../fixture";
import type { LocalAzure } from "../../..";
import { rejectsWith } from "../../../../harness/azure-test";
import type { PoolRecord } from "../../state";

type RestErr = { statusCode?: number; code?: string; body?: { code?: string; message?: { value?: string }; values?: { key: string; value: string }[] } };
const rejects = (promise: Promise<unknown>, check: (e: RestErr) => void) => rejectsWith<RestErr>(promise, check);
const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

const PENDING_FORMULA = `// Scale on pending tasks once 70 % of 5 minutes of samples exist; 2 tasks per node, at most 3 nodes.
percent = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);
pending = percent < 70 ? 0 : avg($PendingTasks.GetSample(TimeInterval_Minute * 5));
$TargetDedicatedNodes = pending > 0 ? min(3, max(1, pending / 2)) : 0;
$NodeDeallocationOption = taskcompletion;`;

describe("local Azure: Batch autoscale (formula engine on the data plane)", function () {
  let azure: LocalAzure;
  let client: BatchServiceClient;
  let savedMs: number;

  before(async () => {
    azure = await localAzure();
    client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
  });
  after(() => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
    azure.state.batch.taskScript = undefined;
  });
  afterEach(resetLocalAzure);

  const poolRecord = (id: string): PoolRecord => azure.batch.account().pools.get(id)!;
  const poolBody = (id: string, extra: Partial<BatchServiceModels.PoolAddParameter> = {}): BatchServiceModels.PoolAddParameter => ({
    id,
    vmSize: "standard_d2s_v3",
    virtualMachineConfiguration: {
      imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts", version: "latest" },
      nodeAgentSKUId: "batch.node.ubuntu 20.04",
    },
    ...extra,
  });

  it("evaluateautoscale returns the AutoScaleRun: results as the service prints them, formula errors inside the run; the pool is unchanged", async () => {
    const id = uid("pool");
    await client.pool.add(poolBody(id, { enableAutoScale: true, autoScaleFormula: "$TargetDedicatedNodes = 0", autoScaleEvaluationInterval: "PT5M" }));
    const before = await client.pool.get(id);

    const run = await client.pool.evaluateAutoScale(id, "$TargetDedicatedNodes=3");
    assert.equal(run.results, "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    assert.equal(run.error, undefined);
    assert.ok(Math.abs(run.timestamp.getTime() - Date.now()) < 60_000);

    const broken = await client.pool.evaluateAutoScale(id, "$TargetDedicatedNodes = 1 b = 2");
    assert.equal(broken.results, undefined);
    assert.deepEqual(broken.error, {
      code: "AutoScalingFormulaSyntaxError",
      message: "The specified auto-scaling formula has a syntax error.",
      values: [{ name: "Message", value: "Line 1, Col 27: Expected ';' before 'b': statements are separated by ';'" }],
    });

    // The pool has just been created: no history yet, so a formula demanding samples fails with the documented code.
    const starved = await client.pool.evaluateAutoScale(id, "$TargetDedicatedNodes = 4; x = avg($PendingTasks.GetSample(TimeInterval_Minute * 10, 80))");
    assert.equal(starved.error?.code, "InsufficientSampleData");
    assert.match(starved.error?.values?.[0].value ?? "", /^Line 1, Col 36: Insufficient data from data set: \$PendingTasks wanted 80%, received \d+%$/);
    assert.equal(starved.results, "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");

    const after = await client.pool.get(id);
    assert.equal(after.targetDedicatedNodes, 0);
    assert.equal(after.autoScaleFormula, "$TargetDedicatedNodes = 0");
    assert.equal(after.eTag, before.eTag);
    await client.pool.deleteMethod(id);
  });

  it("evaluateautoscale on a pool without autoscale is refused with 409", async () => {
    await rejects(client.pool.evaluateAutoScale(azure.info.batch.poolId, "$TargetDedicatedNodes = 1"), (e) => {
      assert.equal(e.statusCode, 409);
      assert.equal(e.code, "OperationNotValidOnPool");
    });
  });

  it("enable autoscale and pool add refuse a formula that does not validate, with the failing position, and change nothing", async () => {
    const id = uid("pool");
    await client.pool.add(poolBody(id, { targetDedicatedNodes: 0 }));
    await rejects(client.pool.enableAutoScale(id, { autoScaleFormula: "$TargetDedicatedNodes = min(10, $PendingTask.GetSample(1));", autoScaleEvaluationInterval: "PT5M" }), (e) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, "UndefinedVariable");
      assert.deepEqual(e.body?.values, [{ key: "Message", value: "Line 1, Col 33: '$PendingTask' is neither a system variable nor assigned before it is used" }]);
    });
    await rejects(client.pool.enableAutoScale(id, { autoScaleFormula: "$TargetDedicatedNodes = 2 +" }), (e) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, "AutoScalingFormulaSyntaxError");
      assert.match(e.body?.message?.value ?? "", /^The specified auto-scaling formula has a syntax error\.\nRequestId:/);
      assert.deepEqual(e.body?.values, [{ key: "Message", value: "Line 1, Col 28: Unexpected end of formula: expected a value" }]);
    });
    const unchanged = await client.pool.get(id);
    assert.equal(unchanged.enableAutoScale, false);
    assert.equal(unchanged.autoScaleFormula, undefined);

    const other = uid("pool");
    await rejects(client.pool.add(poolBody(other, { enableAutoScale: true, autoScaleFormula: "$NodeDeallocationOption = 3" })), (e) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, "InvalidAssignment");
    });
    await rejects(client.pool.get(other), (e) => assert.equal(e.statusCode, 404));
    await client.pool.deleteMethod(id);
  });

  it("a formula that fails on the pool's data is accepted; the pool's autoScaleRun shows the error and its size stays", async () => {
    const id = uid("pool");
    await client.pool.add(poolBody(id, { targetDedicatedNodes: 0 }));
    await client.pool.enableAutoScale(id, { autoScaleFormula: "$TargetDedicatedNodes = avg($PendingTasks.GetSample(TimeInterval_Minute * 10, 90))", autoScaleEvaluationInterval: "PT5M" });
    const pool = await client.pool.get(id);
    assert.equal(pool.enableAutoScale, true);
    assert.equal(pool.autoScaleRun?.error?.code, "InsufficientSampleData");
    assert.equal(pool.autoScaleRun?.error?.message, "Autoscale evaluation failed due to insufficient sample data");
    assert.equal(pool.targetDedicatedNodes, 0);
    await client.pool.deleteMethod(id);
  });

  it("enabling autoscale evaluates at once and resizes the pool; disabling stops the evaluations", async () => {
    const id = uid("pool");
    await client.pool.add(poolBody(id, { targetDedicatedNodes: 0 }));
    await client.pool.enableAutoScale(id, { autoScaleFormula: "$TargetDedicatedNodes = 2;", autoScaleEvaluationInterval: "PT5M" });
    const pool = await client.pool.get(id);
    assert.equal(pool.targetDedicatedNodes, 2);
    assert.equal(pool.allocationState, "resizing");
    assert.equal(pool.autoScaleRun?.results, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    const record = poolRecord(id);
    await azure.batch.waitFor(() => record.nodes.size === 2 && record.allocationState === "steady", { what: "two nodes" });

    await client.pool.disableAutoScale(id);
    const disabled = await client.pool.get(id);
    assert.equal(disabled.enableAutoScale, false);
    assert.equal(disabled.autoScaleRun, undefined);
    // A manual resize works again and no evaluation undoes it (two intervals pass).
    await client.pool.resize(id, { targetDedicatedNodes: 1 });
    await azure.batch.clock.sleep(600);
    assert.equal((await client.pool.get(id)).targetDedicatedNodes, 1);
    await client.pool.deleteMethod(id);
  });

  it("scales a pool from 0 to the pending load every interval on the simulated clock, then back to 0 without requeueing tasks", async () => {
    const id = uid("pool");
    const jobId = uid("job");
    azure.state.batch.taskScript = (job) => (job.id === jobId ? { durationSeconds: 120 } : undefined);
    await client.pool.add(poolBody(id, { enableAutoScale: true, autoScaleFormula: PENDING_FORMULA, autoScaleEvaluationInterval: "PT5M" }));
    const record = poolRecord(id);
    assert.equal(record.targetDedicatedNodes, 0);
    assert.match(String((record.autoScaleRun as { results?: string }).results), /^\$TargetDedicatedNodes=0;\$TargetLowPriorityNodes=0;\$NodeDeallocationOption=taskcompletion;pending=0;percent=10$/);

    await client.job.add({ id: jobId, poolInfo: { poolId: id } });
    await client.task.addCollection(jobId, Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, commandLine: "/bin/sh -c 'exit 0'" })));
    const job = azure.batch.account().jobs.get(jobId)!;

    // Evaluation at 5 minutes: 10 samples, nearly all with 6 pending tasks → 3 nodes (the cap).
    await azure.batch.waitFor(() => record.targetDedicatedNodes === 3, { what: "the scale-up evaluation" });
    const scaled = await client.pool.get(id);
    assert.match(scaled.autoScaleRun?.results ?? "", /^\$TargetDedicatedNodes=3;\$TargetLowPriorityNodes=0;\$NodeDeallocationOption=taskcompletion;pending=[\d.]+;percent=100$/);
    await azure.batch.waitFor(() => [...job.tasks.values()].every((t) => t.state === "completed"), { what: "all tasks complete" });
    await azure.batch.waitFor(() => record.targetDedicatedNodes === 0 && record.nodes.size === 0, { what: "the scale-down to 0" });

    const tasks = [...job.tasks.values()];
    assert.ok(tasks.every((t) => t.executionInfo.result === "success" && t.executionInfo.requeueCount === 0), "taskcompletion lets every task finish");
    const final = await client.pool.get(id);
    assert.equal(final.currentDedicatedNodes, 0);
    assert.match(final.autoScaleRun?.results ?? "", /^\$TargetDedicatedNodes=0;.*;pending=0;percent=100$/);
    await client.job.deleteMethod(jobId);
    await client.pool.deleteMethod(id);
  });
});
