/**
 * The local pipeline runner: its reading of YAML, macros and conditions on
 * their own, then whole pipelines of the bundled BatchAppBlobCopy@1 against
 * the local Azure, and the example release pipeline checked against the tasks
 * this repository has.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { parse as parseYaml } from "yaml";
import { localAzure, resetLocalAzure } from "./fixture";
import { connectionEnv } from "./harness/connections";
import { REPO_ROOT } from "./harness/run-task";
import type { LocalAzure } from "./local-azure";
import {
  checkPipeline,
  conditionHolds,
  ConditionError,
  expandMacros,
  MacroError,
  parsePipeline,
  PipelineDefinitionError,
  PRODUCT_TASKS,
  resolveTask,
  runPipeline,
  type RunPipelineOptions,
} from "./pipeline-runner";

const EXAMPLE = path.join(REPO_ROOT, "examples", "azure-pipelines.yml");

describe("pipeline runner: reading YAML", () => {
  it("reads variables in map and list form, steps and their options", () => {
    const map = parsePipeline(`
variables:
  a: one
  n: 3
steps:
  - task: BatchAppBlobCopy@1
    name: first
    displayName: Copy $(a)
    condition: always()
    continueOnError: true
    inputs: { containerName: apps, deleteStale: true, maxDeletes: 5 }
`);
    assert.deepEqual(map.variables, { a: "one", n: "3" });
    assert.equal(map.steps.length, 1);
    const [step] = map.steps;
    assert.deepEqual(step.task, { ref: "BatchAppBlobCopy@1", name: "BatchAppBlobCopy", major: 1 });
    assert.equal(step.name, "first");
    assert.equal(step.displayName, "Copy $(a)");
    assert.equal(step.condition, "always()");
    assert.equal(step.continueOnError, true);
    assert.deepEqual(step.inputs, { containerName: "apps", deleteStale: "true", maxDeletes: "5" });

    const list = parsePipeline(`
variables:
  - name: a
    value: one
  - name: b
    value: $(a)-two
    readonly: true
steps:
  - task: X@2
    enabled: false
`);
    assert.deepEqual(list.variables, { a: "one", b: "$(a)-two" });
    assert.equal(list.steps[0].enabled, false);
  });

  it("takes the steps of a single job, deployment or stage, inner variables winning", () => {
    const jobs = parsePipeline(`
variables: { a: outer, b: outer }
jobs:
  - job: release
    variables: { b: job }
    steps: [ { task: A@1 } ]
`);
    assert.deepEqual(jobs.variables, { a: "outer", b: "job" });
    assert.equal(jobs.origin, "jobs[0] (job release)");
    const deployment = parsePipeline(`
stages:
  - stage: deploy
    variables: { s: stage }
    jobs:
      - deployment: toBatch
        environment: production
        strategy:
          runOnce:
            deploy:
              steps: [ { task: A@1 }, { task: B@1 } ]
`);
    assert.deepEqual(deployment.variables, { s: "stage" });
    assert.deepEqual(deployment.steps.map((s) => s.task?.ref), ["A@1", "B@1"]);
    assert.throws(() => parsePipeline(`jobs: [ { job: a, steps: [ { task: A@1 } ] }, { job: b, steps: [ { task: A@1 } ] } ]`), /jobs has 2 jobs; the local runner runs a pipeline with a single job/);
  });

  it("refuses what it cannot run, saying where: template expressions, variable groups, runtime expressions, bad step names", () => {
    const refuses = (yaml: string, message: RegExp) => assert.throws(() => parsePipeline(yaml, "p.yml"), (e: unknown) => e instanceof PipelineDefinitionError && message.test(e.message));
    refuses(`steps:\n  - task: A@1\n    inputs: { x: "\${{ parameters.x }}" }`, /p.yml: template expressions \(\$\{\{ \.\.\. \}\}\) are not supported by the local runner \(at steps\[0\]\.inputs\.x\)/);
    refuses(`variables:\n  - group: release-secrets\nsteps: [ { task: A@1 } ]`, /variables\[0\]: variable groups \(group: release-secrets\) are not supported/);
    refuses(`variables: { v: "$[ counter('a', 1) ]" }\nsteps: [ { task: A@1 } ]`, /variables\.v: runtime expressions \(\$\[ \.\.\. \]\) are not supported/);
    refuses(`steps: [ { task: A@1, name: deploy-app } ]`, /steps\[0\]\.name 'deploy-app' is not valid/);
    refuses(`steps: [ { task: A@1, name: x }, { task: B@1, name: X } ]`, /steps 1 and 2 are both named 'X'/);
    refuses(`steps:\n  - task: A@1\n  bad`, /p.yml is not valid YAML/);
    refuses(`trigger: none`, /p.yml must have exactly one of steps, jobs or stages/);
  });

  it("keeps script and unknown steps, with the reason they cannot run", () => {
    const def = parsePipeline(`
steps:
  - script: echo "Deployed $(x)"
  - bash: ./go.sh
    displayName: Go
  - checkout: self
`);
    assert.deepEqual(
      def.steps.map((s) => s.unsupported),
      [
        `step 1 'script: echo "Deployed $(x)"': script steps cannot run in the local runner, which runs only this repository's tasks (task: Name@1)`,
        `step 2 'Go': bash steps cannot run in the local runner, which runs only this repository's tasks (task: Name@1)`,
        `step 3 'checkout: self': checkout steps cannot run in the local runner, which runs only this repository's tasks (task: Name@1)`,
      ],
    );
  });
});

describe("pipeline runner: macros and conditions", () => {
  const variables: Record<string, string> = { "Build.BuildNumber": "20261203.4", prefix: "app/$(build.buildnumber)/", loop: "$(loop)" };
  const scope = {
    variable: (n: string) => variables[Object.keys(variables).find((k) => k.toLowerCase() === n.toLowerCase()) ?? ""],
    stepOutput: (step: string, v: string) => (step === "deployApp" && v.toLowerCase() === "uploadedcount" ? { value: "7" } : step === "skipped" ? ("literal" as const) : undefined),
    explainMissing: (n: string) => `no ${n}`,
  };

  it("expands variables (case-insensitive, through other variables) and step outputs; an undefined one names itself", () => {
    assert.equal(expandMacros("$(prefix)x-$(deployApp.UploadedCount)", scope, "input p"), "app/20261203.4/x-7");
    assert.equal(expandMacros("$(skipped.Anything)", scope, "input p"), "$(skipped.Anything)");
    assert.throws(() => expandMacros("a/$(Nope)/b", scope, "step 1 'x': input p"), (e: unknown) => e instanceof MacroError && e.message === "step 1 'x': input p uses $(Nope), which is not defined: no Nope");
    assert.throws(() => expandMacros("$(loop)", scope, "input p"), /variables refer to each other in a loop/);
    assert.throws(() => expandMacros("$[ variables.a ]", scope, "input p"), /input p: runtime expressions/);
  });

  it("evaluates the supported condition functions against the job status and variables", () => {
    const ctx = (jobStatus: "Succeeded" | "Failed", vars: Record<string, string> = {}) => ({ jobStatus, variable: (n: string) => vars[n] });
    assert.equal(conditionHolds(undefined, ctx("Succeeded")), true);
    assert.equal(conditionHolds(undefined, ctx("Failed")), false);
    assert.equal(conditionHolds("failed()", ctx("Failed")), true);
    assert.equal(conditionHolds("always()", ctx("Failed")), true);
    assert.equal(conditionHolds("and(succeeded(), eq(variables['Stage'], 'PROD'))", ctx("Succeeded", { Stage: "prod" })), true);
    assert.equal(conditionHolds("and(succeeded(), ne(variables.Stage, 'prod'))", ctx("Succeeded", { Stage: "prod" })), false);
    assert.equal(conditionHolds("or(eq(variables['n'], 3), in(variables['x'], 'a', 'b'))", ctx("Failed", { n: "3" })), true);
    assert.equal(conditionHolds("not(startsWith(variables['branch'], 'refs/heads/release'))", ctx("Succeeded", { branch: "refs/heads/main" })), true);
    assert.throws(() => conditionHolds("eq(variables['a'], coalesce('x'))", ctx("Succeeded")), (e: unknown) => e instanceof ConditionError && /'coalesce' is not supported by the local runner/.test(e.message));
    assert.throws(() => conditionHolds("eq('a')", ctx("Succeeded")), /eq\(\) takes 2 argument\(s\), not 1/);
  });
});

describe("pipeline runner: running pipelines against the local Azure", function () {
  this.timeout(180_000);
  let azure: LocalAzure;
  let blobs: BlobServiceClient;
  let work: string;
  let app: string;

  before(async function () {
    if (!fs.existsSync(path.join(REPO_ROOT, "tasks", "BatchAppBlobCopy", "index.js"))) throw new Error("tasks/BatchAppBlobCopy/index.js is missing: run 'npm run build' first");
    azure = await localAzure();
    blobs = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
    work = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-runner-test-"));
    app = path.join(work, "app");
    fs.mkdirSync(path.join(app, "lib"), { recursive: true });
    fs.writeFileSync(path.join(app, "app.py"), "print('hello')\n");
    fs.writeFileSync(path.join(app, "model.json"), "{}\n");
    fs.writeFileSync(path.join(app, "lib", "util.py"), "X = 1\n");
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));
  afterEach(resetLocalAzure);

  const container = () => `runner-${crypto.randomBytes(4).toString("hex")}`;
  const blobNames = async (name: string, prefix = ""): Promise<string[]> => {
    const c = blobs.getContainerClient(name);
    if (!(await c.exists())) return [];
    const names: string[] = [];
    // BatchAppBlobCopy leaves its lock blob beside the prefix (`app/1.0.blobcopy-lock`); the app's blobs are what these tests count.
    for await (const b of c.listBlobsFlat({ prefix })) if (!b.name.endsWith(".blobcopy-lock")) names.push(b.name);
    return names.sort();
  };
  const run = (yaml: string, options: Partial<RunPipelineOptions> = {}) =>
    runPipeline({ yaml, env: azure.info.env, workingDirectory: work, variables: { serviceConnection: "LocalAzure", storageAccount: azure.info.storage.accountName }, ...options });

  it("runs steps in order: a named step's outputs and Build.BuildNumber reach the next step; secret outputs stay masked", async () => {
    const target = container();
    const result = await run(
      `
variables:
  appContainer: ${target}
steps:
  - task: BatchAppBlobCopy@1
    name: deployApp
    displayName: Deploy build $(Build.BuildNumber)
    inputs:
      azureSubscription: $(serviceConnection)
      storageAccount: $(storageAccount)
      containerName: $(appContainer)
      blobPrefix: app/$(Build.BuildNumber)/
      sourceFolder: $(System.DefaultWorkingDirectory)/app
      readSasHours: 1
  - task: BatchAppBlobCopy@1
    displayName: Copy beside $(deployApp.BlobPrefixUrl)
    inputs:
      connectedServiceNameARM: $(serviceConnection)
      storageAccount: $(storageAccount)
      containerName: $(appContainer)
      blobPrefix: copies/$(Build.BuildNumber)/of-$(deployApp.UploadedCount)-files/
      sourceFolder: $(System.DefaultWorkingDirectory)/app
  - task: BatchAppBlobCopy@1
    displayName: Only when nothing was uploaded (read SAS $(deployApp.ReadSasUrl))
    condition: and(succeeded(), eq(variables['deployApp.UploadedCount'], 0))
    inputs: { azureSubscription: LocalAzure, storageAccount: releasestore, containerName: $(appContainer), blobPrefix: never/, sourceFolder: $(System.DefaultWorkingDirectory)/app }
`,
      { buildNumber: "20261203.7" },
    );
    assert.equal(result.result, "Succeeded", JSON.stringify(result.steps.map((s) => [s.result, s.reason, s.output.slice(-800)])));
    const [deploy, copy, conditional] = result.steps;
    assert.deepEqual([deploy.result, copy.result], ["Succeeded", "Succeeded"]);
    // A condition reads a step's output through variables['step.Var'].
    assert.deepEqual([conditional.result, conditional.ran, conditional.reason], ["Skipped", false, "condition and(succeeded(), eq(variables['deployApp.UploadedCount'], 0)) is false"]);
    assert.equal(deploy.displayName, "Deploy build 20261203.7");
    assert.equal(deploy.inputs.blobPrefix, "app/20261203.7/");
    // Defaults come from task.json, as the agent fills them in.
    assert.equal(deploy.inputs.mode, "sync");
    assert.equal(deploy.outputs.UploadedCount.value, "3");
    assert.equal(deploy.outputs.BlobPrefixUrl.value, `${azure.info.storage.blobUrl}/${target}/app/20261203.7/`);
    assert.deepEqual(deploy.outputs.ReadSasUrl, { value: "***", secret: true });
    // The alias is mapped to the input's name; the output carried over.
    assert.equal(copy.inputs.azureSubscription, "LocalAzure");
    assert.equal(copy.inputs.blobPrefix, "copies/20261203.7/of-3-files/");
    assert.equal(copy.displayName, `Copy beside ${azure.info.storage.blobUrl}/${target}/app/20261203.7/`);
    assert.deepEqual(await blobNames(target, "app/"), ["app/20261203.7/app.py", "app/20261203.7/lib/util.py", "app/20261203.7/model.json"]);
    assert.ok(await blobs.getContainerClient(target).getBlobClient("app/20261203.7.blobcopy-lock").exists(), "the copy's lock blob sits beside its prefix");
    assert.deepEqual(await blobNames(target, "copies/"), ["copies/20261203.7/of-3-files/app.py", "copies/20261203.7/of-3-files/lib/util.py", "copies/20261203.7/of-3-files/model.json"]);
    assert.deepEqual(await blobNames(target, "never/"), []);
    // The agent masks secrets wherever they would show, display names included.
    assert.equal(conditional.displayName, "Only when nothing was uploaded (read SAS ***)");
    for (const step of result.steps.slice(0, 2)) {
      assert.ok(step.ran && step.durationMs > 0, `step ${step.index} ran and took time`);
      assert.match(step.output, /##vso\[task\.complete result=Succeeded;\]/);
      assert.doesNotMatch(step.output, /sig=[A-Za-z0-9%]{10,}/, `step ${step.index} shows no SAS signature`);
    }
  });

  it("takes the service connection from the job environment: workload identity federation, the job token never shown", async () => {
    const target = container();
    const env = connectionEnv(azure, "federated");
    const result = await run(
      `
steps:
  - task: BatchAppBlobCopy@1
    inputs: { azureSubscription: $(serviceConnection), storageAccount: releasestore, containerName: ${target}, sourceFolder: $(System.DefaultWorkingDirectory)/app }
`,
      { env },
    );
    assert.equal(result.result, "Succeeded", result.steps[0].output.slice(-1500));
    assert.equal((await blobNames(target)).length, 3);
    assert.ok(!result.steps[0].output.includes(azure.info.devops.accessToken));
  });

  it("refuses a pipeline with a script step before any step runs, naming the step", async () => {
    const target = container();
    const result = await run(`
steps:
  - task: BatchAppBlobCopy@1
    inputs: { azureSubscription: LocalAzure, storageAccount: releasestore, containerName: ${target}, sourceFolder: $(System.DefaultWorkingDirectory)/app }
  - script: echo "uploaded"
    displayName: Say so
`);
    assert.equal(result.result, "Failed");
    assert.deepEqual(result.problems, ["step 2 'Say so': script steps cannot run in the local runner, which runs only this repository's tasks (task: Name@1)"]);
    assert.deepEqual(
      result.steps.map((s) => [s.result, s.ran]),
      [
        ["NotRun", false],
        ["Failed", false],
      ],
    );
    assert.deepEqual(await blobNames(target), []);
  });

  it("refuses an unknown task, a task not built yet, a wrong major version and an unknown input, each naming its step", async () => {
    // A tasks folder holding only BatchAppBlobCopy, so which tasks are missing does not depend on this branch.
    const tasksDir = path.join(work, "only-blob-copy");
    fs.mkdirSync(tasksDir, { recursive: true });
    if (!fs.existsSync(path.join(tasksDir, "BatchAppBlobCopy"))) fs.symlinkSync(path.join(REPO_ROOT, "tasks", "BatchAppBlobCopy"), path.join(tasksDir, "BatchAppBlobCopy"), "dir");
    const result = await run(
      `
steps:
  - task: CopyFiles@2
  - task: BatchAppPackage@1
    displayName: Package
  - task: BatchAppBlobCopy@2
  - task: BatchAppBlobCopy@1
    inputs: { containerName: apps, blobprefix: ok, targetFolder: x }
`,
      { tasksDir },
    );
    assert.equal(result.result, "Failed");
    assert.deepEqual(result.problems, [
      "step 1 'CopyFiles@2' (CopyFiles@2): unknown task CopyFiles@2: the local runner runs only this repository's tasks (BatchAppBlobCopy, BatchAppPackage, BatchPoolCycle, DataFactoryRun, BatchPoolAutoscale)",
      "step 2 'Package' (BatchAppPackage@1): BatchAppPackage@1 is not built yet",
      "step 3 'BatchAppBlobCopy@2' (BatchAppBlobCopy@2): BatchAppBlobCopy@2: tasks/BatchAppBlobCopy is version 1.0.0",
      `step 4 'BatchAppBlobCopy@1' (BatchAppBlobCopy@1): 'targetFolder' is not an input of BatchAppBlobCopy@1 (its inputs: ${(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "tasks", "BatchAppBlobCopy", "task.json"), "utf8")) as { inputs: { name: string }[] }).inputs.map((i) => i.name).join(", ")})`,
    ]);
    assert.ok(result.steps.every((s) => !s.ran));
  });

  it("with onlyAvailable skips a task that is not built yet and runs the rest", async () => {
    const tasksDir = path.join(work, "only-blob-copy");
    const target = container();
    const result = await run(
      `
steps:
  - task: BatchAppPackage@1
    name: package
  - task: BatchAppBlobCopy@1
    inputs: { azureSubscription: LocalAzure, storageAccount: releasestore, containerName: ${target}, blobPrefix: "v/$(package.ApplicationVersion)/", sourceFolder: $(System.DefaultWorkingDirectory)/app }
`,
      { tasksDir, onlyAvailable: true },
    );
    assert.equal(result.result, "Succeeded", JSON.stringify(result.steps.map((s) => [s.result, s.reason])));
    assert.deepEqual(
      result.steps.map((s) => [s.result, s.reason]),
      [
        ["Skipped", "BatchAppPackage@1 is not built yet (skipped: only available tasks)"],
        ["Succeeded", undefined],
      ],
    );
    // As on the agent, the output of a step that did not run stays literal.
    assert.equal(result.steps[1].inputs.blobPrefix, "v/$(package.ApplicationVersion)/");
  });

  it("stops at the first failure: later steps are skipped unless their condition says otherwise; continueOnError goes on", async () => {
    const [skippedTarget, failedTarget, continuedTarget] = [container(), container(), container()];
    const step = (containerName: string, extra = "") => `
  - task: BatchAppBlobCopy@1${extra}
    inputs: { azureSubscription: LocalAzure, storageAccount: releasestore, containerName: "${containerName}", sourceFolder: $(System.DefaultWorkingDirectory)/app }`;
    const result = await run(`
steps:${step("Not_A_Valid_Container", "\n    displayName: Tolerated\n    continueOnError: true")}${step(continuedTarget, "\n    displayName: After the tolerated failure")}${step("Also_Not_Valid", "\n    displayName: Fails")}${step(skippedTarget, "\n    displayName: Must not run")}${step(failedTarget, "\n    displayName: On failure\n    condition: failed()")}${step(container(), "\n    displayName: Disabled\n    enabled: false\n    condition: always()")}
`);
    assert.equal(result.result, "Failed");
    assert.deepEqual(
      result.steps.map((s) => [s.displayName, s.result, s.ran]),
      [
        ["Tolerated", "SucceededWithIssues", true],
        ["After the tolerated failure", "Succeeded", true],
        ["Fails", "Failed", true],
        ["Must not run", "Skipped", false],
        ["On failure", "Succeeded", true],
        ["Disabled", "Skipped", false],
      ],
    );
    assert.match(result.steps[0].reason ?? "", /continueOnError: true/);
    assert.match(result.steps[2].message ?? "", /containerName/);
    assert.equal(result.steps[3].reason, "an earlier step failed");
    assert.equal(result.steps[5].reason, "enabled: false");
    assert.deepEqual(await blobNames(skippedTarget), []);
    assert.equal((await blobNames(continuedTarget)).length, 3);
    assert.equal((await blobNames(failedTarget)).length, 3);
  });

  it("fails a step whose input uses an undefined macro, naming the step, the input and the macro, without running it", async () => {
    const result = await run(`
steps:
  - task: BatchAppBlobCopy@1
    name: deployApp
    inputs: { azureSubscription: LocalAzure, storageAccount: releasestore, containerName: apps, blobPrefix: "app/$(Build.BuildNumbr)/", sourceFolder: $(System.DefaultWorkingDirectory)/app }
`);
    assert.equal(result.result, "Failed");
    assert.equal(result.steps[0].ran, false);
    assert.match(result.steps[0].reason ?? "", /^step 1 'BatchAppBlobCopy@1' \(BatchAppBlobCopy@1\): input blobPrefix uses \$\(Build\.BuildNumbr\), which is not defined: not a variable/);
  });
});

describe("examples/azure-pipelines.yml", () => {
  /** Core input names of each task, from its task.json when built, else from its issue. */
  const PLANNED_INPUTS: Record<string, string[]> = {
    BatchAppPackage: ["azureSubscription", "resourceGroupName", "batchAccountName", "applicationName", "packageSource", "sourceFolder", "zipFile", "include", "exclude", "versionStrategy", "version", "onExisting", "setDefaultVersion", "poolIds", "keepVersions"],
    BatchPoolCycle: ["azureSubscription", "resourceGroupName", "batchAccountName", "poolIds", "method", "whenTasksRunning", "maxUnavailable", "maxSurge", "drain", "onlyOutdated", "batchTimeoutMinutes", "timeoutMinutes"],
    DataFactoryRun: ["azureSubscription", "resourceGroupName", "factoryName", "pipelineName", "parameters", "parametersFile", "referencePipelineRunId", "isRecovery", "startActivityName", "startFromFailure", "waitForCompletion", "pollIntervalSeconds", "timeoutMinutes", "cancelOnTimeout", "cancelRecursive", "strictPreflight", "streamActivityLogs"],
    BatchPoolAutoscale: ["azureSubscription", "resourceGroupName", "batchAccountName", "poolId", "formulaTemplate", "formula", "formulaFile", "maxNodes", "samplingMinutes", "averageTaskSeconds", "targetSeconds", "lowPriority", "evaluationIntervalMinutes", "dryRun", "startTaskCommandLine", "startTaskElevated", "startTaskWaitForSuccess"],
  };
  const definition = parsePipeline(fs.readFileSync(EXAMPLE, "utf8"), "examples/azure-pipelines.yml");
  const tasksDir = path.join(REPO_ROOT, "tasks");

  it("uses the five tasks, in the release order, each with the AzureRM connection from the variables", () => {
    assert.deepEqual(
      definition.steps.map((s) => s.task?.ref),
      ["BatchPoolAutoscale@1", "BatchAppBlobCopy@1", "BatchAppPackage@1", "BatchPoolCycle@1", "DataFactoryRun@1"],
    );
    assert.deepEqual([...PRODUCT_TASKS].sort(), definition.steps.map((s) => s.task!.name).sort());
    for (const step of definition.steps) assert.equal(step.inputs.azureSubscription, "$(serviceConnection)", `step ${step.index}`);
    for (const name of ["serviceConnection", "resourceGroup", "storageAccount", "batchAccount", "poolId", "factoryName", "pipelineName"]) assert.ok(definition.variables[name], `variable ${name}`);
  });

  it("each task is either built here, with inputs its task.json knows, or not built yet, with the core inputs of its issue", () => {
    for (const step of definition.steps) {
      const resolution = resolveTask(step.task!, tasksDir);
      const built = fs.existsSync(path.join(tasksDir, step.task!.name, "task.json"));
      if (built) {
        assert.equal(resolution.status, "runnable", `${step.task!.ref}: ${resolution.status !== "runnable" ? resolution.message : ""}`);
        const known = resolution.status === "runnable" ? (resolution.definition.inputs ?? []).flatMap((i) => [i.name, ...(i.aliases ?? [])]) : [];
        for (const input of Object.keys(step.inputs)) assert.ok(known.includes(input), `${step.task!.ref}: input ${input} is not in its task.json`);
      } else {
        assert.deepEqual(resolution, { status: "notBuiltYet", ref: step.task!.ref, message: `${step.task!.ref} is not built yet` });
        for (const input of Object.keys(step.inputs)) assert.ok(PLANNED_INPUTS[step.task!.name].includes(input), `${step.task!.ref}: input ${input} is not one of its issue's core inputs`);
      }
    }
  });

  it("every macro it uses is a variable it defines, one the runner defines, or an output of an earlier named step", () => {
    const runnerVariables = ["Build.BuildNumber", "Build.BuildId", "System.DefaultWorkingDirectory", "Pipeline.Workspace", "Agent.TempDirectory"].map((v) => v.toLowerCase());
    const defined = new Set([...Object.keys(definition.variables).map((v) => v.toLowerCase()), ...runnerVariables]);
    const texts = [...Object.values(definition.variables), ...definition.steps.flatMap((s) => [s.displayName, ...Object.values(s.inputs)])];
    const used = texts.flatMap((t) => [...t.matchAll(/\$\(([^)]+)\)/g)].map((m) => m[1]));
    assert.ok(used.length > 20);
    for (const name of used) assert.ok(defined.has(name.toLowerCase()), `$(${name}) is not defined`);
    // The Data Factory parameters are an object (DataFactoryRun takes JSON or YAML) naming the app folder and the run id.
    const parameters = parseYaml(definition.steps[4].inputs.parameters) as Record<string, string>;
    assert.deepEqual(parameters, { appFolder: "$(appContainer)/app/$(Build.BuildNumber)", releaseRunId: "$(Build.BuildId)" });
    assert.equal(definition.steps[1].inputs.blobPrefix, "app/$(Build.BuildNumber)/");
    assert.equal(definition.steps[2].inputs.sourceFolder, definition.steps[1].inputs.sourceFolder);
  });

  it("checked against a tasks folder with only BatchAppBlobCopy: the other four are named as not built yet, in order, and nothing runs", async () => {
    const onlyBlobCopy = fs.mkdtempSync(path.join(os.tmpdir(), "example-check-"));
    try {
      fs.symlinkSync(path.join(tasksDir, "BatchAppBlobCopy"), path.join(onlyBlobCopy, "BatchAppBlobCopy"), "dir");
      const check = await checkPipeline({ file: EXAMPLE, tasksDir: onlyBlobCopy });
      assert.deepEqual(
        check.steps.map((s) => [s.result, s.problem]),
        [
          ["Failed", "BatchPoolAutoscale@1 is not built yet"],
          ["NotRun", undefined],
          ["Failed", "BatchAppPackage@1 is not built yet"],
          ["Failed", "BatchPoolCycle@1 is not built yet"],
          ["Failed", "DataFactoryRun@1 is not built yet"],
        ],
      );
      assert.equal(check.problems[0], "step 1 'Pool adf-pool: autoscale from zero, start task installs python3' (BatchPoolAutoscale@1): BatchPoolAutoscale@1 is not built yet");
      const available = await checkPipeline({ file: EXAMPLE, tasksDir: onlyBlobCopy, onlyAvailable: true, env: { ENDPOINT_URL_LocalAzure: "https://127.0.0.1:1/" }, variables: { serviceConnection: "LocalAzure" } });
      assert.deepEqual(available.problems, []);
      assert.deepEqual(available.steps.map((s) => s.result), ["Skipped", "NotRun", "Skipped", "Skipped", "Skipped"]);
      assert.ok(available.steps.every((s) => !s.ran));
      // Without the override, the example's own connection name is not in the job environment.
      const unknownConnection = await checkPipeline({ file: EXAMPLE, tasksDir: onlyBlobCopy, onlyAvailable: true, buildNumber: "20261203.9", env: { ENDPOINT_URL_LocalAzure: "https://127.0.0.1:1/" } });
      assert.deepEqual(unknownConnection.problems, [
        "step 2 'Copy the app to apps/app/20261203.9/' (BatchAppBlobCopy@1): input azureSubscription names the service connection 'batch-release-connection', which does not exist here (this run has LocalAzure); set the pipeline's variable to one of them",
      ]);
    } finally {
      fs.rmSync(onlyBlobCopy, { recursive: true, force: true });
    }
  });

  it("matches the example factory: the parameters it passes are the pipeline's, the Custom activity runs the package it publishes", () => {
    const factory = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", "data-factory", "pipeline", "run-batch-app.json"), "utf8")) as {
      name: string;
      properties: { parameters: Record<string, unknown>; activities: { name: string; type: string; typeProperties: { command?: string; folderPath?: { value: string } } }[] };
    };
    assert.equal(factory.name, definition.variables.pipelineName);
    const passed = Object.keys(parseYaml(definition.steps[4].inputs.parameters) as Record<string, string>).sort();
    assert.deepEqual(Object.keys(factory.properties.parameters).sort(), passed);
    const custom = factory.properties.activities.find((a) => a.type === "Custom")!;
    assert.equal(custom.typeProperties.folderPath?.value, "@pipeline().parameters.appFolder");
    assert.ok(custom.typeProperties.command?.includes(`$AZ_BATCH_APP_PACKAGE_${definition.variables.applicationName}`) || custom.typeProperties.command?.includes(`\${AZ_BATCH_APP_PACKAGE_${definition.variables.applicationName}:`), custom.typeProperties.command);
    assert.equal(definition.steps[2].inputs.applicationName, "$(applicationName)");
    // No leading or trailing spaces: Data Factory's run would never complete (DataFactoryRun's pre-flight warns).
    assert.equal(custom.typeProperties.command, custom.typeProperties.command?.trim());
  });
});
