/**
 * BatchAppPackage@1 zip benchmark, side by side in one run:
 *  - the seeded 2,000-file, ~200 MB tree (bench/tree.ts) zipped by our writer
 *    (runtime/zip.ts, bundled and run as its own process, as the task will)
 *    and by Info-ZIP (`zip -r -X -q -6`, the same level), after an untimed
 *    warm-up of each, interleaved, median of the repeats; our writer is also
 *    run with a thread pool of one, to show what the parallel deflate adds;
 *  - our writer's peak memory on a 1 GB folder (200 files of 5 MiB, half
 *    text, half random bytes), measured by bench/maxrss.cjs.
 * Checks that every run of ours gave the same SHA-256 and that Info-ZIP's
 * `unzip -t` accepts our archive. Prints the table and the ratios against the
 * targets and writes bench/results/zip.json. Flags: --repeat=N (default 5),
 * --quick (one repeat, 200 MB memory tree, nothing written).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { appTreeSpec, bigTreeSpec, writeTree, type TreeSpec } from "./tree";

const LEVEL = 6;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
// `--repeat N`, or `--repeat=N` through bench/run.ts (which takes bare words for benchmark names).
const repeatArg = args.findIndex((a) => a === "--repeat" || a.startsWith("--repeat="));
const repeatValue = repeatArg < 0 ? undefined : args[repeatArg].includes("=") ? args[repeatArg].split("=")[1] : args[repeatArg + 1];
const REPEAT = repeatValue !== undefined ? Math.max(1, Math.min(15, Number(repeatValue) || 1)) : quick ? 1 : 5;
const BIG_FILES = quick ? 40 : 200;
const BIG_FILE_BYTES = 5 * 1024 * 1024;

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function exec(command: string, argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    const child = spawn(command, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
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
const maxRssKb = (stderr: string) => Number(/BENCH_MAX_RSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN);
const cpuMs = (stderr: string) => Number(/BENCH_CPU_MS=(\d+)/.exec(stderr)?.[1] ?? NaN);
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The child that zips: runtime/zip.ts bundled on its own, printing its result as one JSON line. */
const CHILD_SOURCE = `
import { zipFolder } from "./runtime/zip";
const [folder, output, level] = process.argv.slice(2);
zipFolder(folder, output, { level: Number(level) }).then(
  (r) => process.stdout.write(JSON.stringify(r) + "\\n"),
  (e) => { console.error(e); process.exit(1); },
);
`;

interface OurRun extends Exec {
  sha256: string;
  size: number;
  stored: number;
  deflated: number;
}

async function main(): Promise<void> {
  if (spawnSync("zip", ["-v"], { stdio: "ignore" }).status !== 0) throw new Error("Info-ZIP's 'zip' is not installed (Debian: apt-get install zip).");
  const free = fs.statfsSync(os.tmpdir());
  const freeGb = (free.bavail * free.bsize) / 1e9;
  if (freeGb < 4) throw new Error(`Only ${freeGb.toFixed(1)} GB free under ${os.tmpdir()}; the benchmark needs about 4 GB.`);
  const zipVersion = /This is Zip ([\d.]+)/.exec(spawnSync("zip", ["-v"], { encoding: "utf8" }).stdout)?.[1] ?? "unknown";

  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-zip-"));
  try {
    const childEntry = path.join(workRoot, "zip-child.js");
    await build({
      stdin: { contents: CHILD_SOURCE, resolveDir: path.join(__dirname, ".."), loader: "ts", sourcefile: "zip-child.ts" },
      outfile: childEntry,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      minify: true,
      logLevel: "warning",
    });
    const preload = path.join(__dirname, "maxrss.cjs");
    const ours = async (folder: string, threads?: number): Promise<OurRun> => {
      const output = path.join(workRoot, "ours.zip");
      fs.rmSync(output, { force: true });
      const env = { ...process.env, ...(threads ? { UV_THREADPOOL_SIZE: String(threads) } : {}) };
      const r = await exec(process.execPath, ["-r", preload, childEntry, folder, output, String(LEVEL)], { env });
      if (r.code !== 0) throw new Error(`Our zip failed (${r.code}): ${r.stderr}`);
      const result = JSON.parse(r.stdout.trim().split("\n").pop()!) as { sha256: string; size: number; stored: number; deflated: number };
      return { ...r, ...result };
    };
    const infoZip = async (folder: string) => {
      const output = path.join(workRoot, "info-zip.zip");
      fs.rmSync(output, { force: true }); // zip would update an existing archive
      const r = await exec("zip", ["-r", "-X", "-q", `-${LEVEL}`, output, "."], { cwd: folder });
      if (r.code !== 0) throw new Error(`Info-ZIP failed (${r.code}): ${r.stderr}`);
      return { ...r, size: fs.statSync(output).size };
    };

    const spec = appTreeSpec();
    const treeDir = path.join(workRoot, "tree");
    const tree = writeTree(treeDir, spec);
    log(`Tree: ${tree.files} files, ${mb(tree.bytes)} MB (seed ${spec.seed}); Info-ZIP ${zipVersion}; level ${LEVEL}; ${REPEAT} repeat(s), median reported.`);

    // Warm-up: page cache, the bundle, zip's binary.
    const warm = await ours(treeDir);
    await infoZip(treeDir);
    const check = spawnSync("unzip", ["-tq", path.join(workRoot, "ours.zip")], { encoding: "utf8" });
    const unzipAccepts = check.status === 0;
    if (!unzipAccepts) throw new Error(`unzip -t rejects our archive: ${check.stdout}${check.stderr}`);

    const scenario = async (dir: string, label: string) => {
      const runs = { ours: [] as number[], oursCpu: [] as number[], infoZip: [] as number[], oneThread: [] as number[] };
      const hashes = new Set<string>();
      let infoZipSize = 0;
      let first: OurRun | undefined;
      for (let i = 0; i < REPEAT; i++) {
        const a = await ours(dir);
        first ??= a;
        runs.ours.push(a.ms);
        runs.oursCpu.push(cpuMs(a.stderr));
        hashes.add(a.sha256);
        const b = await infoZip(dir);
        runs.infoZip.push(b.ms);
        infoZipSize = b.size;
        const c = await ours(dir, 1);
        runs.oneThread.push(c.ms);
        hashes.add(c.sha256);
        log(`  ${label} run ${i + 1}: ours ${secs(a.ms)} s, Info-ZIP ${secs(b.ms)} s, ours with one thread ${secs(c.ms)} s`);
      }
      if (hashes.size !== 1) throw new Error(`Our archive of the ${label} changed between runs: ${[...hashes].join(", ")}`);
      return { runs, first: first!, infoZipSize, sha256: [...hashes][0], median: { ours: median(runs.ours), infoZip: median(runs.infoZip), oneThread: median(runs.oneThread), oursCpu: median(runs.oursCpu) } };
    };
    const app = await scenario(treeDir, "app tree");
    if (app.sha256 !== warm.sha256) throw new Error("Our archive changed after the warm-up.");

    // The same paths and sizes, every file compressible text: nothing to skip, all deflate work.
    fs.rmSync(treeDir, { recursive: true, force: true });
    const textSpec: TreeSpec = { ...spec, files: spec.files.map((f) => ({ ...f, text: true })) };
    const textDir = path.join(workRoot, "text-tree");
    writeTree(textDir, textSpec);
    await ours(textDir);
    await infoZip(textDir);
    const text = await scenario(textDir, "text tree");
    fs.rmSync(textDir, { recursive: true, force: true });

    // Memory on a 1 GB folder: half the files compress (text), half do not.
    const bigBase = bigTreeSpec(BIG_FILES, BIG_FILE_BYTES);
    const bigSpec: TreeSpec = { ...bigBase, files: bigBase.files.map((f, i) => ({ ...f, text: i % 2 === 0 })) };
    const bigDir = path.join(workRoot, "big");
    const big = writeTree(bigDir, bigSpec);
    const bigRun = await ours(bigDir);
    const peakMb = round(maxRssKb(bigRun.stderr) / 1024, 0);
    log(`Memory tree: ${big.files} files, ${mb(big.bytes)} MB: ${secs(bigRun.ms)} s, peak ${peakMb} MB`);

    const ratio = app.median.ours / app.median.infoZip;
    const textRatio = text.median.ours / text.median.infoZip;
    const rows: [string, string][] = [
      ["App tree: our zip (runtime/zip.ts, bundled, own process)", `${secs(app.median.ours)} s`],
      ["App tree: Info-ZIP `zip -r -X -q -6`", `${secs(app.median.infoZip)} s`],
      ["App tree: our zip, thread pool of one", `${secs(app.median.oneThread)} s`],
      ["App tree: archive size, ours / Info-ZIP", `${mb(app.first.size)} / ${mb(app.infoZipSize)} MB`],
      ["App tree: entries stored / deflated (ours)", `${app.first.stored} / ${app.first.deflated}`],
      ["Text tree: our zip", `${secs(text.median.ours)} s`],
      ["Text tree: Info-ZIP", `${secs(text.median.infoZip)} s`],
      ["Text tree: our zip, thread pool of one", `${secs(text.median.oneThread)} s`],
      ["Text tree: archive size, ours / Info-ZIP", `${mb(text.first.size)} / ${mb(text.infoZipSize)} MB`],
      [`Peak memory, ours, ${round(big.bytes / 2 ** 30, 2)} GiB folder`, `${peakMb} MB`],
    ];
    log("");
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) log(`${k.padEnd(w)}  ${v}`);
    const targets = [
      { target: "App tree: ours ≤ 1.0 × Info-ZIP (ideal)", value: ratio, pass: ratio <= 1.0, unit: "×" },
      { target: "App tree: ours never over 1.3 × Info-ZIP", value: ratio, pass: ratio <= 1.3, unit: "×" },
      { target: "Text tree: ours never over 1.3 × Info-ZIP", value: textRatio, pass: textRatio <= 1.3, unit: "×" },
      { target: "Peak memory on 1 GB < 200 MB", value: peakMb, pass: peakMb < 200, unit: "MB" },
    ];
    log("");
    const wt = Math.max(...targets.map((t) => t.target.length));
    for (const t of targets) log(`${t.target.padEnd(wt)}  ${t.unit === "×" ? `${round(t.value)} ×` : `${t.value} MB`}  ${t.pass ? "PASS" : "FAIL"}`);
    log(`Parallel deflate: one thread takes ${round(app.median.oneThread / app.median.ours)} × (app tree), ${round(text.median.oneThread / text.median.ours)} × (text tree); same SHA-256 on every run.`);

    const scenarioJson = (s: typeof app) => ({
      secondsMedian: { ours: secs(s.median.ours), infoZip: secs(s.median.infoZip), oursOneThread: secs(s.median.oneThread), oursCpu: secs(s.median.oursCpu) },
      secondsAll: { ours: s.runs.ours.map(secs), infoZip: s.runs.infoZip.map(secs), oursOneThread: s.runs.oneThread.map(secs) },
      ratios: { oursToInfoZip: round(s.median.ours / s.median.infoZip), oneThreadToOurs: round(s.median.oneThread / s.median.ours) },
      archive: { oursBytes: s.first.size, infoZipBytes: s.infoZipSize, stored: s.first.stored, deflated: s.first.deflated, sha256: s.sha256, sameOnEveryRun: true },
    });
    const results = {
      benchmark: "BatchAppPackage@1 zip",
      date: new Date().toISOString().slice(0, 10),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30, 1), node: process.version, zlib: process.versions.zlib, platform: `${os.platform()} ${os.release()}` },
      setup: {
        tree: { files: tree.files, bytes: tree.bytes, seed: spec.seed },
        textTree: "the same paths and sizes, every file printable text",
        bigTree: { files: big.files, bytes: big.bytes, text: "every other file" },
        level: LEVEL,
        infoZip: { version: zipVersion, command: `zip -r -X -q -${LEVEL} out.zip .` },
        repeats: REPEAT,
        warmUp: "one untimed run of each per tree",
        statistic: "median",
      },
      appTree: scenarioJson(app),
      textTree: scenarioJson(text),
      unzipTestPasses: unzipAccepts,
      peakMemoryMb: { ours1GB: peakMb },
      bigTreeSeconds: secs(bigRun.ms),
      targets: targets.map((t) => ({ target: t.target, value: round(t.value, 2), result: t.pass ? "PASS" : "FAIL" })),
    };
    if (!quick) {
      const out = path.join(__dirname, "results", "zip.json");
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
      log(`\nWrote ${path.relative(process.cwd(), out)}`);
    }
  } finally {
    fs.rmSync(workRoot, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
