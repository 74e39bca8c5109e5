/**
 * End to end: examples/azure-pipelines.yml, run by the local pipeline runner
 * (each step the bundled task as the agent runs it) against a local Azure of
 * its own per scenario, with the example factory deployed through ARM. What is
 * asserted is what a user sees: the steps' results and log lines, the
 * application's output (stdout.txt, customOutput) and the node it ran on,
 * the blobs, and the pool read back from Batch.
 *
 * Time: Batch's and Data Factory's waits run at 5 ms per simulated second,
 * idle periods at real time (see release-flow.ts), so a release soon after a
 * run meets that run's node, as in Azure.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ownLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import { checkPipeline, type StepRunResult } from "../pipeline-runner";
import { skipUnavailable } from "../shared-files";
import { EXAMPLE_PIPELINE, HOLD_AT_ZERO_FORMULA, ReleaseFlow, stepNamed, type ReleaseRun } from "./release-flow";

const STEPS = ["autoscale", "deployApp", "package", "cycle", "adf"];

/** The steps' results, in order; a failed step's log tail in the message when they differ. */
function assertSteps(run: ReleaseRun, expected: Record<string, StepRunResult["result"]>): void {
  const seen = run.pipeline.steps.map((s) => [s.name, s.result]);
  const failed = run.pipeline.steps.filter((s) => s.result === "Failed" && expected[s.name ?? ""] !== "Failed");
  const why = [...run.pipeline.problems, ...failed.map((s) => `step ${s.name} failed: ${s.reason ?? s.message}\n${s.output.split("\n").slice(-25).join("\n")}`)].join("\n");
  assert.deepEqual(seen, STEPS.map((name) => [name, expected[name]]), why);
}

const allSucceeded = Object.fromEntries(STEPS.map((s) => [s, "Succeeded"])) as Record<string, StepRunResult["result"]>;

function output(run: ReleaseRun, step: string, name: string): string | undefined {
  return stepNamed(run.pipeline, step)?.outputs[name]?.value;
}

function log(run: ReleaseRun, step: string): string {
  return stepNamed(run.pipeline, step)?.output ?? "";
}

describe("end to end: the example release pipeline on the local Azure", function () {
  this.timeout(240_000);
  let azure: LocalAzure | undefined;
  let workDir: string | undefined;

  // Every scenario runs the whole example pipeline: while one of its tasks is not on this branch yet, they are pending, saying which.
  before(async function () {
    const check = await checkPipeline({ file: EXAMPLE_PIPELINE });
    const waiting = check.steps.filter((s) => s.problem?.endsWith("is not built yet"));
    if (waiting.length) {
      skipUnavailable(this, { found: false, reason: `examples/azure-pipelines.yml needs ${waiting.map((s) => s.task).join(", ")}, which ${waiting.length === 1 ? "is" : "are"} not on this branch yet (no tasks/<Name>/task.json)` });
    }
  });

  async function start(): Promise<ReleaseFlow> {
    azure = await ownLocalAzure();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-release-"));
    return ReleaseFlow.prepare(azure, { workDir });
  }

  afterEach(async () => {
    await azure?.close();
    azure = undefined;
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    workDir = undefined;
  });

  it("releases version 1, then version 2: the node that ran version 1 is cycled and runs version 2", async () => {
    const flow = await start();
    const first = await flow.run({ buildId: 1, appVersion: "1.0.0" });
    assertSteps(first, allSucceeded);
    const v1 = first.app!;
    assert.equal(v1.pipelineRunStatus, "Succeeded");
    assert.equal(v1.printedVersion, "1.0.0");
    assert.equal(v1.customOutput?.version, "1.0.0");
    assert.match(log(first, "adf"), new RegExp(`\\[RunApp\\] batch-app version 1\\.0\\.0, pipeline run ${v1.pipelineRunId}`));
    assert.ok(v1.nodeId, "the app's Batch task ran on a node");
    assert.deepEqual(first.poolSizes, [0, 1], "the pool scaled from 0 for the run");

    // The release comes soon after the run: its node is still up, with version 1.
    const between = await flow.pool();
    assert.deepEqual(between.nodes.map((n) => [n.id, n.state]), [[v1.nodeId, "idle"]]);
    const build1 = flow.buildNumber(1);
    const build2 = flow.buildNumber(2);
    assert.deepEqual((await flow.packagesOn(v1.nodeId!)).map((d) => d.startsWith(`applications/batchapp${build1}`)), [true]);

    const second = await flow.run({ buildId: 2, appVersion: "2.0.0" });
    assertSteps(second, allSucceeded);
    assert.equal(output(second, "package", "ApplicationVersion"), build2);
    assert.equal(output(second, "cycle", "CycledNodeCount"), "1");
    assert.match(log(second, "cycle"), new RegExp(`Batch 1: ${v1.nodeId} rebooting`));
    const v2 = second.app!;
    assert.equal(v2.nodeId, v1.nodeId, "the same node ran version 2: cycling gave it the new package");
    assert.deepEqual(second.poolSizes, [1], "no node joined or left: version 2 did not come from a new node");
    assert.equal(v2.printedVersion, "2.0.0");
    assert.equal(v2.customOutput?.version, "2.0.0");
    assert.equal(v2.customOutput?.releaseRunId, "2");
    assert.match(log(second, "adf"), /\[RunApp\] batch-app version 2\.0\.0, pipeline run /);
    assert.match(log(second, "adf"), /Custom activity 'RunApp': Succeeded, exit code 0/);
    const packages = await flow.packagesOn(v1.nodeId!);
    assert.ok(packages.some((d) => d.startsWith(`applications/batchapp${build2}`)), packages.join(", "));
  });

  it("without cycling, the node that was up still runs version 1; a node that joins later runs version 2", async () => {
    const flow = await start();
    const first = await flow.run({ buildId: 1, appVersion: "1.0.0" });
    assertSteps(first, allSucceeded);
    const oldNode = first.app!.nodeId!;

    const noCycle = { ...allSucceeded, cycle: "Skipped" as const };
    const second = await flow.run({ buildId: 2, appVersion: "2.0.0", disabledSteps: ["cycle"] });
    assertSteps(second, noCycle);
    assert.equal(stepNamed(second.pipeline, "cycle")?.reason, "enabled: false");
    const build2 = flow.buildNumber(2);
    // Version 2 is released: in the blob folder the run downloads, as the default package, referenced by the pool.
    const folder = flow.blobs.getContainerClient("apps").getBlobClient(`app/${build2}/VERSION`);
    assert.equal((await folder.downloadToBuffer()).toString("utf8"), "2.0.0\n");
    assert.deepEqual((await flow.pool()).pool.applicationPackageReferences?.map((r) => r.version), [build2]);
    // ...but the node that was up runs the package it has, version 1.
    assert.equal(second.app!.nodeId, oldNode);
    assert.deepEqual(second.poolSizes, [1]);
    assert.equal(second.app!.printedVersion, "1.0.0");
    assert.equal(second.app!.customOutput?.version, "1.0.0");
    assert.match(log(second, "adf"), /\[RunApp\] batch-app version 1\.0\.0, pipeline run /);

    // Once the pool is back at 0, the next run gets a new node, which installs version 2 when it joins.
    assert.deepEqual(await flow.settle(), [1, 0]);
    const rerun = await flow.run({ buildId: 2, appVersion: "2.0.0", disabledSteps: ["cycle"] });
    assertSteps(rerun, noCycle);
    assert.equal(output(rerun, "deployApp", "UploadedCount"), "0", "the re-run uploads nothing");
    assert.equal(output(rerun, "package", "PackageSkipped"), "true");
    assert.deepEqual(rerun.poolSizes, [0, 1]);
    const newNode = rerun.app!.nodeId!;
    assert.notEqual(newNode, oldNode);
    assert.equal(rerun.app!.printedVersion, "2.0.0");
    assert.equal(rerun.app!.customOutput?.version, "2.0.0");
    assert.deepEqual((await flow.packagesOn(newNode)).map((d) => d.startsWith(`applications/batchapp${build2}`)), [true]);
  });

  it("the application failing fails DataFactoryRun with its exit code and the end of its stderr", async () => {
    const flow = await start();
    // A bad release: the model's coefficient is text, so the app exits 3 with the reason on stderr.
    const run = await flow.run({
      buildId: 1,
      appVersion: "1.0.1",
      model: (model) => ({ ...model, coefficients: { ...(model.coefficients as Record<string, unknown>), support_tickets: "many" } }),
    });
    assertSteps(run, { ...allSucceeded, adf: "Failed" });
    assert.equal(run.pipeline.result, "Failed");
    assert.equal(output(run, "adf", "PipelineRunStatus"), "Failed");
    const activityOutputs = JSON.parse(output(run, "adf", "ActivityOutputs") ?? "{}") as Record<string, { status: string; exitCode?: number }>;
    assert.equal(activityOutputs.RunApp?.status, "Failed");
    assert.equal(activityOutputs.RunApp?.exitCode, 3);

    const adf = stepNamed(run.pipeline, "adf")!;
    assert.match(adf.message ?? "", /Activity 'RunApp' \(Custom\) failed/);
    const text = log(run, "adf");
    assert.match(text, /Custom activity 'RunApp': Failed, exit code 3\b/);
    // The tail of stderr.txt, as the task read it from the linked storage.
    const stderrLine = /batch-app: error: the model \S+model\.json: coefficient 'support_tickets' is not a number/;
    assert.match(text, new RegExp(`stderr\\.txt, \\S+/adfjobs/${run.app!.activityRunId}/output/stderr\\.txt:\\n\\s+${stderrLine.source}`));
    assert.equal(run.app!.exitCode, 3);
    assert.match(run.app!.stderr, stderrLine);
    assert.match(run.app!.stdout, /^batch-app version 1\.0\.1, pipeline run /);
  });

  // The pool starts on autoscale (see ReleaseFlow.prepare): from a fixed size, BatchPoolAutoscale@1 waits out Batch's 30 s
  // between two Enable Auto Scale calls, a path its own scenario tests cover.
  it("a pool at 0 nodes gets the pipeline's formula and start task, scales up for the run and back to 0 afterwards", async () => {
    const flow = await start();
    const before = await flow.pool();
    assert.equal(before.pool.autoScaleFormula, HOLD_AT_ZERO_FORMULA);
    assert.equal(before.pool.currentDedicatedNodes, 0);
    assert.equal(before.pool.startTask, undefined);
    assert.deepEqual(before.nodes, []);

    const run = await flow.run({ buildId: 1, appVersion: "1.0.0" });
    assertSteps(run, allSucceeded);
    assert.match(log(run, "autoscale"), /Pool 'adf-pool': formula updated, start task set/);
    assert.equal(output(run, "autoscale", "TargetDedicatedNodes"), "0", "the formula keeps an idle pool at 0");
    const during = await flow.pool();
    assert.equal(during.pool.enableAutoScale, true);
    assert.match(during.pool.autoScaleFormula ?? "", /^\/\/ BatchPoolAutoscale@1 scaleFromZero: up to 4 nodes/);
    assert.equal(during.pool.autoScaleEvaluationInterval, "PT5M");
    assert.equal(during.pool.startTask?.commandLine, '/bin/bash -c "apt-get update && apt-get install -y python3"');
    assert.equal(during.pool.startTask?.userIdentity?.autoUser?.elevationLevel, "admin");
    assert.equal(during.pool.startTask?.waitForSuccess, true);

    assert.deepEqual(run.poolSizes, [0, 1], "a node joined for the run");
    assert.equal(run.app?.printedVersion, "1.0.0");
    assert.ok(during.nodes.some((n) => n.id === run.app?.nodeId), "the app ran on a node of the pool");

    // The pool's idle minutes pass: the formula takes it back to 0.
    assert.deepEqual(await flow.settle(), [1, 0]);
    const after = await flow.pool();
    assert.equal(after.pool.currentDedicatedNodes, 0);
    assert.equal(after.pool.targetDedicatedNodes, 0);
    assert.equal(after.pool.allocationState, "steady");
    assert.deepEqual(after.nodes, []);
    assert.match(after.pool.autoScaleRun?.results ?? "", /\$TargetDedicatedNodes=0;/);
  });
});
