/**
 * `npm run local-azure`: starts the local Azure, prints one JSON line with its
 * endpoints, names, credentials and the environment a bundled task needs, then
 * runs until interrupted.
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

async function server(): Promise<void> {
  const blobsOnDisk = process.argv.includes("--blobs-on-disk");
  const azure = await startLocalAzure({ workDir: process.env.LOCAL_AZURE_WORK_DIR, blobsOnDisk });
  process.stdout.write(`${JSON.stringify(azure.info)}\n`);
  process.stderr.write(`Local Azure is ready (ARM ${azure.info.armUrl}). Press Ctrl+C to stop.\n`);
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

(process.env.LOCAL_AZURE_TLS_DIR ? server() : parent()).catch((e) => {
  console.error(e);
  process.exit(1);
});
