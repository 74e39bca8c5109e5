/**
 * BatchAppBlobCopy@1 on many small files: 800 files of about 100 KB, where
 * per-file and per-run overhead weigh most. Side by side against the local
 * Azure (Blob on disk), each with the account key and with Entra:
 *  - our bundled task (mode sync, defaults, into an empty prefix);
 *  - the raw parallel @azure/storage-blob uploader (the ceiling), signing the
 *    same way.
 * Every contestant runs `--repeat N` times (default 5, rotated order, after an
 * untimed warm-up each); medians and the ratios ours / raw are printed per
 * auth type and written to bench/results/small-files.json (not with --quick).
 * Run through bench/run.ts (`npm run bench -- small-files`), which sets up the CA.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { startLocalAzure, type LocalAzure } from "../test/local-azure";
import { REPO_ROOT, runTask } from "../test/harness/run-task";
import { smallFilesTreeSpec, writeTree } from "./tree";

const TASK = "BatchAppBlobCopy";
const CONCURRENCY = 16;
const BLOCK_SIZE_MB = 8;
const TARGET = 1.15;

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const repeatArg = args.indexOf("--repeat");
const REPEAT = repeatArg >= 0 ? Math.max(1, Math.min(10, Number(args[repeatArg + 1]) || 1)) : quick ? 1 : 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const secs = (ms: number) => round(ms / 1000, 2);
const log = (line: string) => void process.stdout.write(`${line}\n`);
/** What bench/maxrss.cjs reports at exit. */
const cpuMs = (stderr: string) => Number(/BENCH_CPU_MS=(\d+)/.exec(stderr)?.[1] ?? NaN);
const preload = path.join(__dirname, "maxrss.cjs");
/** --cpu-prof DIR: our task and the raw uploader write V8 CPU profiles there (to find the task's own per-file cost). */
const profileDir = args.includes("--cpu-prof") ? args[args.indexOf("--cpu-prof") + 1] : undefined;
const profileArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(profileDir)] : [];

function exec(command: string, argv: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    const child = spawn(command, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

type Auth = "accessKey" | "entra";

async function main(): Promise<void> {
  const entry = path.join(REPO_ROOT, "tasks", TASK, "index.js");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first.`);
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-small-files-"));
  let azure: LocalAzure | undefined;
  try {
    azure = await startLocalAzure({ blobsOnDisk: true, workDir: path.join(workRoot, "azure") });
    const info = azure.info;
    const keyed = new BlobServiceClient(`${info.storage.blobUrl}/`, new StorageSharedKeyCredential(info.storage.accountName, info.storage.accountKey));
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
      define: { "import.meta.url": "__bundleFileUrl" },
      banner: { js: 'const __bundleFileUrl = require("node:url").pathToFileURL(__filename).href;' },
    });

    const spec = smallFilesTreeSpec();
    const treeDir = path.join(workRoot, "tree");
    const tree = writeTree(treeDir, spec);
    log(`Tree: ${tree.files} files, ${round(tree.bytes / 1e6, 1)} MB (about ${Math.round(tree.bytes / tree.files / 1024)} KB each); ${REPEAT} repeat(s), median reported.`);

    const ours = async (container: string, auth: Auth) => {
      const r = await runTask({
        task: TASK,
        env: info.env,
        inputs: { azureSubscription: "LocalAzure", storageAccount: info.storage.accountName, containerName: container, sourceFolder: treeDir, mode: "sync", authType: auth, concurrency: CONCURRENCY },
        timeoutMs: 600_000,
        nodeArgs: ["-r", preload, ...profileArgs],
      });
      fs.rmSync(r.tempDir, { recursive: true, force: true });
      if (r.result !== "Succeeded" || Number(r.outputs.UploadedCount?.value) !== tree.files) throw new Error(`our task (${auth}): ${r.result}: ${r.message}\n${r.stderr.slice(-2000)}`);
      return { ms: r.durationMs, cpuMs: cpuMs(r.stderr) };
    };
    const raw = async (container: string, auth: Auth) => {
      const job = {
        blobUrl: info.storage.blobUrl,
        accountName: info.storage.accountName,
        accountKey: info.storage.accountKey,
        container,
        source: treeDir,
        concurrency: CONCURRENCY,
        blockSizeBytes: BLOCK_SIZE_MB * 1024 * 1024,
        entra: auth === "entra" ? { authorityHost: info.authorityHost, tenantId: info.tenantId, clientId: info.clientId, clientSecret: info.clientSecret } : undefined,
      };
      const r = await exec(process.execPath, ["-r", preload, ...profileArgs, rawEntry, JSON.stringify(job)], { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: info.caCertPath }, 600_000);
      if (r.code !== 0) throw new Error(`raw uploader (${auth}) failed (${r.code}): ${r.stderr.slice(-2000)}`);
      return { ms: r.ms, cpuMs: cpuMs(r.stderr) };
    };
    const drop = (container: string) => keyed.getContainerClient(container).deleteIfExists();

    const contestants = [
      { key: "oursKey", label: "our task, accessKey", run: (c: string) => ours(c, "accessKey") },
      { key: "rawKey", label: "raw uploader, account key", run: (c: string) => raw(c, "accessKey") },
      { key: "oursEntra", label: "our task, entra", run: (c: string) => ours(c, "entra") },
      { key: "rawEntra", label: "raw uploader, Entra", run: (c: string) => raw(c, "entra") },
    ] as const;
    const runs: Record<(typeof contestants)[number]["key"], number[]> = { oursKey: [], rawKey: [], oursEntra: [], rawEntra: [] };
    const cpu: Record<(typeof contestants)[number]["key"], number[]> = { oursKey: [], rawKey: [], oursEntra: [], rawEntra: [] };
    for (const c of contestants) {
      await c.run(`warm-${c.key.toLowerCase()}`);
      await drop(`warm-${c.key.toLowerCase()}`);
    }
    for (let rep = 0; rep < REPEAT; rep++) {
      const line: string[] = [];
      for (let i = 0; i < contestants.length; i++) {
        const c = contestants[(i + rep) % contestants.length];
        const container = `${c.key.toLowerCase()}-${rep}`;
        const { ms, cpuMs: used } = await c.run(container);
        runs[c.key].push(ms);
        cpu[c.key].push(used);
        line.push(`${c.key} ${secs(ms)} s (cpu ${secs(used)} s)`);
        await drop(container);
      }
      log(`  [${rep + 1}/${REPEAT}] ${line.join(", ")}`);
    }

    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<keyof typeof runs, number>;
    const targets = [
      { target: `accessKey: ours / raw uploader (account key) <= ${TARGET}`, value: m.oursKey / m.rawKey },
      { target: `entra: ours / raw uploader (Entra) <= ${TARGET}`, value: m.oursEntra / m.rawEntra },
    ].map((t) => ({ ...t, pass: t.value <= TARGET }));
    const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)])) as Record<keyof typeof cpu, number>;
    const info2 = [
      { figure: "entra: ours / raw uploader (account key)", value: m.oursEntra / m.rawKey },
      { figure: "client CPU, accessKey: ours / raw uploader", value: c.oursKey / c.rawKey },
      { figure: "client CPU, entra: ours / raw uploader", value: c.oursEntra / c.rawEntra },
    ];
    log("");
    for (const k of contestants) log(`${k.label.padEnd(28)} ${`${secs(m[k.key])} s`.padStart(8)}  ${runs[k.key].map(secs).join(", ")}  (client CPU ${secs(c[k.key])} s)`);
    log("");
    const w = Math.max(...targets.map((t) => t.target.length), ...info2.map((t) => t.figure.length));
    for (const t of targets) log(`${t.target.padEnd(w)}  ${round(t.value).toFixed(2)}  ${t.pass ? "PASS" : "FAIL"}`);
    for (const t of info2) log(`${t.figure.padEnd(w)}  ${round(t.value).toFixed(2)}  (info)`);

    if (!quick) {
      const out = path.join(__dirname, "results", "small-files.json");
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const results = {
        benchmark: "BatchAppBlobCopy@1, many small files",
        date: new Date().toISOString().slice(0, 10),
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
        setup: { tree: { files: tree.files, bytes: tree.bytes, seed: spec.seed }, concurrency: CONCURRENCY, blockSizeMB: BLOCK_SIZE_MB, repeats: REPEAT, statistic: "median", blob: "local Azurite (blobs on disk) behind the local HTTPS proxy, loopback" },
        secondsMedian: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, secs(v)])),
        runsSeconds: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map(secs)])),
        clientCpuSecondsMedian: Object.fromEntries(Object.entries(c).map(([k, v]) => [k, secs(v)])),
        targets: targets.map((t) => ({ target: t.target, value: round(t.value), result: t.pass ? "PASS" : "FAIL" })),
        info: info2.map((t) => ({ figure: t.figure, value: round(t.value) })),
      };
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
