/**
 * The time-scaled simulation behind the local Batch: pools resize towards their
 * targets, nodes walk through Batch's lifecycle (creating → starting →
 * waitingforstarttask → idle ⇄ running, rebooting, reimaging, leavingpool,
 * starttaskfailed, unusable), tasks are scheduled onto free task slots and run
 * for a scripted simulated duration, and node operations honour Batch's
 * requeue / terminate / taskcompletion / retaineddata options.
 *
 * Application packages are installed on a node only when it joins the pool,
 * reboots or is reimaged, from the pool's applicationPackageReferences at that
 * moment (the version named, else the application's defaultVersion). A node
 * remembers what it has; a reboot keeps earlier deployments, a reimage starts
 * afresh. The node's files show each package under `applications/`, in the
 * layout observed on Linux nodes: `applications/<appid lower-cased><version>
 * <YYYY-MM-DD-HH-MM>` (for example `applications/mybatchapplication1.52024-10-24-20-44`)
 * with the zip's files directly inside. A package that cannot be deployed
 * (deleted, not active, or a blob that is not a zip) makes the node unusable,
 * as Batch documents for deployment failures.
 */
import type { SimClock } from "./clock";
import {
  findKey,
  newETag,
  newNodeId,
  now,
  type ApplicationPackageReference,
  type BatchAccountRecord,
  type BatchState,
  type DeallocationOption,
  type JobRecord,
  type Json,
  type NameValuePair,
  type NodeRecord,
  type NodeScript,
  type NodeState,
  type PoolRecord,
  type StartTask,
  type TaskRecord,
  type TaskScript,
} from "./state";

/** The node root on Linux nodes, as AZ_BATCH_NODE_ROOT_DIR shows it. */
export const NODE_ROOT_DIR = "/mnt/batch/tasks";

/** A problem with one application package reference (pool add/patch, ARM pool update, node deployment). */
export interface PackageProblem {
  applicationId: string;
  version?: string;
  reason: string;
}

export interface ResolvedPackage {
  applicationId: string;
  version: string;
}

/** Linux exit status of a process ended with SIGKILL (128 + 9); Windows reports STATUS_CONTROL_C_EXIT. */
const TERMINATED_EXIT_CODE_LINUX = 137;
const TERMINATED_EXIT_CODE_WINDOWS = -1073741510;

const pad = (n: number) => String(n).padStart(2, "0");

export class BatchSimulation {
  constructor(
    readonly state: BatchState,
    readonly clock: SimClock,
  ) {}

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
    const resolved: ResolvedPackage[] = [];
    const problems: PackageProblem[] = [];
    for (const ref of refs) {
      const app = account.applications.get(ref.applicationId.toLowerCase());
      if (!app) {
        problems.push({ applicationId: ref.applicationId, version: ref.version, reason: `The application '${ref.applicationId}' does not exist.` });
        continue;
      }
      const version = ref.version ?? app.defaultVersion;
      if (!version) {
        problems.push({ applicationId: ref.applicationId, reason: `No version was specified for application '${ref.applicationId}' and it has no default version.` });
        continue;
      }
      const pkg = app.versions.get(version.toLowerCase());
      if (!pkg) {
        problems.push({ applicationId: ref.applicationId, version, reason: `The version '${version}' of application '${ref.applicationId}' does not exist.` });
        continue;
      }
      if (pkg.state !== "Active") {
        problems.push({ applicationId: ref.applicationId, version, reason: `The version '${version}' of application '${ref.applicationId}' is not active.` });
        continue;
      }
      resolved.push({ applicationId: app.name, version: pkg.version });
    }
    return { resolved, problems };
  }

  /** Directory name Batch uses on Linux: <appid lower-cased><version><YYYY-MM-DD-HH-MM>. */
  packageDirectory(applicationId: string, version: string, at: Date): string {
    const stamp = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}-${pad(at.getUTCHours())}-${pad(at.getUTCMinutes())}`;
    return `applications/${applicationId.toLowerCase()}${version}${stamp}`;
  }

  /** Deploys the pool's packages onto a node; returns the problems that make the node unusable. */
  private deployPackages(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, fresh: boolean): PackageProblem[] {
    if (fresh) node.installedPackages = [];
    const { resolved, problems } = this.resolvePackages(account, pool.applicationPackageReferences);
    const at = new Date();
    for (const p of resolved) {
      const pkg = account.applications.get(p.applicationId.toLowerCase())!.versions.get(p.version.toLowerCase())!;
      if (!pkg.entries) {
        problems.push({ applicationId: p.applicationId, version: p.version, reason: "Resource Unzip failed" });
        continue;
      }
      const already = node.installedPackages.some((i) => i.applicationId.toLowerCase() === p.applicationId.toLowerCase() && i.version === p.version);
      if (already) continue;
      node.installedPackages.push({
        applicationId: p.applicationId,
        version: p.version,
        directory: this.packageDirectory(p.applicationId, p.version, at),
        installedAt: at.toISOString(),
        entries: pkg.entries,
      });
    }
    return problems;
  }

  // ------------------------------------------------------------------ pools

  touchPool(pool: PoolRecord): void {
    pool.eTag = newETag();
    pool.lastModified = now();
  }

  private setAllocationState(pool: PoolRecord, state: PoolRecord["allocationState"]): void {
    if (pool.allocationState === state) return;
    pool.allocationState = state;
    pool.allocationStateTransitionTime = now();
  }

  /** Adds a pool from a data-plane PoolAddParameter body (validated by the caller). */
  addPool(account: BatchAccountRecord, params: Json): PoolRecord {
    const t = now();
    const pool: PoolRecord = {
      id: String(params.id),
      displayName: params.displayName as string | undefined,
      eTag: newETag(),
      lastModified: t,
      creationTime: t,
      state: "active",
      stateTransitionTime: t,
      allocationState: "steady",
      allocationStateTransitionTime: t,
      vmSize: String(params.vmSize).toLowerCase(),
      virtualMachineConfiguration: params.virtualMachineConfiguration as Json | undefined,
      cloudServiceConfiguration: params.cloudServiceConfiguration as Json | undefined,
      resizeTimeout: (params.resizeTimeout as string | undefined) ?? "PT15M",
      targetDedicatedNodes: 0,
      targetLowPriorityNodes: 0,
      enableAutoScale: Boolean(params.enableAutoScale),
      autoScaleFormula: params.enableAutoScale ? (params.autoScaleFormula as string | undefined) : undefined,
      autoScaleEvaluationInterval: params.enableAutoScale ? ((params.autoScaleEvaluationInterval as string | undefined) ?? "PT15M") : undefined,
      enableInterNodeCommunication: Boolean(params.enableInterNodeCommunication),
      networkConfiguration: params.networkConfiguration as Json | undefined,
      startTask: params.startTask as StartTask | undefined,
      certificateReferences: (params.certificateReferences as Json[] | undefined) ?? [],
      applicationPackageReferences: (params.applicationPackageReferences as ApplicationPackageReference[] | undefined) ?? [],
      applicationLicenses: params.applicationLicenses as string[] | undefined,
      taskSlotsPerNode: (params.taskSlotsPerNode as number | undefined) ?? 1,
      taskSchedulingPolicy: (params.taskSchedulingPolicy as PoolRecord["taskSchedulingPolicy"] | undefined) ?? { nodeFillType: "spread" },
      userAccounts: params.userAccounts as Json[] | undefined,
      metadata: (params.metadata as NameValuePair[] | undefined) ?? [],
      mountConfiguration: params.mountConfiguration as Json[] | undefined,
      identity: params.identity as Json | undefined,
      targetNodeCommunicationMode: (params.targetNodeCommunicationMode as string | undefined) ?? "default",
      currentNodeCommunicationMode: "classic",
      nodes: new Map(),
      sim: { nextNodeScripts: [] },
    };
    account.pools.set(pool.id, pool);
    const dedicated = (params.targetDedicatedNodes as number | undefined) ?? 0;
    const lowPriority = (params.targetLowPriorityNodes as number | undefined) ?? 0;
    if (!pool.enableAutoScale && dedicated + lowPriority > 0) {
      this.resize(account, pool, { targetDedicatedNodes: dedicated, targetLowPriorityNodes: lowPriority });
    }
    return pool;
  }

  /** Deleting a pool: resize to zero with requeue, then the pool is gone. */
  deletePool(account: BatchAccountRecord, pool: PoolRecord): void {
    pool.state = "deleting";
    pool.stateTransitionTime = now();
    pool.sim.resize?.allocation?.cancel();
    pool.sim.resize = undefined;
    pool.targetDedicatedNodes = 0;
    pool.targetLowPriorityNodes = 0;
    this.setAllocationState(pool, "resizing");
    for (const node of pool.nodes.values()) this.stopTasks(account, node, "requeue");
    for (const node of pool.nodes.values()) node.sim.timer?.cancel();
    this.clock.after(this.state.timings.leaveSeconds, () => {
      account.pools.delete(pool.id);
      this.schedule(account);
    });
  }

  resize(
    account: BatchAccountRecord,
    pool: PoolRecord,
    target: { targetDedicatedNodes?: number; targetLowPriorityNodes?: number; resizeTimeout?: string; nodeDeallocationOption?: DeallocationOption },
  ): void {
    pool.targetDedicatedNodes = target.targetDedicatedNodes ?? pool.targetDedicatedNodes;
    pool.targetLowPriorityNodes = target.targetLowPriorityNodes ?? pool.targetLowPriorityNodes;
    if (target.resizeTimeout) pool.resizeTimeout = target.resizeTimeout;
    pool.resizeErrors = undefined;
    const option = target.nodeDeallocationOption ?? "requeue";
    const startTime = now();
    pool.sim.resize = { nodeDeallocationOption: option, startTime, removing: new Set() };
    pool.sim.lastResize = {
      targetDedicatedNodes: pool.targetDedicatedNodes,
      targetLowPriorityNodes: pool.targetLowPriorityNodes,
      resizeTimeout: pool.resizeTimeout,
      nodeDeallocationOption: option,
      startTime,
    };
    this.setAllocationState(pool, "resizing");
    this.touchPool(pool);

    const add = { dedicated: 0, lowPriority: 0 };
    for (const dedicated of [true, false]) {
      const target = dedicated ? pool.targetDedicatedNodes : pool.targetLowPriorityNodes;
      const staying = [...pool.nodes.values()].filter((n) => n.isDedicated === dedicated && !this.isLeaving(pool, n));
      const delta = target - staying.length;
      if (delta > 0) add[dedicated ? "dedicated" : "lowPriority"] = delta;
      if (delta < 0) for (const node of this.pickNodesToRemove(staying, -delta)) this.removeNode(account, pool, node, option);
    }
    if (add.dedicated + add.lowPriority > 0) {
      const resize = pool.sim.resize;
      resize.allocation = this.clock.after(this.state.timings.allocateSeconds, () => {
        resize.allocation = undefined;
        for (let i = 0; i < add.dedicated; i++) this.joinNode(account, pool, true);
        for (let i = 0; i < add.lowPriority; i++) this.joinNode(account, pool, false);
        this.maybeSteady(pool);
      });
    }
    this.maybeSteady(pool);
  }

  stopResize(pool: PoolRecord): void {
    const resize = pool.sim.resize;
    if (!resize) return;
    resize.allocation?.cancel();
    resize.allocation = undefined;
    this.setAllocationState(pool, "stopping");
    this.touchPool(pool);
    this.clock.after(this.state.timings.stopResizeSeconds, () => {
      if (pool.sim.resize !== resize) return;
      pool.sim.resize = undefined;
      this.setAllocationState(pool, "steady");
    });
  }

  /** Remove specific nodes (Pool_RemoveNodes): the targets drop by the nodes removed. */
  removeNodes(account: BatchAccountRecord, pool: PoolRecord, nodes: NodeRecord[], option: DeallocationOption = "requeue", resizeTimeout?: string): void {
    const dedicated = nodes.filter((n) => n.isDedicated).length;
    pool.targetDedicatedNodes = Math.max(0, pool.targetDedicatedNodes - dedicated);
    pool.targetLowPriorityNodes = Math.max(0, pool.targetLowPriorityNodes - (nodes.length - dedicated));
    if (resizeTimeout) pool.resizeTimeout = resizeTimeout;
    const startTime = now();
    pool.sim.resize = { nodeDeallocationOption: option, startTime, removing: new Set() };
    pool.sim.lastResize = { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes, resizeTimeout: pool.resizeTimeout, nodeDeallocationOption: option, startTime };
    this.setAllocationState(pool, "resizing");
    this.touchPool(pool);
    for (const node of nodes) this.removeNode(account, pool, node, option);
    this.maybeSteady(pool);
  }

  enableAutoScale(pool: PoolRecord, formula: string | undefined, interval: string | undefined): void {
    pool.enableAutoScale = true;
    if (formula !== undefined) pool.autoScaleFormula = formula;
    pool.autoScaleEvaluationInterval = interval ?? pool.autoScaleEvaluationInterval ?? "PT15M";
    this.touchPool(pool);
  }

  disableAutoScale(pool: PoolRecord): void {
    pool.enableAutoScale = false;
    pool.autoScaleFormula = undefined;
    pool.autoScaleEvaluationInterval = undefined;
    pool.autoScaleRun = undefined;
    this.touchPool(pool);
  }

  private isLeaving(pool: PoolRecord, node: NodeRecord): boolean {
    return node.state === "leavingpool" || node.sim.pending?.kind === "remove" || Boolean(pool.sim.resize?.removing.has(node));
  }

  /** Batch removes nodes that have not started yet, then broken ones, then idle ones, then the least busy. */
  private pickNodesToRemove(nodes: NodeRecord[], count: number): NodeRecord[] {
    const rank = (n: NodeRecord): number => {
      if (n.state === "creating" || n.state === "starting") return 0;
      if (n.state === "unusable" || n.state === "starttaskfailed" || n.state === "offline") return 1;
      if (n.state === "idle" || n.state === "waitingforstarttask") return 2;
      return 3 + n.sim.running.size;
    };
    return [...nodes].sort((a, b) => rank(a) - rank(b)).slice(0, count);
  }

  private maybeSteady(pool: PoolRecord): void {
    const resize = pool.sim.resize;
    if (!resize || resize.allocation || resize.removing.size > 0) return;
    if (pool.allocationState === "stopping") return;
    pool.sim.resize = undefined;
    if (pool.state === "active") this.setAllocationState(pool, "steady");
  }

  // ------------------------------------------------------------------ nodes

  private setNodeState(node: NodeRecord, state: NodeState): void {
    if (node.state === state) return;
    node.state = state;
    node.stateTransitionTime = now();
  }

  private joinNode(account: BatchAccountRecord, pool: PoolRecord, dedicated: boolean): NodeRecord {
    const script = pool.sim.nextNodeScripts.shift() ?? {};
    const t = now();
    const id = newNodeId(dedicated);
    const index = pool.nodes.size + 4;
    const node: NodeRecord = {
      id,
      poolId: pool.id,
      state: "creating",
      schedulingState: "enabled",
      stateTransitionTime: t,
      allocationTime: t,
      ipAddress: `10.0.${Math.floor(index / 250)}.${(index % 250) + 4}`,
      affinityId: `TVM:${id}`,
      vmSize: pool.vmSize,
      isDedicated: dedicated,
      totalTasksRun: 0,
      totalTasksSucceeded: 0,
      recentTasks: [],
      errors: [],
      nodeAgentVersion: "1.9.27",
      installedPackages: [],
      sim: { script, running: new Set(), files: new Map() },
    };
    pool.nodes.set(id, node);
    node.sim.timer = this.clock.after(script.createSeconds ?? this.state.timings.createSeconds, () => {
      this.setNodeState(node, "starting");
      node.lastBootTime = now();
      node.sim.timer = this.clock.after(this.state.timings.bootSeconds, () => this.startNodeSoftware(account, pool, node, "join"));
    });
    return node;
  }

  /** After a boot: deploy packages, run the start task, become idle (or unusable / starttaskfailed). */
  private startNodeSoftware(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, reason: "join" | "reboot" | "reimage"): void {
    node.errors = [];
    const problems = this.deployPackages(account, pool, node, reason === "reimage");
    if (node.sim.script.unusable) {
      this.setNodeState(node, "unusable");
      node.errors = [{ code: "NodeUnusable", message: "The node was scripted to become unusable by the local Batch simulation." }];
      return;
    }
    if (problems.length > 0) {
      this.setNodeState(node, "unusable");
      node.errors = [
        {
          code: "ApplicationPackageError",
          message: "One or more application packages specified for the pool are invalid",
          errorDetails: problems.flatMap((p) => [
            { name: "ApplicationPackageReference", value: `${p.applicationId}:${p.version ?? "default"}` },
            { name: "Message", value: p.reason },
          ]),
        },
      ];
      return;
    }
    const startTask = pool.startTask;
    if (!startTask) {
      node.startTaskInfo = undefined;
      this.becomeIdle(account, node);
      return;
    }
    const waitForSuccess = startTask.waitForSuccess ?? true;
    const runStartTask = (retryCount: number, firstStart: string): void => {
      node.startTaskInfo = { state: "running", startTime: firstStart, retryCount, ...(retryCount > 0 ? { lastRetryTime: now() } : {}) };
      node.sim.timer = this.clock.after(this.state.timings.startTaskSeconds, () => {
        const exitCode = node.sim.script.startTaskExitCode ?? 0;
        const maxRetries = startTask.maxTaskRetryCount ?? 0;
        if (exitCode !== 0 && (maxRetries === -1 || retryCount < maxRetries)) {
          runStartTask(retryCount + 1, firstStart);
          return;
        }
        node.startTaskInfo = {
          state: "completed",
          startTime: firstStart,
          endTime: now(),
          exitCode,
          retryCount,
          ...(retryCount > 0 ? { lastRetryTime: node.startTaskInfo?.lastRetryTime } : {}),
          result: exitCode === 0 ? "success" : "failure",
          ...(exitCode === 0 ? {} : { failureInfo: { category: "usererror", code: "FailureExitCode", message: "The task exited with an exit code representing a failure" } }),
        };
        node.sim.files.set("startup/stdout.txt", { content: Buffer.alloc(0), created: firstStart });
        node.sim.files.set("startup/stderr.txt", { content: Buffer.alloc(0), created: firstStart });
        if (!waitForSuccess) return;
        if (exitCode === 0) this.becomeIdle(account, node);
        else this.setNodeState(node, "starttaskfailed");
      });
    };
    if (waitForSuccess) this.setNodeState(node, "waitingforstarttask");
    runStartTask(0, now());
    if (!waitForSuccess) this.becomeIdle(account, node);
  }

  private becomeIdle(account: BatchAccountRecord, node: NodeRecord): void {
    this.setNodeState(node, node.sim.running.size > 0 ? "running" : "idle");
    this.schedule(account);
  }

  rebootNode(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
    if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
      node.sim.pending = { kind: "reboot" };
      return;
    }
    this.stopTasks(account, node, option);
    this.restart(account, pool, node, "reboot");
  }

  reimageNode(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption = "requeue"): void {
    if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
      node.sim.pending = { kind: "reimage" };
      return;
    }
    this.stopTasks(account, node, option);
    this.restart(account, pool, node, "reimage");
  }

  private restart(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, kind: "reboot" | "reimage"): void {
    node.sim.timer?.cancel();
    node.sim.pending = undefined;
    this.setNodeState(node, kind === "reboot" ? "rebooting" : "reimaging");
    if (kind === "reimage") {
      node.sim.files.clear();
      node.startTaskInfo = undefined;
    }
    const seconds = kind === "reboot" ? this.state.timings.rebootSeconds : this.state.timings.reimageSeconds;
    node.sim.timer = this.clock.after(seconds, () => {
      node.lastBootTime = now();
      this.startNodeSoftware(account, pool, node, kind);
    });
    this.schedule(account);
  }

  private removeNode(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, option: DeallocationOption): void {
    pool.sim.resize?.removing.add(node);
    if ((option === "taskcompletion" || option === "retaineddata") && node.sim.running.size > 0) {
      node.sim.pending = { kind: "remove" };
      return;
    }
    this.stopTasks(account, node, option);
    this.leave(account, pool, node);
  }

  private leave(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord): void {
    node.sim.timer?.cancel();
    node.sim.pending = undefined;
    this.setNodeState(node, "leavingpool");
    node.sim.timer = this.clock.after(this.state.timings.leaveSeconds, () => {
      pool.nodes.delete(node.id);
      for (const [, p] of account.pools) p.sim.resize?.removing.delete(node);
      this.maybeSteady(pool);
      this.schedule(account);
    });
  }

  disableScheduling(account: BatchAccountRecord, node: NodeRecord, option: "requeue" | "terminate" | "taskcompletion" = "requeue"): void {
    node.schedulingState = "disabled";
    if (option !== "taskcompletion") this.stopTasks(account, node, option);
    if (node.sim.running.size === 0 && node.state === "running") this.setNodeState(node, "idle");
    this.schedule(account);
  }

  enableScheduling(account: BatchAccountRecord, node: NodeRecord): void {
    node.schedulingState = "enabled";
    this.schedule(account);
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
    task.eTag = newETag();
    task.lastModified = now();
  }

  private setTaskState(task: TaskRecord, state: TaskRecord["state"]): void {
    if (task.state === state) return;
    task.previousState = task.state;
    task.previousStateTransitionTime = task.stateTransitionTime;
    task.state = state;
    task.stateTransitionTime = now();
    this.touchTask(task);
  }

  addJob(account: BatchAccountRecord, params: Json): JobRecord {
    const t = now();
    const constraints = (params.constraints as Json | undefined) ?? {};
    const job: JobRecord = {
      id: String(params.id),
      displayName: params.displayName as string | undefined,
      usesTaskDependencies: Boolean(params.usesTaskDependencies),
      eTag: newETag(),
      lastModified: t,
      creationTime: t,
      state: "active",
      stateTransitionTime: t,
      priority: (params.priority as number | undefined) ?? 0,
      allowTaskPreemption: Boolean(params.allowTaskPreemption),
      maxParallelTasks: (params.maxParallelTasks as number | undefined) ?? -1,
      constraints: {
        maxWallClockTime: (constraints.maxWallClockTime as string | undefined) ?? "P10675199DT2H48M5.4775807S",
        maxTaskRetryCount: (constraints.maxTaskRetryCount as number | undefined) ?? 0,
      },
      jobManagerTask: params.jobManagerTask as Json | undefined,
      jobPreparationTask: params.jobPreparationTask as Json | undefined,
      jobReleaseTask: params.jobReleaseTask as Json | undefined,
      commonEnvironmentSettings: params.commonEnvironmentSettings as NameValuePair[] | undefined,
      poolInfo: params.poolInfo as JobRecord["poolInfo"],
      onAllTasksComplete: (params.onAllTasksComplete as JobRecord["onAllTasksComplete"] | undefined) ?? "noaction",
      onTaskFailure: (params.onTaskFailure as JobRecord["onTaskFailure"] | undefined) ?? "noaction",
      networkConfiguration: params.networkConfiguration as Json | undefined,
      metadata: params.metadata as NameValuePair[] | undefined,
      executionInfo: { startTime: t, poolId: (params.poolInfo as { poolId?: string }).poolId },
      tasks: new Map(),
      sim: { nextSeq: 0 },
    };
    account.jobs.set(job.id, job);
    return job;
  }

  addTask(account: BatchAccountRecord, job: JobRecord, params: Json, script: TaskScript = {}): TaskRecord {
    const t = now();
    const constraints = (params.constraints as Json | undefined) ?? {};
    const task: TaskRecord = {
      jobId: job.id,
      id: String(params.id),
      displayName: params.displayName as string | undefined,
      eTag: newETag(),
      lastModified: t,
      creationTime: t,
      exitConditions: params.exitConditions as Json | undefined,
      state: "active",
      stateTransitionTime: t,
      commandLine: String(params.commandLine),
      containerSettings: params.containerSettings as Json | undefined,
      resourceFiles: params.resourceFiles as Json[] | undefined,
      outputFiles: params.outputFiles as Json[] | undefined,
      environmentSettings: params.environmentSettings as NameValuePair[] | undefined,
      affinityInfo: params.affinityInfo as Json | undefined,
      constraints: {
        maxWallClockTime: (constraints.maxWallClockTime as string | undefined) ?? "P10675199DT2H48M5.4775807S",
        retentionTime: (constraints.retentionTime as string | undefined) ?? "P7D",
        maxTaskRetryCount: (constraints.maxTaskRetryCount as number | undefined) ?? job.constraints.maxTaskRetryCount,
      },
      requiredSlots: (params.requiredSlots as number | undefined) ?? 1,
      userIdentity: params.userIdentity as Json | undefined,
      executionInfo: { retryCount: 0, requeueCount: 0 },
      multiInstanceSettings: params.multiInstanceSettings as Json | undefined,
      dependsOn: params.dependsOn as Json | undefined,
      applicationPackageReferences: params.applicationPackageReferences as ApplicationPackageReference[] | undefined,
      authenticationTokenSettings: params.authenticationTokenSettings as Json | undefined,
      sim: { seq: job.sim.nextSeq++, script, attempt: 0 },
    };
    job.tasks.set(task.id, task);
    return task;
  }

  /** Sets how a task runs when no taskRunner handles it. */
  scriptTask(task: TaskRecord, script: TaskScript): void {
    task.sim.script = { ...task.sim.script, ...script };
  }

  terminateTask(account: BatchAccountRecord, job: JobRecord, task: TaskRecord): void {
    if (task.state === "completed") return;
    if (task.state === "running" || task.state === "preparing") {
      this.endTask(account, task, "terminated");
    } else {
      this.setTaskState(task, "completed");
      task.executionInfo.endTime = now();
      task.executionInfo.result = "failure";
      task.executionInfo.failureInfo = { category: "usererror", code: "TaskEnded", message: "Task Was Ended by User Request" };
      this.jobMaybeComplete(account, job);
    }
    this.schedule(account);
  }

  private jobMaybeComplete(account: BatchAccountRecord, job: JobRecord): void {
    if (job.state !== "active" || job.onAllTasksComplete !== "terminatejob") return;
    for (const t of job.tasks.values()) if (t.state !== "completed") return;
    job.previousState = job.state;
    job.previousStateTransitionTime = job.stateTransitionTime;
    job.state = "completed";
    job.stateTransitionTime = now();
    job.executionInfo.endTime = job.stateTransitionTime;
    job.executionInfo.terminateReason = "AllTasksComplete";
    job.eTag = newETag();
    job.lastModified = job.stateTransitionTime;
    void account;
  }

  /** Requeues (requeue) or ends (terminate) the tasks running on a node. */
  private stopTasks(account: BatchAccountRecord, node: NodeRecord, option: DeallocationOption): void {
    if (option !== "requeue" && option !== "terminate") return;
    for (const task of [...node.sim.running]) this.endTask(account, task, option === "requeue" ? "requeued" : "terminated");
  }

  private freeSlots(pool: PoolRecord, node: NodeRecord): number {
    let used = 0;
    for (const t of node.sim.running) used += t.requiredSlots;
    return pool.taskSlotsPerNode - used;
  }

  private canTakeTasks(node: NodeRecord): boolean {
    return (node.state === "idle" || node.state === "running") && node.schedulingState === "enabled" && !node.sim.pending;
  }

  /** Places active tasks on nodes with free slots, job by job (priority, then age). */
  schedule(account: BatchAccountRecord): void {
    const jobs = [...account.jobs.values()].filter((j) => j.state === "active").sort((a, b) => b.priority - a.priority);
    for (const job of jobs) {
      const pool = job.poolInfo.poolId ? findKey(account.pools, job.poolInfo.poolId) : undefined;
      if (!pool || pool.state !== "active") continue;
      const nodes = [...pool.nodes.values()].filter((n) => this.canTakeTasks(n));
      if (nodes.length === 0) continue;
      let running = 0;
      for (const t of job.tasks.values()) if (t.state === "running" || t.state === "preparing") running++;
      for (const task of job.tasks.values()) {
        if (task.state !== "active") continue;
        if (job.maxParallelTasks !== -1 && running >= job.maxParallelTasks) break;
        const fits = nodes.filter((n) => this.canTakeTasks(n) && this.freeSlots(pool, n) >= task.requiredSlots);
        if (fits.length === 0) {
          if (nodes.every((n) => !this.canTakeTasks(n) || this.freeSlots(pool, n) <= 0)) break;
          continue;
        }
        const pack = pool.taskSchedulingPolicy.nodeFillType === "pack";
        fits.sort((a, b) => (pack ? this.freeSlots(pool, a) - this.freeSlots(pool, b) : this.freeSlots(pool, b) - this.freeSlots(pool, a)));
        this.runTask(account, pool, fits[0], job, task);
        running++;
      }
    }
  }

  /** The AZ_BATCH_* environment a task sees on a Linux node, with its package variables. */
  taskEnvironment(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, job: JobRecord, task: TaskRecord): Record<string, string> {
    const taskDir = `${NODE_ROOT_DIR}/workitems/${job.id}/job-1/${task.id}`;
    const env: Record<string, string> = {
      AZ_BATCH_ACCOUNT_NAME: account.name,
      AZ_BATCH_ACCOUNT_URL: `${this.state.url}/`,
      AZ_BATCH_POOL_ID: pool.id,
      AZ_BATCH_JOB_ID: job.id,
      AZ_BATCH_TASK_ID: task.id,
      AZ_BATCH_NODE_ID: node.id,
      AZ_BATCH_NODE_IS_DEDICATED: String(node.isDedicated),
      AZ_BATCH_NODE_ROOT_DIR: NODE_ROOT_DIR,
      AZ_BATCH_NODE_SHARED_DIR: `${NODE_ROOT_DIR}/shared`,
      AZ_BATCH_NODE_STARTUP_DIR: `${NODE_ROOT_DIR}/startup`,
      AZ_BATCH_NODE_MOUNTS_DIR: `${NODE_ROOT_DIR}/fsmounts`,
      AZ_BATCH_TASK_DIR: taskDir,
      AZ_BATCH_TASK_WORKING_DIR: `${taskDir}/wd`,
      AZ_BATCH_CERTIFICATES_DIR: `${taskDir}/certs`,
      AZ_BATCH_TASK_USER: "_azbatch",
      AZ_BATCH_TASK_USER_IDENTITY: "PoolNonAdmin",
    };
    const linuxName = (s: string) => s.replace(/[.\-#]/g, "_");
    for (const p of node.installedPackages) {
      const dir = `${NODE_ROOT_DIR}/${p.directory}`;
      env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId)}_${linuxName(p.version)}`] = dir;
      env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId.toLowerCase())}_${linuxName(p.version)}`] = dir;
      const app = account.applications.get(p.applicationId.toLowerCase());
      if (app?.defaultVersion && app.defaultVersion.toLowerCase() === p.version.toLowerCase()) {
        env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId)}`] = dir;
        env[`AZ_BATCH_APP_PACKAGE_${linuxName(p.applicationId.toLowerCase())}`] = dir;
      }
    }
    for (const s of job.commonEnvironmentSettings ?? []) env[s.name] = s.value ?? "";
    for (const s of task.environmentSettings ?? []) env[s.name] = s.value ?? "";
    return env;
  }

  private runTask(account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, job: JobRecord, task: TaskRecord): void {
    const attempt = ++task.sim.attempt;
    task.sim.node = node;
    node.sim.running.add(task);
    this.setNodeState(node, "running");
    const t = now();
    task.executionInfo.startTime = t;
    task.executionInfo.endTime = undefined;
    task.executionInfo.exitCode = undefined;
    task.executionInfo.result = undefined;
    task.executionInfo.failureInfo = undefined;
    const nodeUrl = this.nodeUrl(pool, node);
    const taskRoot = `workitems/${job.id}/job-1/${task.id}`;
    task.nodeInfo = {
      affinityId: node.affinityId,
      nodeUrl,
      poolId: pool.id,
      nodeId: node.id,
      taskRootDirectory: taskRoot,
      taskRootDirectoryUrl: `${nodeUrl}/files/${taskRoot}`,
    };
    this.setTaskState(task, "running");
    node.totalTasksRun++;
    this.recordRecentTask(job, node, task);

    const abort = new AbortController();
    task.sim.abort = abort;
    const finish = (exitCode: number, stdout?: string, stderr?: string) => {
      if (task.sim.attempt !== attempt || task.state !== "running") return;
      task.sim.stdout = stdout;
      task.sim.stderr = stderr;
      this.endTask(account, task, "exited", exitCode);
    };
    const runner = this.state.taskRunner?.({
      account,
      pool,
      node,
      job,
      task,
      environment: this.taskEnvironment(account, pool, node, job, task),
      signal: abort.signal,
    });
    if (runner) {
      runner.then(
        (r) => finish(r.exitCode, r.stdout, r.stderr),
        (e) => finish(1, undefined, e instanceof Error ? e.message : String(e)),
      );
    } else {
      const script = { ...this.state.taskScript?.(job, task), ...task.sim.script };
      task.sim.timer = this.clock.after(script.durationSeconds ?? this.state.timings.taskSeconds, () => finish(script.exitCode ?? 0));
    }
  }

  private recordRecentTask(job: JobRecord, node: NodeRecord, task: TaskRecord): void {
    node.recentTasks = node.recentTasks.filter((r) => !(r.jobId === job.id && r.taskId === task.id));
    node.recentTasks.unshift({ taskUrl: this.taskUrl(job, task), jobId: job.id, taskId: task.id, taskState: task.state, executionInfo: task.executionInfo as unknown as Json });
    node.recentTasks.length = Math.min(node.recentTasks.length, 10);
  }

  /**
   * Ends a task's current run: it exited (exit code), was requeued (back to
   * active, to run again elsewhere or later) or was terminated (completed with
   * failureInfo TaskEnded and the exit code of a killed process).
   */
  private endTask(account: BatchAccountRecord, task: TaskRecord, how: "exited" | "requeued" | "terminated", exitCode = 0): void {
    const job = account.jobs.get(task.jobId);
    const node = task.sim.node;
    task.sim.timer?.cancel();
    task.sim.abort?.abort();
    task.sim.abort = undefined;
    task.sim.node = undefined;
    const t = now();
    if (node) node.sim.running.delete(task);

    if (how === "requeued") {
      task.executionInfo.requeueCount++;
      task.executionInfo.lastRequeueTime = t;
      task.executionInfo.startTime = undefined;
      this.setTaskState(task, "active");
    } else {
      const pool = node && job?.poolInfo.poolId ? findKey(account.pools, job.poolInfo.poolId) : undefined;
      const windows = Boolean(pool?.cloudServiceConfiguration) || /windows/i.test(String((pool?.virtualMachineConfiguration as Json | undefined)?.nodeAgentSKUId ?? ""));
      const code = how === "terminated" ? (windows ? TERMINATED_EXIT_CODE_WINDOWS : TERMINATED_EXIT_CODE_LINUX) : exitCode;
      task.executionInfo.exitCode = code;
      task.executionInfo.endTime = t;
      const failed = how === "terminated" || code !== 0;
      task.executionInfo.result = failed ? "failure" : "success";
      task.executionInfo.failureInfo = !failed
        ? undefined
        : how === "terminated"
          ? { category: "usererror", code: "TaskEnded", message: "Task Was Ended by User Request" }
          : { category: "usererror", code: "FailureExitCode", message: "The task exited with an exit code representing a failure" };
      if (node) {
        if (!failed) node.totalTasksSucceeded++;
        const dir = `workitems/${task.jobId}/job-1/${task.id}`;
        node.sim.files.set(`${dir}/stdout.txt`, { content: Buffer.from(task.sim.stdout ?? ""), created: task.executionInfo.startTime ?? t });
        node.sim.files.set(`${dir}/stderr.txt`, { content: Buffer.from(task.sim.stderr ?? ""), created: task.executionInfo.startTime ?? t });
      }
      const maxRetries = task.constraints.maxTaskRetryCount;
      if (how === "exited" && failed && (maxRetries === -1 || task.executionInfo.retryCount < maxRetries)) {
        task.executionInfo.retryCount++;
        task.executionInfo.lastRetryTime = t;
        this.setTaskState(task, "active");
      } else {
        this.setTaskState(task, "completed");
        if (job) this.jobMaybeComplete(account, job);
      }
    }
    if (node && job) this.recordRecentTask(job, node, task);
    if (node) this.afterTaskLeftNode(account, node);
    this.schedule(account);
  }

  private afterTaskLeftNode(account: BatchAccountRecord, node: NodeRecord): void {
    if (node.sim.running.size > 0) return;
    const pool = findKey(account.pools, node.poolId);
    const pending = node.sim.pending;
    if (pool && pending) {
      if (pending.kind === "remove") this.leave(account, pool, node);
      else this.restart(account, pool, node, pending.kind);
      return;
    }
    if (node.state === "running") this.setNodeState(node, "idle");
  }

  // ------------------------------------------------------------------ files

  /** Every file and directory on a node, names relative to the node root, as File_ListFromComputeNode shows them. */
  nodeFiles(pool: PoolRecord, node: NodeRecord): { name: string; isDirectory: boolean; size: number; created: string }[] {
    const created = node.allocationTime;
    const out = new Map<string, { name: string; isDirectory: boolean; size: number; created: string }>();
    const addDir = (name: string, at = created) => {
      const parts = name.split("/");
      for (let i = 1; i <= parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (!out.has(dir)) out.set(dir, { name: dir, isDirectory: true, size: 0, created: at });
      }
    };
    for (const d of ["applications", "fsmounts", "shared", "startup", "volatile", "workitems"]) addDir(d);
    if (node.startTaskInfo) addDir("startup/wd");
    for (const p of node.installedPackages) {
      addDir(p.directory, p.installedAt);
      for (const e of p.entries) {
        const name = `${p.directory}/${e.name.replace(/\/$/, "")}`;
        if (e.name.endsWith("/")) addDir(name, p.installedAt);
        else {
          addDir(name.slice(0, name.lastIndexOf("/")), p.installedAt);
          out.set(name, { name, isDirectory: false, size: e.size, created: p.installedAt });
        }
      }
    }
    for (const [name, f] of node.sim.files) {
      addDir(name.slice(0, name.lastIndexOf("/")), f.created);
      out.set(name, { name, isDirectory: false, size: f.content.length, created: f.created });
    }
    void pool;
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
