/**
 * BatchPoolCycle on the sources: the progress a run reports, and its adapter
 * over the runtime's Batch seam against the local Batch (what the roll reads
 * of pools and nodes, the application files, a file's tail, Batch's refusals
 * with the code the roll matches on).
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { localAzure, resetLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import { batchDataFromClient } from "../../runtime/batch-data-azure";
import { BatchDataError, type BatchData } from "../../runtime/batch-data";
import { isPoolNotFound, poolCycleBatch } from "../../tasks/BatchPoolCycle/batch-ops";
import { batchErrorCode } from "../../tasks/BatchPoolCycle/ops";
import { CycleProgress } from "../../tasks/BatchPoolCycle/progress";

describe("BatchPoolCycle progress", () => {
  it("prints each event and fills the bar per pool as its batches finish", () => {
    const lines: string[] = [];
    const bars: [number, string][] = [];
    const progress = new CycleProgress({ info: (l) => void lines.push(l), setProgress: (p, o) => void bars.push([p, o]) }, ["pool-a", "pool-b"]);
    progress.onEvent({ kind: "plan", poolId: "pool-a", nodeCount: 4, toCycle: 4, skipped: 0, maxUnavailable: 2, method: "reboot" });
    progress.onEvent({ kind: "batchStarted", poolId: "pool-a", index: 1, nodeIds: ["n1", "n2"], outOfService: 0 });
    progress.onEvent({ kind: "nodeStates", poolId: "pool-a", index: 1, states: [{ nodeId: "n1", state: "rebooting" }, { nodeId: "n2", state: "idle" }] });
    progress.onEvent({ kind: "batchDone", poolId: "pool-a", index: 1, nodeIds: ["n1", "n2"], durationMs: 61_000 });
    progress.onEvent({ kind: "plan", poolId: "POOL-B", nodeCount: 2, toCycle: 0, skipped: 2, maxUnavailable: 1, method: "reboot" });
    assert.deepEqual(lines, [
      "Pool 'pool-a': 4 node(s), 4 to cycle (reboot), 0 already current; at most 2 out of service at once.",
      "Batch 1: cycling n1, n2 (0 node(s) already out of service).",
      "Batch 1: n1 rebooting, n2 idle",
      "Batch 1: 2 node(s) done in 1 min 1 s.",
      "Pool 'POOL-B': 2 node(s), 0 to cycle (reboot), 2 already current; at most 1 out of service at once.",
    ]);
    assert.deepEqual(bars, [
      [0, "Cycling pool pool-a (pool 1 of 2): 0/4 node(s)"],
      [0, "Cycling pool pool-a (pool 1 of 2): 0/4 node(s), batch 1"],
      [25, "Cycling pool pool-a (pool 1 of 2): 2/4 node(s)"],
      [100, "Cycling pool POOL-B (pool 2 of 2): 0/0 node(s)"],
    ]);
  });
});

describe("BatchPoolCycle adapter on the local Batch", function () {
  this.timeout(60_000);
  let azure: LocalAzure;
  let batch: BatchData;
  const poolId = `adapter-${crypto.randomBytes(3).toString("hex")}`;

  before(async () => {
    azure = await localAzure();
    const client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url, { noRetryPolicy: true });
    batch = batchDataFromClient(client, azure.info.batch.url);
    const account = azure.batch.account(azure.info.batch.accountName);
    account.applications.set("adapterapp", {
      name: "AdapterApp",
      allowUpdates: true,
      defaultVersion: "3.1",
      etag: "e",
      versions: new Map([["3.1", { version: "3.1", state: "Active", etag: "v", container: "c", blobName: "b", entries: [{ name: "bin/run.sh", size: 10 }] }]]),
    });
    const pool = azure.batch.addPool(account, {
      id: poolId,
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "x", sku: "y" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      applicationPackageReferences: [{ applicationId: "AdapterApp" }],
      enableAutoScale: true,
      autoScaleFormula: "$TargetDedicatedNodes = 2;",
      autoScaleEvaluationInterval: "PT7M",
    });
    await azure.batch.waitFor(() => pool.nodes.size === 2 && [...pool.nodes.values()].every((n) => n.state === "idle"));
  });
  afterEach(resetLocalAzure);
  after(() => {
    const account = azure.batch.account(azure.info.batch.accountName);
    const pool = account.pools.get(poolId);
    if (pool) azure.batch.deletePool(account, pool);
  });

  it("maps the pool and its nodes as the roll reads them", async () => {
    const ops = poolCycleBatch(batch);
    const pool = await ops.getPool(poolId);
    const keys = ["id", "allocationState", "targetDedicatedNodes", "targetLowPriorityNodes", "currentDedicatedNodes", "enableAutoScale", "autoScaleFormula", "autoScaleEvaluationInterval", "applicationPackageReferences", "configuration"] as const;
    assert.deepEqual(Object.fromEntries(keys.map((k) => [k, pool[k]])), {
      id: poolId,
      allocationState: "steady",
      targetDedicatedNodes: 2,
      targetLowPriorityNodes: 0,
      currentDedicatedNodes: 2,
      enableAutoScale: true,
      autoScaleFormula: "$TargetDedicatedNodes = 2;",
      autoScaleEvaluationInterval: "PT7M",
      applicationPackageReferences: [{ applicationId: "AdapterApp" }],
      configuration: "virtualMachine",
    });
    const nodes = await ops.listNodes(poolId);
    assert.equal(nodes.length, 2);
    for (const n of nodes) {
      assert.equal(n.state, "idle");
      assert.equal(n.schedulingState, "enabled");
      assert.equal(n.isDedicated, true);
      assert.equal(n.runningTasksCount, 0);
      assert.ok(n.lastBootTime instanceof Date);
    }
    // Only what the roll reads is asked for.
    const listing = azure.log.entries.filter((e) => e.service === "batch" && e.path === `/pools/${poolId}/nodes`).at(-1);
    assert.match(decodeURIComponent(listing?.query ?? ""), /\$select=id,state,schedulingState,isDedicated,runningTasksCount,lastBootTime,stateTransitionTime,startTaskInfo,errors/);
    const files = await ops.listApplicationFiles(poolId, nodes[0]!.id);
    assert.ok(files.length > 0 && files.every((f) => f.name.startsWith("applications")), JSON.stringify(files));
    assert.ok(files.some((f) => /^applications\/adapterapp3\.1\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$/.test(f.name) && f.isDirectory), JSON.stringify(files));
    assert.equal((await ops.listPoolIds()).includes(poolId), true);
  });

  it("reads every page of a node's application files (a package of 1,500 files is more than one page)", async () => {
    const account = azure.batch.account(azure.info.batch.accountName);
    account.applications.set("bigapp", {
      name: "BigApp",
      allowUpdates: true,
      defaultVersion: "1.0",
      etag: "e",
      versions: new Map([["1.0", { version: "1.0", state: "Active", etag: "v", container: "c", blobName: "b", entries: Array.from({ length: 1500 }, (_, i) => ({ name: `lib/m${i}.py`, size: 1 })) }]]),
    });
    const id = `adapter-big-${crypto.randomBytes(3).toString("hex")}`;
    const pool = azure.batch.addPool(account, {
      id,
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "x", sku: "y" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      applicationPackageReferences: [{ applicationId: "BigApp" }, { applicationId: "AdapterApp" }],
      targetDedicatedNodes: 1,
    });
    await azure.batch.waitFor(() => pool.nodes.size === 1 && [...pool.nodes.values()].every((n) => n.state === "idle"));
    const ops = poolCycleBatch(batch);
    const [node] = await ops.listNodes(id);
    const files = await ops.listApplicationFiles(id, node!.id);
    assert.ok(files.length > 1500, `${files.length} entries`);
    const dirs = new Set(files.map((f) => f.name.split("/")[1]));
    assert.ok([...dirs].some((d) => d?.startsWith("bigapp1.0")) && [...dirs].some((d) => d?.startsWith("adapterapp3.1")), [...dirs].join(", "));
    azure.batch.deletePool(account, pool);
  });

  it("reads the end of a node's file, and nothing of an empty one", async () => {
    const ops = poolCycleBatch(batch);
    const [node] = await ops.listNodes(poolId);
    const root = azure.batch.account(azure.info.batch.accountName).pools.get(poolId)!.nodes.get(node!.id)!.sim.rootDir!;
    const text = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, "0")}`).join("\n");
    fs.writeFileSync(path.join(root, "startup", "stderr.txt"), text);
    const tail = await ops.readNodeFileTail(poolId, node!.id, "startup/stderr.txt", 100);
    assert.equal(tail, text.slice(-100));
    assert.ok(tail.endsWith("line 299"));
    fs.writeFileSync(path.join(root, "startup", "stderr.txt"), "");
    assert.equal(await ops.readNodeFileTail(poolId, node!.id, "startup/stderr.txt", 100), "");
  });

  it("passes Batch's refusals on with the code the roll matches on", async () => {
    const ops = poolCycleBatch(batch);
    const [node] = await ops.listNodes(poolId);
    const reimage = await ops.reimageNode(poolId, node!.id, "requeue").then(
      () => assert.fail("reimage was accepted"),
      (e: unknown) => e,
    );
    assert.ok(reimage instanceof BatchDataError);
    assert.equal(batchErrorCode(reimage), "OperationNotValidOnNode");
    assert.match(reimage.message, /OperationNotValidOnNode \(HTTP 409\): The specified operation is not valid on the node\. \(Reason: Reimage is not supported on nodes of pools with VirtualMachineConfiguration\.\)/);
    const missing = await ops.getPool("no-such-pool").then(
      () => assert.fail("found"),
      (e: unknown) => e,
    );
    assert.equal(isPoolNotFound(missing), true);
    const node404 = await ops.rebootNode(poolId, "tvmps_missing_d", "requeue").then(
      () => assert.fail("rebooted"),
      (e: unknown) => e,
    );
    assert.equal(isPoolNotFound(node404), false);
    assert.equal(batchErrorCode(node404), "NodeNotFound");
  });
});
