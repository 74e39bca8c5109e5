/**
 * Where the tests find the files they read from beside the repository: the
 * official Azure REST specs and the task.json schema. `npm test` resolves them
 * first with scripts/fetch-shared.mjs (variable, ../shared, verified cache or
 * a pinned fetch) and passes the result on as AZURE_SPECS_DIR / TASK_SCHEMA_FILE,
 * or as AZURE_SPECS_UNAVAILABLE / TASK_SCHEMA_UNAVAILABLE with the reason.
 * A mocha run started some other way looks in the same places, without fetching.
 *
 * Tests that need a missing set are pending, not failed: `skipUnavailable`
 * marks them and writes a line to TEST_PENDING_LOG, from which the runner's
 * summary says what was skipped and why.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "..");
const SHARED_DIR = process.env.SHARED_DIR?.trim() ? path.resolve(process.env.SHARED_DIR.trim()) : path.resolve(REPO_ROOT, "..", "shared");
const CACHE_DIR = path.join(REPO_ROOT, ".shared-cache");

/** A file or folder that was found, or why it was not. */
export type Located = { found: true; path: string } | { found: false; reason: string };

const HOW_TO_GET = "set the variable, put shared/ beside the clone, or run `npm run fetch-shared`";

function locate(options: { variable: string; unavailable: string; what: string; set: string; probe: string; pathOf: (dir: string) => string; env: NodeJS.ProcessEnv }): Located {
  const { env } = options;
  const reason = env[options.unavailable]?.trim();
  if (reason) return { found: false, reason };
  const given = env[options.variable]?.trim();
  if (given) {
    const resolved = path.resolve(given);
    const probe = fs.existsSync(resolved) && fs.statSync(resolved).isFile() ? resolved : path.join(resolved, options.probe);
    return fs.existsSync(probe)
      ? { found: true, path: probe === resolved ? resolved : options.pathOf(resolved) }
      : { found: false, reason: `${options.what}: ${options.variable}=${given} has no ${options.probe}` };
  }
  for (const dir of [path.join(SHARED_DIR, options.set), path.join(CACHE_DIR, options.set)]) {
    if (fs.existsSync(path.join(dir, options.probe))) return { found: true, path: options.pathOf(dir) };
  }
  return { found: false, reason: `${options.what} not found (${HOW_TO_GET})` };
}

/** The folder laid out like shared/azure-specs. */
export function azureSpecsDir(env: NodeJS.ProcessEnv = process.env): Located {
  return locate({
    env,
    variable: "AZURE_SPECS_DIR",
    unavailable: "AZURE_SPECS_UNAVAILABLE",
    what: "the Azure REST specs",
    set: "azure-specs",
    probe: "batch/data-plane/Batch/stable/2022-10-01.16.0/BatchService.json",
    pathOf: (dir) => dir,
  });
}

/** The task.json schema file. */
export function taskSchemaFile(env: NodeJS.ProcessEnv = process.env): Located {
  return locate({
    env,
    variable: "TASK_SCHEMA_FILE",
    unavailable: "TASK_SCHEMA_UNAVAILABLE",
    what: "the task.json schema",
    set: "schemas",
    probe: "tasks.schema.json",
    pathOf: (dir) => path.join(dir, "tasks.schema.json"),
  });
}

/** One line of TEST_PENDING_LOG: what was skipped, how many tests, and why. */
export interface PendingEntry {
  what: string;
  tests: number;
  reason: string;
}

export function recordPending(entry: PendingEntry): void {
  const log = process.env.TEST_PENDING_LOG;
  if (log) fs.appendFileSync(log, `${JSON.stringify(entry)}\n`);
}

/**
 * In a `before` hook: when `located` was not found, marks every test of the
 * suite pending (mocha prints them as such), logs the reason once, and skips.
 * In a test: marks just that test pending.
 */
export function skipUnavailable(context: Mocha.Context, located: Located): void {
  if (located.found) return;
  // Called in a suite's hook it makes the whole suite pending; called in one test, just that test.
  const inTest = (context.test as { type?: string } | undefined)?.type === "test";
  const suite = context.test?.parent;
  const what = (inTest ? context.test?.fullTitle() : suite?.fullTitle()) || "(root suite)";
  recordPending({ what, tests: inTest ? 1 : (suite?.total() ?? 0), reason: located.reason });
  console.log(`    (pending: ${located.reason})`);
  context.skip();
}
