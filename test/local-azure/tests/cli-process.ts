/**
 * `npm run local-azure` as a person runs it: the CLI in its own process, with
 * no CA or TLS folder handed down, read up to its ready line.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import * as path from "node:path";
import { REPO_ROOT } from "../../harness/run-task";

export interface LocalAzureCli {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The first line it printed (the ready JSON). */
  readyLine: string;
  /** SIGINT, as Ctrl+C would send, and waits for the process to end. */
  stop(): Promise<void>;
}

export async function startLocalAzureCli(args: string[] = []): Promise<LocalAzureCli> {
  const child = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(REPO_ROOT, "test", "local-azure", "cli.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOCAL_AZURE_TLS_DIR: "", NODE_EXTRA_CA_CERTS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
    await exited;
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const readyLine = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.on("exit", (code) => reject(new Error(`exited ${code} before printing`)));
      timer = setTimeout(() => reject(new Error("no JSON line within 30 s")), 30_000);
    });
    return { child, readyLine, stop };
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
