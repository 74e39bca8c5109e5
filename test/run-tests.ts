/**
 * Runs the mocha suite. Node reads NODE_EXTRA_CA_CERTS only when a process
 * starts, so the local Azure's throwaway CA is made here first and mocha runs
 * in a child process that trusts it; the local Azure then reuses that CA.
 *
 * Before mocha, scripts/fetch-shared.mjs finds (or fetches, pinned and
 * verified) the REST specs and the task.json schema; tests that need a set
 * that cannot be had are pending with the reason.
 *
 * A full run (no arguments) has two passes: everything on this Node, and,
 * at the same time, the bundled-task scenarios again with the tasks on the
 * pinned Node 24 (TEST_NODE24=off leaves that pass out), whose output is
 * printed after the first pass's. The closing summary says how each pass
 * ended and what was skipped, and why.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTlsMaterial } from "./local-azure/tls";
import { node24Runtime } from "./node-runtimes";
import type { PendingEntry } from "./shared-files";

const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * The scenario tests that run bundled tasks (those that use the harness's
 * runTask); the Node 24 pass runs these. The tasks' pure-logic unit tests run
 * in-process on the test runner's Node, so a second pass would only repeat them.
 */
function taskScenarioFiles(): string[] {
  const tasksDir = path.join(REPO_ROOT, "test", "tasks");
  const runsBundles = (file: string) => /from "\.\.\/harness\/run-task"/.test(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
  const files = fs.existsSync(tasksDir)
    ? (fs.readdirSync(tasksDir, { recursive: true }) as string[])
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => path.join("test", "tasks", f))
        .filter(runsBundles)
    : [];
  return [...files.sort(), path.join("test", "extension", "package.test.ts")].map((f) => f.split(path.sep).join("/"));
}

interface SharedResult {
  set: string;
  found: boolean;
  dir?: string;
  file?: string;
  from?: string;
  reason?: string;
}

/** Finds or fetches the shared files; returns the variables that tell the tests where they are, or why not. */
function resolveShared(): Record<string, string> {
  const script = path.join(REPO_ROOT, "scripts", "fetch-shared.mjs");
  const run = spawnSync(process.execPath, [script, "--json"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 180_000, stdio: ["ignore", "pipe", "inherit"] });
  const line = run.stdout?.trim().split("\n").at(-1) ?? "";
  let results: SharedResult[];
  try {
    results = JSON.parse(line) as SharedResult[];
  } catch {
    const why = `scripts/fetch-shared.mjs failed: ${run.error?.message ?? `exit ${run.status}`}`;
    return { AZURE_SPECS_UNAVAILABLE: why, TASK_SCHEMA_UNAVAILABLE: why };
  }
  const env: Record<string, string> = {};
  for (const r of results) {
    const [found, missing] = r.set === "azure-specs" ? ["AZURE_SPECS_DIR", "AZURE_SPECS_UNAVAILABLE"] : ["TASK_SCHEMA_FILE", "TASK_SCHEMA_UNAVAILABLE"];
    if (r.found && r.dir) env[found] = r.file ?? (r.set === "azure-specs" ? r.dir : path.join(r.dir, "tasks.schema.json"));
    else env[missing] = r.reason ?? "unavailable";
  }
  return env;
}

interface PassResult {
  name: string;
  status: number;
  seconds: number;
  pending: PendingEntry[];
}

function readPending(file: string): PendingEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PendingEntry);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const fullRun = args.length === 0;
  const sharedEnv = resolveShared();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-azure-tls-"));
  try {
    const tls = await createTlsMaterial(dir);
    const mocha = require.resolve("mocha/bin/mocha.js");
    // Every process of the run (mocha, the tasks, the local Azure's children) refuses non-loopback connections.
    const guardLog = path.join(dir, "non-loopback.log");
    const guard = `--require ${JSON.stringify(path.join(__dirname, "loopback-guard.cjs"))}`;
    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...sharedEnv,
      NODE_EXTRA_CA_CERTS: tls.caCertPath,
      LOCAL_AZURE_TLS_DIR: dir,
      LOOPBACK_GUARD_LOG: guardLog,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, guard].filter(Boolean).join(" "),
    };

    const passes: PassResult[] = [];
    const skippedPasses: PendingEntry[] = [];
    let passCount = 0;
    /** Runs mocha; with `outputFile` its output goes there (a pass running beside another), else to this console. */
    const runPass = (name: string, mochaArgs: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; outputFile?: string } = {}): Promise<PassResult> => {
      const pendingLog = path.join(dir, `pending-${++passCount}.jsonl`);
      const started = Date.now();
      const out = options.outputFile ? fs.openSync(options.outputFile, "w") : undefined;
      const child = spawn(process.execPath, [mocha, ...mochaArgs], {
        stdio: out === undefined ? "inherit" : ["ignore", out, out],
        cwd: options.cwd,
        env: { ...env, TEST_PENDING_LOG: pendingLog, ...(out === undefined ? {} : { FORCE_COLOR: "0" }) },
      });
      return new Promise((resolve) => {
        child.on("close", (code) => {
          if (out !== undefined) fs.closeSync(out);
          resolve({ name, status: code ?? 1, seconds: (Date.now() - started) / 1000, pending: readPending(pendingLog) });
        });
      });
    };

    const taskNode = process.env.TASK_NODE_BINARY?.trim() ? process.env.TASK_NODE_BINARY.trim() : `Node ${process.version}`;
    // The Node 24 pass runs beside the first one: most of the suite's time is spent waiting (simulated
    // Batch, back-off, leases), so two passes at once take little longer than the longer of them.
    // Its output is printed after the first pass's, so neither is interleaved.
    let node24Pass: Promise<PassResult> | undefined;
    let node24Output: string | undefined;
    if (fullRun) {
      const node24 = process.env.TEST_NODE24?.trim().toLowerCase() === "off" ? { found: false as const, reason: "TEST_NODE24=off" } : node24Runtime();
      if (node24.found) {
        const files = taskScenarioFiles();
        // The same mocha options, only the spec list differs (positional files would add to the config's spec, not replace it).
        const config = { ...(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, ".mocharc.json"), "utf8")) as Record<string, unknown>), spec: files };
        const configFile = path.join(dir, "mocharc-node24.json");
        fs.writeFileSync(configFile, JSON.stringify(config));
        node24Output = path.join(dir, "node24-pass.log");
        console.log(`Task scenarios with the tasks on Node ${node24.version} run beside the first pass; their output follows it (${files.join(", ")}).\n`);
        node24Pass = runPass(`task scenarios, tasks on Node ${node24.version}`, ["--config", configFile], { ...baseEnv, TASK_NODE_BINARY: node24.path }, { cwd: REPO_ROOT, outputFile: node24Output });
      } else {
        skippedPasses.push({ what: "the task scenarios on Node 24 (second pass)", tests: 0, reason: node24.reason });
      }
    }
    passes.push(await runPass(`${fullRun ? "all tests" : "the given tests"}, tasks on ${taskNode}`, args, baseEnv));
    if (node24Pass && node24Output) {
      const result = await node24Pass;
      console.log(`\nTask scenarios again, with the tasks on ${result.name.replace(/^task scenarios, tasks on /, "")}:`);
      process.stdout.write(fs.readFileSync(node24Output, "utf8"));
      passes.push(result);
    }

    console.log("\nSummary");
    for (const pass of passes) console.log(`  ${pass.status === 0 ? "passed" : `FAILED (exit ${pass.status})`}: ${pass.name}, ${pass.seconds.toFixed(1)} s`);
    // One line per reason, then what it skipped (once, though both passes may skip the same).
    const byReason = new Map<string, Map<string, number>>();
    for (const s of [...passes.flatMap((p) => p.pending), ...skippedPasses]) {
      const what = byReason.get(s.reason) ?? new Map<string, number>();
      what.set(s.what, Math.max(what.get(s.what) ?? 0, s.tests));
      byReason.set(s.reason, what);
    }
    if (byReason.size === 0) console.log("  skipped: nothing");
    else {
      console.log("  skipped, and why:");
      for (const [reason, what] of byReason) {
        const items = [...what].map(([name, tests]) => (tests > 0 ? `${name} (${tests} test${tests === 1 ? "" : "s"} pending)` : name));
        console.log(`    - ${reason}\n        skipped: ${items.join("; ")}`);
      }
    }

    if (fs.existsSync(guardLog)) {
      console.error(`Tests tried to leave loopback:\n${fs.readFileSync(guardLog, "utf8")}`);
      return 1;
    }
    return passes.some((p) => p.status !== 0) ? 1 : 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
