/**
 * `npm run demo`: the whole release flow on this machine. Starts the local
 * Azure, bundles the tasks when they are missing or older than their sources,
 * runs examples/azure-pipelines.yml with the local pipeline runner for
 * version 1 of examples/app and then for version 2, and prints what happened:
 * each step's result and time, the pool's node count over the run, and the
 * application's own output (its version must be the one just released).
 * Exits non-zero on any failure.
 *
 * While some tasks are not built yet, the demo runs as far as the built ones
 * allow: the steps that wait for a task are skipped and named, before the run
 * and in its account, and the demo ends incomplete (exit 2), since the
 * application's version cannot be checked without them.
 *
 *   npm run demo [-- --only-available]     the same, but a run of only the built tasks exits 0 (manual checks)
 *
 * This script uses test code (the local Azure and the runner), as bench/ does;
 * the shipped tasks and runtime never do.
 *
 * Node reads NODE_EXTRA_CA_CERTS only at start-up and the local Azure is a
 * client of its own services, so the CA is made first and the demo runs in a
 * child process that trusts it (as test/local-azure/cli.ts does).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { startLocalAzure, type LocalAzure } from "../test/local-azure/index";
import { createTlsMaterial } from "../test/local-azure/tls";
import type { DatasetResource, PipelineResource } from "@azure/arm-datafactory";
import { dataFactoryClient } from "../test/local-azure/datafactory/test-client";
import { checkPipeline, PipelineDefinitionError, runPipeline, type PipelineRunResult, type StepRunResult } from "../test/pipeline-runner";

const REPO_ROOT = path.resolve(__dirname, "..");
const EXAMPLE = path.join(REPO_ROOT, "examples", "azure-pipelines.yml");
const APP = path.join(REPO_ROOT, "examples", "app");
const FACTORY = path.join(REPO_ROOT, "examples", "data-factory");
const RELEASES = [
  { appVersion: "1.0.0", buildId: 1 },
  { appVersion: "2.0.0", buildId: 2 },
];

class DemoFailure extends Error {}

async function parent(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-"));
  try {
    const tls = await createTlsMaterial(path.join(dir, "tls"));
    const child = spawn(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, LOCAL_AZURE_TLS_DIR: path.dirname(tls.caCertPath), DEMO_WORK_DIR: dir, NODE_EXTRA_CA_CERTS: tls.caCertPath },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Newest modification time of the sources a task's bundle is made from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && (entry.name.endsWith(".ts") || entry.name === "task.json")) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function buildIfNeeded(): void {
  const tasksDir = path.join(REPO_ROOT, "tasks");
  const runtimeNewest = newestSource(path.join(REPO_ROOT, "runtime"));
  const stale = fs
    .readdirSync(tasksDir)
    .filter((name) => fs.existsSync(path.join(tasksDir, name, "task.json")))
    .filter((name) => {
      const bundle = path.join(tasksDir, name, "index.js");
      return !fs.existsSync(bundle) || fs.statSync(bundle).mtimeMs < Math.max(runtimeNewest, newestSource(path.join(tasksDir, name)));
    });
  if (stale.length === 0) {
    console.log("Tasks are bundled and up to date.");
    return;
  }
  console.log(`Bundling the tasks (${stale.join(", ")} missing or out of date)...`);
  const build = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new DemoFailure(`npm run build failed (exit ${build.status})`);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function stepLine(step: StepRunResult): string {
  const why = step.reason ?? (step.result === "Failed" ? step.message : undefined);
  // Short outputs say what the step did (counts, versions, the run id); secrets are already masked.
  const outputs = Object.entries(step.outputs)
    .filter(([, o]) => !o.secret && o.value.length <= 60)
    .map(([name, o]) => `${name}=${o.value}`)
    .join(", ");
  return `  ${String(step.index).padStart(2)}. ${step.result.padEnd(19)} ${seconds(step.durationMs).padStart(7)}  ${step.displayName}${why ? `\n        ${why}` : ""}${outputs ? `\n        ${outputs}` : ""}`;
}

/** The pool's node count while a run goes on, as a path like 0 → 1 → 0. */
function watchPool(azure: LocalAzure, poolId: string): { stop(): string } {
  const count = () => azure.batch.account().pools.get(poolId)?.nodes.size ?? 0;
  const seen = [count()];
  const timer = setInterval(() => {
    const n = count();
    if (n !== seen.at(-1)) seen.push(n);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const n = count();
      if (n !== seen.at(-1)) seen.push(n);
      return seen.join(" → ");
    },
  };
}

/** The application's report (its outputs.json, as Data Factory's customOutput) from DataFactoryRun's ActivityOutputs. */
function appReport(run: PipelineRunResult): { version?: string; text: string } {
  const adf = run.steps.find((s) => s.task === "DataFactoryRun@1");
  if (adf && adf.result === "Skipped" && / is not built yet/.test(adf.reason ?? "")) return { text: `${adf.task} is not built yet, so no Data Factory run started and the application did not run` };
  if (!adf || adf.result !== "Succeeded") return { text: "no Data Factory run completed, so the application did not run" };
  const raw = adf.outputs.ActivityOutputs?.value;
  if (!raw) return { text: "DataFactoryRun@1 set no ActivityOutputs output" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { text: `ActivityOutputs is not JSON: ${raw.slice(0, 200)}` };
  }
  const lines: string[] = [];
  let version: string | undefined;
  const activities = Array.isArray(parsed) ? parsed : Object.entries(parsed as Record<string, unknown>).map(([name, output]) => ({ name, output }));
  for (const a of activities as { name?: string; activityName?: string; output?: { customOutput?: Record<string, unknown> }; customOutput?: Record<string, unknown> }[]) {
    const custom = a.output?.customOutput ?? a.customOutput;
    if (!custom) continue;
    version ??= typeof custom.version === "string" ? custom.version : undefined;
    lines.push(`  ${a.name ?? a.activityName ?? "activity"}: ${JSON.stringify(custom)}`);
  }
  return { version, text: lines.length ? lines.join("\n") : "no activity reported a customOutput" };
}

/**
 * Deploys examples/data-factory through ARM, as a user would: datasets, then
 * the pipeline. The local factory starts with the same definitions (and the
 * two linked services the example's README asks for); deploying them again
 * is what a user's release of the factory does.
 */
async function deployFactory(azure: LocalAzure): Promise<void> {
  const client = dataFactoryClient(azure, { maxRetries: 2 });
  const { resourceGroup } = azure.info;
  const factory = azure.info.dataFactory.factoryName;
  const read = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as { name: string; properties: Record<string, unknown> };
  const datasets: string[] = [];
  for (const file of fs.readdirSync(path.join(FACTORY, "dataset")).sort()) {
    const dataset = read(path.join(FACTORY, "dataset", file));
    await client.datasets.createOrUpdate(resourceGroup, factory, dataset.name, { properties: dataset.properties } as unknown as DatasetResource);
    datasets.push(dataset.name);
  }
  const pipeline = read(path.join(FACTORY, "pipeline", "run-batch-app.json"));
  await client.pipelines.createOrUpdate(resourceGroup, factory, pipeline.name, pipeline.properties as unknown as PipelineResource);
  console.log(`Deployed Data Factory pipeline ${pipeline.name} and datasets ${datasets.join(", ")} to ${factory}.`);
}

/** The steps the runner skips because their task is not built yet. */
function waitingSteps(steps: StepRunResult[]): StepRunResult[] {
  return steps.filter((s) => s.result === "Skipped" && / is not built yet/.test(s.reason ?? ""));
}

async function child(): Promise<number> {
  const acceptPartial = process.argv.includes("--only-available");
  const started = Date.now();
  const work = process.env.DEMO_WORK_DIR!;
  buildIfNeeded();
  // Before anything starts: every step must be runnable here, or wait for a task that is not built yet (then it is skipped).
  const check = await checkPipeline({ file: EXAMPLE, onlyAvailable: true });
  if (check.problems.length) {
    console.log("The example pipeline cannot run here:");
    for (const p of check.problems) console.log(`  ${p}`);
    throw new DemoFailure(check.problems[0]);
  }
  const waiting = waitingSteps(check.steps);
  if (waiting.length) {
    console.log(`${waiting.length} of ${check.steps.length} steps wait for tasks that are not built yet; the demo runs the others and skips these:`);
    for (const w of waiting) console.log(`  step ${w.index} '${w.displayName}' waits for ${w.task}`);
  }
  const onlyAvailable = true;
  // One simulated second is 5 ms: a 5-minute autoscale interval takes 1.5 s, a node boots in about 0.3 s.
  const azure = await startLocalAzure({ workDir: path.join(work, "azure"), msPerSimulatedSecond: 5 });
  try {
    const info = azure.info;
    console.log(`Local Azure is up: ARM ${info.armUrl}, Batch account ${info.batch.accountName} with pool ${info.batch.poolId}, factory ${info.dataFactory.factoryName}.`);

    // The data the factory's Copy activity stages for the application.
    const blobs = new BlobServiceClient(`${info.storage.blobUrl}/`, new StorageSharedKeyCredential(info.storage.accountName, info.storage.accountKey));
    const input = blobs.getContainerClient("input");
    await input.createIfNotExists();
    for (const file of fs.readdirSync(path.join(APP, "sample-data"))) await input.getBlockBlobClient(`incoming/${file}`).uploadFile(path.join(APP, "sample-data", file));
    await deployFactory(azure);
    // The local nodes are this machine, which has python3: the pool's start task (apt-get install python3)
    // would change this machine, so it is simulated as succeeded on every node that joins.
    const seededPool = azure.batch.account().pools.get(info.batch.poolId)!;
    azure.batch.scriptNextNodes(seededPool, ...Array.from({ length: 32 }, () => ({ startTaskExitCode: 0 })));
    console.log(`The start task of ${info.batch.poolId}'s nodes is simulated as succeeded (the local nodes are this machine; its python3 runs the app).`);

    // The pipeline's own variables, pointed at the local Azure, as a user would queue it.
    const variables = {
      serviceConnection: "LocalAzure",
      resourceGroup: info.resourceGroup,
      storageAccount: info.storage.accountName,
      batchAccount: info.batch.accountName,
      poolId: info.batch.poolId,
      factoryName: info.dataFactory.factoryName,
    };
    const date = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    const sources = path.join(work, "s");
    for (const release of RELEASES) {
      // The repository at this release: the app with its VERSION.
      fs.rmSync(sources, { recursive: true, force: true });
      fs.cpSync(APP, path.join(sources, "examples", "app"), { recursive: true });
      fs.writeFileSync(path.join(sources, "examples", "app", "VERSION"), `${release.appVersion}\n`);
      const buildNumber = `${date}.${release.buildId}`;
      console.log(`\nRelease ${release.buildId}: app version ${release.appVersion}, build ${buildNumber}`);
      const pool = watchPool(azure, info.batch.poolId);
      const run = await runPipeline({
        file: EXAMPLE,
        env: info.env,
        variables,
        buildNumber,
        buildId: release.buildId,
        workingDirectory: sources,
        workspace: path.join(work, `w${release.buildId}`),
        onlyAvailable,
        onStepEnd: (step) => console.log(stepLine(step)),
      });
      // An autoscale pool goes back to 0 at an evaluation after the run; wait for it (bounded) to show the whole path.
      const record = azure.batch.account().pools.get(info.batch.poolId);
      if (record?.enableAutoScale && record.nodes.size > 0) {
        await azure.batch.waitFor(() => record.nodes.size === 0, { timeoutMs: 30_000, what: "the pool to scale back to 0" }).catch(() => undefined);
      }
      const nodes = pool.stop();
      if (run.problems.length) throw new DemoFailure(`release ${release.buildId} did not run: ${run.problems.join("; ")}`);
      console.log(`  Pipeline ${run.result} in ${seconds(run.durationMs)}; pool ${info.batch.poolId} nodes: ${nodes}`);
      const failed = run.steps.find((s) => s.result === "Failed");
      if (failed) {
        const tail = failed.output.trim().split("\n").slice(-12).map((l) => `    | ${l}`).join("\n");
        if (tail) console.log(`  Last lines of step ${failed.index}:\n${tail}`);
        throw new DemoFailure(`release ${release.buildId}: step ${failed.index} '${failed.displayName}' failed`);
      }
      const report = appReport(run);
      console.log(`  Application output:\n  ${report.text.trimStart()}`);
      if (waiting.length === 0 && report.version !== release.appVersion) {
        throw new DemoFailure(`release ${release.buildId}: version ${release.appVersion} was released but ${report.version ? `version ${report.version}` : "no version"} ran`);
      }
    }
    if (waiting.length) {
      console.log(`\nDemo incomplete after ${seconds(Date.now() - started)}: the built steps ran; ${waiting.length} step(s) wait for tasks not built yet:`);
      for (const w of waiting) console.log(`  step ${w.index} '${w.displayName}': ${w.task} is not built yet`);
      console.log("So the application's version was not checked.");
      return acceptPartial ? 0 : 2;
    }
    console.log(`\nDemo finished in ${seconds(Date.now() - started)}.`);
    return 0;
  } finally {
    await azure.close();
  }
}

if (process.env.DEMO_WORK_DIR) {
  child().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof DemoFailure || e instanceof PipelineDefinitionError ? `\nDemo failed: ${e.message}` : e);
      process.exit(1);
    },
  );
} else {
  parent().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
