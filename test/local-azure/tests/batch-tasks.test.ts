import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import JSZip from "jszip";
import { BatchManagementClient } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import { BlockBlobClient, ContainerClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters, BlobSASPermissions } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, processAlive } from "../../harness/azure-test";
import { ProcessHost } from "../batch/process-runner";
import type { PoolRecord, TaskRecord } from "../batch/state";

const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

async function readStream(body: NodeJS.ReadableStream | undefined): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body ?? []) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

describe("local Azure: Batch tasks really run", function () {
  let azure: LocalAzure;
  let client: BatchServiceClient;
  let savedMs: number;
  let pool: PoolRecord;

  before(async () => {
    azure = await localAzure();
    client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
    pool = await idlePool(1);
  });
  after(async () => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
    azure.state.batch.taskRunner = undefined;
    await client.pool.deleteMethod(pool.id).catch(() => undefined);
  });
  afterEach(resetLocalAzure);

  const account = () => azure.batch.account();

  async function idlePool(nodes: number, extra: Partial<BatchServiceModels.PoolAddParameter> = {}): Promise<PoolRecord> {
    const id = uid("run");
    await client.pool.add({
      id,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: nodes,
      ...extra,
    });
    const record = account().pools.get(id)!;
    await azure.batch.waitFor(() => record.nodes.size === nodes && [...record.nodes.values()].every((n) => n.state === "idle" || n.state === "starttaskfailed"), { what: "nodes ready" });
    return record;
  }

  async function runTask(task: BatchServiceModels.TaskAddParameter, poolId = pool.id): Promise<{ jobId: string; task: BatchServiceModels.CloudTask }> {
    const jobId = uid("job");
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, task);
    const record = () => account().jobs.get(jobId)!.tasks.get(task.id)!;
    await azure.batch.waitFor(() => record().state === "completed", { what: `task ${task.id} completed`, timeoutMs: 30_000 });
    return { jobId, task: await client.task.get(jobId, task.id) };
  }

  async function taskFile(jobId: string, taskId: string, name: string, range?: string): Promise<string> {
    const response = await client.file.getFromTask(jobId, taskId, name, range ? { fileGetFromTaskOptions: { ocpRange: range } } : undefined);
    return readStream(response.readableStreamBody);
  }

  it("runs the command line with /bin/sh in the task's working directory, with Batch's environment; stdout.txt and stderr.txt are task files", async () => {
    const script = [
      'echo "pwd=$(pwd)"',
      'echo "wd=$AZ_BATCH_TASK_WORKING_DIR"',
      'echo "ids=$AZ_BATCH_JOB_ID/$AZ_BATCH_TASK_ID/$AZ_BATCH_POOL_ID/$AZ_BATCH_NODE_ID"',
      'echo "root=$AZ_BATCH_NODE_ROOT_DIR"',
      'echo "shared=$AZ_BATCH_NODE_SHARED_DIR"',
      'echo "own=$GREETING"',
      "echo made > made.txt",
      "echo warning: careful >&2",
    ].join("; ");
    const { jobId, task } = await runTask({ id: "env", commandLine: `/bin/sh -c '${script}'`, environmentSettings: [{ name: "GREETING", value: "hello" }] });
    assert.equal(task.executionInfo?.result, "success");
    assert.equal(task.executionInfo?.exitCode, 0);
    const out = await taskFile(jobId, "env", "stdout.txt");
    const lines = Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    const [node] = [...pool.nodes.values()];
    assert.equal(lines.ids, `${jobId}/env/${pool.id}/${node.id}`);
    assert.equal(lines.own, "hello");
    assert.equal(lines.pwd, lines.wd);
    assert.equal(lines.wd, path.join(lines.root, "workitems", jobId, "job-1", "env", "wd"));
    assert.equal(lines.shared, path.join(lines.root, "shared"));
    for (const d of ["applications", "shared", "startup", "workitems"]) assert.ok(fs.statSync(path.join(lines.root, d)).isDirectory(), `${d}/ exists`);
    assert.equal(await taskFile(jobId, "env", "stderr.txt"), "warning: careful\n");

    const files = await client.file.listFromTask(jobId, "env", { recursive: true });
    assert.deepEqual(files.map((f) => f.name).sort(), ["stderr.txt", "stdout.txt", "wd", "wd/made.txt"]);
    assert.equal(files.find((f) => f.name === "wd")?.isDirectory, true);
    assert.equal(files.find((f) => f.name === "stdout.txt")?.properties?.contentLength, Buffer.byteLength(out));
    assert.deepEqual((await client.file.listFromTask(jobId, "env")).map((f) => f.name).sort(), ["stderr.txt", "stdout.txt", "wd"]);
    // A tail through ocp-range, and the properties (HEAD) of a file.
    assert.equal(await taskFile(jobId, "env", "stderr.txt", "bytes=-8"), "careful\n");
    assert.equal(await taskFile(jobId, "env", "stderr.txt", "bytes=0-6"), "warning");
    const props = await client.file.getPropertiesFromTask(jobId, "env", "wd/made.txt");
    assert.equal(props.contentLength, 5);
    assert.equal(props.ocpBatchFileIsdirectory, false);
    assert.equal(await taskFile(jobId, "env", "wd/made.txt"), "made\n");
    // The same files through the node.
    const nodeFile = await client.file.getFromComputeNode(pool.id, node.id, `workitems/${jobId}/job-1/env/stdout.txt`);
    assert.equal(await readStream(nodeFile.readableStreamBody), out);
  });

  it("decides executionInfo by the exit code: exit 3 fails with FailureExitCode, and a task runs until its process ends", async () => {
    const { task } = await runTask({ id: "three", commandLine: "/bin/sh -c 'echo failing; exit 3'" });
    assert.equal(task.state, "completed");
    assert.equal(task.executionInfo?.exitCode, 3);
    assert.equal(task.executionInfo?.result, "failure");
    assert.deepEqual(task.executionInfo?.failureInfo && { category: task.executionInfo.failureInfo.category, code: task.executionInfo.failureInfo.code, message: task.executionInfo.failureInfo.message }, {
      category: "usererror",
      code: "FailureExitCode",
      message: "The task exited with an exit code representing a failure",
    });

    // At 5 ms per simulated second, 1.5 real seconds are five simulated minutes: the task still runs, because its process does.
    const jobId = uid("job");
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    const started = Date.now();
    await client.task.add(jobId, { id: "sleeper", commandLine: "/bin/sh -c 'sleep 1.5; echo woke'" });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await client.task.get(jobId, "sleeper")).state, "running");
    await azure.batch.waitFor(() => account().jobs.get(jobId)!.tasks.get("sleeper")!.state === "completed", { timeoutMs: 20_000 });
    assert.ok(Date.now() - started >= 1500, "completed only after the process exited");
    assert.equal(await taskFile(jobId, "sleeper", "stdout.txt"), "woke\n");
  });

  it("enforces maxWallClockTime (simulated time): the process is killed and the task fails with TaskEnded", async () => {
    const pidFile = path.join(os.tmpdir(), `${uid("pid")}.txt`);
    const { task } = await runTask({ id: "slow", commandLine: `/bin/sh -c 'echo $$ > ${pidFile}; exec sleep 30'`, constraints: { maxWallClockTime: "PT2M" } });
    assert.equal(task.executionInfo?.result, "failure");
    assert.equal(task.executionInfo?.exitCode, 137);
    assert.equal(task.executionInfo?.failureInfo?.code, "TaskEnded");
    assert.equal(task.executionInfo?.failureInfo?.category, "servererror");
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    fs.rmSync(pidFile);
    await azure.batch.waitFor(() => !processAlive(pid), { what: "the killed process gone", timeoutMs: 5000 });
  });

  it("kills the process when the task is terminated", async () => {
    const jobId = uid("job");
    const pidFile = path.join(os.tmpdir(), `${uid("pid")}.txt`);
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    await client.task.add(jobId, { id: "forever", commandLine: `/bin/sh -c 'echo $$ > ${pidFile}; exec sleep 60'` });
    await azure.batch.waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "", { what: "the process started" });
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    fs.rmSync(pidFile);
    assert.ok(processAlive(pid));
    await client.task.terminate(jobId, "forever");
    const got = await client.task.get(jobId, "forever");
    assert.equal(got.state, "completed");
    assert.equal(got.executionInfo?.failureInfo?.code, "TaskEnded");
    await azure.batch.waitFor(() => !processAlive(pid), { what: "the terminated process gone", timeoutMs: 5000 });
  });

  it("downloads resource files: httpUrl, storageContainerUrl with blobPrefix, autoStorageContainerName; a missing blob fails the task with BlobNotFound", async () => {
    const { accountName, accountKey, blobUrl } = azure.info.storage;
    const key = new StorageSharedKeyCredential(accountName, accountKey);
    const containerName = uid("inputs");
    const container = new ContainerClient(`${blobUrl}/${containerName}`, key);
    await container.create();
    await container.getBlockBlobClient("app/main.sh").uploadData(Buffer.from("echo main"));
    await container.getBlockBlobClient("app/lib/helper.txt").uploadData(Buffer.from("helper"));
    await container.getBlockBlobClient("other/skip.txt").uploadData(Buffer.from("skip"));
    await container.getBlockBlobClient("single.txt").uploadData(Buffer.from("single"));
    const expiresOn = new Date(Date.now() + 3600_000);
    const containerSas = generateBlobSASQueryParameters({ containerName, permissions: ContainerSASPermissions.parse("rl"), expiresOn }, key).toString();
    const blobSas = generateBlobSASQueryParameters({ containerName, blobName: "single.txt", permissions: BlobSASPermissions.parse("r"), expiresOn }, key).toString();

    const { jobId, task } = await runTask({
      id: "inputs",
      commandLine: "/bin/sh -c 'cat single.txt; cat in/app/lib/helper.txt; test -e in/other/skip.txt || echo no-skip; cat auto/app/main.sh; stat -c %a single.txt'",
      resourceFiles: [
        { httpUrl: `${blobUrl}/${containerName}/single.txt?${blobSas}`, filePath: "single.txt" },
        { storageContainerUrl: `${blobUrl}/${containerName}?${containerSas}`, blobPrefix: "app/", filePath: "in" },
        { autoStorageContainerName: containerName, blobPrefix: "app/main", filePath: "auto" },
      ],
    });
    assert.equal(task.executionInfo?.result, "success", JSON.stringify(task.executionInfo));
    assert.equal(await taskFile(jobId, "inputs", "stdout.txt"), "singlehelperno-skip\necho main770\n");

    const missing = await runTask({ id: "missing", commandLine: "/bin/true", resourceFiles: [{ httpUrl: `${blobUrl}/${containerName}/absent.txt?${blobSas}`, filePath: "absent.txt" }] });
    assert.equal(missing.task.executionInfo?.result, "failure");
    assert.equal(missing.task.executionInfo?.exitCode, undefined);
    assert.equal(missing.task.executionInfo?.failureInfo?.category, "usererror");
    assert.ok(["BlobNotFound", "BlobAccessDenied"].includes(missing.task.executionInfo?.failureInfo?.code ?? ""), missing.task.executionInfo?.failureInfo?.code);
    await container.delete();
  });

  it("points AZ_BATCH_APP_PACKAGE_<app>_<version> and the default-version form at the node's unzipped packages", async () => {
    const arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"] });
    const rg = azure.info.resourceGroup;
    const acct = azure.info.batch.accountName;
    const app = `Tool${crypto.randomBytes(3).toString("hex")}`;
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "1.2");
    const zip = new JSZip();
    zip.file("bin/run.sh", "#!/bin/sh\necho packaged \"$1\"\n");
    await new BlockBlobClient(pkg.storageUrl!).uploadData(await zip.generateAsync({ type: "nodebuffer" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "1.2", { format: "zip" });
    await arm.applicationOperations.update(rg, acct, app, { defaultVersion: "1.2" });
    const appPool = await idlePool(1, { applicationPackageReferences: [{ applicationId: app }] });
    const { jobId, task } = await runTask(
      { id: "pkg", commandLine: `/bin/sh -c '"$AZ_BATCH_APP_PACKAGE_${app}_1_2/bin/run.sh" versioned; "$AZ_BATCH_APP_PACKAGE_${app.toLowerCase()}/bin/run.sh" default'` },
      appPool.id,
    );
    assert.equal(task.executionInfo?.result, "success", await taskFile(jobId, "pkg", "stderr.txt"));
    assert.equal(await taskFile(jobId, "pkg", "stdout.txt"), "packaged versioned\npackaged default\n");
    await client.pool.deleteMethod(appPool.id);
  });

  it("keeps AZ_BATCH_APP_PACKAGE_<app> at the default version the node deployed: a new default reaches a node that is up only when it reboots", async () => {
    const arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"] });
    const rg = azure.info.resourceGroup;
    const acct = azure.info.batch.accountName;
    const app = `Tool${crypto.randomBytes(3).toString("hex")}`;
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    const publish = async (version: string) => {
      const pkg = await arm.applicationPackageOperations.create(rg, acct, app, version);
      const zip = new JSZip();
      zip.file("run.sh", `#!/bin/sh\necho "version ${version}"\n`);
      await new BlockBlobClient(pkg.storageUrl!).uploadData(await zip.generateAsync({ type: "nodebuffer" }));
      await arm.applicationPackageOperations.activate(rg, acct, app, version, { format: "zip" });
      await arm.applicationOperations.update(rg, acct, app, { defaultVersion: version });
    };
    await publish("1.0");
    const appPool = await idlePool(1, { applicationPackageReferences: [{ applicationId: app }] });
    const [node] = [...appPool.nodes.values()];
    const command = `/bin/sh -c '"$AZ_BATCH_APP_PACKAGE_${app}/run.sh"; echo "2.0 here: \${AZ_BATCH_APP_PACKAGE_${app}_2_0:-no}"'`;
    const before = await runTask({ id: "default1", commandLine: command }, appPool.id);
    assert.equal(await taskFile(before.jobId, "default1", "stdout.txt"), "version 1.0\n2.0 here: no\n");

    await publish("2.0");
    const stillUp = await runTask({ id: "default2", commandLine: command }, appPool.id);
    assert.equal(stillUp.task.nodeInfo?.nodeId, node.id);
    assert.equal(await taskFile(stillUp.jobId, "default2", "stdout.txt"), "version 1.0\n2.0 here: no\n", "the node that was up keeps the default it deployed");

    await client.computeNode.reboot(appPool.id, node.id);
    await azure.batch.waitFor(() => node.state === "idle" && node.installedPackages.length === 2, { what: "the node rebooted with 2.0" });
    const rebooted = await runTask({ id: "default3", commandLine: command }, appPool.id);
    const nodeRoot = node.sim.rootDir!;
    const stdout = await taskFile(rebooted.jobId, "default3", "stdout.txt");
    assert.match(stdout, /^version 2\.0\n2\.0 here: (.+)\n$/);
    assert.ok(stdout.includes(`${nodeRoot}/applications/${app.toLowerCase()}2.0`), stdout);
    await client.pool.deleteMethod(appPool.id);
  });

  it("runs the start task in startup/wd; one that fails with waitForSuccess leaves the node starttaskfailed with startTaskInfo; node folders go with the pool", async () => {
    const ok = await idlePool(1, { startTask: { commandLine: "/bin/sh -c 'echo started in $(pwd) > $AZ_BATCH_NODE_SHARED_DIR/marker; echo up'", waitForSuccess: true } });
    const [okNode] = [...ok.nodes.values()];
    const got = await client.computeNode.get(ok.id, okNode.id);
    assert.equal(got.state, "idle");
    assert.equal(got.startTaskInfo?.exitCode, 0);
    assert.equal(got.startTaskInfo?.result, "success");
    const marker = fs.readFileSync(path.join(okNode.sim.rootDir!, "shared", "marker"), "utf8");
    assert.equal(marker, `started in ${path.join(okNode.sim.rootDir!, "startup", "wd")}\n`);
    const stdout = await client.file.getFromComputeNode(ok.id, okNode.id, "startup/stdout.txt");
    assert.equal(await readStream(stdout.readableStreamBody), "up\n");

    const bad = await idlePool(1, { startTask: { commandLine: "/bin/sh -c 'echo no >&2; exit 4'", waitForSuccess: true, maxTaskRetryCount: 1 } });
    const [badNode] = [...bad.nodes.values()];
    const failed = await client.computeNode.get(bad.id, badNode.id);
    assert.equal(failed.state, "starttaskfailed");
    assert.equal(failed.startTaskInfo?.state, "completed");
    assert.equal(failed.startTaskInfo?.exitCode, 4);
    assert.equal(failed.startTaskInfo?.result, "failure");
    assert.equal(failed.startTaskInfo?.retryCount, 1);
    assert.equal(failed.startTaskInfo?.failureInfo?.code, "FailureExitCode");
    assert.equal(failed.startTaskInfo?.failureInfo?.category, "usererror");
    await Promise.all([client.pool.deleteMethod(ok.id), client.pool.deleteMethod(bad.id)]);
    // A deleted pool's nodes leave nothing behind on disk.
    await azure.batch.waitFor(() => !fs.existsSync(okNode.sim.rootDir!) && !fs.existsSync(badNode.sim.rootDir!), { what: "node folders removed" });
  });

  it("lets a taskRunner hook take a task over, with the working directory and environment it would get", async () => {
    let seen: { wd: string; jobId?: string; exists: boolean } | undefined;
    azure.state.batch.taskRunner = (ctx) => {
      if (ctx.task.id !== "hooked") return undefined;
      seen = { wd: ctx.workingDirectory, jobId: ctx.environment.AZ_BATCH_JOB_ID, exists: fs.existsSync(ctx.workingDirectory) };
      return Promise.resolve({ exitCode: 0, stdout: "from the hook\n" });
    };
    const { jobId, task } = await runTask({ id: "hooked", commandLine: "/bin/false" });
    azure.state.batch.taskRunner = undefined;
    assert.equal(task.executionInfo?.result, "success");
    assert.deepEqual(seen, { wd: seen!.wd, jobId, exists: true });
    assert.equal(await taskFile(jobId, "hooked", "stdout.txt"), "from the hook\n");
  });

  it("ends every process on close, and when the hosting process exits", async () => {
    const host = new ProcessHost();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"));
    const signal = new AbortController().signal;
    const run = host.run({ commandLine: "echo $$ > pid; sleep 60 & echo $! > child; wait", cwd: dir, env: { PATH: process.env.PATH ?? "" }, stdoutPath: path.join(dir, "out"), stderrPath: path.join(dir, "err"), signal });
    await azure.batch.waitFor(() => fs.existsSync(path.join(dir, "child")) && fs.readFileSync(path.join(dir, "child"), "utf8").trim() !== "");
    const pids = ["pid", "child"].map((f) => Number(fs.readFileSync(path.join(dir, f), "utf8")));
    assert.ok(pids.every(processAlive));
    host.close();
    const result = await run;
    assert.equal(result.how, "exited");
    assert.equal(result.exitCode, 137);
    await azure.batch.waitFor(() => pids.every((p) => !processAlive(p)), { what: "the shell and its child gone", timeoutMs: 5000 });

    // A host process that exits (without closing) takes its task processes with it.
    const script = `const { ProcessHost } = require(${JSON.stringify(path.join(__dirname, "..", "batch", "process-runner.ts"))});
const host = new ProcessHost();
host.run({ commandLine: "echo $$ > pid2; exec sleep 60", cwd: ${JSON.stringify(dir)}, env: { PATH: process.env.PATH }, stdoutPath: "/dev/null", stderrPath: "/dev/null", signal: new AbortController().signal });
const fs = require("node:fs");
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(path.join(dir, "pid2"))}) && fs.readFileSync(${JSON.stringify(path.join(dir, "pid2"))}, "utf8").trim()) { clearInterval(t); process.exit(0); } }, 10);`;
    const child = spawnSync(process.execPath, ["--require", "tsx/cjs", "-e", script], { encoding: "utf8", timeout: 20_000 });
    assert.equal(child.status, 0, child.stderr);
    const orphan = Number(fs.readFileSync(path.join(dir, "pid2"), "utf8"));
    await azure.batch.waitFor(() => !processAlive(orphan), { what: "the exited host's process gone", timeoutMs: 5000 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps a scripted task simulated (no process), for tests that need simulated durations", async () => {
    const jobId = uid("job");
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    azure.state.batch.taskScript = (job, task: TaskRecord) => (job.id === jobId ? { exitCode: 5, durationSeconds: 10 } : undefined);
    await client.task.add(jobId, { id: "scripted", commandLine: "/bin/sh -c 'exit 0'" });
    await azure.batch.waitFor(() => account().jobs.get(jobId)!.tasks.get("scripted")!.state === "completed");
    azure.state.batch.taskScript = undefined;
    const got = await client.task.get(jobId, "scripted");
    assert.equal(got.executionInfo?.exitCode, 5);
    assert.equal(await taskFile(jobId, "scripted", "stdout.txt"), "");
  });
});
