/**
 * The roll-out against the local Batch's own simulation, in-process (no HTTP):
 * a thin PoolCycleBatchOps over BatchSimulation checks that the driver reads
 * the node states, boot times, start task results and the `applications/`
 * folder names exactly as the local Batch produces them.
 */
import { strict as assert } from "node:assert";
import { SimClock } from "../local-azure/clock";
import { BatchSimulation } from "../local-azure/batch/simulation";
import { createAccount, DEFAULT_TIMINGS, type BatchAccountRecord, type BatchState, type NodeRecord, type PoolRecord } from "../local-azure/batch/state";
import { sleep } from "../../runtime/poll";
import type { PoolCycleOptions } from "../../tasks/BatchPoolCycle/inputs";
import type { NodeView, PoolCycleBatchOps, PoolView } from "../../tasks/BatchPoolCycle/ops";
import { cyclePool, PoolCycleError } from "../../tasks/BatchPoolCycle/roll";

function simulationOps(sim: BatchSimulation, account: BatchAccountRecord): PoolCycleBatchOps {
  const pool = (id: string): PoolRecord => {
    const p = account.pools.get(id);
    if (!p) throw Object.assign(new Error("The specified pool does not exist."), { reason: "PoolNotFound" });
    return p;
  };
  const node = (p: PoolRecord, id: string): NodeRecord => {
    const n = p.nodes.get(id);
    if (!n) throw Object.assign(new Error("The specified node does not exist."), { reason: "NodeNotFound" });
    return n;
  };
  const view = (n: NodeRecord): NodeView => {
    const st = n.startTaskInfo as { state?: string; exitCode?: number; result?: string; retryCount?: number; failureInfo?: { code?: string; message?: string } } | undefined;
    return {
      id: n.id,
      state: n.state,
      schedulingState: n.schedulingState,
      isDedicated: n.isDedicated,
      runningTasksCount: n.sim.running.size,
      lastBootTime: n.lastBootTime ? new Date(n.lastBootTime) : undefined,
      startTaskInfo: st && { state: st.state, exitCode: st.exitCode, result: st.result, retryCount: st.retryCount, failureInfo: st.failureInfo },
      errors: n.errors.map((e) => {
        const err = e as { code?: string; message?: string; errorDetails?: { name: string; value: string }[] };
        return { code: err.code, message: err.message, values: err.errorDetails ?? [] };
      }),
    };
  };
  return {
    async getPool(id): Promise<PoolView> {
      const p = pool(id);
      return {
        id: p.id,
        allocationState: p.allocationState,
        targetDedicatedNodes: p.targetDedicatedNodes,
        targetLowPriorityNodes: p.targetLowPriorityNodes,
        enableAutoScale: p.enableAutoScale,
        autoScaleFormula: p.autoScaleFormula,
        autoScaleEvaluationInterval: p.autoScaleEvaluationInterval,
        applicationPackageReferences: p.applicationPackageReferences.map((r) => ({ ...r })),
        configuration: p.virtualMachineConfiguration ? "virtualMachine" : p.cloudServiceConfiguration ? "cloudService" : undefined,
      };
    },
    async listNodes(id) {
      return [...pool(id).nodes.values()].map(view);
    },
    async listApplicationFiles(poolId, nodeId) {
      const p = pool(poolId);
      return sim
        .nodeFiles(node(p, nodeId))
        .filter((f) => f.name.startsWith("applications/"))
        .map((f) => ({ name: f.name, isDirectory: f.isDirectory }));
    },
    async rebootNode(poolId, nodeId, option) {
      const p = pool(poolId);
      sim.rebootNode(account, p, node(p, nodeId), option);
    },
    async reimageNode(poolId, nodeId, option) {
      const p = pool(poolId);
      sim.reimageNode(account, p, node(p, nodeId), option);
    },
    async disableScheduling(poolId, nodeId, option) {
      const p = pool(poolId);
      sim.disableScheduling(account, node(p, nodeId), option);
    },
    async enableScheduling(poolId, nodeId) {
      const p = pool(poolId);
      sim.enableScheduling(account, node(p, nodeId));
    },
    async removeNodes(poolId, nodeIds, option) {
      const p = pool(poolId);
      sim.removeNodes(account, p, nodeIds.map((id) => node(p, id)), option);
    },
    async resizePool(poolId, target) {
      sim.resize(account, pool(poolId), target);
    },
    async stopResizePool(poolId) {
      sim.stopResize(pool(poolId));
    },
    async enableAutoScale(poolId, a) {
      sim.enableAutoScale(pool(poolId), a.formula, a.evaluationInterval);
    },
    async disableAutoScale(poolId) {
      sim.disableAutoScale(pool(poolId));
    },
  };
}

const options = (o: Partial<PoolCycleOptions> = {}): PoolCycleOptions => ({
  method: "reboot",
  whenTasksRunning: "taskcompletion",
  maxUnavailable: { kind: "count", count: 2 },
  maxSurge: { kind: "count", count: 1 },
  drain: true,
  onlyOutdated: true,
  batchTimeoutMinutes: 5,
  timeoutMinutes: 10,
  // The simulation plays a second in 2 ms: poll every few of its seconds.
  pollInitialSeconds: 0.01,
  pollMaxSeconds: 0.04,
  ...o,
});

describe("BatchPoolCycle on the local Batch simulation", () => {
  let clock: SimClock;
  let sim: BatchSimulation;
  let account: BatchAccountRecord;
  let pool: PoolRecord;

  const version = (v: string) => ({ version: v, state: "Active" as const, etag: `e-${v}`, container: "app-myapp", blobName: `myapp-${v}.zip`, entries: [{ name: "app.py", size: 12 }] });

  beforeEach(async () => {
    clock = new SimClock(2);
    account = createAccount({ name: "releasebatch", resourceGroup: "rg", location: "westeurope" });
    const state: BatchState = { accounts: new Map([[account.name, account]]), defaultAccountName: account.name, url: "https://releasebatch.local", timings: { ...DEFAULT_TIMINGS } };
    sim = new BatchSimulation(state, clock);
    account.applications.set("myapp", { name: "MyApp", allowUpdates: true, defaultVersion: "1.0", etag: "a", versions: new Map([["1.0", version("1.0")]]) });
    pool = sim.addPool(account, {
      id: "adf-pool",
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "ubuntu", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      startTask: { commandLine: "/bin/sh -c true", waitForSuccess: true },
      applicationPackageReferences: [{ applicationId: "MyApp" }],
    });
    sim.resize(account, pool, { targetDedicatedNodes: 5 });
    await sim.waitFor(() => pool.nodes.size === 5 && [...pool.nodes.values()].every((n) => n.state === "idle"), { what: "5 idle nodes" });
  });

  afterEach(() => clock.close());

  const env = () => ({
    clock: { now: () => Date.now(), sleep },
    defaultVersion: async (id: string) => account.applications.get(id.toLowerCase())?.defaultVersion,
  });

  it("reads the simulation's applications/ folders: nodes on the default version are current, a new default makes them outdated", async () => {
    const ops = simulationOps(sim, account);
    const first = await cyclePool("adf-pool", ops, options(), env());
    assert.equal(first.cycledNodeCount, 0);
    assert.equal(first.skippedNodeCount, 5);
    assert.ok(first.nodes.every((r) => r.before?.packages === "MyApp 1.0"), JSON.stringify(first.nodes.map((r) => r.before)));

    account.applications.get("myapp")!.versions.set("2.0", version("2.0"));
    account.applications.get("myapp")!.defaultVersion = "2.0";
    const second = await cyclePool("adf-pool", ops, options(), env());
    assert.equal(second.succeeded, true);
    assert.equal(second.cycledNodeCount, 5);
    assert.equal(second.batches, 3);
    assert.equal(second.healthyNodeCount, 5);
    // A reboot keeps earlier deployments: both versions are on every node.
    assert.ok([...pool.nodes.values()].every((n) => n.installedPackages.map((p) => p.version).join(",") === "1.0,2.0"));
    assert.ok(second.nodes.every((r) => r.after?.packages === "MyApp 1.0+2.0" && r.after.schedulingState === "enabled"));
  });

  it("stops with the simulated start task failure and the node's exit code", async () => {
    account.applications.get("myapp")!.versions.set("2.0", version("2.0"));
    pool.applicationPackageReferences = [{ applicationId: "MyApp", version: "2.0" }];
    const [firstNode] = [...pool.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
    sim.scriptNode(firstNode, { startTaskExitCode: 7 });
    try {
      await cyclePool("adf-pool", simulationOps(sim, account), options(), env());
      assert.fail("the roll-out succeeded");
    } catch (e) {
      assert.ok(e instanceof PoolCycleError, String(e));
      assert.match(e.message, new RegExp(`Node '${firstNode.id}' is starttaskfailed: the start task exited with code 7 \\(FailureExitCode: The task exited with an exit code representing a failure\\)`));
      assert.equal(e.result.batches, 1);
      assert.ok([...pool.nodes.values()].every((n) => n.schedulingState === "enabled"));
    }
  });
});
