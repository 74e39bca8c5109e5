/**
 * BatchPoolCycle@1 against a fixed reboot time T: the local Batch on real
 * time (one simulated second is one second), a pool of N = 20 idle nodes whose
 * reboot takes exactly T (default 60 s; no start task), a new default version
 * of the application the pool references, and `maxUnavailable: 5`, so four
 * batches. Side by side in one run, each on a fresh pool:
 *  - our bundled task with its defaults (drain, package check before and
 *    after, polls from 5 s backing off to 30 s);
 *  - a raw rolling loop on @azure/batch: reboot 5, list the nodes every second
 *    until they are back, next 5 (no drain, no package check): the time ceiling,
 *    and what a tight poll costs in calls.
 * Target: ours ≤ 1.15 × 4 × T + one poll interval (30 s). It prints the
 * times, the ratios and the Batch API calls per node (from the local Azure's
 * request log), and writes bench/results/pool-cycle.json (not with --quick).
 * `--quick` uses T = 20 s; `--reboot-seconds N` sets T. Run through
 * bench/run.ts (`npm run bench -- pool-cycle`), which sets up the CA.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { startLocalAzure, type LocalAzure } from "../test/local-azure";
import { REPO_ROOT, runTask } from "../test/harness/run-task";
import type { ApplicationRecord, BatchAccountRecord, PoolRecord } from "../test/local-azure/batch/state";

const NODES = 20;
const MAX_UNAVAILABLE = 5;
const BATCHES = NODES / MAX_UNAVAILABLE;
/** The task's default longest wait between checks. */
const POLL_SECONDS = 30;
const FACTOR = 1.15;

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const rebootArg = args.indexOf("--reboot-seconds");
const T = rebootArg >= 0 ? Math.max(5, Number(args[rebootArg + 1]) || 60) : quick ? 20 : 60;

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (line: string) => void process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function idlePool(azure: LocalAzure, account: BatchAccountRecord, id: string): Promise<PoolRecord> {
  const pool = azure.batch.addPool(account, {
    id,
    vmSize: "STANDARD_D2S_V3",
    virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
    applicationPackageReferences: [{ applicationId: "benchapp" }],
    targetDedicatedNodes: 0,
  });
  azure.batch.resize(account, pool, { targetDedicatedNodes: NODES });
  await azure.batch.waitFor(() => pool.allocationState === "steady" && pool.nodes.size === NODES && [...pool.nodes.values()].every((n) => n.state === "idle"), { timeoutMs: 120_000, what: `${NODES} idle nodes` });
  return pool;
}

function setDefaultVersion(account: BatchAccountRecord, v: string): void {
  const app: ApplicationRecord = account.applications.get("benchapp") ?? { name: "benchapp", allowUpdates: true, etag: "e", versions: new Map() };
  app.versions.set(v, { version: v, state: "Active", etag: `e-${v}`, container: "app-benchapp", blobName: `benchapp-${v}.zip`, entries: [{ name: "app.py", size: 64 }] });
  app.defaultVersion = v;
  account.applications.set("benchapp", app);
}

/** The raw loop: reboot MAX_UNAVAILABLE nodes, list the nodes every second until they are idle after a new boot, then the next. */
async function rawRollingReboot(client: BatchServiceClient, poolId: string): Promise<void> {
  const nodes = (await client.computeNode.list(poolId)).map((n) => ({ id: n.id!, boot: n.lastBootTime?.getTime() }));
  for (let i = 0; i < nodes.length; i += MAX_UNAVAILABLE) {
    const batch = nodes.slice(i, i + MAX_UNAVAILABLE);
    await Promise.all(batch.map((n) => client.computeNode.reboot(poolId, n.id, { nodeRebootOption: "taskcompletion" })));
    for (;;) {
      await sleep(1000);
      const now = new Map((await client.computeNode.list(poolId)).map((n) => [n.id, n]));
      if (batch.every((b) => now.get(b.id)?.state === "idle" && now.get(b.id)?.lastBootTime?.getTime() !== b.boot)) break;
    }
  }
}

async function main(): Promise<void> {
  const entry = path.join(REPO_ROOT, "tasks", "BatchPoolCycle", "index.js");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first.`);
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pool-cycle-"));
  let azure: LocalAzure | undefined;
  try {
    azure = await startLocalAzure({ workDir: path.join(workRoot, "azure"), msPerSimulatedSecond: 1000 });
    Object.assign(azure.state.batch.timings, { allocateSeconds: 2, createSeconds: 2, bootSeconds: 2, rebootSeconds: T, leaveSeconds: 2 });
    const account = azure.batch.account(azure.info.batch.accountName);
    const limitSeconds = FACTOR * BATCHES * T + POLL_SECONDS;
    log(`Pool of ${NODES} nodes, reboot time T = ${T} s, maxUnavailable ${MAX_UNAVAILABLE} (${BATCHES} batches); target: ours ≤ ${FACTOR} × ${BATCHES} × T + ${POLL_SECONDS} s = ${round(limitSeconds, 1)} s.`);

    const batchCalls = (since: number) => azure!.log.entries.slice(since).filter((e) => e.service === "batch");

    // Ours: the bundled task with its defaults.
    setDefaultVersion(account, "1.0");
    const ourPool = await idlePool(azure, account, "bench-ours");
    setDefaultVersion(account, "2.0");
    let since = azure.log.entries.length;
    const run = await runTask({
      task: "BatchPoolCycle",
      env: azure.info.env,
      inputs: { azureSubscription: "LocalAzure", resourceGroupName: azure.info.resourceGroup, batchAccountName: azure.info.batch.accountName, poolIds: ourPool.id, maxUnavailable: MAX_UNAVAILABLE },
      timeoutMs: 30 * 60_000,
    });
    if (run.result !== "Succeeded") throw new Error(`The task did not succeed: ${run.message}\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    const oursCalls = batchCalls(since);
    const ours = { seconds: run.durationMs / 1000, calls: oursCalls.length, perNode: oursCalls.length / NODES };
    const byOperation: Record<string, number> = {};
    for (const e of oursCalls) byOperation[e.route ?? `${e.method} ${e.path}`] = (byOperation[e.route ?? `${e.method} ${e.path}`] ?? 0) + 1;
    if (![...ourPool.nodes.values()].every((n) => n.state === "idle" && n.installedPackages.some((p) => p.version === "2.0"))) throw new Error("Not every node has version 2.0.");
    log(`Ours: ${round(ours.seconds, 1)} s, ${ours.calls} Batch calls (${round(ours.perNode, 1)} per node).`);

    // Raw: the tight rolling loop.
    setDefaultVersion(account, "1.0");
    const rawPool = await idlePool(azure, account, "bench-raw");
    setDefaultVersion(account, "2.0");
    const client = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    since = azure.log.entries.length;
    const started = performance.now();
    await rawRollingReboot(client, rawPool.id);
    const rawCalls = batchCalls(since);
    const raw = { seconds: (performance.now() - started) / 1000, calls: rawCalls.length, perNode: rawCalls.length / NODES };
    log(`Raw loop: ${round(raw.seconds, 1)} s, ${raw.calls} Batch calls (${round(raw.perNode, 1)} per node).`);

    const targets = [
      { target: `ours ≤ ${FACTOR} × ${BATCHES} × T + ${POLL_SECONDS} s (${round(limitSeconds, 1)} s): measured / limit`, value: ours.seconds / limitSeconds, pass: ours.seconds <= limitSeconds },
    ];
    const info = [
      { figure: `ours / (${BATCHES} × T), the ideal`, value: ours.seconds / (BATCHES * T) },
      { figure: "ours / raw loop (time)", value: ours.seconds / raw.seconds },
      { figure: "Batch calls per node, ours", value: ours.perNode },
      { figure: "Batch calls per node, raw loop (1 s polls)", value: raw.perNode },
    ];
    log("");
    log(`${"Run".padEnd(44)} ${"Time".padStart(9)}  Batch calls (per node)`);
    log(`${"BatchPoolCycle@1 (defaults, maxUnavailable 5)".padEnd(44)} ${`${round(ours.seconds, 1)} s`.padStart(9)}  ${ours.calls} (${round(ours.perNode, 1)})`);
    log(`${"Raw @azure/batch loop, 1 s polls".padEnd(44)} ${`${round(raw.seconds, 1)} s`.padStart(9)}  ${raw.calls} (${round(raw.perNode, 1)})`);
    log("");
    const w = Math.max(...targets.map((t) => t.target.length), ...info.map((t) => t.figure.length));
    for (const t of targets) log(`${t.target.padEnd(w)}  ${round(t.value).toFixed(2)}  ${t.pass ? "PASS" : "FAIL"}`);
    for (const t of info) log(`${t.figure.padEnd(w)}  ${round(t.value).toFixed(2)}  (info)`);
    log(`\nOur calls by operation: ${Object.entries(byOperation).map(([k, v]) => `${k} ${v}`).join(", ")}`);

    if (!quick) {
      const out = path.join(__dirname, "results", "pool-cycle.json");
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const results = {
        benchmark: "BatchPoolCycle@1, rolling reboot against a fixed reboot time",
        date: new Date().toISOString().slice(0, 10),
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
        setup: { nodes: NODES, maxUnavailable: MAX_UNAVAILABLE, rebootSeconds: T, pollIntervalSeconds: POLL_SECONDS, batch: "local Batch on real time (1 simulated second = 1 s), loopback" },
        seconds: { ours: round(ours.seconds, 1), raw: round(raw.seconds, 1), limit: round(limitSeconds, 1) },
        batchCalls: { ours: ours.calls, raw: raw.calls, oursPerNode: round(ours.perNode, 2), rawPerNode: round(raw.perNode, 2), oursByOperation: byOperation },
        targets: targets.map((t) => ({ target: t.target, value: round(t.value), result: t.pass ? "PASS" : "FAIL" })),
        info: info.map((t) => ({ figure: t.figure, value: round(t.value) })),
      };
      fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
      log(`\nWrote ${path.relative(REPO_ROOT, out)}.`);
    }
    if (!targets.every((t) => t.pass)) process.exitCode = 1;
  } finally {
    await azure?.close();
    fs.rmSync(workRoot, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
