/**
 * BatchPoolCycle's adapter to Batch, on the sources: the retry rules (fake
 * errors, no waiting), the progress a run reports, and the @azure/batch
 * adapter against the local Batch (field mapping, file listing, Batch's
 * errors as one line with the code the roll matches on).
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { localAzure, resetLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import { BatchCallError, describeBatchError, isPoolNotFound, poolCycleBatch } from "../../tasks/BatchPoolCycle/azure";
import { callWithRetries, type RetryInfo } from "../../tasks/BatchPoolCycle/retries";
import { CycleProgress } from "../../tasks/BatchPoolCycle/progress";

const httpError = (statusCode: number, code: string, retryAfter?: string) =>
  Object.assign(new Error(`${code} answer`), { statusCode, code, response: { headers: { get: (n: string) => (n === "retry-after" ? retryAfter : undefined) } } });

describe("BatchPoolCycle retries", () => {
  function harness(failures: unknown[]) {
    const waits: number[] = [];
    const retries: RetryInfo[] = [];
    let calls = 0;
    const call = async () => {
      calls++;
      const next = failures.shift();
      if (next) throw next;
      return "ok";
    };
    const policy = { sleep: async (ms: number) => void waits.push(ms), onRetry: (r: RetryInfo) => void retries.push(r) };
    return { call, policy, waits, retries, calls: () => calls };
  }

  it("sends any call again after 429 or 503, as long as Batch's Retry-After says, else doubling from 1 s", async () => {
    const h = harness([httpError(429, "ServerBusy", "3"), httpError(503, "ServerBusy"), httpError(503, "ServerBusy")]);
    assert.equal(await callWithRetries("reboot node 'n1' of pool 'p'", "once", h.call, h.policy), "ok");
    assert.deepEqual(h.waits, [3000, 2000, 4000]);
    assert.deepEqual(
      h.retries.map((r) => [r.attempt, r.reason]),
      [
        [1, "HTTP 429 ServerBusy"],
        [2, "HTTP 503 ServerBusy"],
        [3, "HTTP 503 ServerBusy"],
      ],
    );
  });

  it("retries 500, 502, 504 and dropped connections only for idempotent calls: a reboot is never sent twice", async () => {
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const read = harness([httpError(500, "InternalError"), reset, httpError(504, "GatewayTimeout")]);
    assert.equal(await callWithRetries("list the nodes of pool 'p'", "idempotent", read.call, read.policy), "ok");
    assert.equal(read.calls(), 4);
    const write = harness([httpError(500, "InternalError")]);
    await assert.rejects(callWithRetries("reboot node 'n1' of pool 'p'", "once", write.call, write.policy), /InternalError answer/);
    assert.equal(write.calls(), 1);
  });

  it("gives up after its attempts, passes other errors at once, and stops when cancelled", async () => {
    const busy = harness(Array.from({ length: 10 }, () => httpError(429, "ServerBusy", "1")));
    await assert.rejects(callWithRetries("read pool 'p'", "idempotent", busy.call, { ...busy.policy, maxThrottledAttempts: 4 }), /ServerBusy answer/);
    assert.equal(busy.calls(), 4);
    const refused = harness([httpError(409, "NodeBeingRebooted")]);
    await assert.rejects(callWithRetries("reboot", "once", refused.call, refused.policy), /NodeBeingRebooted/);
    assert.equal(refused.calls(), 1);
    const controller = new AbortController();
    controller.abort();
    const cancelled = harness([httpError(503, "ServerBusy")]);
    await assert.rejects(callWithRetries("read pool 'p'", "idempotent", cancelled.call, { ...cancelled.policy, signal: controller.signal }), /ServerBusy/);
    assert.equal(cancelled.calls(), 1);
  });
});

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
  let client: BatchServiceClient;
  const poolId = `adapter-${crypto.randomBytes(3).toString("hex")}`;

  before(async () => {
    azure = await localAzure();
    client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url, { noRetryPolicy: true });
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

  it("maps the pool and its nodes as the roll reads them", async () => {
    const ops = poolCycleBatch(client);
    const pool = await ops.getPool(poolId);
    assert.deepEqual(
      { ...pool },
      {
        id: poolId,
        allocationState: "steady",
        targetDedicatedNodes: 2,
        targetLowPriorityNodes: 0,
        currentDedicatedNodes: 2,
        currentLowPriorityNodes: 0,
        enableAutoScale: true,
        autoScaleFormula: "$TargetDedicatedNodes = 2;",
        autoScaleEvaluationInterval: "PT7M",
        applicationPackageReferences: [{ applicationId: "AdapterApp" }],
        resizeErrors: undefined,
        configuration: "virtualMachine",
      },
    );
    const nodes = await ops.listNodes(poolId);
    assert.equal(nodes.length, 2);
    for (const n of nodes) {
      assert.equal(n.state, "idle");
      assert.equal(n.schedulingState, "enabled");
      assert.equal(n.isDedicated, true);
      assert.equal(n.runningTasksCount, 0);
      assert.ok(n.lastBootTime instanceof Date);
    }
    const files = await ops.listApplicationFiles(poolId, nodes[0].id);
    assert.ok(files.length > 0 && files.every((f) => f.name.startsWith("applications")), JSON.stringify(files));
    assert.ok(files.some((f) => /^applications\/adapterapp3\.1\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$/.test(f.name) && f.isDirectory), JSON.stringify(files));
    assert.deepEqual(await ops.listPoolIds().then((ids) => ids.includes(poolId)), true);
  });

  it("throws Batch's refusals as one line naming the call, with the code the roll matches on", async () => {
    const ops = poolCycleBatch(client);
    const [node] = await ops.listNodes(poolId);
    const reimage = await ops.reimageNode(poolId, node.id, "requeue").then(
      () => assert.fail("reimage was accepted"),
      (e: unknown) => e,
    );
    assert.ok(reimage instanceof BatchCallError);
    assert.equal(reimage.reason, "OperationNotValidOnNode");
    assert.equal(reimage.statusCode, 409);
    assert.match(
      reimage.message,
      new RegExp(
        `^Batch could not reimage node '${node.id}' of pool '${poolId}': OperationNotValidOnNode \\(HTTP 409\\): The specified operation is not valid on the node\\. \\(Reason: Reimage is not supported on nodes of pools with VirtualMachineConfiguration\\.\\) \\[request id [0-9a-f-]+\\]$`,
      ),
    );
    const missing = await ops.getPool("no-such-pool").then(
      () => assert.fail("found"),
      (e: unknown) => e,
    );
    assert.equal(isPoolNotFound(missing), true);
    assert.match(String((missing as Error).message), /^Batch could not read pool 'no-such-pool': PoolNotFound \(HTTP 404\): The specified pool does not exist\. \[request id /);
    const node404 = await ops.rebootNode(poolId, "tvmps_missing_d", "requeue").then(
      () => assert.fail("rebooted"),
      (e: unknown) => e,
    );
    assert.equal(isPoolNotFound(node404), false);
    assert.equal((node404 as BatchCallError).reason, "NodeNotFound");
  });

  it("describes an error whose message is already a string as it is", () => {
    assert.equal(describeBatchError(Object.assign(new Error("plain"), { code: "X", statusCode: 400 })), "X (HTTP 400): plain");
  });
});
