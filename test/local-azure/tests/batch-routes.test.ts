import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import JSZip from "jszip";
import { BatchManagementClient } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { BlockBlobClient } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith, processAlive } from "../../harness/azure-test";
import type { PoolRecord } from "../batch/state";

type RestErr = { statusCode?: number; code?: string; body?: { code?: string; message?: { value?: string }; values?: { key: string; value: string }[] } };
const rejects = (promise: Promise<unknown>, check: (e: RestErr) => void) => rejectsWith<RestErr>(promise, check);
const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

describe("local Azure: Batch job, task, file, node count and application routes", function () {
  let azure: LocalAzure;
  let client: BatchServiceClient;
  let savedMs: number;
  let pool: PoolRecord;
  const pidDir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-routes-"));

  before(async () => {
    azure = await localAzure();
    client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
    const id = uid("routes");
    await client.pool.add({
      id,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: 2,
      taskSlotsPerNode: 2,
    });
    pool = azure.batch.account().pools.get(id)!;
    await azure.batch.waitFor(() => pool.nodes.size === 2 && [...pool.nodes.values()].every((n) => n.state === "idle"), { what: "idle nodes" });
  });
  after(async () => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
    await client.pool.deleteMethod(pool.id).catch(() => undefined);
    fs.rmSync(pidDir, { recursive: true, force: true });
  });
  afterEach(resetLocalAzure);

  const job = (id: string) => azure.batch.account().jobs.get(id)!;
  const sleeper = (name: string) => `/bin/sh -c 'echo $$ > ${path.join(pidDir, name)}; exec sleep 60'`;
  const pidOf = async (name: string): Promise<number> => {
    const file = path.join(pidDir, name);
    await azure.batch.waitFor(() => fs.existsSync(file) && fs.readFileSync(file, "utf8").trim() !== "", { what: `${name} started` });
    return Number(fs.readFileSync(file, "utf8"));
  };

  it("terminates a job: its running tasks' processes are killed, and the job completes with the reason given", async () => {
    const jobId = uid("term");
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    await client.task.addCollection(jobId, [
      { id: "a", commandLine: sleeper(`${jobId}-a`) },
      { id: "b", commandLine: sleeper(`${jobId}-b`) },
    ]);
    const pids = await Promise.all([pidOf(`${jobId}-a`), pidOf(`${jobId}-b`)]);
    await client.job.terminate(jobId, { jobTerminateOptions: {}, terminateReason: "ReleaseCancelled" });
    await azure.batch.waitFor(() => job(jobId).state === "completed", { what: "job completed" });
    const got = await client.job.get(jobId);
    assert.equal(got.previousState, "terminating");
    assert.equal(got.executionInfo?.terminateReason, "ReleaseCancelled");
    for (const t of await client.task.list(jobId)) {
      assert.equal(t.state, "completed");
      assert.equal(t.executionInfo?.failureInfo?.code, "TaskEnded");
    }
    await azure.batch.waitFor(() => pids.every((p) => !processAlive(p)), { what: "task processes gone", timeoutMs: 5000 });
    await rejects(client.job.terminate(jobId), (e) => {
      assert.equal(e.statusCode, 409);
      assert.equal(e.code, "JobCompleted");
    });
  });

  it("patches a job (priority, maxParallelTasks, onAllTasksComplete), honouring If-Match", async () => {
    const jobId = uid("patch");
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    const before = await client.job.get(jobId);
    await rejects(client.job.patch(jobId, { priority: 10 }, { jobPatchOptions: { ifMatch: "0x8D0000000000000" } }), (e) => assert.equal(e.statusCode, 412));
    await client.job.patch(jobId, { priority: 100, maxParallelTasks: 3, metadata: [{ name: "release", value: "42" }] }, { jobPatchOptions: { ifMatch: before.eTag } });
    const patched = await client.job.get(jobId);
    assert.equal(patched.priority, 100);
    assert.equal(patched.maxParallelTasks, 3);
    assert.deepEqual(patched.metadata, [{ name: "release", value: "42" }]);
    assert.notEqual(patched.eTag, before.eTag);
    await rejects(client.job.patch(jobId, { priority: 5000 }), (e) => assert.equal(e.code, "InvalidPropertyValue"));
    await client.task.add(jobId, { id: "quick", commandLine: "/bin/true" });
    await azure.batch.waitFor(() => job(jobId).tasks.get("quick")!.state === "completed");
    // With every task complete, terminatejob completes the job at once.
    await client.job.patch(jobId, { onAllTasksComplete: "terminatejob" });
    const done = await client.job.get(jobId);
    assert.equal(done.state, "completed");
    assert.equal(done.executionInfo?.terminateReason, "AllTasksComplete");
  });

  it("deletes a task (killing its process) and reactivates a failed one, which runs again", async () => {
    const jobId = uid("tasks");
    await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
    await client.task.add(jobId, { id: "doomed", commandLine: sleeper(`${jobId}-doomed`) });
    const pid = await pidOf(`${jobId}-doomed`);
    await client.task.deleteMethod(jobId, "doomed");
    await rejects(client.task.get(jobId, "doomed"), (e) => assert.equal(e.code, "TaskNotFound"));
    await azure.batch.waitFor(() => !processAlive(pid), { what: "deleted task's process gone", timeoutMs: 5000 });

    const flag = path.join(pidDir, `${jobId}-flag`);
    await client.task.add(jobId, { id: "flaky", commandLine: `/bin/sh -c 'test -e ${flag} && { sleep 1; echo second; } || { touch ${flag}; exit 7; }'` });
    await azure.batch.waitFor(() => job(jobId).tasks.get("flaky")!.state === "completed");
    const failed = await client.task.get(jobId, "flaky");
    assert.equal(failed.executionInfo?.exitCode, 7);
    await client.task.reactivate(jobId, "flaky");
    // The second run sleeps a second first, so it is seen again without an exit code.
    assert.equal((await client.task.get(jobId, "flaky")).executionInfo?.exitCode, undefined);
    await azure.batch.waitFor(() => job(jobId).tasks.get("flaky")!.state === "completed");
    const rerun = await client.task.get(jobId, "flaky");
    assert.equal(rerun.executionInfo?.result, "success");
    assert.equal(rerun.executionInfo?.retryCount, 0);
    const out = await client.file.getFromTask(jobId, "flaky", "stdout.txt");
    const chunks: Buffer[] = [];
    for await (const c of out.readableStreamBody!) chunks.push(Buffer.from(c as Buffer));
    assert.equal(Buffer.concat(chunks).toString(), "second\n");
    await rejects(client.task.reactivate(jobId, "flaky"), (e) => {
      assert.equal(e.statusCode, 409);
      assert.equal(e.code, "OperationInvalidForCurrentState");
    });
    await rejects(client.file.listFromTask(jobId, "never"), (e) => assert.equal(e.code, "TaskNotFound"));
  });

  it("counts nodes per pool and state (/nodecounts)", async () => {
    const counts = await client.account.listPoolNodeCounts();
    const mine = counts.find((c) => c.poolId === pool.id)!;
    assert.equal(mine.dedicated?.idle, 2);
    assert.equal(mine.dedicated?.total, 2);
    assert.equal(mine.lowPriority?.total, 0);
    const seeded = counts.find((c) => c.poolId === azure.info.batch.poolId)!;
    assert.equal(seeded.dedicated?.total, 0);
  });

  it("lists and gets the applications nodes can use (active versions only)", async () => {
    const arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"] });
    const rg = azure.info.resourceGroup;
    const acct = azure.info.batch.accountName;
    const app = `Lister${crypto.randomBytes(3).toString("hex")}`;
    await arm.applicationOperations.create(rg, acct, app, { parameters: { displayName: "Lister tool", allowUpdates: true } });
    await arm.applicationPackageOperations.create(rg, acct, app, "0.9");
    await rejects(client.application.get(app), (e) => assert.equal(e.code, "ApplicationNotFound"));
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "1.0");
    await new BlockBlobClient(pkg.storageUrl!).uploadData(await new JSZip().file("a.txt", "a").generateAsync({ type: "nodebuffer" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "1.0", { format: "zip" });
    const got = await client.application.get(app);
    assert.deepEqual({ id: got.id, displayName: got.displayName, versions: got.versions }, { id: app, displayName: "Lister tool", versions: ["1.0"] });
    assert.ok((await client.application.list()).some((a) => a.id === app));
  });

  it("takes a pool's package reference by application name or by the fully qualified id Batch documents, and refuses another account's application", async () => {
    const account = azure.batch.account();
    const app = `qualified${crypto.randomBytes(3).toString("hex")}`;
    account.applications.set(app, { name: app, allowUpdates: true, defaultVersion: "1.0", etag: "0x1", versions: new Map([["1.0", { version: "1.0", state: "Active" as const, etag: "0x2", container: `app-${app}`, blobName: `${app}-1.0.zip`, entries: [] }]]) });
    try {
      const accountId = `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${azure.info.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${azure.info.batch.accountName}`;
      await client.pool.patch(pool.id, { applicationPackageReferences: [{ applicationId: `${accountId}/applications/${app}`, version: "1.0" }] });
      assert.deepEqual((await client.pool.get(pool.id)).applicationPackageReferences, [{ applicationId: `${accountId}/applications/${app}`, version: "1.0" }]);
      await client.pool.patch(pool.id, { applicationPackageReferences: [{ applicationId: app }] });
      const other = accountId.replace(/batchAccounts\/[^/]+$/, "batchAccounts/otheraccount");
      await rejects(client.pool.patch(pool.id, { applicationPackageReferences: [{ applicationId: `${other}/applications/${app}`, version: "1.0" }] }), (e) => {
        assert.equal(e.statusCode, 409);
        assert.match(JSON.stringify(e.body?.values), /does not belong to Batch account 'releasebatch'/);
      });
      assert.deepEqual((await client.pool.get(pool.id)).applicationPackageReferences, [{ applicationId: app }]);
    } finally {
      await client.pool.patch(pool.id, { applicationPackageReferences: [] });
      account.applications.delete(app);
    }
  });

  it("answers operations it does not implement with 501 NotImplemented naming the operation", async () => {
    await rejects(client.jobSchedule.list(), (e) => {
      assert.equal(e.statusCode, 501);
      assert.equal(e.code, "NotImplemented");
      assert.match(e.body?.message?.value ?? "", /JobSchedule_List/);
      assert.deepEqual(e.body?.values, [{ key: "OperationId", value: "JobSchedule_List" }]);
    });
    await rejects(client.certificate.list(), (e) => {
      assert.equal(e.statusCode, 501);
      assert.match(e.body?.message?.value ?? "", /Certificate_List/);
    });
    await rejects(client.job.disable(uid("nojob"), "requeue"), (e) => assert.match(e.body?.message?.value ?? "", /Job_Disable/));
  });
});
