/**
 * Finds the files the tests read beside the repository (the official Azure
 * REST specs and the task.json schema), and fetches what is missing from the
 * public repositories at the commits pinned in scripts/shared-files.json.
 *
 * For each set, in order:
 *   1. its variable (AZURE_SPECS_DIR: a folder laid out like shared/azure-specs;
 *      TASK_SCHEMA_FILE: the schema file), when set;
 *   2. ../shared/<set> beside the clone (SHARED_DIR names another folder laid out like it);
 *   3. the cache, .shared-cache/<set> (ignored by git), every file checked
 *      against its pinned SHA-256;
 *   4. a fetch into the cache (unless SHARED_FETCH=off): a short timeout per
 *      request, every file checked against its pinned SHA-256 before the set
 *      is moved into place, so a half or tampered download is never used.
 * When none works the set is unavailable and the reason says why; the tests
 * that need it are then pending with that reason.
 *
 *   node scripts/fetch-shared.mjs            report, fetching what is missing; exit 1 if a set is unavailable
 *   node scripts/fetch-shared.mjs --json     the same, and one JSON line with the result last on stdout
 *   node scripts/fetch-shared.mjs --rehash <dir>   rewrite the pinned hashes from a trusted folder laid out like shared/
 *
 * SHARED_FETCH=off never fetches; SHARED_FETCH_TIMEOUT_MS (default 8000) bounds each request;
 * SHARED_FETCH_BASE_URL serves the files instead of GitHub (same <owner>/<repo>/<commit>/<path> layout).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const manifestPath = path.join(root, "scripts", "shared-files.json");
export const CACHE_DIR = path.join(root, ".shared-cache");

/** @typedef {{ path: string, source: string, commit: string, bytes: number, sha256: string }} PinnedFile */
/** @typedef {{ description: string, env: string, repository: string, files: PinnedFile[] }} PinnedSet */
/**
 * Where a set was found (`file`: the one file a variable named, for a one-file set), or why not.
 * @typedef {{ set: string, found: true, dir: string, file?: string, from: string } | { set: string, found: false, reason: string }} SetResult
 */

/** @returns {{ sets: Record<string, PinnedSet> }} */
export function readManifest() {
  return JSON.parse(fs.readFileSync(manifestPath, "utf8"));
}

const sha256 = (/** @type {Buffer} */ data) => createHash("sha256").update(data).digest("hex");

/** GitHub's raw file service; SHARED_FETCH_BASE_URL replaces it (a mirror, or a loopback server in the tests). */
const DEFAULT_BASE_URL = "https://raw.githubusercontent.com";

export function rawUrl(/** @type {PinnedSet} */ set, /** @type {PinnedFile} */ file, baseUrl = DEFAULT_BASE_URL) {
  return `${baseUrl.replace(/\/+$/, "")}/${set.repository}/${file.commit}/${file.source}`;
}

/** The first file of the set that is missing or differs from its pin, or undefined when all match. */
function firstMismatch(/** @type {string} */ dir, /** @type {PinnedSet} */ set) {
  for (const file of set.files) {
    const p = path.join(dir, file.path);
    if (!fs.existsSync(p)) return `${file.path} is missing`;
    const actual = sha256(fs.readFileSync(p));
    if (actual !== file.sha256) return `${file.path} has SHA-256 ${actual}, pinned ${file.sha256}`;
  }
  return undefined;
}

/** A location given by the set's variable: a folder, or for the schema the file itself. */
function fromVariable(/** @type {string} */ name, /** @type {PinnedSet} */ set, /** @type {NodeJS.ProcessEnv} */ env) {
  const value = env[set.env]?.trim();
  if (!value) return undefined;
  const given = path.resolve(value);
  if (set.files.length === 1 && fs.existsSync(given) && fs.statSync(given).isFile()) {
    return /** @type {SetResult} */ ({ set: name, found: true, dir: path.dirname(given), file: given, from: set.env });
  }
  const dir = given;
  const missing = set.files.find((f) => !fs.existsSync(path.join(dir, f.path)));
  return missing
    ? /** @type {SetResult} */ ({ set: name, found: false, reason: `${set.env}=${value} has no ${missing.path}` })
    : /** @type {SetResult} */ ({ set: name, found: true, dir, from: set.env });
}

async function download(/** @type {string} */ url, /** @type {number} */ timeoutMs) {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

function describeFetchError(/** @type {unknown} */ e) {
  if (e instanceof Error && e.name === "TimeoutError") return "timed out";
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : undefined;
  const code = cause && "code" in cause ? ` (${cause.code})` : "";
  return `${cause?.message ?? (e instanceof Error ? e.message : String(e))}${code}`;
}

/** Fetches a whole set into a temp folder, checks every file, then moves it into the cache. */
async function fetchSet(/** @type {string} */ name, /** @type {PinnedSet} */ set, /** @type {number} */ timeoutMs, /** @type {string} */ baseUrl) {
  const target = path.join(CACHE_DIR, name);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const staging = fs.mkdtempSync(path.join(CACHE_DIR, `.${name}-`));
  try {
    // The first file alone: offline, this fails at once instead of once per file.
    const queue = [...set.files];
    const fetchOne = async (/** @type {PinnedFile} */ file) => {
      const url = rawUrl(set, file, baseUrl);
      let data;
      try {
        data = await download(url, timeoutMs);
      } catch (e) {
        throw new Error(`could not fetch ${url}: ${describeFetchError(e)}`);
      }
      const actual = sha256(data);
      if (actual !== file.sha256) throw new Error(`${url} has SHA-256 ${actual}, pinned ${file.sha256}; not used`);
      const p = path.join(staging, file.path);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
    };
    await fetchOne(/** @type {PinnedFile} */ (queue.shift()));
    const workers = Array.from({ length: Math.min(6, queue.length) }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) await fetchOne(file);
    });
    await Promise.all(workers);
    fs.writeFileSync(path.join(staging, "README.md"), provenance(set));
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(staging, target);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function provenance(/** @type {PinnedSet} */ set) {
  const rows = set.files.map((f) => `| \`${f.path}\` | \`${f.source}\` | \`${f.commit}\` | \`${f.sha256}\` |`);
  return [
    `# ${set.description}`,
    "",
    `Fetched by scripts/fetch-shared.mjs from the public repository ${set.repository}, each file at its pinned commit, and checked against its pinned SHA-256 (scripts/shared-files.json). Not edited.`,
    "",
    "| File | Repository path | Commit | SHA-256 |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

/**
 * Resolves every set (see the top of this file).
 * @param {{ env?: NodeJS.ProcessEnv, sharedDir?: string, log?: (line: string) => void }} [options]
 * @returns {Promise<SetResult[]>}
 */
export async function resolveShared(options = {}) {
  const env = options.env ?? process.env;
  const sharedDir = options.sharedDir ?? (env.SHARED_DIR?.trim() ? path.resolve(env.SHARED_DIR.trim()) : path.resolve(root, "..", "shared"));
  const sharedLabel = env.SHARED_DIR?.trim() ? `SHARED_DIR=${env.SHARED_DIR.trim()}` : "../shared";
  const log = options.log ?? (() => {});
  const fetchOff = ["off", "0", "false", "no"].includes((env.SHARED_FETCH ?? "").trim().toLowerCase());
  const timeoutMs = Number(env.SHARED_FETCH_TIMEOUT_MS) > 0 ? Number(env.SHARED_FETCH_TIMEOUT_MS) : 8000;
  const { sets } = readManifest();
  /** @type {SetResult[]} */
  const results = [];
  for (const [name, set] of Object.entries(sets)) {
    const given = fromVariable(name, set, env);
    if (given) {
      results.push(given);
      continue;
    }
    const beside = path.join(sharedDir, name);
    if (set.files.every((f) => fs.existsSync(path.join(beside, f.path)))) {
      results.push({ set: name, found: true, dir: beside, from: sharedLabel });
      continue;
    }
    const cached = path.join(CACHE_DIR, name);
    const cacheProblem = fs.existsSync(cached) ? firstMismatch(cached, set) : "not cached";
    if (!cacheProblem) {
      results.push({ set: name, found: true, dir: cached, from: "cache" });
      continue;
    }
    const notFound = `${set.description} not in ${set.env} (not set), ${sharedLabel}/${name} or the cache (${cacheProblem})`;
    if (fetchOff) {
      results.push({ set: name, found: false, reason: `${notFound}; fetching is off (SHARED_FETCH=off)` });
      continue;
    }
    const started = Date.now();
    log(`fetching ${set.files.length} file(s) of ${set.description} from ${set.repository} ...`);
    try {
      await fetchSet(name, set, timeoutMs, env.SHARED_FETCH_BASE_URL?.trim() || DEFAULT_BASE_URL);
      log(`  fetched and verified in ${Date.now() - started} ms`);
      results.push({ set: name, found: true, dir: cached, from: "fetched" });
    } catch (e) {
      results.push({ set: name, found: false, reason: `${notFound}; ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return results;
}

/** Rewrites the pinned sizes and hashes from a trusted folder laid out like shared/. */
function rehash(/** @type {string} */ dir) {
  const manifest = readManifest();
  for (const [name, set] of Object.entries(manifest.sets)) {
    for (const file of set.files) {
      const data = fs.readFileSync(path.join(dir, name, file.path));
      file.bytes = data.length;
      file.sha256 = sha256(data);
    }
  }
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === "--rehash") {
    if (!args[1]) throw new Error("--rehash needs a folder laid out like shared/ (azure-specs/, schemas/)");
    rehash(path.resolve(args[1]));
    console.log(`rewrote ${path.relative(root, manifestPath)} from ${args[1]}`);
    return 0;
  }
  const json = args.includes("--json");
  const results = await resolveShared({ log: (line) => console.error(line) });
  for (const r of results) console.error(r.found ? `${r.set}: ${r.dir} (${r.from})` : `${r.set}: unavailable: ${r.reason}`);
  if (json) console.log(JSON.stringify(results));
  return json || results.every((r) => r.found) ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
