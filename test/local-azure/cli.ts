/**
 * `npm run local-azure`: starts the local Azure, prints one JSON line with its
 * endpoints, names, credentials and the environment a bundled task needs, then
 * runs until interrupted.
 *
 *   --blobs-on-disk        keep blobs in a temp folder instead of memory
 *   --time-scale <factor>  how many times faster than real time Batch nodes,
 *                          tasks and Data Factory runs go (default 50: one
 *                          simulated second is 20 ms); 1 is real time, so a
 *                          person driving it by hand sees every transition
 *
 * Node reads NODE_EXTRA_CA_CERTS only at start-up, and the local Azure is itself
 * a client of its own services (Batch reads packages from Blob), so the CA is
 * made first and the server runs in a child process that trusts it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTlsMaterial } from "./tls";
import { startLocalAzure } from "./index";

async function parent(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-azure-"));
  const tls = await createTlsMaterial(path.join(dir, "tls"));
  const child = spawn(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, LOCAL_AZURE_TLS_DIR: path.dirname(tls.caCertPath), LOCAL_AZURE_WORK_DIR: dir, NODE_EXTRA_CA_CERTS: tls.caCertPath },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("exit", (code) => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(code ?? 0);
  });
}

/** Real milliseconds per simulated second from `--time-scale <factor>` (simulated seconds per real second). */
export function parseTimeScale(argv: string[]): number | undefined {
  const at = argv.indexOf("--time-scale");
  if (at === -1) return undefined;
  const raw = argv[at + 1];
  const factor = Number(raw);
  if (raw === undefined || !Number.isFinite(factor) || factor <= 0 || factor > 10_000) {
    throw new Error(`--time-scale needs a factor above 0 and at most 10000 (1 is real time, 50 the default), not '${raw ?? ""}'.`);
  }
  return 1000 / factor;
}

async function server(): Promise<void> {
  const blobsOnDisk = process.argv.includes("--blobs-on-disk");
  const msPerSimulatedSecond = parseTimeScale(process.argv) ?? 20;
  const azure = await startLocalAzure({ workDir: process.env.LOCAL_AZURE_WORK_DIR, blobsOnDisk, msPerSimulatedSecond });
  // The clock Batch and Data Factory share, as it runs.
  const ms = azure.batch.clock.msPerSimulatedSecond;
  process.stdout.write(`${JSON.stringify({ ...azure.info, timeScale: 1000 / ms, msPerSimulatedSecond: ms })}\n`);
  process.stderr.write(
    `Local Azure is ready (ARM ${azure.info.armUrl}); simulated time runs ${1000 / ms} times faster than real time. Press Ctrl+C to stop.\n`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await azure.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

if (require.main === module) {
  try {
    parseTimeScale(process.argv);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  (process.env.LOCAL_AZURE_TLS_DIR ? server() : parent()).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
