import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import { AzureIdentityCredentialAdapter, ServiceClient, TokenCredentials, WebResource, exponentialRetryPolicy } from "@azure/ms-rest-js";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith } from "../../harness/azure-test";
import type { NodeRecord, PoolRecord, TaskRecord } from "../batch/state";

const BATCH_SCOPE = "https://batch.core.windows.net//.default";

type RestErr = { statusCode?: number; code?: string; body?: { code?: string; message?: { value?: string }; values?: { key: string; value: string }[] } };

const rejects = (promise: Promise<unknown>, check: (e: RestErr) => void) => rejectsWith<RestErr>(promise, check);

const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

describe("local Azure: Batch data plane and simulation", function () {
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

  const account = () => azure.batch.account();
  const poolRecord = (id: string): PoolRecord => account().pools.get(id)!;

  /** A fresh Linux pool with `nodes` dedicated nodes, waited on until every node is idle. */
  async function idlePool(nodes: number, extra: Partial<BatchServiceModels.PoolAddParameter> = {}): Promise<PoolRecord> {
    const id = uid("pool");
    await client.pool.add({
      id,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: {
        imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts", version: "latest" },
        nodeAgentSKUId: "batch.node.ubuntu 20.04",
      },
      targetDedicatedNodes: nodes,
      ...extra,
    });
    const pool = poolRecord(id);
    await azure.batch.waitFor(() => pool.nodes.size === nodes && [...pool.nodes.values()].every((n) => n.state === "idle"), { what: "idle nodes" });
    return pool;
  }

  describe("authentication", () => {
    it("accepts SharedKey with either account key and refuses a wrong key with 403 AuthenticationFailed", async () => {
      const pool = await client.pool.get(azure.info.batch.poolId);
      assert.equal(pool.id, "adf-pool");
      assert.equal(pool.allocationState, "steady");
      const secondary = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, account().keys.secondary), azure.info.batch.url);
      assert.equal((await secondary.pool.get(azure.info.batch.poolId)).id, "adf-pool");
      const wrong = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, crypto.randomBytes(64).toString("base64")), azure.info.batch.url);
      await rejects(wrong.pool.get(azure.info.batch.poolId), (e) => {
        assert.equal(e.statusCode, 403);
        assert.equal(e.code, "AuthenticationFailed");
        assert.match(e.body?.message?.value ?? "", /^Server failed to authenticate the request\. Make sure the value of Authorization header is formed correctly including the signature\./);
      });
    });

    it("accepts an Entra token for the Batch audience and refuses one for ARM", async () => {
      const credential = localCredential(azure);
      const entra = new BatchServiceClient(new AzureIdentityCredentialAdapter(credential, BATCH_SCOPE), azure.info.batch.url);
      const pools = await entra.pool.list();
      assert.ok(pools.some((p) => p.id === "adf-pool"));
      const armToken = azure.entra.mintToken({ aud: "https://management.azure.com/", oid: azure.info.servicePrincipalObjectId });
      const wrongAudience = new BatchServiceClient(new TokenCredentials(armToken), azure.info.batch.url);
      await rejects(wrongAudience.pool.get(azure.info.batch.poolId), (e) => {
        assert.equal(e.statusCode, 401);
        assert.equal(e.code, "AuthenticationFailed");
      });
    });

    it("requires api-version and answers unknown routes with a 404 in Batch's shape", async () => {
      const raw = new ServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey));
      const missing = await raw.sendRequest(new WebResource(`${azure.info.batch.url}/pools`, "GET"));
      assert.equal(missing.status, 400);
      assert.equal(missing.parsedBody.code, "MissingRequiredQueryParameter");
      assert.deepEqual(missing.parsedBody.values, [{ key: "QueryParameterName", value: "api-version" }]);
      const unknown = await raw.sendRequest(new WebResource(`${azure.info.batch.url}/nothing/here?api-version=2022-10-01.16.0`, "GET"));
      assert.equal(unknown.status, 404);
      assert.ok(unknown.parsedBody["odata.metadata"]);
      assert.equal(unknown.parsedBody.code, "ResourceNotFound");
      assert.equal(unknown.parsedBody.message.lang, "en-US");
    });

    it("retries injected 429 and 503 answers", async () => {
      // 429: observed here, @azure/batch 10.2.0's pipeline does not retry it; the caller sees
      // 429 ServerBusy with Retry-After and must back off itself.
      azure.faults.add({ service: "batch", kind: "429", count: 1, retryAfterSeconds: 1 });
      await rejects(client.pool.get(azure.info.batch.poolId), (e) => {
        assert.equal(e.statusCode, 429);
        assert.equal(e.code, "ServerBusy");
      });
      assert.equal((await client.pool.get(azure.info.batch.poolId)).id, "adf-pool");
      // 503: the exponential retry policy (30 s back-off by default; shortened here).
      const quick = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url, {
        requestPolicyFactories: (defaults) => [...defaults, exponentialRetryPolicy(3, 20, 10, 100)],
      });
      azure.faults.add({ service: "batch", kind: "503", count: 2, retryAfterSeconds: 1 });
      assert.equal((await quick.pool.get(azure.info.batch.poolId)).id, "adf-pool");
      assert.deepEqual(azure.faults.counts(), [1, 2]);
      assert.equal(azure.log.entries.filter((e) => e.service === "batch" && e.fault === "503").length >= 2, true);
    });
  });

  describe("pools and nodes", () => {
    it("lists pools with $filter and $select, and gets one with $select", async () => {
      const id = uid("listed");
      await client.pool.add({ id, vmSize: "standard_a1", virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "x", sku: "y" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" } });
      const filtered = await client.pool.list({ poolListOptions: { filter: `startswith(id,'${id}')`, select: "id,state" } });
      assert.deepEqual(filtered.map((p) => ({ ...p })), [{ id, state: "active" }]);
      const none = await client.pool.list({ poolListOptions: { filter: "state eq 'deleting' and allocationState eq 'steady'" } });
      assert.ok(none.every((p) => p.state === "deleting"));
      const selected = await client.pool.get(id, { poolGetOptions: { select: "id,allocationState" } });
      assert.equal(selected.allocationState, "steady");
      assert.equal(selected.vmSize, undefined);
      await rejects(client.pool.list({ poolListOptions: { filter: "id eq" } }), (e) => assert.equal(e.code, "InvalidQueryParameterValue"));
    });

    it("resizes up: the pool resizes, nodes walk creating → starting → waitingforstarttask → idle", async () => {
      const id = uid("grow");
      await client.pool.add({
        id,
        vmSize: "standard_d2s_v3",
        virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
        startTask: { commandLine: "/bin/sh -c 'echo hi'", waitForSuccess: true },
      });
      const pool = poolRecord(id);
      const seen = new Set<string>();
      const watch = setInterval(() => pool.nodes.forEach((n) => seen.add(n.state)), 2);
      await client.pool.resize(id, { targetDedicatedNodes: 2 });
      assert.equal((await client.pool.get(id)).allocationState, "resizing");
      await azure.batch.waitFor(() => pool.nodes.size === 2 && [...pool.nodes.values()].every((n) => n.state === "idle"));
      clearInterval(watch);
      for (const s of ["creating", "starting", "waitingforstarttask"]) assert.ok(seen.has(s), `saw ${s}`);
      const got = await client.pool.get(id);
      assert.equal(got.allocationState, "steady");
      assert.equal(got.currentDedicatedNodes, 2);
      const nodes = await client.computeNode.list(id, { computeNodeListOptions: { filter: "state eq 'idle'" } });
      assert.equal(nodes.length, 2);
      assert.match(nodes[0].id!, /^tvmps_[0-9a-f]{64}_d$/);
      assert.equal(nodes[0].startTaskInfo?.state, "completed");
      assert.equal(nodes[0].startTaskInfo?.exitCode, 0);
      // A slow allocation keeps the pool resizing while the second request arrives, however loaded the machine is.
      const timings = { ...azure.state.batch.timings };
      azure.state.batch.timings.allocateSeconds = 400;
      try {
        await rejects(client.pool.resize(id, { targetDedicatedNodes: 3 }).then(() => client.pool.resize(id, { targetDedicatedNodes: 1 })), (e) => assert.equal(e.code, "PoolBeingResized"));
      } finally {
        Object.assign(azure.state.batch.timings, timings);
      }
    });

    it("fails the start task on a scripted node (starttaskfailed) and makes another unusable", async () => {
      const id = uid("broken");
      await client.pool.add({
        id,
        vmSize: "standard_d2s_v3",
        virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "o", sku: "s" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
        startTask: { commandLine: "/bin/false", waitForSuccess: true },
      });
      const pool = poolRecord(id);
      azure.batch.scriptNextNodes(pool, { startTaskExitCode: 3 }, { unusable: true });
      await client.pool.resize(id, { targetDedicatedNodes: 2 });
      await azure.batch.waitFor(() => pool.nodes.size === 2 && [...pool.nodes.values()].every((n) => n.state === "starttaskfailed" || n.state === "unusable"));
      const nodes = await client.computeNode.list(id);
      const failed = nodes.find((n) => n.state === "starttaskfailed")!;
      assert.equal(failed.startTaskInfo?.exitCode, 3);
      assert.equal(failed.startTaskInfo?.result, "failure");
      assert.equal(failed.startTaskInfo?.failureInfo?.category, "usererror");
      assert.ok(nodes.find((n) => n.state === "unusable")?.errors?.length);
    });

    it("removes nodes and honours stop resize", async () => {
      const pool = await idlePool(3);
      const [first] = [...pool.nodes.keys()];
      // Transitions slow enough (2 s each) to be seen between requests on a loaded machine.
      const timings = { ...azure.state.batch.timings };
      Object.assign(azure.state.batch.timings, { leaveSeconds: 400, allocateSeconds: 400, stopResizeSeconds: 400 });
      try {
        await client.pool.removeNodes(pool.id, { nodeList: [first], nodeDeallocationOption: "requeue" });
        const during = await client.pool.get(pool.id);
        assert.equal(during.allocationState, "resizing");
        assert.equal(during.targetDedicatedNodes, 2);
        assert.equal((await client.computeNode.get(pool.id, first)).state, "leavingpool");
        await azure.batch.waitFor(() => !pool.nodes.has(first) && pool.allocationState === "steady");
        await rejects(client.computeNode.get(pool.id, first), (e) => assert.equal(e.code, "NodeNotFound"));
        await client.pool.resize(pool.id, { targetDedicatedNodes: 5 });
        await client.pool.stopResize(pool.id);
        assert.equal((await client.pool.get(pool.id)).allocationState, "stopping");
        await azure.batch.waitFor(() => pool.allocationState === "steady");
        assert.equal(pool.nodes.size, 2);
      } finally {
        Object.assign(azure.state.batch.timings, timings);
      }
    });

    it("reboots nodes while tasks run, honouring requeue, terminate, taskcompletion and retaineddata", async () => {
      const pool = await idlePool(4);
      const jobId = uid("job");
      azure.state.batch.taskScript = (job, task) => (job.id === jobId ? { durationSeconds: task.id === "short1" || task.id === "short2" ? 60 : 600 } : undefined);
      await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
      await client.task.addCollection(jobId, ["long1", "long2", "short1", "short2"].map((id) => ({ id, commandLine: "/bin/sh -c 'sleep 1'" })));
      const job = account().jobs.get(jobId)!;
      await azure.batch.waitFor(() => [...job.tasks.values()].every((t) => t.state === "running"));
      const nodeOf = (taskId: string): NodeRecord => job.tasks.get(taskId)!.sim.node!;
      const [requeueNode, terminateNode, completionNode, retainedNode] = ["long1", "long2", "short1", "short2"].map(nodeOf);
      azure.state.batch.taskScript = (j, task) => (j.id === jobId && task.id === "long1" ? { durationSeconds: 10 } : undefined);

      await client.computeNode.reboot(pool.id, requeueNode.id, { nodeRebootOption: "requeue" });
      await client.computeNode.reboot(pool.id, terminateNode.id, { nodeRebootOption: "terminate" });
      await client.computeNode.reboot(pool.id, completionNode.id, { nodeRebootOption: "taskcompletion" });
      await client.computeNode.reboot(pool.id, retainedNode.id, { nodeRebootOption: "retaineddata" });

      const terminated = await client.task.get(jobId, "long2");
      assert.equal(terminated.state, "completed");
      assert.equal(terminated.executionInfo?.result, "failure");
      assert.equal(terminated.executionInfo?.exitCode, 137);
      assert.equal(terminated.executionInfo?.failureInfo?.code, "TaskEnded");
      const requeued = await client.task.get(jobId, "long1");
      assert.equal(requeued.executionInfo?.requeueCount, 1);
      assert.equal((await client.computeNode.get(pool.id, requeueNode.id)).state, "rebooting");
      // taskcompletion / retaineddata: the node keeps running its task and takes no new one.
      assert.equal((await client.computeNode.get(pool.id, completionNode.id)).state, "running");
      assert.equal((await client.task.get(jobId, "short1")).state, "running");

      await azure.batch.waitFor(() => [...job.tasks.values()].every((t) => t.state === "completed"), { what: "all tasks complete" });
      const short1 = await client.task.get(jobId, "short1");
      assert.equal(short1.executionInfo?.result, "success");
      assert.equal(short1.executionInfo?.exitCode, 0);
      assert.equal((await client.task.get(jobId, "short2")).executionInfo?.result, "success");
      const rerun = await client.task.get(jobId, "long1");
      assert.equal(rerun.executionInfo?.result, "success");
      assert.equal(rerun.executionInfo?.requeueCount, 1);
      await azure.batch.waitFor(() => [completionNode, retainedNode, requeueNode, terminateNode].every((n) => n.state === "idle"), { what: "rebooted nodes idle" });
      assert.ok(completionNode.lastBootTime! > completionNode.allocationTime);
    });

    it("disables and enables scheduling, and refuses reimage on VirtualMachineConfiguration pools", async () => {
      const pool = await idlePool(1);
      const [node] = [...pool.nodes.values()];
      await client.computeNode.disableScheduling(pool.id, node.id, { nodeDisableSchedulingOption: "requeue" });
      await rejects(client.computeNode.disableScheduling(pool.id, node.id), (e) => assert.equal(e.code, "NodeAlreadyInTargetSchedulingState"));
      const jobId = uid("sched");
      await client.job.add({ id: jobId, poolInfo: { poolId: pool.id } });
      await client.task.add(jobId, { id: "t1", commandLine: "/bin/true" });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await client.task.get(jobId, "t1")).state, "active");
      assert.equal((await client.computeNode.get(pool.id, node.id)).schedulingState, "disabled");
      await client.computeNode.enableScheduling(pool.id, node.id);
      await azure.batch.waitFor(() => account().jobs.get(jobId)!.tasks.get("t1")!.state !== "active");
      await rejects(client.computeNode.reimage(pool.id, node.id), (e) => {
        assert.equal(e.statusCode, 409);
        assert.equal(e.code, "OperationNotValidOnNode");
      });
    });

    it("stores autoscale formulas, evaluates them, and refuses resize on an autoscale pool", async () => {
      const pool = await idlePool(0);
      await client.pool.enableAutoScale(pool.id, { autoScaleFormula: "$TargetDedicatedNodes = 1;", autoScaleEvaluationInterval: "PT5M" });
      const got = await client.pool.get(pool.id);
      assert.equal(got.enableAutoScale, true);
      assert.equal(got.autoScaleFormula, "$TargetDedicatedNodes = 1;");
      assert.equal(got.autoScaleEvaluationInterval, "PT5M");
      // The formula engine and its own tests live in batch/autoscale/.
      const run = await client.pool.evaluateAutoScale(pool.id, "$TargetDedicatedNodes = 2;");
      assert.equal(run.results, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
      await rejects(client.pool.resize(pool.id, { targetDedicatedNodes: 1 }), (e) => assert.equal(e.code, "OperationNotValidOnPool"));
      await client.pool.disableAutoScale(pool.id);
      assert.equal((await client.pool.get(pool.id)).enableAutoScale, false);
    });

    it("answers a stale If-Match with 412 ConditionNotMet and accepts the current ETag", async () => {
      const got = await client.pool.get(azure.info.batch.poolId);
      await rejects(client.pool.patch(azure.info.batch.poolId, { metadata: [{ name: "a", value: "b" }] }, { poolPatchOptions: { ifMatch: "0x8D0000000000000" } }), (e) => {
        assert.equal(e.statusCode, 412);
        assert.equal(e.code, "ConditionNotMet");
      });
      await client.pool.patch(azure.info.batch.poolId, { metadata: [{ name: "a", value: "b" }] }, { poolPatchOptions: { ifMatch: got.eTag } });
      const after = await client.pool.get(azure.info.batch.poolId);
      assert.deepEqual(after.metadata, [{ name: "a", value: "b" }]);
      assert.notEqual(after.eTag, got.eTag);
      await client.pool.patch(azure.info.batch.poolId, { metadata: [] });
    });
  });

  describe("jobs and tasks", () => {
    it("adds, gets and lists jobs and tasks; tasks run on the pool and complete with exit code 0", async () => {
      const pool = await idlePool(2);
      const jobId = uid("job");
      azure.state.batch.taskScript = (job, task: TaskRecord) => (job.id === jobId && task.id === "fails" ? { exitCode: 2, durationSeconds: 5 } : undefined);
      await client.job.add({ id: jobId, poolInfo: { poolId: pool.id }, onAllTasksComplete: "terminatejob" });
      await rejects(client.job.add({ id: jobId, poolInfo: { poolId: pool.id } }), (e) => assert.equal(e.code, "JobExists"));
      // Long enough to be seen running; the run ends when the process does.
      await client.task.add(jobId, { id: "ok", commandLine: "/bin/sh -c 'sleep 1'", environmentSettings: [{ name: "A", value: "1" }] });
      await client.task.add(jobId, { id: "fails", commandLine: "/bin/false" });
      await rejects(client.task.add(jobId, { id: "ok", commandLine: "/bin/true" }), (e) => assert.equal(e.code, "TaskExists"));
      const running = await client.task.get(jobId, "ok");
      assert.equal(running.state, "running");
      assert.equal(running.nodeInfo?.poolId, pool.id);
      assert.equal((await client.computeNode.get(pool.id, running.nodeInfo!.nodeId!)).state, "running");
      await azure.batch.waitFor(() => account().jobs.get(jobId)!.state === "completed");
      const tasks = await client.task.list(jobId);
      const byId = Object.fromEntries(tasks.map((t) => [t.id, t]));
      assert.equal(byId.ok.executionInfo?.exitCode, 0);
      assert.equal(byId.ok.executionInfo?.result, "success");
      assert.equal(byId.fails.executionInfo?.exitCode, 2);
      assert.equal(byId.fails.executionInfo?.failureInfo?.code, "FailureExitCode");
      const job = await client.job.get(jobId);
      assert.equal(job.state, "completed");
      assert.equal(job.executionInfo?.terminateReason, "AllTasksComplete");
      const completed = await client.task.list(jobId, { taskListOptions: { filter: "executionInfo/result eq 'failure'", select: "id" } });
      assert.deepEqual(completed.map((t) => t.id), ["fails"]);
      const jobs = await client.job.list({ jobListOptions: { filter: `id eq '${jobId}'` } });
      assert.equal(jobs.length, 1);
      await rejects(client.task.add(jobId, { id: "late", commandLine: "x" }), (e) => assert.equal(e.code, "JobCompleted"));
    });

    it("pages task lists through odata.nextLink", async () => {
      const jobId = uid("paged");
      await client.job.add({ id: jobId, poolInfo: { poolId: "no-such-pool" } });
      for (let chunk = 0; chunk < 3; chunk++) {
        const result = await client.task.addCollection(
          jobId,
          Array.from({ length: chunk === 2 ? 50 : 100 }, (_, i) => ({ id: `t${chunk * 100 + i}`, commandLine: "/bin/true" })),
        );
        assert.ok(result.value?.every((r) => r.status === "success"));
      }
      const seen: string[] = [];
      let page = await client.task.list(jobId, { taskListOptions: { maxResults: 100 } });
      let pages = 1;
      seen.push(...page.map((t) => t.id!));
      while (page.odatanextLink) {
        page = await client.task.listNext(page.odatanextLink);
        seen.push(...page.map((t) => t.id!));
        pages++;
      }
      assert.equal(pages, 3);
      assert.equal(new Set(seen).size, 250);
      const counts = await client.job.getTaskCounts(jobId);
      assert.equal(counts.taskCounts.active, 250);
    });
  });
});
