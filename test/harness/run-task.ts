/**
 * Runs a bundled task exactly as the agent does: a child `node` process on the
 * task's index.js, inputs in INPUT_*, the service connection in ENDPOINT_*,
 * job variables in SYSTEM_* / AGENT_*, and reads back what it said through
 * `##vso[...]` logging commands.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The Node that runs the tasks: TASK_NODE_BINARY (the runner's Node 24 pass), else the one running the tests. */
export function taskNodeBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.TASK_NODE_BINARY?.trim() || process.execPath;
}

/** Each run's agent temp folder, removed when the test process ends (tests read summaries from it first). */
const tempDirs: string[] = [];
process.on("exit", () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export interface TaskRunOptions {
  /** Task folder name under tasks/. */
  task: string;
  inputs: Record<string, string | number | boolean | undefined>;
  /** Service connection and job environment (e.g. the local Azure's `env`). */
  env?: Record<string, string>;
  /** Sets system.debug=true. */
  debug?: boolean;
  /** Kills the task (SIGKILL) when a line of its output passes this test. */
  killWhen?: (line: string) => boolean;
  /** Sends SIGINT when a line passes this test (the agent's cancel). */
  cancelWhen?: (line: string) => boolean;
  /** The signal cancelWhen sends (default SIGINT; the agent follows with SIGTERM). */
  cancelSignal?: NodeJS.Signals;
  /** Called with each line of stdout as it arrives, while the task runs (to look at the local Azure at that moment). */
  onLine?: (line: string) => void;
  /** Polled every 20 ms while the task runs; SIGKILL when it returns true. */
  killWhenPolled?: () => boolean;
  timeoutMs?: number;
  /** Run from another folder holding the bundled task (default: tasks/<task>). */
  taskDir?: string;
  /** Extra node options before the entry, e.g. `["-r", preload]`. */
  nodeArgs?: string[];
}

export interface TaskIssue {
  type: "error" | "warning";
  message: string;
}

export interface TaskRunResult {
  /** "Succeeded", "Failed", ... from task.complete; undefined if it never completed. */
  result?: string;
  /** The message given with the result. */
  message?: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  outputs: Record<string, { value: string; secret: boolean }>;
  /** Values the task registered with setSecret. */
  secrets: string[];
  issues: TaskIssue[];
  progress: { percent: number; operation: string }[];
  summaryFiles: string[];
  /** Plain log lines (everything that is not a logging command). */
  lines: string[];
  /** Every logging command the agent would run, in order, parsed as the agent parses them (the first `##vso[` of a line). */
  commands: TaskCommand[];
  /** Lines the agent would take as formatting commands (`##[error]`, `##[group]` ...). */
  formattingLines: string[];
  /** stdout and stderr as the agent would show them, less the commands that carry secrets by design. */
  visibleOutput: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  tempDir: string;
}

export interface TaskCommand {
  name: string;
  props: Record<string, string>;
  data: string;
}

/** As the agent unescapes: '%' (sent as %AZP25) last, so an escaped '%' never combines with what follows. */
function unescapeData(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%5D/g, "]").replace(/%3B/g, ";").replace(/%AZP25/g, "%");
}

function parseCommand(line: string): TaskCommand | undefined {
  // The agent looks for the prefix anywhere in the line, in any case.
  const m = /##vso\[([\w.]+)([^\]]*)\](.*)$/i.exec(line);
  if (!m) return undefined;
  const props: Record<string, string> = {};
  for (const part of m[2].trim().split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) props[part.slice(0, eq).trim().toLowerCase()] = unescapeData(part.slice(eq + 1));
  }
  return { name: m[1], props, data: unescapeData(m[3]) };
}

export function inputEnv(inputs: TaskRunOptions["inputs"]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inputs)) {
    if (value === undefined) continue;
    env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = String(value);
  }
  return env;
}

export async function runTask(options: TaskRunOptions): Promise<TaskRunResult> {
  const taskDir = options.taskDir ?? path.join(REPO_ROOT, "tasks", options.task);
  const entry = path.join(taskDir, "index.js");
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm run build' first.`);
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), `task-${options.task}-`));
  tempDirs.push(tempDir);
  // Only what an agent would pass: no inherited Azure or proxy settings.
  const base: Record<string, string> = {};
  // NODE_OPTIONS and LOOPBACK_GUARD_LOG carry the test run's loopback-only guard into the task.
  for (const key of ["PATH", "HOME", "LANG", "TZ", "SystemRoot", "NODE_OPTIONS", "LOOPBACK_GUARD_LOG"]) if (process.env[key]) base[key] = process.env[key]!;
  const env: Record<string, string> = {
    ...base,
    AGENT_TEMPDIRECTORY: tempDir,
    AGENT_WORKFOLDER: tempDir,
    AGENT_VERSION: "4.266.0",
    SYSTEM_DEFAULTWORKINGDIRECTORY: tempDir,
    SYSTEM_HOSTTYPE: "release",
    SYSTEM_DEBUG: options.debug ? "true" : "false",
    ...(options.env ?? {}),
    ...inputEnv(options.inputs),
  };
  const started = Date.now();
  const child = spawn(taskNodeBinary(), [...(options.nodeArgs ?? []), entry], { cwd: tempDir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let pending = "";
  const timeout = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  let signalled = false;
  child.stdout.on("data", (d: Buffer) => {
    const text = d.toString("utf8");
    stdout += text;
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      options.onLine?.(line);
      if (!signalled && options.killWhen?.(line)) {
        signalled = true;
        child.kill("SIGKILL");
      }
      if (!signalled && options.cancelWhen?.(line)) {
        signalled = true;
        child.kill(options.cancelSignal ?? "SIGINT");
      }
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const poller = options.killWhenPolled
    ? setInterval(() => {
        if (!signalled && options.killWhenPolled!()) {
          signalled = true;
          child.kill("SIGKILL");
        }
      }, 20)
    : undefined;
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (code, sig) => resolve([code, sig])));
  clearTimeout(timeout);
  if (poller) clearInterval(poller);

  const result: TaskRunResult = {
    exitCode,
    signal,
    outputs: {},
    secrets: [],
    issues: [],
    progress: [],
    summaryFiles: [],
    lines: [],
    commands: [],
    formattingLines: [],
    visibleOutput: "",
    stdout,
    stderr,
    durationMs: Date.now() - started,
    tempDir,
  };
  const visible: string[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    if (/^\s*##\[/.test(line)) result.formattingLines.push(line);
    const command = parseCommand(line);
    if (!command) {
      if (line) result.lines.push(line);
      visible.push(line);
      continue;
    }
    result.commands.push(command);
    // A command's data and properties as the agent reads them (unescaped), so a secret cannot hide behind %AZP25 and friends.
    const shown = [command.data, ...Object.values(command.props)];
    switch (command.name.toLowerCase()) {
      case "task.complete":
        result.result = command.props.result;
        result.message = command.data;
        visible.push(line, ...shown);
        break;
      case "task.setvariable": {
        const secret = command.props.issecret === "true";
        if (command.props.isoutput === "true") result.outputs[command.props.variable] = { value: command.data, secret };
        // The agent takes a secret variable's value without showing it.
        if (!secret) visible.push(line, ...shown);
        break;
      }
      case "task.setsecret":
        result.secrets.push(command.data);
        break;
      case "task.issue":
        result.issues.push({ type: command.props.type === "warning" ? "warning" : "error", message: command.data });
        visible.push(line, ...shown);
        break;
      case "task.setprogress":
        result.progress.push({ percent: Number(command.props.value), operation: command.data });
        visible.push(line, ...shown);
        break;
      case "task.uploadsummary":
        result.summaryFiles.push(command.data);
        visible.push(line, ...shown);
        break;
      default:
        visible.push(line, ...shown);
    }
  }
  result.visibleOutput = `${visible.join("\n")}\n${stderr}`;
  return result;
}

/**
 * The secrets (of at least 6 characters) that appear anywhere in the output
 * outside `task.setsecret` commands and secret outputs: raw, or as the agent
 * reads a command's data. Also URL-encoded and -decoded, as a SAS travels both ways.
 */
export function findLeakedSecrets(run: TaskRunResult, secrets: string[]): string[] {
  const forms = (s: string) => {
    const all = new Set([s, encodeURIComponent(s)]);
    try {
      all.add(decodeURIComponent(s));
    } catch {
      // not URL-encoded
    }
    return [...all];
  };
  return secrets.filter((s) => s && s.length >= 6 && forms(s).some((f) => run.visibleOutput.includes(f)));
}
