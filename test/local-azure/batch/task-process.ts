/**
 * What a task or start task sees on a node and how its command line runs:
 * Batch's AZ_BATCH_* environment (with AZ_BATCH_APP_PACKAGE_* for the node's
 * packages), its directory and working directory, resource files downloaded
 * into the working directory, then `/bin/sh -c <commandLine>` with stdout and
 * stderr in the task directory's stdout.txt and stderr.txt.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { downloadResourceFiles, type ResourceFileFailure } from "./resource-files";
import type { ProcessRunResult } from "./process-runner";
import type { BatchSimulation } from "./simulation";
import type { BatchAccountRecord, JobRecord, Json, NameValuePair, NodeRecord, PoolRecord, TaskRecord } from "./state";

/** Batch's failureInfo for a non-zero exit code. */
export const FAILURE_EXIT_CODE: Json = { category: "usererror", code: "FailureExitCode", message: "The task exited with an exit code representing a failure" };

/** Drops undefined members. */
export function compactJson(o: Json): Json {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** Host variables a command needs to run here at all (the shell's PATH, the test run's guard and CA); nothing else of the host leaks in. */
const PASSED_THROUGH = ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "LOOPBACK_GUARD_LOG"];

/** Directories of a task (or the start task, taskDirName "startup") on a node, as real paths. */
export function taskDirectories(node: NodeRecord, taskDirName: string): { root: string; taskDir: string; workingDir: string } {
  const root = node.sim.rootDir!;
  const taskDir = path.join(root, taskDirName);
  return { root, taskDir, workingDir: path.join(taskDir, "wd") };
}

/**
 * The environment Batch gives a task on a Linux node. Job and task variables
 * only for tasks (a start task has none); package variables in both the
 * application id's case and lower case, with the version, and without it for
 * the package that was the application's default version when the node last
 * deployed packages.
 */
export function batchEnvironment(
  sim: BatchSimulation,
  account: BatchAccountRecord,
  pool: PoolRecord,
  node: NodeRecord,
  taskDirName: string,
  settings: { job?: JobRecord; task?: TaskRecord; environmentSettings?: NameValuePair[] } = {},
): Record<string, string> {
  const { root, taskDir, workingDir } = taskDirectories(node, taskDirName);
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  Object.assign(env, {
    AZ_BATCH_ACCOUNT_NAME: account.name,
    AZ_BATCH_ACCOUNT_URL: `${sim.state.url}/`,
    AZ_BATCH_POOL_ID: pool.id,
    ...(settings.job ? { AZ_BATCH_JOB_ID: settings.job.id } : {}),
    ...(settings.task ? { AZ_BATCH_TASK_ID: settings.task.id } : {}),
    AZ_BATCH_NODE_ID: node.id,
    AZ_BATCH_NODE_IS_DEDICATED: String(node.isDedicated),
    AZ_BATCH_NODE_ROOT_DIR: root,
    AZ_BATCH_NODE_SHARED_DIR: path.join(root, "shared"),
    AZ_BATCH_NODE_STARTUP_DIR: path.join(root, "startup"),
    AZ_BATCH_NODE_STARTUP_WORKING_DIR: path.join(root, "startup", "wd"),
    AZ_BATCH_NODE_MOUNTS_DIR: path.join(root, "fsmounts"),
    AZ_BATCH_TASK_DIR: taskDir,
    AZ_BATCH_TASK_WORKING_DIR: workingDir,
    AZ_BATCH_CERTIFICATES_DIR: path.join(taskDir, "certs"),
    AZ_BATCH_TASK_USER: settings.task ? "_azbatch" : "_azbatchtask_start",
    AZ_BATCH_TASK_USER_IDENTITY: settings.task ? "PoolNonAdmin" : "TaskNonAdmin",
    USER: settings.task ? "_azbatch" : "_azbatchtask_start",
    HOME: workingDir,
    PWD: workingDir,
  });
  env.PATH = [env.PATH, path.join(root, "shared"), workingDir].filter(Boolean).join(":");
  const linuxName = (s: string) => s.replace(/[.\-#]/g, "_");
  for (const p of node.installedPackages) {
    const dir = path.join(root, p.directory);
    env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId)}_${linuxName(p.version)}`] = dir;
    env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId.toLowerCase())}_${linuxName(p.version)}`] = dir;
    // The default at the node's last deployment, not now: a node up before the default changed keeps its own.
    if (p.defaultAtDeployment) {
      env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId)}`] = dir;
      env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId.toLowerCase())}`] = dir;
    }
  }
  for (const s of settings.job?.commonEnvironmentSettings ?? []) env[s.name] = s.value ?? "";
  for (const s of settings.environmentSettings ?? settings.task?.environmentSettings ?? []) env[s.name] = s.value ?? "";
  return env;
}

/** Makes the task directory and working directory and empties stdout.txt / stderr.txt for a new run. */
export function prepareTaskDirectory(node: NodeRecord, taskDirName: string): { taskDir: string; workingDir: string; stdoutPath: string; stderrPath: string } {
  const { taskDir, workingDir } = taskDirectories(node, taskDirName);
  fs.mkdirSync(workingDir, { recursive: true });
  const stdoutPath = path.join(taskDir, "stdout.txt");
  const stderrPath = path.join(taskDir, "stderr.txt");
  fs.writeFileSync(stdoutPath, "");
  fs.writeFileSync(stderrPath, "");
  return { taskDir, workingDir, stdoutPath, stderrPath };
}

/** A run that did not start a process still leaves (empty) stdout.txt and stderr.txt, as on a node. */
export function writeEmptyOutputs(node: NodeRecord, taskDirName: string): void {
  if (node.sim.rootDir) prepareTaskDirectory(node, taskDirName);
}

/** Appends what a task runner hook returned to the task's output files. */
export function appendOutputs(node: NodeRecord, taskDirName: string, stdout: string | undefined, stderr: string | undefined): void {
  if (!node.sim.rootDir) return;
  const { taskDir } = taskDirectories(node, taskDirName);
  fs.mkdirSync(taskDir, { recursive: true });
  if (stdout) fs.appendFileSync(path.join(taskDir, "stdout.txt"), stdout);
  if (stderr) fs.appendFileSync(path.join(taskDir, "stderr.txt"), stderr);
}

export interface CommandSpec {
  account: BatchAccountRecord;
  pool: PoolRecord;
  node: NodeRecord;
  commandLine: string;
  resourceFiles?: Json[];
  environmentSettings?: NameValuePair[];
  job?: JobRecord;
  task?: TaskRecord;
  /** "startup" for the start task, workitems/<job>/job-1/<task> for a task. */
  taskDirName: string;
  signal: AbortSignal;
}

/** Downloads the resource files, then runs the command line to its end (or until `signal` kills it). */
export async function runCommand(sim: BatchSimulation, spec: CommandSpec): Promise<ProcessRunResult | { failure: ResourceFileFailure }> {
  const dirs = prepareTaskDirectory(spec.node, spec.taskDirName);
  const failure = await downloadResourceFiles(spec.resourceFiles, dirs.workingDir, spec.account, sim.state.autoStorageContainer);
  if (failure) return { failure };
  const env = batchEnvironment(sim, spec.account, spec.pool, spec.node, spec.taskDirName, { job: spec.job, task: spec.task, environmentSettings: spec.environmentSettings });
  return sim.processes.run({ commandLine: spec.commandLine, cwd: dirs.workingDir, env, stdoutPath: dirs.stdoutPath, stderrPath: dirs.stderrPath, signal: spec.signal });
}
