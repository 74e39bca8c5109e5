import { strict as assert } from "node:assert";
import type { CustomActivity, ExecutePipelineActivity, PipelineResource, WaitActivity } from "@azure/arm-datafactory";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { allActivityRuns, dataFactoryClient, errorOf, pollRun, waitFor, window } from "../datafactory/test-client";
import type { CustomActivityContext } from "../datafactory/activities";

const wait = (name: string, seconds: unknown, dependsOn?: WaitActivity["dependsOn"]): WaitActivity => ({ name, type: "Wait", waitTimeInSeconds: seconds, dependsOn });
const custom = (name: string, command: unknown, dependsOn?: CustomActivity["dependsOn"]): CustomActivity => ({
  name,
  type: "Custom",
  command,
  dependsOn,
  linkedServiceName: { referenceName: "BatchCompute", type: "LinkedServiceReference" },
});

/**
 * The release pipeline's shape before examples/data-factory (a Wait, then a
 * Custom activity, a required Int parameter): the run engine's tests use it
 * with the Custom activity scripted, so they do not depend on Batch or Blob.
 */
const SIM = "release-sim";
const releaseSim = (): PipelineResource => ({
  parameters: { inputPath: { type: "String", defaultValue: "input/current" }, retries: { type: "Int" } },
  activities: [
    wait("StageInput", 2),
    {
      ...custom("RunApp", `/bin/sh -c 'python3 app.py "@pipeline().RunId"'`, [{ activity: "StageInput", dependencyConditions: ["Succeeded"] }]),
      policy: { timeout: "0.12:00:00", retry: 0, retryIntervalInSeconds: 30, secureOutput: false, secureInput: false },
      resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
      folderPath: "app/current",
      referenceObjects: { linkedServices: [], datasets: [] },
      extendedProperties: { inputPath: { value: "@pipeline().parameters.inputPath", type: "Expression" } },
    } as CustomActivity,
  ],
});

describe("local Azure: Data Factory pipeline runs", function () {
  let azure: LocalAzure;
  let rg: string;
  let factory: string;
  const put = (name: string, pipeline: PipelineResource) => dataFactoryClient(azure).pipelines.createOrUpdate(rg, factory, name, pipeline);
  before(async () => {
    azure = await localAzure();
    rg = azure.info.resourceGroup;
    factory = azure.info.dataFactory.factoryName;
    await put(SIM, releaseSim());
  });
  afterEach(async () => {
    await resetLocalAzure();
    azure.state.dataFactory.reset();
  });

  it("runs the release pipeline: Queued, InProgress, Succeeded, activities in dependency order with ADF's Custom output", async () => {
    // A longer queue so that polling reliably sees Queued.
    azure.state.dataFactory.timings.queueSeconds = 10;
    // Scripted: simulated in ADF's output shape (a Custom activity on the local Batch is datafactory-e2e.test.ts's).
    azure.state.dataFactory.script(SIM, "RunApp", {});
    const client = dataFactoryClient(azure);
    const before = Date.now();
    const { runId } = await client.pipelines.createRun(rg, factory, SIM, { parameters: { retries: 2, inputPath: "input/2024-06" } });
    assert.match(runId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const first = await client.pipelineRuns.get(rg, factory, runId);
    assert.equal(first.status, "Queued");
    assert.equal(first.runEnd, undefined);
    const { run, seen } = await pollRun(client, rg, factory, runId);
    assert.deepEqual(seen, ["Queued", "InProgress", "Succeeded"]);
    assert.equal(run.pipelineName, SIM);
    assert.deepEqual(run.parameters, { inputPath: "input/2024-06", retries: "2" });
    assert.deepEqual(run.invokedBy && { name: run.invokedBy.name, invokedByType: run.invokedBy.invokedByType }, { name: "Manual", invokedByType: "Manual" });
    assert.equal(run.message, "");
    assert.equal(run.runGroupId, runId);
    assert.ok(run.runStart!.getTime() >= before - 5);
    assert.equal(run.durationInMs, run.runEnd!.getTime() - run.runStart!.getTime());
    assert.ok(run.lastUpdated!.getTime() >= run.runEnd!.getTime());

    const activities = await allActivityRuns(client, rg, factory, runId);
    assert.deepEqual(activities.map((a) => [a.activityName, a.activityType, a.status]), [
      ["StageInput", "Wait", "Succeeded"],
      ["RunApp", "Custom", "Succeeded"],
    ]);
    const [stage, app] = activities;
    assert.ok(app.activityRunStart!.getTime() >= stage.activityRunEnd!.getTime(), "RunApp starts after StageInput ends");
    assert.ok(stage.activityRunStart!.getTime() >= run.runStart!.getTime());
    assert.ok(app.activityRunEnd!.getTime() <= run.runEnd!.getTime());
    assert.equal(app.durationInMs, app.activityRunEnd!.getTime() - app.activityRunStart!.getTime());
    assert.equal(app.pipelineRunId, runId);
    assert.equal(app.linkedServiceName, "BatchCompute");
    assert.deepEqual(app.error, { errorCode: "", message: "", failureType: "", target: "RunApp", details: "" });
    // A bare @pipeline().RunId in the middle of a string is literal text in ADF; the parameter expression is evaluated.
    assert.equal(app.input?.command, `/bin/sh -c 'python3 app.py "@pipeline().RunId"'`);
    assert.equal(app.input?.extendedProperties.inputPath, "input/2024-06");
    const output = app.output as Record<string, unknown>;
    assert.equal(output.exitcode, 0);
    const outputs = output.outputs as string[];
    assert.equal(outputs.length, 2);
    assert.match(outputs[0], new RegExp(`^${azure.info.storage.blobUrl.replace(/[.]/g, "\\.")}/adfjobs/[0-9a-f-]{36}/output/stdout\\.txt$`));
    assert.equal(outputs[1], outputs[0].replace("stdout.txt", "stderr.txt"));
    assert.equal(output.effectiveIntegrationRuntime, "DefaultIntegrationRuntime (West Europe)");
    assert.deepEqual(JSON.parse(output.computeInformation as string), { account: "releasebatch", poolName: "adf-pool" });
    assert.equal(typeof output.executionDuration, "number");
    assert.deepEqual(output.durationInQueue, { integrationRuntimeQueue: 0 });
    assert.deepEqual(output.billingReference, { activityType: "ExternalActivity", billableDuration: { Managed: 1 / 60 } });
  });

  it("refuses an undeclared parameter and a missing required one with 400 BadRequest", async () => {
    const client = dataFactoryClient(azure);
    const unknown = await errorOf(client.pipelines.createRun(rg, factory, SIM, { parameters: { retries: 1, colour: "blue" } }));
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.code, "BadRequest");
    assert.match(unknown.message, /'colour'.*not declared.*'release-sim'/);
    const missing = await errorOf(client.pipelines.createRun(rg, factory, SIM, { parameters: { inputPath: "x" } }));
    assert.equal(missing.statusCode, 400);
    assert.match(missing.message, /required parameter.*'retries'/);
    assert.equal(azure.state.dataFactory.runsOf(factory).filter((r) => r.parameters.colour !== undefined).length, 0);
    const noPipeline = await errorOf(client.pipelines.createRun(rg, factory, "no-such-pipeline"));
    assert.equal(noPipeline.statusCode, 404);
  });

  it("fails the run when the Custom activity fails, naming the activity and carrying its error", async () => {
    azure.state.dataFactory.script(SIM, "RunApp", {
      durationSeconds: 5,
      outcome: "Failed",
      error: { errorCode: "2504", message: "Operation returned an invalid status code 'BadRequest'.", failureType: "UserError" },
      output: { customOutput: { rows: 0 } },
    });
    const client = dataFactoryClient(azure);
    const { runId } = await client.pipelines.createRun(rg, factory, SIM, { parameters: { retries: 0 } });
    const { run } = await pollRun(client, rg, factory, runId);
    assert.equal(run.status, "Failed");
    assert.equal(run.message, "Operation on target RunApp failed: Operation returned an invalid status code 'BadRequest'.");
    const [, app] = await allActivityRuns(client, rg, factory, runId);
    assert.equal(app.status, "Failed");
    assert.deepEqual(app.error, { errorCode: "2504", message: "Operation returned an invalid status code 'BadRequest'.", failureType: "UserError", target: "RunApp", details: "" });
    assert.deepEqual((app.output as Record<string, unknown>).customOutput, { rows: 0 });
    assert.equal((app.output as Record<string, unknown>).exitcode, 1);
    assert.ok(app.durationInMs! >= 5 * 20 - 5, `scripted duration is on the time scale (${app.durationInMs} ms)`);
  });

  it("follows Failed, Succeeded, Skipped and Completed conditions; skipped activities get no activity run", async () => {
    await put("branches", {
      activities: [
        custom("Work", "run"),
        wait("OnFailure", 1, [{ activity: "Work", dependencyConditions: ["Failed"] }]),
        wait("OnSuccess", 1, [{ activity: "Work", dependencyConditions: ["Succeeded"] }]),
        wait("AfterSkip", 1, [{ activity: "OnSuccess", dependencyConditions: ["Skipped"] }]),
        wait("Always", 1, [{ activity: "Work", dependencyConditions: ["Completed"] }]),
      ],
    });
    azure.state.dataFactory.script("branches", "Work", { outcome: "Failed" });
    const client = dataFactoryClient(azure);
    const { runId } = await client.pipelines.createRun(rg, factory, "branches");
    const { run } = await pollRun(client, rg, factory, runId);
    const names = (await allActivityRuns(client, rg, factory, runId)).map((a) => `${a.activityName}:${a.status}`).sort();
    assert.deepEqual(names, ["AfterSkip:Succeeded", "Always:Succeeded", "OnFailure:Succeeded", "Work:Failed"]);
    // ADF's rule: the leaves (OnFailure, AfterSkip, Always) decide, and they all succeeded.
    assert.equal(run.status, "Succeeded");

    // If/else: the skipped leaf OnSuccess is replaced by its parent Work, which failed.
    await put("if-else", {
      activities: [
        custom("Work", "run"),
        wait("OnFailure", 1, [{ activity: "Work", dependencyConditions: ["Failed"] }]),
        wait("OnSuccess", 1, [{ activity: "Work", dependencyConditions: ["Succeeded"] }]),
      ],
    });
    azure.state.dataFactory.script("if-else", "Work", { outcome: "Failed" });
    const ifElse = await pollRun(client, rg, factory, (await client.pipelines.createRun(rg, factory, "if-else")).runId);
    assert.equal(ifElse.run.status, "Failed");
    assert.equal(ifElse.run.message, "Operation on target Work failed: Hit unexpected exception and execution failed.");

    // Try/catch: the only leaf is the failure handler, which succeeded, so the run succeeds.
    await put("try-catch", { activities: [custom("Work", "run"), wait("Handle", 1, [{ activity: "Work", dependencyConditions: ["Failed"] }])] });
    azure.state.dataFactory.script("try-catch", "Work", { outcome: "Failed" });
    const caught = await client.pipelines.createRun(rg, factory, "try-catch");
    assert.equal((await pollRun(client, rg, factory, caught.runId)).run.status, "Succeeded");
  });

  it("cancels recursively: the run and its child end Cancelled, activities in progress are Cancelled", async () => {
    await put("child-long", { activities: [wait("Sleep", 600)] });
    await put("parent", {
      activities: [
        { name: "CallChild", type: "ExecutePipeline", pipeline: { referenceName: "child-long", type: "PipelineReference" }, waitOnCompletion: true } as ExecutePipelineActivity,
        wait("Beside", 600),
        wait("After", 1, [{ activity: "Beside", dependencyConditions: ["Completed"] }]),
      ],
    });
    const client = dataFactoryClient(azure);
    const { runId } = await client.pipelines.createRun(rg, factory, "parent");
    const childRunId = async () => azure.state.dataFactory.run(runId)?.childRunIds[0];
    await waitFor(async () => {
      const id = await childRunId();
      return !!id && (await client.pipelineRuns.get(rg, factory, id)).status === "InProgress";
    }, "the child run to be in progress");
    const childId = (await childRunId())!;
    const child = await client.pipelineRuns.get(rg, factory, childId);
    assert.deepEqual({ ...child.invokedBy }, { id: runId, name: "parent", invokedByType: "PipelineActivity", pipelineName: "parent", pipelineRunId: runId });

    await client.pipelineRuns.cancel(rg, factory, runId, { isRecursive: true });
    const canceling = (await client.pipelineRuns.get(rg, factory, runId)).status;
    assert.ok(canceling === "Canceling" || canceling === "Cancelled", String(canceling));
    assert.equal((await pollRun(client, rg, factory, runId)).run.status, "Cancelled");
    assert.equal((await pollRun(client, rg, factory, childId)).run.status, "Cancelled");
    const activities = await allActivityRuns(client, rg, factory, runId);
    assert.deepEqual(activities.map((a) => `${a.activityName}:${a.status}`).sort(), ["Beside:Cancelled", "CallChild:Cancelled"]);
    assert.ok(activities.every((a) => a.activityRunEnd instanceof Date));
    assert.deepEqual((await allActivityRuns(client, rg, factory, childId)).map((a) => a.status), ["Cancelled"]);
  });

  it("queries runs by factory with filters, order and continuation tokens", async () => {
    await put("quick", { parameters: { n: { type: "Int" } }, activities: [wait("W", 0)] });
    const client = dataFactoryClient(azure);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      ids.push((await client.pipelines.createRun(rg, factory, "quick", { parameters: { n } })).runId);
      // runStart has millisecond precision here (ADF's has 100 ns): two runs in one millisecond would tie in the order.
      await new Promise((r) => setTimeout(r, 3));
    }
    for (const id of ids) await pollRun(client, rg, factory, id);
    azure.state.dataFactory.pageSize = 2;

    const pages: number[] = [];
    const found: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await client.pipelineRuns.queryByFactory(rg, factory, {
        ...window(continuationToken),
        filters: [
          { operand: "PipelineName", operator: "Equals", values: ["quick"] },
          { operand: "Status", operator: "In", values: ["Succeeded", "Failed"] },
        ],
        orderBy: [{ orderBy: "RunStart", order: "DESC" }],
      });
      pages.push(page.value.length);
      found.push(...page.value.map((r) => r.runId!));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    assert.deepEqual(pages, [2, 2, 1]);
    assert.deepEqual(found, [...ids].reverse(), "newest first");

    const one = await client.pipelineRuns.queryByFactory(rg, factory, { ...window(), filters: [{ operand: "RunGroupId", operator: "Equals", values: [ids[2]] }] });
    assert.deepEqual(one.value.map((r) => r.parameters?.n), ["2"]);
    // Other suites of the same run leave runs in this factory too: NotIn must leave out exactly the names given.
    const excluded = [SIM, "branches", "if-else", "try-catch", "parent", "child-long", "fan-out", "hooked"];
    azure.state.dataFactory.pageSize = 1000;
    const others = await client.pipelineRuns.queryByFactory(rg, factory, {
      ...window(),
      filters: [
        { operand: "PipelineName", operator: "NotIn", values: excluded },
        { operand: "Status", operator: "NotEquals", values: ["Failed"] },
      ],
    });
    assert.ok(others.value.every((r) => !excluded.includes(r.pipelineName!) && r.status !== "Failed"));
    assert.deepEqual(others.value.filter((r) => r.pipelineName === "quick").map((r) => r.runId).sort(), [...ids].sort());
    const future = await client.pipelineRuns.queryByFactory(rg, factory, { lastUpdatedAfter: new Date(Date.now() + 60_000), lastUpdatedBefore: new Date(Date.now() + 120_000) });
    assert.deepEqual(future.value, []);
    assert.equal(future.continuationToken, undefined);
    const bad = await errorOf(client.pipelineRuns.queryByFactory(rg, factory, { ...window(), filters: [{ operand: "Colour" as "PipelineName", operator: "Equals", values: ["x"] }] }));
    assert.equal(bad.statusCode, 400);
  });

  it("pages activity runs and filters them by name, type and status", async () => {
    await put("fan-out", {
      activities: [wait("A", 0), wait("B", 0), wait("C", 0), custom("D", "true"), custom("E", "false")],
    });
    azure.state.dataFactory.script("fan-out", "D", {});
    azure.state.dataFactory.script("fan-out", "E", { outcome: "Failed" });
    const client = dataFactoryClient(azure);
    const { runId } = await client.pipelines.createRun(rg, factory, "fan-out");
    await pollRun(client, rg, factory, runId);
    azure.state.dataFactory.pageSize = 2;
    const first = await client.activityRuns.queryByPipelineRun(rg, factory, runId, window());
    assert.equal(first.value.length, 2);
    assert.ok(first.continuationToken);
    const all = await allActivityRuns(client, rg, factory, runId);
    assert.deepEqual(all.map((a) => a.activityName).sort(), ["A", "B", "C", "D", "E"]);
    const customs = await client.activityRuns.queryByPipelineRun(rg, factory, runId, {
      ...window(),
      filters: [{ operand: "ActivityType", operator: "Equals", values: ["Custom"] }],
      orderBy: [{ orderBy: "ActivityName", order: "DESC" }],
    });
    assert.deepEqual(customs.value.map((a) => a.activityName), ["E", "D"]);
    const failed = await client.activityRuns.queryByPipelineRun(rg, factory, runId, { ...window(), filters: [{ operand: "Status", operator: "Equals", values: ["Failed"] }] });
    assert.deepEqual(failed.value.map((a) => a.activityName), ["E"]);
    const named = await client.activityRuns.queryByPipelineRun(rg, factory, runId, { ...window(), filters: [{ operand: "ActivityName", operator: "In", values: ["A", "C"] }] });
    assert.deepEqual(named.value.map((a) => a.activityName).sort(), ["A", "C"]);
  });

  it("answers 404 PipelineRunNotFound for an unknown run id", async () => {
    const client = dataFactoryClient(azure);
    const id = "00000000-0000-0000-0000-000000000000";
    for (const call of [client.pipelineRuns.get(rg, factory, id), client.pipelineRuns.cancel(rg, factory, id), client.activityRuns.queryByPipelineRun(rg, factory, id, window())]) {
      const e = await errorOf(call);
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, "PipelineRunNotFound");
    }
  });

  it("reruns from failure in recovery mode: the same group, only the failed activity runs again", async () => {
    let calls = 0;
    azure.state.dataFactory.script(SIM, "RunApp", () => (++calls === 1 ? { outcome: "Failed" } : { outcome: "Succeeded" }));
    const client = dataFactoryClient(azure);
    const failed = await client.pipelines.createRun(rg, factory, SIM, { parameters: { retries: 5 } });
    assert.equal((await pollRun(client, rg, factory, failed.runId)).run.status, "Failed");
    const rerun = await client.pipelines.createRun(rg, factory, SIM, { referencePipelineRunId: failed.runId, isRecovery: true, startFromFailure: true });
    const { run } = await pollRun(client, rg, factory, rerun.runId);
    assert.equal(run.status, "Succeeded");
    assert.equal(run.runGroupId, failed.runId);
    assert.deepEqual(run.parameters, { inputPath: "input/current", retries: "5" });
    assert.equal(run.isLatest, true);
    assert.equal((await client.pipelineRuns.get(rg, factory, failed.runId)).isLatest, false);
    assert.deepEqual((await allActivityRuns(client, rg, factory, rerun.runId)).map((a) => a.activityName), ["RunApp"]);
    const bad = await errorOf(client.pipelines.createRun(rg, factory, SIM, { referencePipelineRunId: "not-a-run" }));
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.code, "ReferencedPipelineRunNotValid");
  });

  it("hands Custom activities to the replaceable runner with the evaluated command and Batch details", async () => {
    await put("hooked", {
      parameters: { label: { type: "String", defaultValue: "nightly" } },
      activities: [
        {
          ...custom("RunApp", "python3 app.py --run @{pipeline().RunId} --label @{pipeline().parameters.label}"),
          resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
          folderPath: "app/current",
        } as CustomActivity,
        wait("UseOutput", "@activity('RunApp').output.customOutput.waitSeconds", [{ activity: "RunApp", dependencyConditions: ["Succeeded"] }]),
      ],
    });
    const contexts: CustomActivityContext[] = [];
    azure.state.dataFactory.customActivityRunner = async (ctx) => {
      contexts.push(ctx);
      return { status: "Succeeded", output: { exitcode: 0, customOutput: { waitSeconds: 1 } } };
    };
    const client = dataFactoryClient(azure);
    const { runId } = await client.pipelines.createRun(rg, factory, "hooked");
    assert.equal((await pollRun(client, rg, factory, runId)).run.status, "Succeeded");
    assert.equal(contexts.length, 1);
    const [ctx] = contexts;
    assert.equal(ctx.command, `python3 app.py --run ${runId} --label nightly`);
    assert.deepEqual(ctx.batch, { linkedServiceName: "BatchCompute", accountName: "releasebatch", batchUri: "https://releasebatch.westeurope.batch.azure.com", poolName: "adf-pool", jobId: "adfv2-adf-pool" });
    assert.deepEqual(ctx.staging, { linkedServiceName: "StagingStorage", accountName: azure.info.storage.accountName });
    assert.deepEqual(ctx.resources, { linkedServiceName: "StagingStorage", accountName: azure.info.storage.accountName, folderPath: "app/current" });
    assert.equal(ctx.adfJobsUrl, `${azure.info.storage.blobUrl}/adfjobs/${ctx.taskId}/`);
    const useOutput = (await allActivityRuns(client, rg, factory, runId)).find((a) => a.activityName === "UseOutput");
    assert.deepEqual(useOutput?.input, { waitTimeInSeconds: 1 });
  });
});
