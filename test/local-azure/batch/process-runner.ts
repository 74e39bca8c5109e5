/**
 * Runs a Batch command line for real: `/bin/sh -c <commandLine>` in the
 * task's working directory with the environment Batch gives it, stdout and
 * stderr written straight to the task's stdout.txt and stderr.txt.
 *
 * Every process is started in its own process group, so ending a task (task
 * or job terminate, maxWallClockTime, a node reboot with requeue/terminate,
 * the local Azure closing) kills the command and everything it started. The
 * processes are children of the local Azure: `killAll` ends them on close,
 * and an exit hook ends them when the hosting process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";

export interface ProcessRunOptions {
  commandLine: string;
  cwd: string;
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** Aborting kills the process group; the run then ends with how = "killed". */
  signal: AbortSignal;
}

export interface ProcessRunResult {
  /** The exit code, or 128 + the signal number when a signal ended it (as a Linux shell reports it). */
  exitCode: number;
  how: "exited" | "killed";
}

export class ProcessHost {
  private readonly live = new Set<ChildProcess>();
  private readonly onExit = () => this.killAll();
  private hooked = false;

  /** Processes still running. */
  get running(): number {
    return this.live.size;
  }

  run(options: ProcessRunOptions): Promise<ProcessRunResult> {
    if (!this.hooked) {
      process.on("exit", this.onExit);
      this.hooked = true;
    }
    return new Promise((resolve) => {
      if (options.signal.aborted) return resolve({ exitCode: 128 + osConstants.signals.SIGKILL, how: "killed" });
      const out = fs.openSync(options.stdoutPath, "a");
      const err = fs.openSync(options.stderrPath, "a");
      let child: ChildProcess;
      try {
        child = spawn("/bin/sh", ["-c", options.commandLine], { cwd: options.cwd, env: options.env, stdio: ["ignore", out, err], detached: true });
      } finally {
        fs.closeSync(out);
        fs.closeSync(err);
      }
      this.live.add(child);
      let killed = false;
      const kill = () => {
        killed = true;
        killGroup(child);
      };
      options.signal.addEventListener("abort", kill, { once: true });
      const done = (exitCode: number) => {
        this.live.delete(child);
        options.signal.removeEventListener("abort", kill);
        // Whatever the command left running in its group ends with it, as on a node.
        killGroup(child);
        resolve({ exitCode, how: killed ? "killed" : "exited" });
      };
      child.once("error", (e) => {
        fs.appendFileSync(options.stderrPath, `${e.message}\n`);
        done(127);
      });
      child.once("exit", (code, signal) => done(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 9) : 9)));
    });
  }

  /** Kills every process still running (the local Azure is closing). */
  killAll(): void {
    for (const child of this.live) killGroup(child);
    this.live.clear();
  }

  close(): void {
    this.killAll();
    if (this.hooked) process.removeListener("exit", this.onExit);
    this.hooked = false;
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}
