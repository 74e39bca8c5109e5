/**
 * The time-scaled simulation behind the local Batch, as one handle for the
 * data plane, the ARM provider and the tests. The work is done by one module
 * per concern: packages.ts (application packages on nodes), pools.ts
 * (creation, resizes, autoscale switch), nodes.ts (node lifecycle and node
 * operations), jobs.ts (jobs), scheduler.ts (tasks, slots, task runs) and
 * node-files.ts (each node's real directory), task-process.ts and
 * process-runner.ts (command lines run as real processes), resource-files.ts
 * (resource file downloads).
 */
import * as fs from "node:fs";
import type { SimClock } from "../clock";
import * as jobs from "./jobs";
import * as nodes from "./nodes";
import { createNodesDirectory, nodeFiles, type NodeFile } from "./node-files";
import { ProcessHost } from "./process-runner";
import { packageDirectory, resolvePackages, type PackageProblem, type ResolvedPackage } from "./packages";
import * as pools from "./pools";
import { startPoolAutoScale, stopPoolAutoScale } from "./autoscale/pool";
import * as scheduler from "./scheduler";
import {
  findKey,
  type ApplicationPackageReference,
  type BatchAccountRecord,
  type BatchState,
  type DeallocationOption,
  type JobRecord,
  type Json,
  type NodeRecord,
  type NodeScript,
  type PoolRecord,
  type TaskRecord,
  type TaskScript,
} from "./state";

export { NODE_ROOT_DIR } from "./node-files";
export type { PackageProblem, ResolvedPackage };

export class BatchSimulation {
  /** Every task and start task process; all end when the simulation closes or its host process exits. */
  readonly processes = new ProcessHost();
  private nodesDir?: string;

  constructor(
    readonly state: BatchState,
    readonly clock: SimClock,
  ) {}

  /** The temp folder holding every node's directory (made on first use). */
  nodesDirectory(): string {
    this.nodesDir ??= createNodesDirectory();
    return this.nodesDir;
  }

  /** Kills every process still running and removes the nodes' directories. */
  close(): void {
    this.processes.close();
    if (this.nodesDir) fs.rmSync(this.nodesDir, { recursive: true, force: true });
    this.nodesDir = undefined;
  }

  // ---------------------------------------------------------------- lookups

  account(name = this.state.defaultAccountName): BatchAccountRecord {
    const account = findKey(this.state.accounts, name);
    if (!account) throw new Error(`No Batch account '${name}'.`);
    return account;
  }

  accountUrl(): string {
    return this.state.url;
  }

  poolUrl(pool: PoolRecord): string {
    return `${this.state.url}/pools/${pool.id}`;
  }

  nodeUrl(pool: PoolRecord, node: NodeRecord): string {
    return `${this.poolUrl(pool)}/nodes/${node.id}`;
  }

  taskUrl(job: JobRecord, task: TaskRecord): string {
    return `${this.state.url}/jobs/${job.id}/tasks/${task.id}`;
  }

  // ------------------------------------------------------------ application packages

  /**
   * Resolves package references against the account's applications: each must
   * name an existing application and an active version, or rely on a default
   * version. Returns the resolved packages and the problems, one per bad reference.
   */
  resolvePackages(account: BatchAccountRecord, refs: ApplicationPackageReference[]): { resolved: ResolvedPackage[]; problems: PackageProblem[] } {
    return resolvePackages(this, account, refs);
  }

  /** Directory name Batch uses on Linux: <appid lower-cased><version><YYYY-MM-DD-HH-MM>. */
  packageDirectory(applicationId: string, version: string, at: Date): string {
    return packageDirectory(applicationId, version, at);
  }

  // ------------------------------------------------------------------ pools

  touchPool(pool: PoolRecord): void {
    pools.touchPool(pool);
  }

  /** Adds a pool from a data-plane PoolAddParameter body (validated by the caller). */
  addPool(account: BatchAccountRecord, params: Json): PoolRecord {
    const pool = pools.addPool(this, account, params);
    if (pool.enableAutoScale) startPoolAutoScale(this, pool, { intervalChanged: true });
    return pool;
  }

  /** Deleting a pool: resize to zero with requeue, then the pool is gone. */
  deletePool(account: BatchAccountRecord, pool: PoolRecord): void {
    stopPoolAutoScale(pool);
    pools.deletePool(this, account, pool);
  }

  resize(
    account: BatchAccountRecord,
    pool: PoolRecord,
    target: { targetDedicatedNodes?: number; targetLowPriorityNodes?: number; resizeTimeout?: string; nodeDeallocationOption?: DeallocationOption },
  ): void {
    pools.resize(this, account, pool, target);
  }

  stopResize(pool: PoolRecord): void {
    pools.stopResize(this, pool);
  }

  /** Remove specific nodes (Pool_RemoveNodes): the targets drop by the nodes removed. */
  removeNodes(account: BatchAccountRecord, pool: PoolRecord, list: NodeRecord[], option: DeallocationOption = "requeue", resizeTimeout?: string): void {
    pools.removeNodes(this, account, pool, list, option, resizeTimeout);
  }

  /** Stores the formula and interval, evaluates at once and then every interval (see autoscale/pool.ts). */
  enableAutoScale(pool: PoolRecord, formula: string | undefined, interval: string | undefined): void {
    pools.enableAutoScale(pool, formula, interval);
    startPoolAutoScale(this, pool, { intervalChanged: interval !== undefined });
  }

  disableAutoScale(pool: PoolRecord): void {
    stopPoolAutoScale(pool);
    pools.disableAutoScale(pool);
  }

  // ------------------------------------------------------------------ nodes

  rebootNode(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
    nodes.rebootNode(this, account, pool, node, option);
  }

  reimageNode(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
    nodes.reimageNode(this, account, pool, node, option);
  }

  disableScheduling(account: BatchAccountRecord, node: NodeRecord, option: "requeue" | "terminate" | "taskcompletion" = "requeue"): void {
    nodes.disableScheduling(this, account, node, option);
  }

  enableScheduling(account: BatchAccountRecord, node: NodeRecord): void {
    nodes.enableScheduling(this, account, node);
  }

  /** Sets what the next nodes to join a pool will do (start task exit code, unusable). */
  scriptNextNodes(pool: PoolRecord, ...scripts: NodeScript[]): void {
    pool.sim.nextNodeScripts.push(...scripts);
  }

  /** Changes what an existing node does on its next boot (reboot or reimage). */
  scriptNode(node: NodeRecord, script: NodeScript): void {
    node.sim.script = { ...node.sim.script, ...script };
  }

  // ------------------------------------------------------------------ jobs and tasks

  touchTask(task: TaskRecord): void {
    scheduler.touchTask(task);
  }

  addJob(account: BatchAccountRecord, params: Json): JobRecord {
    return jobs.addJob(this, account, params);
  }

  addTask(account: BatchAccountRecord, job: JobRecord, params: Json, script: TaskScript = {}): TaskRecord {
    return scheduler.addTask(this, account, job, params, script);
  }

  /** Sets how a task runs when no taskRunner handles it. */
  scriptTask(task: TaskRecord, script: TaskScript): void {
    task.sim.script = { ...task.sim.script, ...script };
  }

  terminateTask(account: BatchAccountRecord, job: JobRecord, task: TaskRecord): void {
    scheduler.terminateTask(this, account, job, task);
  }

  terminateJob(account: BatchAccountRecord, job: JobRecord, reason = "UserTerminate"): void {
    jobs.terminateJob(this, account, job, reason);
  }

  deleteTask(account: BatchAccountRecord, job: JobRecord, task: TaskRecord): void {
    scheduler.deleteTask(this, account, job, task);
  }

  reactivateTask(account: BatchAccountRecord, task: TaskRecord): void {
    scheduler.reactivateTask(this, account, task);
  }

  jobChanged(account: BatchAccountRecord, job: JobRecord): void {
    jobs.jobChanged(this, account, job);
  }

  /** Places active tasks on nodes with free slots, job by job (priority, then age). */
  schedule(account: BatchAccountRecord): void {
    scheduler.schedule(this, account);
  }

  /** The AZ_BATCH_* environment a task sees on a Linux node, with its package variables. */
  taskEnvironment(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, job: JobRecord, task: TaskRecord): Record<string, string> {
    return scheduler.taskEnvironment(this, account, pool, node, job, task);
  }

  // ------------------------------------------------------------------ files

  /** Every file and directory on a node, names relative to the node root, as File_ListFromComputeNode shows them. */
  nodeFiles(node: NodeRecord, recursive = true): NodeFile[] {
    return nodeFiles(node, recursive);
  }

  // ------------------------------------------------------------------ tests

  /** Polls until `predicate` holds (real time, bounded). */
  async waitFor(predicate: () => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${options.what ?? "the simulation"}.`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
