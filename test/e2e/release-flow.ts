/**
 * The release flow of examples/azure-pipelines.yml on the local Azure, as the
 * end-to-end tests and `npm run demo` both run it: the factory deployed from
 * examples/data-factory through ARM, the data the Copy activity stages, the
 * repository checked out at a release (examples/app with its VERSION), the
 * pipeline run by the local runner (each task's bundle as the agent runs it),
 * and what a user then looks at: each step's result and log, the pool's node
 * count over the run, and the application's run (which node, exit code,
 * customOutput, stdout and stderr), read back through ARM, Batch and Blob.
 *
 * Time: Batch's and Data Factory's own waits (allocation, boot, reboot, the
 * queue, the autoscale evaluations while a task waits) run fast, 5 ms per
 * simulated second. While nothing but autoscale sampling is going on, as
 * between two runs or while a release's steps upload and publish, simulated
 * time passes at real time: in Azure a release takes minutes and a pool keeps
 * an idle node for 5 to 10, so a release soon after a run meets that run's
 * node. `settle()` lets the pool's idle minutes pass fast (it scales back to 0).
 *
 * Test code (it drives the local Azure and the test runner); product code never uses it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from "@azure/batch";
import type { ActivityRun, DatasetResource, DataFactoryManagementClient, PipelineResource } from "@azure/arm-datafactory";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { parseDocument } from "yaml";
import type { LocalAzure } from "../local-azure";
import { allActivityRuns, dataFactoryClient } from "../local-azure/datafactory/test-client";
import { runPipeline, type PipelineRunResult, type StepRunResult } from "../pipeline-runner";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const EXAMPLE_PIPELINE = path.join(REPO_ROOT, "examples", "azure-pipelines.yml");
export const EXAMPLE_APP = path.join(REPO_ROOT, "examples", "app");
export const EXAMPLE_FACTORY = path.join(REPO_ROOT, "examples", "data-factory");

/** The Custom activity of the example factory pipeline, the one that runs the app. */
export const APP_ACTIVITY = "RunApp";

/** Fast: 5 ms per simulated second (a 5-minute autoscale interval is 1.5 s, a reboot about 0.2 s). */
export const FAST_MS_PER_SIMULATED_SECOND = 5;
/** While only autoscale sampling goes on: real time. */
export const IDLE_MS_PER_SIMULATED_SECOND = 1000;

/**
 * The pool as made for Data Factory: autoscale on, with a formula that holds it
 * at 0 until the release's BatchPoolAutoscale@1 step replaces it. (The local
 * Azure seeds it at a fixed size of 0; from there the first release would wait
 * out Batch's 30 s between two Enable Auto Scale calls, as BatchPoolAutoscale's
 * own scenario tests do.)
 */
export const HOLD_AT_ZERO_FORMULA = "$TargetDedicatedNodes = 0;\n$TargetLowPriorityNodes = 0;\n$NodeDeallocationOption = taskcompletion;";

export interface Release {
  buildId: number;
  /** The app's VERSION at this release. */
  appVersion: string;
  /** Changes examples/app/model.json at this release (a bad release: a coefficient that is not a number). */
  model?: (model: Record<string, unknown>) => Record<string, unknown>;
  /** Names of steps (their `name:`) this run leaves out, as `enabled: false` would. */
  disabledSteps?: string[];
  onStepEnd?(step: StepRunResult): void;
}

/** The application's run, as Data Factory, Batch and the linked storage show it. */
export interface AppRun {
  pipelineRunId: string;
  pipelineRunStatus?: string;
  activityRunId: string;
  activityStatus?: string;
  /** The Batch node the task ran on, from the task's nodeInfo (job adfv2-<pool>, task id = activity run id). */
  nodeId?: string;
  exitCode?: number;
  customOutput?: Record<string, unknown>;
  /** adfjobs/<activity run id>/output/stdout.txt and stderr.txt in the linked storage. */
  stdout: string;
  stderr: string;
  /** The application's version as it printed it ("batch-app version 1.0.0, pipeline run ..."). */
  printedVersion?: string;
}

export interface ReleaseRun {
  release: Release;
  buildNumber: string;
  pipeline: PipelineRunResult;
  /** The pool's node count while the pipeline ran, without repeats: [0, 1] */
  poolSizes: number[];
  /** The Custom activity's run, when the DataFactoryRun step started a pipeline run that ran it. */
  app?: AppRun;
}

export interface ReleaseFlowOptions {
  /** Where checkouts and agent workspaces go (removed by the caller). */
  workDir: string;
  /** Build.BuildNumber's date part (default: today, as the pipeline's `name:` gives it). */
  date?: string;
}

export class ReleaseFlow {
  readonly batch: BatchServiceClient;
  readonly factory: DataFactoryManagementClient;
  readonly blobs: BlobServiceClient;
  /** The pipeline's own variables pointed at the local Azure, as a user would queue it. */
  readonly variables: Record<string, string>;
  readonly poolId: string;
  /** What prepare() deployed to the factory. */
  deployed: { pipeline: string; datasets: string[] } = { pipeline: "", datasets: [] };
  private readonly date: string;

  private constructor(
    readonly azure: LocalAzure,
    private readonly options: ReleaseFlowOptions,
  ) {
    const info = azure.info;
    this.poolId = info.batch.poolId;
    this.batch = new BatchServiceClient(new BatchSharedKeyCredentials(info.batch.accountName, info.batch.accountKey), info.batch.url);
    this.factory = dataFactoryClient(azure, { maxRetries: 2 });
    this.blobs = new BlobServiceClient(`${info.storage.blobUrl}/`, new StorageSharedKeyCredential(info.storage.accountName, info.storage.accountKey));
    this.variables = {
      serviceConnection: "LocalAzure",
      resourceGroup: info.resourceGroup,
      storageAccount: info.storage.accountName,
      batchAccount: info.batch.accountName,
      poolId: info.batch.poolId,
      factoryName: info.dataFactory.factoryName,
    };
    this.date = options.date ?? new Date().toISOString().slice(0, 10).replace(/-/g, "");
  }

  /**
   * Gets the local Azure ready for the example: the factory's datasets and
   * pipeline deployed through ARM (as a user releases the factory), the
   * incoming data in `input/incoming/`, the pool on autoscale at 0 nodes, and
   * the pool's start task simulated on the nodes that join (it runs apt-get
   * as admin; the local nodes are this machine, whose python3 runs the app).
   */
  static async prepare(azure: LocalAzure, options: ReleaseFlowOptions): Promise<ReleaseFlow> {
    const flow = new ReleaseFlow(azure, options);
    azure.batch.clock.msPerSimulatedSecond = FAST_MS_PER_SIMULATED_SECOND;
    azure.batch.clock.idleMsPerSimulatedSecond = IDLE_MS_PER_SIMULATED_SECOND;
    const input = flow.blobs.getContainerClient("input");
    await input.createIfNotExists();
    for (const file of fs.readdirSync(path.join(EXAMPLE_APP, "sample-data"))) await input.getBlockBlobClient(`incoming/${file}`).uploadFile(path.join(EXAMPLE_APP, "sample-data", file));
    await flow.deployFactory();
    const record = azure.batch.account().pools.get(flow.poolId);
    if (!record) throw new Error(`the local Azure has no pool ${flow.poolId}`);
    azure.batch.scriptNextNodes(record, ...Array.from({ length: 32 }, () => ({ startTaskExitCode: 0 })));
    await flow.batch.pool.enableAutoScale(flow.poolId, { autoScaleFormula: HOLD_AT_ZERO_FORMULA, autoScaleEvaluationInterval: "PT5M" });
    return flow;
  }

  /** examples/data-factory through ARM: datasets, then the pipeline. Returns their names. */
  private async deployFactory(): Promise<{ pipeline: string; datasets: string[] }> {
    const { resourceGroup } = this.azure.info;
    const factoryName = this.azure.info.dataFactory.factoryName;
    const read = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as { name: string; properties: Record<string, unknown> };
    const datasets: string[] = [];
    for (const file of fs.readdirSync(path.join(EXAMPLE_FACTORY, "dataset")).sort()) {
      const dataset = read(path.join(EXAMPLE_FACTORY, "dataset", file));
      await this.factory.datasets.createOrUpdate(resourceGroup, factoryName, dataset.name, { properties: dataset.properties } as unknown as DatasetResource);
      datasets.push(dataset.name);
    }
    const pipeline = read(path.join(EXAMPLE_FACTORY, "pipeline", "run-batch-app.json"));
    await this.factory.pipelines.createOrUpdate(resourceGroup, factoryName, pipeline.name, pipeline.properties as unknown as PipelineResource);
    this.deployed = { pipeline: pipeline.name, datasets };
    return this.deployed;
  }

  buildNumber(buildId: number): string {
    return `${this.date}.${buildId}`;
  }

  /** The repository as it is at a release: examples/app with this release's VERSION (and model). */
  private checkout(release: Release): string {
    const sources = path.join(this.options.workDir, `s${release.buildId}`);
    fs.rmSync(sources, { recursive: true, force: true });
    const app = path.join(sources, "examples", "app");
    fs.cpSync(EXAMPLE_APP, app, { recursive: true });
    fs.writeFileSync(path.join(app, "VERSION"), `${release.appVersion}\n`);
    if (release.model) {
      const model = JSON.parse(fs.readFileSync(path.join(app, "model.json"), "utf8")) as Record<string, unknown>;
      fs.writeFileSync(path.join(app, "model.json"), `${JSON.stringify(release.model(model), null, 2)}\n`);
    }
    return sources;
  }

  /** The example pipeline, with the named steps disabled (`enabled: false`). */
  private pipelineYaml(disabled: string[]): string {
    const text = fs.readFileSync(EXAMPLE_PIPELINE, "utf8");
    if (disabled.length === 0) return text;
    const doc = parseDocument(text);
    const steps = doc.toJS().steps as { name?: string }[];
    for (const name of disabled) {
      const index = steps.findIndex((s) => s.name === name);
      if (index < 0) throw new Error(`the example pipeline has no step named '${name}' (its steps: ${steps.map((s) => s.name).join(", ")})`);
      doc.setIn(["steps", index, "enabled"], false);
    }
    return doc.toString();
  }

  /** Runs the example pipeline for one release; never throws for a failed step (the result says). */
  async run(release: Release): Promise<ReleaseRun> {
    const buildNumber = this.buildNumber(release.buildId);
    const sources = this.checkout(release);
    const watch = this.watchPool();
    let pipeline: PipelineRunResult;
    try {
      pipeline = await runPipeline({
        yaml: this.pipelineYaml(release.disabledSteps ?? []),
        file: EXAMPLE_PIPELINE,
        env: this.azure.info.env,
        variables: this.variables,
        buildNumber,
        buildId: release.buildId,
        workingDirectory: sources,
        workspace: path.join(this.options.workDir, `w${release.buildId}`),
        onStepEnd: release.onStepEnd,
      });
    } finally {
      watch.stop();
    }
    const runId = stepNamed(pipeline, "adf")?.outputs.PipelineRunId?.value;
    return { release, buildNumber, pipeline, poolSizes: watch.sizes, app: runId ? await this.appRun(runId) : undefined };
  }

  /** The pool's node count, sampled every 20 ms, without repeats. */
  watchPool(): { sizes: number[]; stop(): void } {
    const count = () => this.azure.batch.account().pools.get(this.poolId)?.nodes.size ?? 0;
    const sizes = [count()];
    const sample = () => {
      const n = count();
      if (n !== sizes.at(-1)) sizes.push(n);
    };
    const timer = setInterval(sample, 20);
    return {
      sizes,
      stop() {
        clearInterval(timer);
        sample();
      },
    };
  }

  /** The Custom activity's run of a pipeline run: Data Factory's activity run, its Batch task, its output blobs. */
  async appRun(pipelineRunId: string): Promise<AppRun | undefined> {
    const { resourceGroup } = this.azure.info;
    const factoryName = this.azure.info.dataFactory.factoryName;
    const run = await this.factory.pipelineRuns.get(resourceGroup, factoryName, pipelineRunId);
    const activity: ActivityRun | undefined = (await allActivityRuns(this.factory, resourceGroup, factoryName, pipelineRunId)).find((a) => a.activityName === APP_ACTIVITY);
    if (!activity?.activityRunId) return undefined;
    const output = (activity.output ?? {}) as { exitcode?: number; customOutput?: Record<string, unknown> };
    let nodeId: string | undefined;
    try {
      nodeId = (await this.batch.task.get(`adfv2-${this.poolId}`, activity.activityRunId)).nodeInfo?.nodeId;
    } catch {
      nodeId = undefined; // no Batch task: the activity failed before it made one
    }
    const blob = async (name: string) => {
      const client = this.blobs.getContainerClient("adfjobs").getBlobClient(`${activity.activityRunId}/output/${name}`);
      return (await client.exists()) ? (await client.downloadToBuffer()).toString("utf8") : "";
    };
    const stdout = await blob("stdout.txt");
    return {
      pipelineRunId,
      pipelineRunStatus: run.status,
      activityRunId: activity.activityRunId,
      activityStatus: activity.status,
      nodeId,
      exitCode: output.exitcode,
      customOutput: output.customOutput,
      stdout,
      stderr: await blob("stderr.txt"),
      printedVersion: /^batch-app version (\S+),/m.exec(stdout)?.[1],
    };
  }

  /** The pool as Batch shows it, with its nodes. */
  async pool(): Promise<{ pool: BatchServiceModels.CloudPool; nodes: BatchServiceModels.ComputeNode[] }> {
    const pool = await this.batch.pool.get(this.poolId);
    const nodes: BatchServiceModels.ComputeNode[] = [];
    let page = await this.batch.computeNode.list(this.poolId);
    nodes.push(...page);
    while (page.odatanextLink) {
      page = await this.batch.computeNode.listNext(page.odatanextLink);
      nodes.push(...page);
    }
    return { pool, nodes };
  }

  /** The application package versions a node has, from its `applications/` folder (as File_ListFromComputeNode lists it). */
  async packagesOn(nodeId: string): Promise<string[]> {
    const files = await this.batch.file.listFromComputeNode(this.poolId, nodeId, { recursive: true, fileListFromComputeNodeOptions: { filter: "startswith(name, 'applications/')" } });
    return files.filter((f) => f.isDirectory && /^applications\/[^/]+$/.test(f.name ?? "")).map((f) => f.name ?? "");
  }

  /**
   * Lets the pool's idle minutes pass fast until it has `nodes` nodes again
   * (after a run, the formula takes it back to 0), then returns to real time
   * for idle periods. Returns the node counts seen.
   */
  async settle(nodes = 0, timeoutMs = 30_000): Promise<number[]> {
    const clock = this.azure.batch.clock;
    const watch = this.watchPool();
    clock.idleMsPerSimulatedSecond = undefined;
    try {
      const record = this.azure.batch.account().pools.get(this.poolId);
      await this.azure.batch.waitFor(() => (record?.nodes.size ?? 0) === nodes && record?.allocationState === "steady", { timeoutMs, what: `pool ${this.poolId} at ${nodes} node(s)` });
      return watch.sizes;
    } finally {
      watch.stop();
      clock.idleMsPerSimulatedSecond = IDLE_MS_PER_SIMULATED_SECOND;
    }
  }
}

export function stepNamed(run: PipelineRunResult, name: string): StepRunResult | undefined {
  return run.steps.find((s) => s.name === name);
}
