/**
 * `npm run demo`: the whole release flow on this machine. Starts the local
 * Azure, bundles the tasks when they are missing or older than their sources,
 * deploys the example factory (examples/data-factory) through ARM, and runs
 * examples/azure-pipelines.yml with the local pipeline runner for version 1
 * of examples/app, then for version 2, soon after, as a team releasing twice
 * would. It prints each step's result and time, the pool's node count, the
 * Data Factory run, and the application's own output, whose version must be
 * the one just released. Exits non-zero on any failure; prints its time.
 *
 * This script uses test code (the local Azure, the runner and the flow the
 * end-to-end tests run, test/e2e/release-flow.ts), as bench/ does; the
 * shipped tasks and runtime never do.
 *
 * Node reads NODE_EXTRA_CA_CERTS only at start-up and the local Azure is a
 * client of its own services, so the CA is made first and the demo runs in a
 * child process that trusts it (as test/local-azure/cli.ts does).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startLocalAzure } from "../test/local-azure/index";
import { createTlsMaterial } from "../test/local-azure/tls";
import { PipelineDefinitionError, checkPipeline, type StepRunResult } from "../test/pipeline-runner";
import { EXAMPLE_PIPELINE, REPO_ROOT, ReleaseFlow, type Release, type ReleaseRun } from "../test/e2e/release-flow";

const RELEASES: Release[] = [
  { buildId: 1, appVersion: "1.0.0" },
  { buildId: 2, appVersion: "2.0.0" },
];

class DemoFailure extends Error {}

async function parent(): Promise<number> {
  const startedAt = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-"));
  try {
    const tls = await createTlsMaterial(path.join(dir, "tls"));
    const child = spawn(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, LOCAL_AZURE_TLS_DIR: path.dirname(tls.caCertPath), DEMO_WORK_DIR: dir, DEMO_STARTED_AT: String(startedAt), NODE_EXTRA_CA_CERTS: tls.caCertPath },
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
    console.log("The tasks are bundled and up to date.");
    return;
  }
  const started = Date.now();
  console.log(`Bundling the tasks (${stale.join(", ")} missing or out of date)...`);
  const build = spawnSync(process.execPath, [path.join(REPO_ROOT, "scripts", "build.mjs")], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"] });
  if (build.status !== 0) throw new DemoFailure(`npm run build failed (exit ${build.status})`);
  console.log(`Bundled in ${seconds(Date.now() - started)}.`);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const MARK: Record<StepRunResult["result"], string> = { Succeeded: "ok  ", SucceededWithIssues: "ok! ", Failed: "FAIL", Skipped: "skip", NotRun: "--  " };
/** Node ids are long hashes; their start is enough to tell them apart. */
const short = (nodeId: string | undefined) => (nodeId && nodeId.length > 16 ? `${nodeId.slice(0, 13)}…` : (nodeId ?? "?"));

/** One line per step, with what the task said it did. */
function stepLine(step: StepRunResult): string {
  const said = step.result === "Failed" || step.result === "Succeeded" || step.result === "SucceededWithIssues" ? (step.message ?? step.reason) : step.reason;
  return `  ${MARK[step.result]} ${seconds(step.durationMs).padStart(6)}  ${step.displayName}${said ? `\n                ${said}` : ""}`;
}

function printRun(run: ReleaseRun, nodesBefore: string[]): void {
  const { pipeline, app } = run;
  const sizes = run.poolSizes.join(" → ");
  const node = app?.nodeId;
  const where = !node ? "" : nodesBefore.includes(node) ? `, on node ${short(node)}, which was up before this release` : `, on node ${short(node)}, which joined for this run`;
  const steady = run.poolSizes.length === 1 ? " (no node joined or left)" : "";
  console.log(`  Pipeline ${pipeline.result} in ${seconds(pipeline.durationMs)}. Pool nodes during the run: ${sizes}${steady}.`);
  if (!app) return;
  console.log(`  Data Factory run ${app.pipelineRunId}: ${app.pipelineRunStatus}; ${app.activityRunId ? `RunApp ${app.activityStatus}, exit code ${app.exitCode ?? "?"}${where}` : "RunApp did not run"}.`);
  const lines = app.stdout.trimEnd().split("\n").filter(Boolean);
  const stderr = app.stderr.trimEnd().split("\n").filter(Boolean);
  if (lines.length || stderr.length) console.log("  The application's output (adfjobs/<activity run id>/output/):");
  for (const line of lines) console.log(`    | ${line}`);
  for (const line of stderr) console.log(`    ! ${line}`);
}

async function child(): Promise<number> {
  // The time the demo prints counts from `npm run demo`'s own start (the CA, this process's start-up).
  const started = Number(process.env.DEMO_STARTED_AT) || Date.now();
  const work = process.env.DEMO_WORK_DIR!;
  console.log(`npm run demo: ${path.relative(REPO_ROOT, EXAMPLE_PIPELINE)}, for version 1 and then version 2 of examples/app, on a local Azure.\n`);
  buildIfNeeded();
  // Before anything starts: every step must be runnable here.
  const check = await checkPipeline({ file: EXAMPLE_PIPELINE });
  if (check.problems.length) {
    console.log("The example pipeline cannot run here:");
    for (const p of check.problems) console.log(`  ${p}`);
    throw new DemoFailure(check.problems[0]!);
  }

  const azureStarted = Date.now();
  const azure = await startLocalAzure({ workDir: path.join(work, "azure") });
  try {
    const flow = await ReleaseFlow.prepare(azure, { workDir: work });
    const info = azure.info;
    console.log(`Local Azure up in ${seconds(Date.now() - azureStarted)}: resource group ${info.resourceGroup}, storage ${info.storage.accountName}, Batch account ${info.batch.accountName}.`);
    console.log(`  Pool ${flow.poolId}: autoscale on, 0 nodes (as made for Data Factory); its nodes' start task (apt-get install python3) is simulated: the local nodes are this machine, whose python3 runs the app.`);
    console.log(`  Factory ${info.dataFactory.factoryName}: deployed pipeline ${flow.deployed.pipeline} and datasets ${flow.deployed.datasets.join(", ")} through ARM; input/incoming/ holds the data to score.`);

    for (const release of RELEASES) {
      const buildNumber = flow.buildNumber(release.buildId);
      const nodesBefore = (await flow.pool()).nodes.map((n) => n.id ?? "");
      console.log(`\nRelease ${release.buildId}: version ${release.appVersion}, build ${buildNumber}${nodesBefore.length ? `; pool ${flow.poolId} has ${nodesBefore.length} node(s) up from the last run` : ""}`);
      const run = await flow.run({ ...release, onStepEnd: (step) => console.log(stepLine(step)) });
      if (run.pipeline.problems.length) throw new DemoFailure(`release ${release.buildId} did not run: ${run.pipeline.problems.join("; ")}`);
      printRun(run, nodesBefore);
      const failed = run.pipeline.steps.find((s) => s.result === "Failed");
      if (failed) {
        const tail = failed.output.trim().split("\n").filter((l) => !/##vso\[/.test(l)).slice(-15).map((l) => `    | ${l}`).join("\n");
        if (tail) console.log(`  Last lines of step ${failed.index}:\n${tail}`);
        throw new DemoFailure(`release ${release.buildId}: step ${failed.index} '${failed.displayName}' failed`);
      }
      const ran = run.app?.printedVersion;
      if (ran !== release.appVersion || run.app?.customOutput?.version !== release.appVersion) {
        throw new DemoFailure(`release ${release.buildId}: version ${release.appVersion} was released but ${ran ? `version ${ran}` : "no version"} ran`);
      }
      console.log(`  Version ${ran} ran, as released.`);
    }

    const sizes = await flow.settle(0, 30_000).catch((e: Error) => {
      throw new DemoFailure(`the pool did not scale back to 0: ${e.message}`);
    });
    console.log(`\nAfter the runs, with no task waiting, the formula takes pool ${flow.poolId} back: ${sizes.join(" → ")} node(s).`);
    console.log(`\nDemo finished in ${seconds(Date.now() - started)}: both releases ran, each with the version it released.`);
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
