/**
 * DataFactoryRun@1, run as the agent runs it (the bundled task in a child
 * process) against the local Azure: the local Data Factory runs the pipelines,
 * and their Custom activities run as real /bin/sh processes on a node of the
 * local Batch (job adfv2-<pool>, stdout/stderr copied to adfjobs/ when they
 * end), as its Batch linked service points there. One scenario per test.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import { findLeakedSecrets, runTask, type TaskRunOptions, type TaskRunResult } from "../harness/run-task";
import type { LocalAzure } from "../local-azure";
import type { PoolRecord } from "../local-azure/batch/state";
import type { ActivityDefinition, PipelineProperties } from "../local-azure/datafactory/types";

const POOL = "dfrun-pool";
const BATCH_LS = "BatchDfRun";
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * The application the Custom activities run, by mode: `ok` (a line, a
 * warning on stderr, outputs.json), `fail` (stderr, exit 3), `ticks N` (a
 * line a second, then a logging command), `sleep` (until cancelled).
 */
const APP = `mode="$1"; run="$2"
case "$mode" in
  ok) echo "processing $3 items for run $run"; echo "note: nothing to skip" >&2; printf '{"rows": %s, "run": "%s"}' "$3" "$run" > outputs.json ;;
  fail) echo "loading input"; echo "Traceback (most recent call last):" >&2; echo "ValueError: input/2024-06 is empty" >&2; exit 3 ;;
  ticks) i=1; while [ "$i" -le "$3" ]; do echo "tick $i"; i=$((i+1)); sleep 1; done; echo "##vso[task.setvariable variable=Injected]pwned"; echo "ticks done" >&2 ;;
  sleep) echo "started sleeping"; sleep 600 ;;
esac
`;

const custom = (name: string, args: string, dependsOn: ActivityDefinition["dependsOn"] = []): ActivityDefinition => ({
  name,
  type: "Custom",
  dependsOn,
  userProperties: [],
  linkedServiceName: { referenceName: BATCH_LS, type: "LinkedServiceReference" },
  typeProperties: {
    // The run id makes each command, so each Batch task, unique.
    command: `/bin/sh -c 'sh app.sh ${args}'`,
    resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
    folderPath: "apps/dfrun",
    referenceObjects: { linkedServices: [], datasets: [] },
  },
});
const wait = (name: string, seconds: number, dependsOn: ActivityDefinition["dependsOn"] = []): ActivityDefinition => ({ name, type: "Wait", dependsOn, userProperties: [], typeProperties: { waitTimeInSeconds: seconds } });
const succeeded = (activity: string) => [{ activity, dependencyConditions: ["Succeeded" as const] }];

const PIPELINES: Record<string, PipelineProperties> = {
  "dfrun-ok": {
    parameters: { count: { type: "Int" }, label: { type: "String", defaultValue: "nightly" } },
    activities: [wait("Prepare", 1), custom("RunApp", "ok @{pipeline().RunId} @{pipeline().parameters.count}", succeeded("Prepare"))],
  },
  "dfrun-fail": { activities: [custom("Transform", "fail @{pipeline().RunId}")] },
  "dfrun-ticks": { activities: [custom("Tail", "ticks @{pipeline().RunId} 8")] },
  "dfrun-sleep": { activities: [custom("Sleeper", "sleep @{pipeline().RunId}")] },
  "dfrun-parent": {
    activities: [{ name: "CallSleep", type: "ExecutePipeline", dependsOn: [], userProperties: [], typeProperties: { pipeline: { referenceName: "dfrun-sleep", type: "PipelineReference" }, waitOnCompletion: true } }],
  },
  "dfrun-recover": { activities: [wait("Stage", 1), wait("Process", 1, succeeded("Stage"))] },
  "dfrun-wide": { activities: ["A", "B", "C", "D", "E"].map((n) => wait(n, 1)) },
  "dfrun-secret": {
    parameters: { apiKey: { type: "SecureString" }, count: { type: "Int", defaultValue: 2 } },
    activities: [custom("RunApp", "ok @{pipeline().RunId} @{pipeline().parameters.count}")],
  },
};

describe("DataFactoryRun@1", function () {
  this.timeout(120_000);
  let azure: LocalAzure;
  let rg: string;
  let factory: string;
  let pool: PoolRecord;

  const df = () => azure.state.dataFactory;
  const container = (accountName: string, name: string) => {
    const storage = azure.state.storage;
    const key = [...storage.accounts.values()].find((a) => a.name === accountName)!.keys[0];
    return new ContainerClient(`${storage.blobBaseUrl}/${accountName}/${name}`, new StorageSharedKeyCredential(accountName, key));
  };

  before(async () => {
    azure = await localAzure();
    rg = azure.info.resourceGroup;
    factory = azure.info.dataFactory.factoryName;
    const account = azure.batch.account();
    pool = azure.batch.addPool(account, {
      id: POOL,
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts", version: "latest" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: 1,
      enableAutoScale: false,
    });
    await azure.batch.waitFor(() => [...pool.nodes.values()].some((n) => n.state === "idle"), { what: "an idle node in the pool", timeoutMs: 30_000 });
    const apps = container(azure.info.storage.accountName, "apps");
    await apps.createIfNotExists();
    await apps.getBlockBlobClient("dfrun/app.sh").uploadData(Buffer.from(APP));
    df().putLinkedService(factory, BATCH_LS, {
      type: "AzureBatch",
      typeProperties: {
        accountName: azure.info.batch.accountName,
        batchUri: `https://${azure.info.batch.accountName}.westeurope.batch.azure.com`,
        poolName: POOL,
        linkedServiceName: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
        accessKey: { type: "SecureString", value: azure.info.batch.accountKey },
      },
    });
    for (const [name, properties] of Object.entries(PIPELINES)) df().putPipeline(factory, name, properties);
  });
  afterEach(async () => {
    await resetLocalAzure();
    df().reset();
  });
  after(() => {
    azure.batch.deletePool(azure.batch.account(), pool);
  });

  function run(inputs: TaskRunOptions["inputs"], extra: Partial<TaskRunOptions> = {}): Promise<TaskRunResult> {
    return runTask({
      task: "DataFactoryRun",
      env: azure.info.env,
      inputs: { azureSubscription: "LocalAzure", resourceGroupName: rg, factoryName: factory, ...inputs },
      ...extra,
    });
  }
  const explain = (r: TaskRunResult) => `result ${r.result}: ${r.message}\n${r.lines.join("\n").slice(-5000)}\n${r.stderr.slice(-2000)}`;
  const runIdOf = (r: TaskRunResult) => r.outputs.PipelineRunId?.value;
  const localRun = (r: TaskRunResult) => df().run(runIdOf(r) ?? "");
  const summaryOf = (r: TaskRunResult) => (assert.equal(r.summaryFiles.length, 1, "one summary"), fs.readFileSync(r.summaryFiles[0], "utf8"));
  const createRunRequests = (pipeline: string) => azure.log.find({ service: "arm", method: "POST", path: new RegExp(`/pipelines/${pipeline}/createRun$`) });

  it("succeeds: parameters from a YAML file and inline, activity lines, the Custom activity's result, outputs and the summary", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dfrun-"));
    const file = path.join(dir, "parameters.yml");
    fs.writeFileSync(file, "count: 1\nlabel: from-file\n");
    const r = await run({ pipelineName: "dfrun-ok", parametersFile: file, parameters: '{ "count": "3" }', pollIntervalSeconds: 5 });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.exitCode, 0);
    const runId = runIdOf(r)!;
    assert.match(runId, GUID);
    const record = localRun(r)!;
    assert.equal(record.status, "Succeeded");
    // The body is the flat parameter object: the inline count (text taken as the Int) over the file's, the file's label.
    assert.deepEqual(record.parameters, { count: 3, label: "from-file" });
    assert.ok(r.lines.includes("Parameter 'count' is in both parametersFile and parameters; the inline value is used."), explain(r));
    assert.ok(r.lines.includes("Parameter 'count': the text '3' taken as the Int 3."));
    assert.ok(r.lines.some((l) => /^Pre-flight: 1 Custom activity checked \(RunApp\), 0 warning\(s\)\.$/.test(l)), explain(r));
    assert.deepEqual(r.issues, [], "no warnings: the pipeline is right");

    // Activities as they start and end, in order, the run's status first and last.
    const events = r.lines.filter((l) => /^(Activity|Pipeline run is)/.test(l)).map((l) => l.replace(/ after \d+ s\./, " after <t>."));
    assert.equal(events[0], "Pipeline run is Queued.");
    assert.deepEqual(
      events.filter((l) => l.startsWith("Activity")),
      ["Activity 'Prepare' (Wait) started.", "Activity 'Prepare' (Wait) Succeeded after <t>.", "Activity 'RunApp' (Custom) started.", "Activity 'RunApp' (Custom) Succeeded after <t>."],
    );
    assert.equal(events[events.length - 1], "Pipeline run is Succeeded.");
    // The live log printed the application's output, prefixed with the activity's name.
    assert.ok(r.lines.includes(`[RunApp] processing 3 items for run ${runId}`), explain(r));
    assert.ok(r.lines.includes("[RunApp stderr] note: nothing to skip"));
    assert.ok(r.lines.some((l) => /^Custom activity 'RunApp': Succeeded, exit code 0, \d+ s\.$/.test(l)), explain(r));
    assert.ok(r.lines.includes(`  customOutput: {"rows":3,"run":"${runId}"}`));

    // Outputs.
    assert.equal(r.outputs.PipelineRunStatus.value, "Succeeded");
    const factoryId = `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/${factory}`;
    const url = `https://adf.azure.com/en/monitoring/pipelineruns/${runId}?factory=${encodeURIComponent(factoryId)}`;
    assert.equal(r.outputs.PipelineRunUrl.value, url);
    const outputs = JSON.parse(r.outputs.ActivityOutputs.value) as Record<string, { status: string; type: string; exitCode?: number; customOutput?: unknown; durationMs?: number }>;
    assert.deepEqual(Object.keys(outputs), ["Prepare", "RunApp"]);
    assert.equal(outputs.Prepare.status, "Succeeded");
    assert.deepEqual({ status: outputs.RunApp.status, type: outputs.RunApp.type, exitCode: outputs.RunApp.exitCode, customOutput: outputs.RunApp.customOutput }, { status: "Succeeded", type: "Custom", exitCode: 0, customOutput: { rows: 3, run: runId } });
    assert.equal(typeof outputs.RunApp.durationMs, "number");
    assert.equal(r.message, `Pipeline run ${runId} Succeeded in ${r.message?.match(/in (.*)\.$/)?.[1]}.`);

    // The summary tab.
    const summary = summaryOf(r);
    assert.match(summary, /^### Data Factory pipeline 'dfrun-ok': Succeeded\n/);
    assert.ok(summary.includes(`| Run ID | ${runId} |`));
    assert.ok(summary.includes("| Parameters | count = 3, label = from-file |"));
    assert.ok(summary.includes(`| Data Factory Studio | [Open the run](${url}) |`));
    assert.match(summary, /\| RunApp \| Custom \| Succeeded \| \d+ s \| 0 \|/);
    assert.match(summary, /\| Prepare \| Wait \| Succeeded \| \d+ s \| {2}\|/);
    assert.ok(summary.includes(`#### Custom activity 'RunApp': exit code 0`));
    assert.ok(summary.includes(`processing 3 items for run ${runId}`), summary);
    assert.ok(summary.includes('"rows": 3'));
  });

  it("fails with the run's message, the Custom activity's exit code, its error and the tail of its stderr", async () => {
    const r = await run({ pipelineName: "dfrun-fail" });
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(r.exitCode, 1);
    const runId = runIdOf(r)!;
    assert.equal(localRun(r)?.status, "Failed");
    assert.equal(r.message, `Pipeline run ${runId} Failed: Operation on target Transform failed: Hit unexpected exception and execution failed. Activity 'Transform' (Custom) failed with error 2500: Hit unexpected exception and execution failed.`);
    assert.ok(r.lines.some((l) => /^Custom activity 'Transform': Failed, exit code 3, \d+ s\.$/.test(l)), explain(r));
    assert.ok(r.lines.includes("  Error 2500: Hit unexpected exception and execution failed."));
    // The stderr tail beside the error, from the blob the activity's outputs point to.
    const at = r.lines.findIndex((l) => /^ {2}stderr\.txt, https:\/\/.*\/adfjobs\/[0-9a-f-]{36}\/output\/stderr\.txt:$/.test(l));
    assert.ok(at > 0, explain(r));
    assert.deepEqual(r.lines.slice(at + 1, at + 3), ["    Traceback (most recent call last):", "    ValueError: input/2024-06 is empty"]);
    assert.equal(r.outputs.PipelineRunStatus.value, "Failed");
    const outputs = JSON.parse(r.outputs.ActivityOutputs.value);
    assert.deepEqual(outputs.Transform.error, { errorCode: "2500", message: "Hit unexpected exception and execution failed." });
    assert.equal(outputs.Transform.exitCode, 3);
    const summary = summaryOf(r);
    assert.match(summary, /\| Transform \| Custom \| Failed \| \d+ s \| 3 \|/);
    assert.ok(summary.includes("#### Failure"));
    assert.ok(summary.includes("- Activity 'Transform' (Custom) failed with error 2500: Hit unexpected exception and execution failed."));
    assert.ok(summary.includes("ValueError: input/2024-06 is empty"));
  });

  it("prints the live log of a Custom activity while it runs: new lines only, in order, none twice, escaped", async () => {
    let runId: string | undefined;
    const whileInProgress: string[] = [];
    const r = await run(
      { pipelineName: "dfrun-ticks", pollIntervalSeconds: 5 },
      {
        onLine: (line) => {
          runId ??= /^Started pipeline run ([0-9a-f-]{36})\./.exec(line)?.[1];
          if (!line.startsWith("[Tail]") || !runId) return;
          // What the local Azure says at the moment the line reaches the log.
          const activity = df().run(runId)?.activityRuns.find((a) => a.activityName === "Tail");
          if (activity?.status === "InProgress") whileInProgress.push(line);
        },
      },
    );
    assert.equal(r.result, "Succeeded", explain(r));
    const ticks = r.lines.filter((l) => l.startsWith("[Tail] "));
    assert.deepEqual(ticks.slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `[Tail] tick ${n}`), "every line once, in order");
    assert.equal(ticks.length, 9);
    // The application's logging command is printed as text, never run.
    assert.equal(ticks[8], "[Tail] #\u200b#vso[task.setvariable variable=Injected]pwned");
    assert.ok(!r.commands.some((c) => c.props.variable === "Injected"), "no variable was set by the application");
    assert.deepEqual(r.lines.filter((l) => l.startsWith("[Tail stderr] ")), ["[Tail stderr] ticks done"]);
    // Printed while the activity ran (the local Azure had it InProgress), not at the end.
    assert.ok(whileInProgress.length >= 3, `lines printed while the activity was in progress: ${whileInProgress.join(" | ")}`);
    assert.deepEqual(whileInProgress, ticks.slice(0, whileInProgress.length));
    // The live log read stdout.txt in parts as it grew, through the Batch task's files.
    const task = [...azure.batch.account().jobs.get(`adfv2-${POOL}`)!.tasks.values()].find((t) => t.commandLine.includes(runId!))!;
    const reads = azure.log.find({ service: "batch", method: "GET", path: new RegExp(`/jobs/adfv2-${POOL}/tasks/${task.id}/files/stdout\\.txt$`) });
    assert.ok(reads.length >= 3, `stdout.txt was read in parts (${reads.length} reads)`);
    // The run was checked with back-off: 2 s at first and after a change, growing while nothing changed, up to pollIntervalSeconds (5 s).
    const polls = azure.log.find({ service: "arm", method: "GET", path: new RegExp(`/pipelineruns/${runId}$`) }).map((e) => Date.parse(e.time));
    const gaps = polls.slice(1).map((t, i) => (t - polls[i]) / 1000);
    assert.ok(gaps.length >= 3, `polls: ${gaps.join(", ")} s apart`);
    assert.ok(gaps.every((g) => g >= 1.9), `never faster than the first wait: ${gaps.join(", ")}`);
    assert.ok(Math.max(...gaps) >= 2.9, `the wait grew while nothing changed: ${gaps.join(", ")}`);
    assert.ok(gaps.every((g) => g <= 5 + 4), `and stayed near the 5 s cap (generous slack for a busy machine): ${gaps.join(", ")}`);
    // Streamed lines are not printed again from the blobs at the end.
    assert.ok(!r.lines.some((l) => l === "    tick 1"), explain(r));
  });

  it("cancels the run when the wait times out, and says so; the Batch task is stopped", async () => {
    const r = await run({ pipelineName: "dfrun-sleep", timeoutMinutes: "0.1", pollIntervalSeconds: 5, cancelRecursive: false });
    assert.equal(r.result, "Failed", explain(r));
    const runId = runIdOf(r)!;
    assert.ok(r.lines.includes("[Sleeper] started sleeping"), explain(r));
    assert.ok(
      r.issues.some((i) => i.type === "warning" && i.message === `The run did not finish within 0.1 min; cancelling run ${runId} in Data Factory.`),
      JSON.stringify(r.issues),
    );
    assert.equal(r.message, `Pipeline run ${runId} Cancelled after the wait timed out.`);
    assert.equal(localRun(r)?.status, "Cancelled");
    assert.equal(r.outputs.PipelineRunStatus.value, "Cancelled");
    const cancels = azure.log.find({ service: "arm", method: "POST", path: new RegExp(`/pipelineruns/${runId}/cancel$`) });
    assert.equal(cancels.length, 1);
    assert.match(cancels[0].query, /(^|[?&])isRecursive=false(&|$)/);
    // ADF's cancel terminated the Batch task (its process is gone).
    const job = azure.batch.account().jobs.get("adfv2-dfrun-pool")!;
    const sleeper = [...job.tasks.values()].find((t) => t.commandLine.includes(runId))!;
    assert.equal(sleeper.state, "completed");
    assert.match(summaryOf(r), /^### Data Factory pipeline 'dfrun-sleep': Cancelled/);
  });

  it("with cancelOnTimeout false leaves the run going on timeout, and says so", async () => {
    const r = await run({ pipelineName: "dfrun-sleep", timeoutMinutes: "0.05", cancelOnTimeout: false, streamActivityLogs: false });
    const runId = runIdOf(r)!;
    try {
      assert.equal(r.result, "Failed", explain(r));
      assert.equal(r.message, `The run did not finish within 0.05 min; run ${runId} is left InProgress in Data Factory (cancelOnTimeout is false).`);
      assert.equal(localRun(r)?.status, "InProgress");
      assert.equal(azure.log.find({ service: "arm", method: "POST", path: /\/cancel$/ }).filter((e) => e.path.includes(runId)).length, 0, "no cancel was asked for");
      assert.equal(r.outputs.PipelineRunStatus.value, "InProgress");
      assert.ok(summaryOf(r).includes(`- ${r.message}`), "the summary says how the run was left");
    } finally {
      df().engine.cancel(runId, true);
      await df().whenFinished(runId);
    }
  });

  it("cancels the run and its child runs when the job is cancelled (SIGTERM), and says so", async () => {
    const r = await run({ pipelineName: "dfrun-parent", pollIntervalSeconds: 5 }, { cancelWhen: (l) => l === "Activity 'CallSleep' (ExecutePipeline) started.", cancelSignal: "SIGTERM" });
    assert.equal(r.result, "Failed", explain(r));
    const runId = runIdOf(r)!;
    assert.ok(r.issues.some((i) => i.type === "warning" && i.message === `The task was cancelled; cancelling run ${runId} in Data Factory, with the pipelines it started.`), JSON.stringify(r.issues));
    assert.equal(r.message, `Pipeline run ${runId} Cancelled after the task was cancelled.`);
    const parent = localRun(r)!;
    assert.equal(parent.status, "Cancelled");
    assert.equal(parent.childRunIds.length, 1);
    assert.equal(df().run(parent.childRunIds[0])?.status, "Cancelled", "the child run was cancelled too");
    const cancels = azure.log.find({ service: "arm", method: "POST", path: new RegExp(`/pipelineruns/${runId}/cancel$`) });
    assert.equal(cancels.length, 1);
    assert.match(cancels[0].query, /(^|[?&])isRecursive=true(&|$)/);
  });

  it("passes the recovery options through: a rerun from the failure, and one from a named activity", async () => {
    let calls = 0;
    df().script("dfrun-recover", "Process", () => (++calls === 1 ? { outcome: "Failed", error: { errorCode: "2011", message: "Disk full." } } : { outcome: "Succeeded" }));
    const first = await run({ pipelineName: "dfrun-recover" });
    assert.equal(first.result, "Failed", explain(first));
    const reference = runIdOf(first)!;

    const rerun = await run({ pipelineName: "dfrun-recover", referencePipelineRunId: reference, isRecovery: true, startFromFailure: true, parameters: "" });
    assert.equal(rerun.result, "Succeeded", explain(rerun));
    const [request] = createRunRequests("dfrun-recover").slice(-1);
    const query = new URLSearchParams(request.query);
    assert.deepEqual(
      { reference: query.get("referencePipelineRunId"), isRecovery: query.get("isRecovery"), startFromFailure: query.get("startFromFailure"), startActivityName: query.get("startActivityName") },
      { reference, isRecovery: "true", startFromFailure: "true", startActivityName: null },
    );
    const record = localRun(rerun)!;
    assert.equal(record.runGroupId, reference, "the rerun joined the reference run's group");
    assert.deepEqual(record.activityRuns.map((a) => a.activityName), ["Process"], "only the failed activity ran again");
    assert.ok(rerun.lines.some((l) => l.includes(`rerun of ${reference} in recovery mode from its failed activities`)), explain(rerun));

    const fromStage = await run({ pipelineName: "dfrun-recover", referencePipelineRunId: reference, isRecovery: true, startActivityName: "Stage" });
    assert.equal(fromStage.result, "Succeeded", explain(fromStage));
    const last = new URLSearchParams(createRunRequests("dfrun-recover").slice(-1)[0].query);
    assert.equal(last.get("startActivityName"), "Stage");
    assert.equal(last.get("startFromFailure"), null);
    assert.deepEqual(localRun(fromStage)!.activityRuns.map((a) => a.activityName), ["Stage", "Process"]);

    // Recovery options that cannot work fail before anything runs.
    const before = createRunRequests("dfrun-recover").length;
    const bad = await run({ pipelineName: "dfrun-recover", referencePipelineRunId: reference, isRecovery: true, startActivityName: "Proces" });
    assert.equal(bad.result, "Failed");
    assert.equal(bad.message, "Input 'startActivityName': 'Proces' is not an activity of pipeline 'dfrun-recover'. Did you mean 'Process'? Its activities: 'Stage' and 'Process'.");
    assert.equal(createRunRequests("dfrun-recover").length, before);
  });

  it("refuses bad input before any run starts, naming the input and what is valid", async () => {
    const runsBefore = df().runsOf(factory).length;
    const requestsBefore = createRunRequests("dfrun-ok").length;
    const cases: [TaskRunOptions["inputs"], string | RegExp][] = [
      [{ pipelineName: "dfrun-ok", parameters: "count: 2\ncolour: blue" }, "Input 'parameters': parameter problem for pipeline 'dfrun-ok':\\n  - 'colour' is not a parameter of the pipeline. Valid: 'count' and 'label'.\\nThe pipeline declares: count (Int, required), label (String, default \"nightly\")."],
      [{ pipelineName: "dfrun-ok", parameters: "label: x" }, /^Input 'parameters': parameter problem for pipeline 'dfrun-ok':\\n {2}- 'count' \(Int\) is required: the pipeline declares no default for it, and it was not given\./],
      [{ pipelineName: "dfrun-ok", parameters: "[1, 2]" }, /^Input 'parameters': the parameters must be an object of name: value pairs, but this is a list\./],
      [{ pipelineName: "dfrun-ok", parameters: '{"count": "five"}' }, /'count' is the text 'five', not an Int\. Write a whole number, e\.g\. 5\./],
      [{ pipelineName: "dfrun-ok", parameters: "count: 1", pollIntervalSeconds: 4 }, /^Input 'pollIntervalSeconds' \(Longest wait between checks \(seconds\)\): 4 s is too short: .*Use a whole number from 5 to 600\.$/],
      [{ pipelineName: "dfrun-ok", parameters: "count: 1", timeoutMinutes: "0" }, "Input 'timeoutMinutes' (Timeout (minutes)): 0 is not positive: the run needs some time. Use a positive number of minutes, for example 60 or 0.5."],
      [{ pipelineName: "dfrun-ok", parameters: "count: 1", timeoutMinutes: "-5" }, /^Input 'timeoutMinutes' \(Timeout \(minutes\)\): -5 is not positive/],
      [{ factoryName: "release-adff", pipelineName: "dfrun-ok" }, /^Input 'factoryName': data factory 'release-adff' does not exist in resource group 'rg-batch-release'\. Did you mean 'release-adf'\? Resource group 'rg-batch-release' has (one data factory|\d+ data factories): .*'release-adf'/],
      [{ resourceGroupName: "rg-nope", pipelineName: "dfrun-ok" }, /^Input 'resourceGroupName': resource group 'rg-nope' does not exist in subscription 'Local Azure' \(or the service connection cannot see it\)\.$/],
      [{ pipelineName: "dfrun-okk" }, /^Input 'pipelineName': pipeline 'dfrun-okk' does not exist in factory 'release-adf'\. Did you mean 'dfrun-ok'\? Factory 'release-adf' has \d+ pipelines: .*'dfrun-ok'/],
    ];
    for (const [inputs, expected] of cases) {
      const r = await run(inputs);
      assert.equal(r.result, "Failed", `${JSON.stringify(inputs)}: ${explain(r)}`);
      if (typeof expected === "string") assert.equal(r.message, expected);
      else assert.match(r.message ?? "", expected);
      assert.equal(r.outputs.PipelineRunId, undefined);
    }
    assert.equal(df().runsOf(factory).length, runsBefore, "no run was started");
    assert.equal(createRunRequests("dfrun-ok").length, requestsBefore);
  });

  it("reads every page of activity runs (continuation tokens)", async () => {
    df().pageSize = 2;
    azure.log.capture = true;
    const r = await run({ pipelineName: "dfrun-wide" });
    assert.equal(r.result, "Succeeded", explain(r));
    const ended = r.lines.filter((l) => /^Activity '[A-E]' \(Wait\) Succeeded/.test(l)).map((l) => l.slice(10, 11));
    assert.deepEqual([...ended].sort(), ["A", "B", "C", "D", "E"]);
    assert.deepEqual(Object.keys(JSON.parse(r.outputs.ActivityOutputs.value)).sort(), ["A", "B", "C", "D", "E"]);
    const queries = azure.log.find({ service: "arm", method: "POST", path: new RegExp(`/pipelineruns/${runIdOf(r)}/queryActivityruns$`) });
    const withToken = queries.filter((q) => typeof (q.exchange?.requestBody as { continuationToken?: unknown } | undefined)?.continuationToken === "string");
    assert.ok(withToken.length >= 2, `pages after the first were asked for (${withToken.length} of ${queries.length} queries)`);
  });

  it("rides out throttling (429 with Retry-After) and transient errors while the run is going", async () => {
    const runsPath = /\/providers\/Microsoft\.DataFactory\/factories\/[^/]+\/pipelineruns\/[^/]+$/;
    // More 429s than the client's own retries (7), so the wait itself sees throttling too.
    azure.faults.add({ service: "arm", kind: "429", method: "GET", path: runsPath, count: 10, retryAfterSeconds: 1 });
    // Transient failures of the activity-run query: retried with back-off, they never reach the run's outcome.
    azure.faults.add({ service: "arm", kind: "500", method: "POST", path: /\/queryActivityruns$/, count: 3 });
    const r = await run({ pipelineName: "dfrun-ok", parameters: "count: 2" });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.deepEqual(azure.faults.counts(), [10, 3], "every injected fault was met");
    assert.ok(r.lines.some((l) => /^Data Factory is throttling the status checks \(TooManyRequests \(HTTP 429\): .*\); checking again in \d+ s\.$/.test(l)), explain(r));
    assert.ok(r.lines.includes("Activity 'RunApp' (Custom) started."), explain(r));
    assert.equal(r.outputs.PipelineRunStatus.value, "Succeeded");
  });

  it("keeps secrets out of the output, also with system.debug=true, and reads the logs with the account key when Entra has no Blob data role", async () => {
    const apiKey = "ApiKey-7f3e9c1d-secret";
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read" });
    const r = await run({ pipelineName: "dfrun-secret", parameters: `apiKey: ${apiKey}`, streamActivityLogs: false }, { debug: true });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.ok(r.secrets.includes(apiKey), "the SecureString parameter was masked");
    assert.equal(localRun(r)?.parameters.apiKey, apiKey, "and sent");
    assert.ok(r.lines.some((l) => l.includes("parameters: apiKey = ***")), explain(r));
    assert.ok(summaryOf(r).includes("apiKey = ***"));
    // The logs were read from the blobs, with the key the connection may list.
    assert.ok(r.lines.some((l) => /^ {4}processing 2 items for run /.test(l)), explain(r));
    assert.ok(r.secrets.includes(azure.info.storage.accountKey), "the account key was masked");
    const secrets = [apiKey, azure.info.clientSecret, azure.info.storage.accountKey, azure.info.batch.accountKey, azure.info.devops.accessToken];
    assert.deepEqual(findLeakedSecrets(r, secrets), []);
    assert.ok(r.commands.filter((c) => c.name === "task.debug").length > 10, "debug output was on");
  });

  it("falls back to the blobs, with one note, when the Batch account cannot be read", async () => {
    const account = azure.batch.account();
    const modes = account.allowedAuthenticationModes;
    account.allowedAuthenticationModes = modes.filter((m) => m !== "AAD");
    try {
      const r = await run({ pipelineName: "dfrun-fail" });
      assert.equal(r.result, "Failed", explain(r));
      const notes = r.lines.filter((l) => l.startsWith("The live log is off"));
      assert.equal(notes.length, 1, explain(r));
      assert.match(notes[0], /^The live log is off: the Batch account cannot be read with this service connection \(Batch Task_List failed: AuthenticationFailed \(HTTP 403\): .*\); Custom activities' stdout and stderr are shown from the blobs when they end\.$/);
      assert.ok(!r.lines.some((l) => l.startsWith("[Transform")), "nothing streamed");
      assert.ok(r.lines.includes("    loading input"), "stdout from the blob");
      assert.ok(r.lines.includes("    ValueError: input/2024-06 is empty"), "stderr from the blob");
    } finally {
      account.allowedAuthenticationModes = modes;
    }
  });

  it("pre-flight: warns about what would make the run fail, and strictPreflight stops it before it starts", async () => {
    const runsBefore = df().runsOf(factory).length;
    const r = await run({ pipelineName: "run-batch-app", parameters: "appFolder: apps/app/none-yet", strictPreflight: true });
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(r.message, "Pre-flight found 2 problem(s) in the Custom activities of pipeline 'run-batch-app', listed above, and strictPreflight is true, so no run was started. Fix them, or set strictPreflight to false to run anyway.");
    const errors = r.issues.filter((i) => i.type === "error").map((i) => i.message);
    assert.equal(errors.length, 3, JSON.stringify(r.issues));
    assert.match(errors[0], /^Error: Custom activity 'RunApp': folderPath 'apps\/app\/none-yet\/' does not exist or is empty .* Fix: Deploy the application there first/);
    assert.match(errors[1], /^Error: Custom activity 'RunApp': Pool 'adf-pool' of Batch account 'releasebatch' can get no nodes: .* Fix: Resize the pool to at least one node, or enable autoscale/);
    assert.equal(errors[2], r.message, "and the task's failure");
    assert.equal(df().runsOf(factory).length, runsBefore);
  });

  it("with waitForCompletion false starts the run, publishes its id, status and link, and does not wait", async () => {
    const r = await run({ pipelineName: "dfrun-sleep", waitForCompletion: false });
    assert.equal(r.result, "Succeeded", explain(r));
    const runId = runIdOf(r)!;
    assert.match(r.message ?? "", new RegExp(`^Started pipeline run ${runId} \\((Queued|InProgress)\\); not waiting for it \\(waitForCompletion is false\\)\\.$`));
    assert.ok(["Queued", "InProgress"].includes(r.outputs.PipelineRunStatus.value));
    assert.match(r.outputs.PipelineRunUrl.value, new RegExp(`^https://adf\\.azure\\.com/en/monitoring/pipelineruns/${runId}\\?factory=`));
    df().engine.cancel(runId, true);
    await df().whenFinished(runId);
  });
});
