/**
 * BatchAppBlobCopy@1 benchmark, side by side in one run against the local
 * Azure (Blob on disk):
 *  - full upload of a 2,000-file, ~200 MB tree: our bundled task vs a raw
 *    parallel @azure/storage-blob uploader (the ceiling) vs
 *    `az storage blob upload-batch`;
 *  - listing + hashing alone (our task, dry run on the synced tree);
 *  - re-run with 1% of the files changed: our task (must upload exactly those)
 *    vs the Azure CLI uploading the whole tree again;
 *  - our task's peak memory on a 1 GB tree;
 *  - the bundle's load time.
 * All three uploaders sign with the account key, so the emulator's per-request
 * token check does not weigh on one side; our task with its default Entra auth
 * is measured too. Prints a table and the ratios against the targets, and
 * writes bench/results/blob-copy.json. Flags: --repeat N (default 5), --quick
 * (one repeat, smaller memory tree, nothing written; to try the benchmark out).
 * Run through bench/run.ts (`npm run bench`), which sets up the CA first.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { startLocalAzure, type LocalAzure } from "../test/local-azure";
import { REPO_ROOT, runTask, type TaskRunResult } from "../test/harness/run-task";
import { appTreeSpec, bigTreeSpec, pickChanged, rewrite, writeTree, type TreeSpec } from "./tree";

const TASK = "BatchAppBlobCopy";
const CONCURRENCY = 16;
const BLOCK_SIZE_MB = 8;
const CHANGED_FILES = 20;

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const repeatArg = args.indexOf("--repeat");
const REPEAT = repeatArg >= 0 ? Math.max(1, Math.min(10, Number(args[repeatArg + 1]) || 1)) : quick ? 1 : 5;
const BIG_FILES = quick ? 40 : 200;
const BIG_FILE_BYTES = 5 * 1024 * 1024;

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command without blocking this process (it hosts the Blob proxy). */
function exec(command: string, argv: string[], env: Record<string, string>, timeoutMs: number, cwd?: string): Promise<Exec> {
  return new Promise((resolve) => {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    const child = spawn(command, argv, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${e.message}`, ms: performance.now() - started });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const secs = (ms: number) => round(ms / 1000, 2);
const mb = (bytes: number) => round(bytes / 1e6, 1);
/** What bench/maxrss.cjs reports at exit. */
const maxRssKb = (stderr: string) => Number(/BENCH_MAX_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN);
const cpuMs = (stderr: string) => Number(/BENCH_CPU_MS=(\d+)/.exec(stderr)?.[1] ?? NaN);

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const entry = path.join(REPO_ROOT, "tasks", TASK, "index.js");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first.`);
  const free = fs.statfsSync(os.tmpdir());
  const freeGb = (free.bavail * free.bsize) / 1e9;
  // Trees (0.2 + 1 GB) and Azurite's copies of every upload.
  if (freeGb < 8) throw new Error(`Only ${freeGb.toFixed(1)} GB free under ${os.tmpdir()}; the benchmark needs about 8 GB.`);

  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-blob-copy-"));
  let azure: LocalAzure | undefined;
  try {
    azure = await startLocalAzure({ blobsOnDisk: true, workDir: path.join(workRoot, "azure") });
    const info = azure.info;
    const keyed = new BlobServiceClient(`${info.storage.blobUrl}/`, new StorageSharedKeyCredential(info.storage.accountName, info.storage.accountKey));
    const countBlobs = async (container: string) => {
      let n = 0;
      for await (const _ of keyed.getContainerClient(container).listBlobsFlat()) n++;
      return n;
    };

    // The raw uploader, bundled like the task so both start the same way.
    const rawEntry = path.join(workRoot, "raw-upload.js");
    await build({
      entryPoints: [path.join(__dirname, "raw-upload.ts")],
      outfile: rawEntry,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      minify: true,
      logLevel: "warning",
      // As scripts/build.mjs: some ESM dependencies read import.meta.url.
      define: { "import.meta.url": "__bundleFileUrl" },
      banner: { js: 'const __bundleFileUrl = require("node:url").pathToFileURL(__filename).href;' },
    });

    const spec = appTreeSpec();
    const treeDir = path.join(workRoot, "tree");
    const tree = writeTree(treeDir, spec);
    log(`Tree: ${tree.files} files, ${mb(tree.bytes)} MB (seed ${spec.seed}); ${REPEAT} repeat(s) of each timed run, median reported.`);
    const changed = pickChanged(spec, CHANGED_FILES);

    const preload = path.join(__dirname, "maxrss.cjs");
    const ours = async (container: string, source: string, extra: Record<string, string | boolean> = {}) => {
      const r = await runTask({
        task: TASK,
        env: info.env,
        inputs: { azureSubscription: "LocalAzure", storageAccount: info.storage.accountName, containerName: container, sourceFolder: source, mode: "sync", authType: "accessKey", ...extra },
        nodeArgs: ["-r", preload],
        timeoutMs: 900_000,
      });
      fs.rmSync(r.tempDir, { recursive: true, force: true });
      return r;
    };
    const expectOk = (r: TaskRunResult, what: string, uploaded: number) => {
      if (r.result !== "Succeeded") throw new Error(`${what}: task ${r.result}: ${r.message}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
      const got = Number(r.outputs.UploadedCount?.value);
      if (got !== uploaded) throw new Error(`${what}: UploadedCount ${got}, expected exactly ${uploaded}.`);
    };

    const raw = async (container: string, source: string) => {
      const job = { blobUrl: info.storage.blobUrl, accountName: info.storage.accountName, accountKey: info.storage.accountKey, container, source, concurrency: CONCURRENCY, blockSizeBytes: BLOCK_SIZE_MB * 1024 * 1024 };
      const r = await exec(process.execPath, ["-r", preload, rawEntry, JSON.stringify(job)], { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: info.caCertPath }, 900_000);
      if (r.code !== 0) throw new Error(`raw uploader failed (${r.code}): ${r.stderr.slice(-2000)}`);
      const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { files: number; bytes: number; transferMs: number };
      return { ms: r.ms, transferMs: out.transferMs, files: out.files, cpuMs: cpuMs(r.stderr) };
    };

    // The Azure CLI: its own config folder, no telemetry, trusting the local CA.
    const azConfig = path.join(workRoot, "az-config");
    fs.mkdirSync(azConfig);
    const azEnv: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: workRoot,
      AZURE_CONFIG_DIR: azConfig,
      AZURE_CORE_COLLECT_TELEMETRY: "false",
      AZURE_CORE_ONLY_SHOW_ERRORS: "true",
      AZURE_CORE_NO_COLOR: "true",
      REQUESTS_CA_BUNDLE: info.caCertPath,
    };
    const connectionString = `DefaultEndpointsProtocol=https;AccountName=${info.storage.accountName};AccountKey=${info.storage.accountKey};BlobEndpoint=${info.storage.blobUrl}`;
    const az = (container: string, source: string, overwrite: boolean) =>
      exec("az", ["storage", "blob", "upload-batch", "--destination", container, "--source", source, "--connection-string", connectionString, "--no-progress", "--output", "none", "--only-show-errors", ...(overwrite ? ["--overwrite", "true"] : [])], azEnv, 1_800_000, workRoot);
    let cliProblem: string | undefined;
    const version = await exec("az", ["version", "--output", "json"], azEnv, 120_000, workRoot);
    let cliVersion: string | undefined;
    if (version.code !== 0) cliProblem = `'az version' failed (${version.code}): ${version.stderr.trim().slice(-500) || "az is not installed"}`;
    else cliVersion = (JSON.parse(version.stdout) as Record<string, string>)["azure-cli"];
    if (!cliProblem) {
      // One small upload first, so a CLI that cannot reach the local endpoint is reported, not timed.
      const probeDir = path.join(workRoot, "az-probe");
      fs.mkdirSync(probeDir);
      fs.writeFileSync(path.join(probeDir, "probe.txt"), "probe\n");
      await keyed.createContainer("cli-probe");
      const probe = await az("cli-probe", probeDir, false);
      if (probe.code !== 0 || (await countBlobs("cli-probe")) !== 1) cliProblem = `the Azure CLI could not upload to the local Blob endpoint (exit ${probe.code}): ${probe.stderr.trim().slice(-800)}`;
    }
    log(cliProblem ? `Azure CLI: NOT MEASURED: ${cliProblem}` : `Azure CLI ${cliVersion}: reaches the local Blob endpoint.`);

    // Bundle load time: `node index.js` with no inputs (it stops at the first missing input).
    const loadDir = fs.mkdtempSync(path.join(workRoot, "load-"));
    const loadMs: number[] = [];
    for (let i = 0; i < 11; i++) {
      const r = await exec(process.execPath, [entry], { PATH: process.env.PATH ?? "", AGENT_TEMPDIRECTORY: loadDir }, 30_000, loadDir);
      if (i > 0) loadMs.push(r.ms); // the first warms the file cache
    }
    log(`Bundle load: median ${secs(median(loadMs))} s over ${loadMs.length} runs.`);

    const runs = {
      oursFull: [] as number[],
      oursFullCpu: [] as number[],
      oursFullRssKb: [] as number[],
      oursEntraFull: [] as number[],
      listHash: [] as number[],
      oursRerun: [] as number[],
      rawFull: [] as number[],
      rawFullCpu: [] as number[],
      rawTransfer: [] as number[],
      cliFull: [] as number[],
      cliRerun: [] as number[],
    };
    // Azurite slows down as blobs pile up (its metadata store grows and is saved
    // every few seconds), so every contestant's containers are deleted once its
    // runs are done: each timed run starts on an Azurite holding no other blobs.
    const drop = (container: string) => keyed.getContainerClient(container).deleteIfExists();

    // Warm-up, not timed: the first upload into a fresh Azurite (and its proxy) runs cold.
    for (const name of ["warm-ours", "warm-raw"]) {
      if (name === "warm-ours") expectOk(await ours(name, treeDir), "warm-up", tree.files);
      else await raw(name, treeDir);
      await drop(name);
    }

    for (let rep = 0; rep < REPEAT; rep++) {
      const tag = `  [${rep + 1}/${REPEAT}]`;
      const blocks: Record<"ours" | "entra" | "raw" | "cli", () => Promise<void>> = {
        ours: async () => {
          const container = `ours-${rep}`;
          const full = await ours(container, treeDir);
          expectOk(full, "our full upload", tree.files);
          runs.oursFull.push(full.durationMs);
          runs.oursFullCpu.push(cpuMs(full.stderr));
          runs.oursFullRssKb.push(maxRssKb(full.stderr));
          const dry = await ours(container, treeDir, { dryRun: true });
          expectOk(dry, "our dry run on the synced tree", 0);
          runs.listHash.push(dry.durationMs);
          // 1% of the files change (same sizes, new bytes); the task must upload exactly those.
          rewrite(treeDir, spec, changed, rep + 1);
          const rerun = await ours(container, treeDir);
          rewrite(treeDir, spec, changed, 0);
          expectOk(rerun, `our re-run with ${CHANGED_FILES} files changed`, CHANGED_FILES);
          runs.oursRerun.push(rerun.durationMs);
          await drop(container);
          log(`${tag} ours: full ${secs(full.durationMs)} s, list+hash ${secs(dry.durationMs)} s, re-run ${secs(rerun.durationMs)} s`);
        },
        entra: async () => {
          const container = `entra-${rep}`;
          const full = await ours(container, treeDir, { authType: "entra" });
          expectOk(full, "our full upload (entra)", tree.files);
          runs.oursEntraFull.push(full.durationMs);
          await drop(container);
          log(`${tag} ours (entra): full ${secs(full.durationMs)} s`);
        },
        raw: async () => {
          const container = `raw-${rep}`;
          const r = await raw(container, treeDir);
          if (r.files !== tree.files || (await countBlobs(container)) !== tree.files) throw new Error("raw uploader: not every file arrived");
          runs.rawFull.push(r.ms);
          runs.rawFullCpu.push(r.cpuMs);
          runs.rawTransfer.push(r.transferMs);
          await drop(container);
          log(`${tag} raw: ${secs(r.ms)} s (transfer ${secs(r.transferMs)} s)`);
        },
        cli: async () => {
          if (cliProblem) return;
          const container = `cli-${rep}`;
          await keyed.createContainer(container);
          const full = await az(container, treeDir, false);
          if (full.code !== 0 || (await countBlobs(container)) !== tree.files) {
            cliProblem = `the full upload failed (exit ${full.code}): ${full.stderr.trim().slice(-800)}`;
            return;
          }
          rewrite(treeDir, spec, changed, rep + 1);
          const rerun = await az(container, treeDir, true);
          rewrite(treeDir, spec, changed, 0);
          if (rerun.code !== 0) {
            cliProblem = `the re-upload failed (exit ${rerun.code}): ${rerun.stderr.trim().slice(-800)}`;
            return;
          }
          runs.cliFull.push(full.ms);
          runs.cliRerun.push(rerun.ms);
          await drop(container);
          log(`${tag} az: full ${secs(full.ms)} s, re-upload ${secs(rerun.ms)} s`);
        },
      };
      // Rotate the order, so no contestant always runs first or last.
      const names = ["ours", "raw", "cli", "entra"] as const;
      for (let i = 0; i < names.length; i++) await blocks[names[(i + rep) % names.length]]();
    }

    // Memory: our task on the big tree.
    const bigSpec: TreeSpec = bigTreeSpec(BIG_FILES, BIG_FILE_BYTES);
    const bigDir = path.join(workRoot, "big");
    const big = writeTree(bigDir, bigSpec);
    const bigRun = await ours("ours-big", bigDir);
    expectOk(bigRun, "our upload of the big tree", big.files);
    const bigRssKb = maxRssKb(bigRun.stderr);
    await drop("ours-big");
    fs.rmSync(bigDir, { recursive: true, force: true });
    log(`Memory: ${big.files} files, ${mb(big.bytes)} MB in ${secs(bigRun.durationMs)} s, peak RSS ${round((bigRssKb * 1024) / 1e6, 1)} MB.`);

    // Figures and ratios.
    const m = {
      oursFull: median(runs.oursFull),
      oursEntraFull: median(runs.oursEntraFull),
      listHash: median(runs.listHash),
      oursRerun: median(runs.oursRerun),
      rawFull: median(runs.rawFull),
      rawTransfer: median(runs.rawTransfer),
      cliFull: median(runs.cliFull),
      cliRerun: median(runs.cliRerun),
      load: median(loadMs),
    };
    const rssMb = (kb: number) => round((kb * 1024) / 1e6, 1);
    const cliMeasured = !cliProblem && runs.cliFull.length === REPEAT && runs.cliRerun.length === REPEAT;
    const targets = [
      { target: "full upload: ours / raw uploader <= 1.15", value: m.oursFull / m.rawFull, pass: m.oursFull / m.rawFull <= 1.15 },
      { target: "full upload: Azure CLI / ours >= 2.2", value: cliMeasured ? m.cliFull / m.oursFull : undefined, pass: cliMeasured ? m.cliFull / m.oursFull >= 2.2 : undefined },
      { target: `re-run, ${CHANGED_FILES} changed (exactly ${CHANGED_FILES} uploaded): ours re-run / ours full <= 0.33`, value: m.oursRerun / m.oursFull, pass: m.oursRerun / m.oursFull <= 1 / 3 },
      { target: "re-run: Azure CLI re-upload / ours re-run >= 8", value: cliMeasured ? m.cliRerun / m.oursRerun : undefined, pass: cliMeasured ? m.cliRerun / m.oursRerun >= 8 : undefined },
      { target: `peak RSS (MB), ${mb(big.bytes)} MB tree < 300`, value: rssMb(bigRssKb), pass: rssMb(bigRssKb) < 300 },
      { target: "bundle load (s) < 0.3", value: m.load / 1000, pass: m.load / 1000 < 0.3 },
    ];
    const notes = [
      { figure: "full upload: Azure CLI / raw uploader", value: cliMeasured ? m.cliFull / m.rawFull : undefined },
      { figure: "list + hash / ours full upload", value: m.listHash / m.oursFull },
      { figure: "full upload: ours (entra) / raw uploader", value: m.oursEntraFull / m.rawFull },
      { figure: "full upload: ours / raw uploader's transfer alone", value: m.oursFull / m.rawTransfer },
      { figure: "client CPU, full upload: ours / raw uploader", value: median(runs.oursFullCpu) / median(runs.rawFullCpu) },
    ];

    const list = (xs: number[]) => xs.map(secs).join(", ");
    const rows: [string, string, string][] = [
      ["Full upload, our task (sync, accessKey)", `${secs(m.oursFull)} s`, list(runs.oursFull)],
      ["Full upload, our task (sync, entra)", `${secs(m.oursEntraFull)} s`, list(runs.oursEntraFull)],
      ["Full upload, raw @azure/storage-blob uploader", `${secs(m.rawFull)} s`, list(runs.rawFull)],
      ["  its transfer alone (after process start)", `${secs(m.rawTransfer)} s`, list(runs.rawTransfer)],
      ["Full upload, az storage blob upload-batch", cliMeasured ? `${secs(m.cliFull)} s` : "not measured", list(runs.cliFull)],
      ["List + hash only, our task (dry run, synced tree)", `${secs(m.listHash)} s`, list(runs.listHash)],
      [`Re-run, ${CHANGED_FILES} files changed, our task`, `${secs(m.oursRerun)} s`, list(runs.oursRerun)],
      ["Re-run, az upload-batch --overwrite (whole tree)", cliMeasured ? `${secs(m.cliRerun)} s` : "not measured", list(runs.cliRerun)],
      ["Client CPU, full upload, our task", `${secs(median(runs.oursFullCpu))} s`, list(runs.oursFullCpu)],
      ["Client CPU, full upload, raw uploader", `${secs(median(runs.rawFullCpu))} s`, list(runs.rawFullCpu)],
      [`Peak RSS, our task, ${mb(tree.bytes)} MB tree`, `${rssMb(median(runs.oursFullRssKb))} MB`, runs.oursFullRssKb.map(rssMb).join(", ")],
      [`Peak RSS, our task, ${mb(big.bytes)} MB tree (${big.files} x ${BIG_FILE_BYTES / 1024 / 1024} MiB)`, `${rssMb(bigRssKb)} MB`, `upload took ${secs(bigRun.durationMs)} s`],
      ["Bundle load (node index.js, no inputs)", `${round(m.load / 1000, 3)} s`, `median of ${loadMs.length}`],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    log("");
    log(`${"Figure".padEnd(w0)}  ${"Median".padStart(w1)}  Runs`);
    for (const [a, b, c] of rows) log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
    log("");
    const fmt = (v: number | undefined) => (v === undefined ? "n/a" : round(v, 2).toFixed(2)).padStart(7);
    const wt = Math.max(...targets.map((t) => t.target.length), ...notes.map((t) => t.figure.length));
    for (const t of targets) log(`${t.target.padEnd(wt)}  ${fmt(t.value)}  ${t.pass === undefined ? "NOT MEASURED" : t.pass ? "PASS" : "FAIL"}`);
    for (const t of notes) log(`${t.figure.padEnd(wt)}  ${fmt(t.value)}  (info)`);
    if (cliProblem) log(`\nAzure CLI not measured: ${cliProblem}`);

    const results = {
      benchmark: "BatchAppBlobCopy@1",
      date: new Date().toISOString().slice(0, 10),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}` },
      setup: {
        tree: { files: tree.files, bytes: tree.bytes, seed: spec.seed, changedFiles: CHANGED_FILES },
        bigTree: { files: big.files, bytes: big.bytes },
        blob: "local Azurite 3.35 (blobs on disk) behind the local HTTPS proxy, loopback; containers deleted after each contestant's runs",
        ours: { mode: "sync", concurrency: CONCURRENCY, blockSizeMB: BLOCK_SIZE_MB, authType: "accessKey (shared key, as the other two); entra also measured" },
        raw: { concurrency: CONCURRENCY, blockSizeMB: BLOCK_SIZE_MB, perFileBlockConcurrency: 4, auth: "shared key", hashing: false },
        azureCli: cliMeasured ? { version: cliVersion, command: "az storage blob upload-batch (defaults; --overwrite true on the re-run)" } : { notMeasured: cliProblem },
        repeats: REPEAT,
        warmUp: "one untimed upload by our task and one by the raw uploader",
        statistic: "median",
      },
      secondsMedian: {
        oursFull: secs(m.oursFull),
        oursEntraFull: secs(m.oursEntraFull),
        rawFull: secs(m.rawFull),
        rawTransferOnly: secs(m.rawTransfer),
        cliFull: cliMeasured ? secs(m.cliFull) : null,
        listAndHash: secs(m.listHash),
        oursRerun: secs(m.oursRerun),
        cliRerun: cliMeasured ? secs(m.cliRerun) : null,
        bundleLoad: round(m.load / 1000, 3),
      },
      runsSeconds: Object.fromEntries(Object.entries(runs).filter(([k]) => !k.endsWith("Kb")).map(([k, v]) => [k, v.map(secs)])),
      peakRssMB: { tree200MB: runs.oursFullRssKb.map(rssMb), tree1GB: rssMb(bigRssKb) },
      targets: targets.map((t) => ({ target: t.target, value: t.value === undefined ? null : round(t.value, 2), result: t.pass === undefined ? "NOT MEASURED" : t.pass ? "PASS" : "FAIL" })),
      info: notes.map((t) => ({ figure: t.figure, value: t.value === undefined ? null : round(t.value, 2) })),
    };
    if (!quick) {
      const out = path.join(__dirname, "results", "blob-copy.json");
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
      log(`\nWrote ${path.relative(REPO_ROOT, out)}.`);
    }
  } finally {
    await azure?.close();
    fs.rmSync(workRoot, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
