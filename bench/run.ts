/**
 * Runs the benchmarks (`npm run bench`, or `npm run bench -- blob-copy`).
 * Node reads NODE_EXTRA_CA_CERTS only when a process starts, so the local
 * Azure's CA is made here first and each benchmark runs in a child process
 * that trusts it; the local Azure then reuses that CA.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createTlsMaterial } from "../test/local-azure/tls";

const BENCHMARKS = ["blob-copy", "small-files", "zip", "pool-cycle"];

async function main(): Promise<number> {
  // Flags, and the value after a flag that takes one (--repeat N, --cpu-prof DIR), go to every benchmark.
  const argv = process.argv.slice(2);
  const isFlagValue = (i: number) => i > 0 && (argv[i - 1] === "--repeat" || argv[i - 1] === "--cpu-prof");
  const names = argv.filter((a, i) => !a.startsWith("-") && !isFlagValue(i));
  const flags = argv.filter((a, i) => a.startsWith("-") || isFlagValue(i));
  const selected = names.length ? names : BENCHMARKS;
  for (const name of selected) if (!BENCHMARKS.includes(name)) throw new Error(`Unknown benchmark '${name}' (have: ${BENCHMARKS.join(", ")}).`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-azure-tls-"));
  try {
    const tls = await createTlsMaterial(dir);
    let status = 0;
    for (const name of selected) {
      const result = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, `${name}.ts`), ...flags], {
        stdio: "inherit",
        env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caCertPath, LOCAL_AZURE_TLS_DIR: dir },
      });
      status ||= result.status ?? 1;
    }
    return status;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
