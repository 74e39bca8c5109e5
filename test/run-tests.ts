/**
 * Runs the mocha suite. Node reads NODE_EXTRA_CA_CERTS only when a process
 * starts, so the local Azure's throwaway CA is made here first and mocha runs
 * in a child process that trusts it; the local Azure then reuses that CA.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTlsMaterial } from "./local-azure/tls";

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-azure-tls-"));
  try {
    const tls = await createTlsMaterial(dir);
    const mocha = require.resolve("mocha/bin/mocha.js");
    // Every process of the run (mocha, the tasks, the local Azure's children) refuses non-loopback connections.
    const guardLog = path.join(dir, "non-loopback.log");
    const guard = `--require ${JSON.stringify(path.join(__dirname, "loopback-guard.cjs"))}`;
    const result = spawnSync(process.execPath, [mocha, ...process.argv.slice(2)], {
      stdio: "inherit",
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: tls.caCertPath,
        LOCAL_AZURE_TLS_DIR: dir,
        LOOPBACK_GUARD_LOG: guardLog,
        NODE_OPTIONS: [process.env.NODE_OPTIONS, guard].filter(Boolean).join(" "),
      },
    });
    if (fs.existsSync(guardLog)) {
      console.error(`Tests tried to leave loopback:\n${fs.readFileSync(guardLog, "utf8")}`);
      return 1;
    }
    return result.status ?? 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
