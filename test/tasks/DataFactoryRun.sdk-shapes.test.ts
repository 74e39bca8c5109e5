/**
 * The plain functions on what @azure/arm-datafactory really hands back (the
 * SDK flattens typeProperties and parses dates), from the local Data Factory:
 * the seeded release pipeline (examples/data-factory's) checked, run,
 * followed and reported. Its activities are scripted, so the run is
 * simulated in ADF's shapes (the real Copy and Batch run are
 * test/local-azure/datafactory-e2e.test.ts's).
 */
import { strict as assert } from "node:assert";
import { localAzure, resetLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import { dataFactoryClient } from "../local-azure/datafactory/test-client";
import { activityRunsWindow, collectActivityRuns, formatEvent, RunFollower } from "../../tasks/DataFactoryRun/follow";
import { effectiveParameters, parseParameters, validateParameters } from "../../tasks/DataFactoryRun/parameters";
import { preflight } from "../../tasks/DataFactoryRun/preflight";
import { activityOutputsJson, customActivityReport } from "../../tasks/DataFactoryRun/report";
import { matchBatchTask } from "../../tasks/DataFactoryRun/logtail";

describe("DataFactoryRun logic on the SDK's shapes (local Data Factory)", function () {
  let azure: LocalAzure;
  before(async () => {
    azure = await localAzure();
  });
  afterEach(async () => {
    await resetLocalAzure();
    azure.state.dataFactory.reset();
  });

  it("validates, checks, runs, follows and reports the seeded release pipeline", async () => {
    const client = dataFactoryClient(azure);
    const rg = azure.info.resourceGroup;
    const factory = azure.info.dataFactory.factoryName;
    const pipeline = await client.pipelines.get(rg, factory, "run-batch-app");
    const linkedServices = [];
    for await (const ls of client.linkedServices.listByFactory(rg, factory)) linkedServices.push(ls);

    assert.throws(() => validateParameters([parseParameters("inputPath: input/x\n", { input: "parameters" })], { pipelineName: "run-batch-app", declared: pipeline.parameters }), /'inputPath' is not a parameter of the pipeline\. Valid: 'appFolder' and 'releaseRunId'/);
    const { parameters } = validateParameters([parseParameters('{"releaseRunId": "2"}', { input: "parameters" })], { pipelineName: "run-batch-app", declared: pipeline.parameters });
    assert.deepEqual(parameters, { releaseRunId: "2" });

    const listed: string[] = [];
    const checked = await preflight({
      pipelineName: "run-batch-app",
      factoryName: factory,
      pipeline,
      linkedServices,
      parameters: effectiveParameters(parameters, pipeline.parameters),
      strict: false,
      listBlobs: async (container, prefix, storage) => {
        listed.push(`${storage.accountName}:${container}/${prefix}`);
        return [];
      },
      readPool: async (pool) => (pool.poolName === azure.info.batch.poolId ? { enableAutoScale: false, targetDedicatedNodes: 1, targetLowPriorityNodes: 0, virtualMachineConfiguration: true } : undefined),
    });
    assert.deepEqual(listed, [`${azure.info.storage.accountName}:apps/app/current/`]);
    assert.deepEqual(
      checked.findings.map((f) => `${f.activity} ${f.check} ${f.severity}`),
      ["RunApp command info", "RunApp folderPath warning"],
      "the command holds @{pipeline().RunId}, known only once the run starts, and the folder is empty; storage and pool are right",
    );

    azure.state.dataFactory.script("run-batch-app", "StageInput", {});
    azure.state.dataFactory.script("run-batch-app", "RunApp", {});
    const { runId } = await client.pipelines.createRun(rg, factory, "run-batch-app", { parameters });
    const follower = new RunFollower({ pollIntervalSeconds: 1, initialDelaySeconds: 0.1, timeoutMinutes: 1, cancelOnTimeout: true, cancelRecursive: false }, Date.now());
    const log: string[] = [];
    let outcome;
    for (let polls = 0; polls < 200 && !outcome; polls++) {
      const run = await client.pipelineRuns.get(rg, factory, runId);
      const activities = await collectActivityRuns((continuationToken) => client.activityRuns.queryByPipelineRun(rg, factory, runId, { ...activityRunsWindow(run, Date.now()), continuationToken }));
      const step = follower.observe(run, activities, Date.now());
      log.push(...step.events.map(formatEvent));
      if (step.decision.kind === "done") outcome = step.decision.outcome;
      else if (step.decision.kind === "wait") await new Promise((r) => setTimeout(r, step.decision.kind === "wait" ? step.decision.delayMs : 0));
      else assert.fail(`unexpected decision ${JSON.stringify(step.decision)}`);
    }
    assert.ok(outcome?.succeeded, log.join("\n"));
    const lines = log.map((l) => l.replace(/ after \d+ (s|min \d+ s)\./, " after <t>."));
    assert.deepEqual(
      lines.filter((l) => l.startsWith("Activity")),
      ["Activity 'StageInput' (Copy) started.", "Activity 'StageInput' (Copy) Succeeded after <t>.", "Activity 'RunApp' (Custom) started.", "Activity 'RunApp' (Custom) Succeeded after <t>."],
    );
    assert.equal(lines[lines.length - 1], "Pipeline run is Succeeded.");

    const runApp = follower.activityRuns().find((a) => a.activityName === "RunApp")!;
    const report = await customActivityReport(runApp, undefined);
    assert.equal(report.exitCode, 0);
    assert.match(report.notes[0], /^stdout\.txt and stderr\.txt were not read \(no storage access\); they are at https:\/\/.*\/adfjobs\/[0-9a-f-]{36}\/output\/stdout\.txt and /);
    const outputs = JSON.parse(activityOutputsJson(follower.activityRuns(), [report]));
    assert.deepEqual(Object.keys(outputs), ["StageInput", "RunApp"]);
    assert.equal(outputs.RunApp.exitCode, 0);
    // The local Data Factory names the Batch task (and its adfjobs folder) by the activity run id, the first thing matchBatchTask tries.
    const taskId = /\/adfjobs\/([0-9a-f-]{36})\//.exec(String((runApp.output as { outputs: string[] }).outputs[0]))![1];
    assert.equal(taskId, runApp.activityRunId);
    assert.deepEqual(matchBatchTask(runApp, [{ id: taskId }]), { matched: true, taskId, basis: "activityRunId" });
  });
});
