/**
 * The local Data Factory runs the release flow as Azure does, seen through
 * the real SDK clients (@azure/arm-datafactory, @azure/batch,
 * @azure/storage-blob): the example pipeline's Copy activity stages the
 * data, its Custom activity becomes a Batch task in job `adfv2-<pool>` (task
 * id = activity run id) on a pool that autoscales from 0 and back, with the
 * folder's blobs and ADF's JSON files in its working directory, the Batch
 * environment, stdout / stderr in `adfjobs/<id>/output/`, outputs.json as
 * customOutput; a failing app, policy.timeout with a retry, a cancelled run,
 * ADF's error codes before a task is made, and a scripted activity staying
 * simulated.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import JSZip from "jszip";
import { BatchManagementClient } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import type { ActivityRun, CustomActivity, DataFactoryManagementClient, PipelineResource } from "@azure/arm-datafactory";
import { BlockBlobClient, ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential } from "../../harness/azure-test";
import { allActivityRuns, ARM_SCOPE, dataFactoryClient, pollRun, waitFor } from "../datafactory/test-client";
import { EXAMPLE_FACTORY_DIR } from "../datafactory/seed";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const APP_DIR = path.join(REPO_ROOT, "examples", "app");
const uid = (prefix: string) => `${prefix}${crypto.randomBytes(3).toString("hex")}`;

/** Scales from 0 while tasks are pending and back once none was pending for a minute (the ADF article's formula, sized for one node). */
const SCALE_FROM_ZERO = [
  "percent = $PendingTasks.GetSamplePercent(TimeInterval_Minute);",
  "pending = percent < 50 ? 0 : max($PendingTasks.GetSample(TimeInterval_Minute));",
  "$TargetDedicatedNodes = min(1, pending);",
  "$NodeDeallocationOption = taskcompletion;",
].join("\n");

const UBUNTU: BatchServiceModels.VirtualMachineConfiguration = {
  imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" },
  nodeAgentSKUId: "batch.node.ubuntu 20.04",
};

describe("local Azure: Data Factory runs the release flow on the local Batch", function () {
  this.timeout(120_000);
  let azure: LocalAzure;
  let adf: DataFactoryManagementClient;
  let batch: BatchServiceClient;
  let rg: string;
  let factory: string;
  let savedMs: number;
  /** A pool with one node for the tests that do not scale, with an application package installed. */
  let fixedPool: string;
  const app = uid("e2eapp");
  const pools: string[] = [];

  const container = (name: string) => new ContainerClient(`${azure.info.storage.blobUrl}/${name}`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
  const blobText = async (containerName: string, name: string) => (await container(containerName).getBlobClient(name).downloadToBuffer()).toString("utf8");
  const batchUri = () => `https://${azure.info.batch.accountName}.westeurope.batch.azure.com`;

  async function batchLinkedService(name: string, poolName: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await adf.linkedServices.createOrUpdate(rg, factory, name, {
      properties: {
        type: "AzureBatch",
        accountName: azure.info.batch.accountName,
        batchUri: batchUri(),
        poolName,
        linkedServiceName: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
        accessKey: { type: "SecureString", value: azure.info.batch.accountKey },
        ...overrides,
      } as never,
    });
  }

  const customActivity = (name: string, linkedService: string, command: string, extra: Partial<CustomActivity> = {}): CustomActivity => ({
    name,
    type: "Custom",
    command,
    linkedServiceName: { referenceName: linkedService, type: "LinkedServiceReference" },
    ...extra,
  });

  async function run(pipelineName: string, parameters: Record<string, unknown> = {}): Promise<{ runId: string; status?: string; message?: string; activities: ActivityRun[] }> {
    const { runId } = await adf.pipelines.createRun(rg, factory, pipelineName, { parameters });
    const { run } = await pollRun(adf, rg, factory, runId, 90_000);
    return { runId, status: run.status, message: run.message, activities: await allActivityRuns(adf, rg, factory, runId) };
  }

  async function addPool(params: Partial<BatchServiceModels.PoolAddParameter>): Promise<string> {
    const id = uid("adfe2e");
    await batch.pool.add({ id, vmSize: "standard_d2s_v3", virtualMachineConfiguration: UBUNTU, ...params });
    pools.push(id);
    return id;
  }

  before(async () => {
    azure = await localAzure();
    rg = azure.info.resourceGroup;
    factory = azure.info.dataFactory.factoryName;
    adf = dataFactoryClient(azure);
    batch = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;

    // An application package with a default version, referenced by the fixed pool, so its nodes install it on joining.
    const arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: [ARM_SCOPE], retryOptions: { maxRetries: 0 } });
    const acct = azure.info.batch.accountName;
    await arm.applicationOperations.create(rg, acct, app, { parameters: { displayName: "e2e app", allowUpdates: true } });
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "2.5-rc");
    const zip = new JSZip();
    zip.file("hello.sh", 'echo "hello from the package"\n');
    await new BlockBlobClient(pkg.storageUrl!).uploadData(await zip.generateAsync({ type: "nodebuffer" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "2.5-rc", { format: "zip" });
    await arm.applicationOperations.update(rg, acct, app, { defaultVersion: "2.5-rc" });
    fixedPool = await addPool({ targetDedicatedNodes: 1, applicationPackageReferences: [{ applicationId: app }] });
    const record = azure.batch.account().pools.get(fixedPool)!;
    await azure.batch.waitFor(() => [...record.nodes.values()].some((n) => n.state === "idle"), { what: "an idle node in the fixed pool" });
    await batchLinkedService("BatchFixed", fixedPool);
  });
  after(async () => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
    for (const id of pools) await batch.pool.deleteMethod(id).catch(() => undefined);
  });
  afterEach(async () => {
    await resetLocalAzure();
    azure.state.dataFactory.reset();
  });

  it("runs the example pipeline: Copy stages the CSV beside the app, the app runs as task <activity run id> in adfv2-<pool>, the pool scales 0 → 1 → 0", async () => {
    const poolId = await addPool({ enableAutoScale: true, autoScaleFormula: SCALE_FROM_ZERO, autoScaleEvaluationInterval: "PT5M" });
    await batchLinkedService("BatchAutoscale", poolId);
    // The example pipeline as a user deploys it (examples/data-factory), on this pool's linked service.
    const example = JSON.parse(fs.readFileSync(path.join(EXAMPLE_FACTORY_DIR, "pipeline", "run-batch-app.json"), "utf8").replace(/"BatchCompute"/g, '"BatchAutoscale"')) as {
      properties: PipelineResource;
    };
    await adf.pipelines.createOrUpdate(rg, factory, "run-batch-app-e2e", example.properties);

    // The app as BatchAppBlobCopy puts it (apps/<folder>/), and the data the Copy activity stages.
    const folder = `app/${uid("e2e")}`;
    const apps = container("apps");
    await apps.createIfNotExists();
    for (const file of ["app.py", "model.json"]) await apps.getBlockBlobClient(`${folder}/${file}`).uploadFile(path.join(APP_DIR, file));
    await apps.getBlockBlobClient(`${folder}/VERSION`).uploadData(Buffer.from("1.0.0\n"));
    const csv = fs.readFileSync(path.join(APP_DIR, "sample-data", "customers.csv"));
    const input = container("input");
    await input.createIfNotExists();
    await input.getBlockBlobClient("incoming/customers.csv").uploadData(csv);

    const counts: number[] = [];
    const watch = setInterval(() => {
      const n = azure.batch.account().pools.get(poolId)?.nodes.size ?? 0;
      if (counts[counts.length - 1] !== n) counts.push(n);
    }, 10);
    let result;
    try {
      assert.equal((await batch.pool.get(poolId)).currentDedicatedNodes, 0, "the pool starts at 0 nodes");
      result = await run("run-batch-app-e2e", { appFolder: `apps/${folder}`, releaseRunId: "4711" });
    } finally {
      clearInterval(watch);
    }
    const { runId, status, activities } = result;
    assert.equal(status, "Succeeded", JSON.stringify(activities.map((a) => a.error)));
    assert.deepEqual(activities.map((a) => [a.activityName, a.activityType, a.status]), [
      ["StageInput", "Copy", "Succeeded"],
      ["RunApp", "Custom", "Succeeded"],
    ]);

    // The Copy activity: one file as it is (identical DelimitedText settings: no row counts), into the app folder.
    const copy = activities[0].output as Record<string, unknown>;
    assert.equal(copy.filesRead, 1);
    assert.equal(copy.filesWritten, 1);
    assert.equal(copy.dataRead, csv.length);
    assert.equal(copy.dataWritten, csv.length);
    assert.equal(copy.rowsRead, undefined);
    assert.equal(copy.effectiveIntegrationRuntime, "DefaultIntegrationRuntime (West Europe)");
    assert.equal(await blobText("apps", `${folder}/staged-input/customers.csv`), csv.toString("utf8"));

    // The Custom activity: a task named by the activity run id in adfv2-<pool>, the folder flattened into its working directory.
    const runApp = activities[1];
    const output = runApp.output as { exitcode: number; outputs: string[]; customOutput?: Record<string, unknown>; computeInformation: string };
    const taskId = runApp.activityRunId!;
    assert.deepEqual(output.outputs, [`${azure.info.storage.blobUrl}/adfjobs/${taskId}/output/stdout.txt`, `${azure.info.storage.blobUrl}/adfjobs/${taskId}/output/stderr.txt`]);
    const task = await batch.task.get(`adfv2-${poolId}`, taskId);
    assert.equal(task.commandLine, `/bin/sh -c 'python3 "\${AZ_BATCH_APP_PACKAGE_batchapp:-.}/app.py" --run-id "${runId}"'`);
    assert.deepEqual(task.resourceFiles?.map((f) => f.filePath).sort(), ["VERSION", "activity.json", "app.py", "customers.csv", "datasets.json", "linkedServices.json", "model.json"]);
    assert.deepEqual(task.userIdentity, { autoUser: { scope: "task", elevationLevel: "nonadmin" } });
    assert.equal(task.executionInfo?.exitCode, 0);
    assert.equal(output.exitcode, 0);
    assert.deepEqual(JSON.parse(output.computeInformation), { account: azure.info.batch.accountName, poolName: poolId, vmSize: "standard_d2s_v3" });

    // What the app printed and wrote, as a user reads it: stdout in adfjobs, outputs.json as customOutput.
    const stdout = await blobText("adfjobs", `${taskId}/output/stdout.txt`);
    assert.match(stdout, new RegExp(`^batch-app version 1\\.0\\.0, pipeline run ${runId}\\nreleased by run 4711\\nread 4 row\\(s\\) from customers\\.csv\\n`));
    assert.equal(await blobText("adfjobs", `${taskId}/output/stderr.txt`), "");
    assert.equal(output.customOutput?.version, "1.0.0");
    assert.equal(output.customOutput?.pipelineRunId, runId);
    assert.equal(output.customOutput?.releaseRunId, "4711");
    assert.equal(output.customOutput?.rows, 4);
    const activityJson = JSON.parse(await blobText("adfjobs", `${taskId}/runtime/activity.json`)) as { name: string; typeProperties: { folderPath: string; extendedProperties: Record<string, unknown> } };
    assert.equal(activityJson.name, "RunApp");
    assert.equal(activityJson.typeProperties.folderPath, `apps/${folder}`);
    assert.deepEqual(activityJson.typeProperties.extendedProperties, { releaseRunId: "4711" });

    // The pool came up from 0 for the task and goes back to 0 once nothing is pending.
    assert.equal(counts[0], 0);
    assert.ok(counts.includes(1), `the pool got a node (node counts seen: ${counts.join(" → ")})`);
    const record = azure.batch.account().pools.get(poolId)!;
    await azure.batch.waitFor(() => record.nodes.size === 0 && record.allocationState === "steady", { what: "the pool to scale back to 0", timeoutMs: 60_000 });
    assert.equal((await batch.pool.get(poolId)).currentDedicatedNodes, 0);
  });

  it("gives the task the Batch environment, the package the node installed, and ADF's JSON files with their secrets", async () => {
    await adf.pipelines.createOrUpdate(rg, factory, "env-e2e", {
      activities: [
        customActivity("ShowEnv", "BatchFixed", `/bin/sh -c 'env | grep ^AZ_BATCH_ | sort; pwd; sh "$AZ_BATCH_APP_PACKAGE_${app}/hello.sh"; cat linkedServices.json datasets.json activity.json > all.json; ls'`, {
          referenceObjects: {
            linkedServices: [{ referenceName: "StagingStorage", type: "LinkedServiceReference" }],
            datasets: [{ referenceName: "IncomingCsv", type: "DatasetReference" }],
          },
          extendedProperties: { token: { type: "SecureString", value: "s3cret-value" }, label: "@{pipeline().parameters.label}" },
        }),
      ],
      parameters: { label: { type: "String", defaultValue: "nightly" } },
    });
    const { status, activities } = await run("env-e2e");
    assert.equal(status, "Succeeded", JSON.stringify(activities[0].error));
    const taskId = activities[0].activityRunId!;
    const stdout = await blobText("adfjobs", `${taskId}/output/stdout.txt`);
    const env = Object.fromEntries(stdout.split("\n").filter((l) => l.startsWith("AZ_BATCH_")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    assert.equal(env.AZ_BATCH_JOB_ID, `adfv2-${fixedPool}`);
    assert.equal(env.AZ_BATCH_TASK_ID, taskId);
    assert.equal(env.AZ_BATCH_POOL_ID, fixedPool);
    assert.ok(env.AZ_BATCH_TASK_WORKING_DIR.endsWith(`/workitems/adfv2-${fixedPool}/job-1/${taskId}/wd`), env.AZ_BATCH_TASK_WORKING_DIR);
    assert.equal(env.AZ_BATCH_NODE_SHARED_DIR, `${env.AZ_BATCH_NODE_ROOT_DIR}/shared`);
    const linuxApp = app.replace(/[.-]/g, "_");
    assert.match(env[`AZ_BATCH_APP_PACKAGE_${linuxApp}_2_5_rc`] ?? "", new RegExp(`^${env.AZ_BATCH_NODE_ROOT_DIR}/applications/${app}2\\.5-rc\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d$`));
    assert.equal(env[`AZ_BATCH_APP_PACKAGE_${linuxApp}`], env[`AZ_BATCH_APP_PACKAGE_${linuxApp}_2_5_rc`], "the default version also without the version");
    assert.ok(stdout.includes(`${env.AZ_BATCH_TASK_WORKING_DIR}\nhello from the package\n`), stdout);
    for (const file of ["activity.json", "datasets.json", "linkedServices.json"]) assert.ok(stdout.split("\n").includes(file), `${file} in the working directory`);

    const linkedServices = JSON.parse(await blobText("adfjobs", `${taskId}/runtime/linkedServices.json`)) as { name: string; properties: { type: string; typeProperties: { connectionString: string } } }[];
    assert.equal(linkedServices[0].name, "StagingStorage");
    // Handed to the program as ADF holds it on its Azure IR: the key in plain text.
    assert.ok(linkedServices[0].properties.typeProperties.connectionString.includes(`AccountKey=${azure.info.storage.accountKey}`));
    const datasets = JSON.parse(await blobText("adfjobs", `${taskId}/runtime/datasets.json`)) as { name: string; properties: { type: string } }[];
    assert.deepEqual(datasets.map((d) => [d.name, d.properties.type]), [["IncomingCsv", "DelimitedText"]]);
    const activity = JSON.parse(await blobText("adfjobs", `${taskId}/runtime/activity.json`)) as { typeProperties: { extendedProperties: Record<string, unknown> } };
    assert.deepEqual(activity.typeProperties.extendedProperties, { token: { type: "SecureString", value: "s3cret-value" }, label: "nightly" });
    // ARM never answers the secrets.
    const ls = await adf.linkedServices.get(rg, factory, "StagingStorage");
    assert.ok(!JSON.stringify(ls).includes(azure.info.storage.accountKey));
  });

  it("fails with ADF's 2500 when the app exits non-zero: the exit code in the output, the reason in stderr.txt", async () => {
    await adf.pipelines.createOrUpdate(rg, factory, "fails-e2e", {
      activities: [customActivity("Score", "BatchFixed", `/bin/sh -c 'echo "scoring"; echo "batch-app: error: no input" >&2; exit 2'`)],
    });
    const { status, message, activities } = await run("fails-e2e");
    assert.equal(status, "Failed");
    assert.equal(message, "Operation on target Score failed: Hit unexpected exception and execution failed.");
    const [score] = activities;
    assert.deepEqual(score.error, { errorCode: "2500", message: "Hit unexpected exception and execution failed.", failureType: "UserError", target: "Score", details: "" });
    assert.equal((score.output as { exitcode: number }).exitcode, 2);
    const taskId = score.activityRunId!;
    assert.equal(await blobText("adfjobs", `${taskId}/output/stderr.txt`), "batch-app: error: no input\n");
    assert.equal(await blobText("adfjobs", `${taskId}/output/stdout.txt`), "scoring\n");
    const task = await batch.task.get(`adfv2-${fixedPool}`, taskId);
    assert.equal(task.executionInfo?.exitCode, 2);
    assert.equal(task.executionInfo?.failureInfo?.code, "FailureExitCode");
  });

  it("honours policy.timeout: the attempt fails with ActionTimedOut, its task is terminated, and the retry is a new task", async () => {
    await adf.pipelines.createOrUpdate(rg, factory, "timeout-e2e", {
      activities: [customActivity("Hang", "BatchFixed", "/bin/sh -c 'echo started; sleep 600'", { policy: { timeout: "0.00:01:00", retry: 1, retryIntervalInSeconds: 30 } })],
    });
    const started = Date.now();
    const { status, activities } = await run("timeout-e2e");
    assert.equal(status, "Failed");
    assert.equal(activities.length, 2, "one attempt and one retry");
    for (const attempt of activities) {
      assert.equal(attempt.status, "Failed");
      assert.equal(attempt.error?.errorCode, "ActionTimedOut");
      assert.match(String(attempt.error?.message), /timed out after 0\.00:01:00/);
      // 60 simulated seconds at 5 ms each.
      assert.ok(attempt.durationInMs! >= 60 * 5 - 10, `attempt lasted ${attempt.durationInMs} ms`);
    }
    assert.ok(Date.now() - started >= (2 * 60 + 30) * 5 - 20);
    const [first, second] = activities;
    assert.notEqual(first.activityRunId, second.activityRunId);
    for (const attempt of activities) {
      const task = await batch.task.get(`adfv2-${fixedPool}`, attempt.activityRunId!);
      assert.equal(task.state, "completed");
      assert.equal(task.executionInfo?.failureInfo?.code, "TaskEnded");
    }
    await azure.batch.waitFor(() => azure.batch.processes.running === 0, { what: "the terminated tasks' processes to end" });
  });

  it("terminates the Batch task when the run is cancelled", async () => {
    await adf.pipelines.createOrUpdate(rg, factory, "cancel-e2e", { activities: [customActivity("Long", "BatchFixed", "/bin/sh -c 'echo working; sleep 600'")] });
    const { runId } = await adf.pipelines.createRun(rg, factory, "cancel-e2e");
    const job = `adfv2-${fixedPool}`;
    let taskId = "";
    await waitFor(async () => {
      const [activity] = await allActivityRuns(adf, rg, factory, runId);
      taskId = activity?.activityRunId ?? "";
      return !!taskId && (await batch.task.list(job)).some((t) => t.id === taskId && t.state === "running");
    }, "the activity's Batch task to run", 30_000);
    await adf.pipelineRuns.cancel(rg, factory, runId);
    const { run } = await pollRun(adf, rg, factory, runId, 30_000);
    assert.equal(run.status, "Cancelled");
    const [activity] = await allActivityRuns(adf, rg, factory, runId);
    assert.equal(activity.status, "Cancelled");
    await waitFor(async () => (await batch.task.get(job, taskId)).state === "completed", "the task to be terminated", 30_000);
    assert.equal((await batch.task.get(job, taskId)).executionInfo?.failureInfo?.code, "TaskEnded");
    await azure.batch.waitFor(() => azure.batch.processes.running === 0, { what: "the task's process to end" });
  });

  it("answers ADF's error codes before any task is made: key, pool, URL, region, resource folder, storage key", async () => {
    const apps = container("apps");
    await apps.createIfNotExists();
    const dup = uid("dup");
    await apps.getBlockBlobClient(`${dup}/a/run.sh`).uploadData(Buffer.from("echo a\n"));
    await apps.getBlockBlobClient(`${dup}/b/run.sh`).uploadData(Buffer.from("echo b\n"));
    await adf.linkedServices.createOrUpdate(rg, factory, "KeylessStorage", {
      properties: { type: "AzureBlobStorage", serviceEndpoint: `https://${azure.info.storage.accountName}.blob.core.windows.net/` } as never,
    });
    const cases: { name: string; ls?: Record<string, unknown>; activity?: Partial<CustomActivity>; code: string; message: RegExp }[] = [
      { name: "wrong-key", ls: { accessKey: { type: "SecureString", value: Buffer.alloc(64, 1).toString("base64") } }, code: "2501", message: /^Cannot access user batch account; please check batch account settings\.$/ },
      { name: "no-pool", ls: { poolName: "no-such-pool" }, code: "2501", message: /^Cannot access user batch account/ },
      { name: "not-a-uri", ls: { batchUri: "releasebatch westeurope" }, code: "2509", message: /^Batch url releasebatch westeurope is invalid; it must be in Uri format\.$/ },
      { name: "wrong-region", ls: { batchUri: `https://${azure.info.batch.accountName}.eastus.batch.azure.com` }, code: "2510", message: /^An error occurred while sending the request\.$/ },
      { name: "staging-keyless", ls: { linkedServiceName: { referenceName: "KeylessStorage", type: "LinkedServiceReference" } }, code: "2505", message: /^Cannot create Shared Access Signature unless Account Key credentials are used\.$/ },
      { name: "empty-folder", activity: { resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" }, folderPath: `apps/${uid("none")}` }, code: "2507", message: /^The folder path does not exist or is empty: apps\// },
      { name: "duplicates", activity: { resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" }, folderPath: `apps/${dup}` }, code: "2508", message: /^There are duplicate files in the resource folder\.$/ },
    ];
    const tasksBefore = (await batch.task.list(`adfv2-${fixedPool}`)).length;
    for (const c of cases) {
      const ls = `Batch-${c.name}`;
      await batchLinkedService(ls, fixedPool, c.ls);
      await adf.pipelines.createOrUpdate(rg, factory, `code-${c.name}`, { activities: [customActivity("Run", ls, "/bin/sh -c 'echo never'", c.activity)] });
      const { status, activities } = await run(`code-${c.name}`);
      assert.equal(status, "Failed", c.name);
      assert.equal(activities[0].error?.errorCode, c.code, `${c.name}: ${activities[0].error?.message}`);
      assert.match(String(activities[0].error?.message), c.message, c.name);
    }
    assert.equal((await batch.task.list(`adfv2-${fixedPool}`)).length, tasksBefore, "no task was added");
  });

  it("keeps a scripted Custom activity simulated even on the local Batch's linked service", async () => {
    await adf.pipelines.createOrUpdate(rg, factory, "scripted-e2e", { activities: [customActivity("Run", "BatchFixed", "/bin/sh -c 'exit 9'")] });
    azure.state.dataFactory.script("scripted-e2e", "Run", { exitCode: 0, output: { customOutput: { simulated: true } } });
    const { status, activities } = await run("scripted-e2e");
    assert.equal(status, "Succeeded");
    assert.deepEqual((activities[0].output as { customOutput: unknown }).customOutput, { simulated: true });
    const ids = (await batch.task.list(`adfv2-${fixedPool}`)).map((t) => t.id);
    assert.ok(!ids.includes(activities[0].activityRunId), "no Batch task for a scripted activity");
  });
});
