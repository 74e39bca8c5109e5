/**
 * The Data Factory's state, shared by the ARM routes and the tests: factories
 * with their pipelines and linked services, the run simulation, the scripts
 * tests give activities, and the Custom activity hook.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ServiceError } from "../http";
import type { ActivityScriptSource, CustomActivityRunner } from "./activities";
import { dispatchingCustomActivityRunner, type CustomActivityBridge } from "./custom-dispatch";
import { findDataset, validateDataset } from "./datasets";
import { SimClock } from "../clock";
import { effectiveParameters, findPipeline, manualInvoker, RunEngine, type RunTimings } from "./runs";
import { validatePipeline, validateRunParameters } from "./validation";
import type { DatasetProperties, FactoryEntity, Json, LinkedServiceProperties, PipelineProperties, PipelineRunRecord } from "./types";

export interface DataFactoryStateOptions {
  tenantId: string;
  /** The local Azure's simulated time, shared with Batch; a private one when omitted. */
  clock?: SimClock;
  /** Real milliseconds per simulated second for a private clock (default 20). */
  msPerSimulatedSecond?: number;
  /** Local Blob endpoint base without the account; read when a Custom activity runs. */
  blobBaseUrl: () => string;
}

/** ADF sub-resource etags look like `1500504f-0000-0200-0000-5cbe090f0000`. */
export function newEtag(): string {
  const hex = randomBytes(12).toString("hex");
  return `${hex.slice(0, 8)}-0000-0200-0000-${hex.slice(8, 20)}`;
}

export class DataFactoryState {
  readonly factories = new Map<string, FactoryEntity>();
  readonly clock: SimClock;
  private readonly ownClock?: SimClock;
  readonly engine: RunEngine;
  /** Simulated lifecycle durations (defaults restored by reset). */
  readonly timings: RunTimings = { ...DEFAULT_TIMINGS };
  /** Page size of queryPipelineRuns and queryActivityruns (tests lower it to page). */
  pageSize = 100;
  /**
   * Runs Custom activities on the local Batch (see `customActivityBridge`)
   * when their Batch linked service points at it, else simulates them; a
   * scripted activity is always simulated. Tests may replace it.
   */
  customActivityRunner: CustomActivityRunner;
  /** Runs a Custom activity as a Batch task; set by the local Azure, which owns Batch. */
  customActivityBridge?: CustomActivityBridge;
  private readonly defaultCustomActivityRunner: CustomActivityRunner = dispatchingCustomActivityRunner(() => this.customActivityBridge);
  private readonly scripts = new Map<string, ActivityScriptSource>();

  constructor(private readonly options: DataFactoryStateOptions) {
    if (!options.clock) this.ownClock = new SimClock(options.msPerSimulatedSecond ?? 20);
    this.clock = options.clock ?? this.ownClock!;
    this.customActivityRunner = this.defaultCustomActivityRunner;
    this.engine = new RunEngine({
      clock: this.clock,
      timings: this.timings,
      findScript: (pipeline, activity) => this.scripts.get(scriptKey(pipeline, activity)),
      customActivityRunner: () => this.customActivityRunner,
      blobBaseUrl: options.blobBaseUrl,
    });
  }

  addFactory(spec: { name: string; resourceGroup: string; location: string; tags?: Record<string, string> }): FactoryEntity {
    const factory: FactoryEntity = {
      name: spec.name,
      resourceGroup: spec.resourceGroup,
      location: spec.location,
      createTime: new Date().toISOString(),
      eTag: `"${newEtag()}"`,
      tags: spec.tags ?? {},
      identity: { principalId: randomUUID(), tenantId: this.options.tenantId },
      pipelines: new Map(),
      linkedServices: new Map(),
      datasets: new Map(),
    };
    this.factories.set(spec.name, factory);
    return factory;
  }

  /** Case-insensitive, as ARM names are. */
  factory(name: string): FactoryEntity | undefined {
    for (const [k, v] of this.factories) if (k.toLowerCase() === name.toLowerCase()) return v;
    return undefined;
  }

  private requireFactory(name: string): FactoryEntity {
    const f = this.factory(name);
    if (!f) throw new Error(`No data factory '${name}' in the local Azure.`);
    return f;
  }

  /** Adds or replaces a linked service (stored as given). */
  putLinkedService(factoryName: string, name: string, properties: LinkedServiceProperties): void {
    this.requireFactory(factoryName).linkedServices.set(name, { name, etag: newEtag(), properties });
  }

  /** Adds or replaces a dataset, with the same checks as a PUT. */
  putDataset(factoryName: string, name: string, properties: DatasetProperties): void {
    const f = this.requireFactory(factoryName);
    validateDataset(f, name, properties);
    const existing = findDataset(f, name);
    if (existing) f.datasets.delete(existing.name);
    f.datasets.set(name, { name, etag: newEtag(), properties });
  }

  /** Adds or replaces a pipeline, with the same checks as a PUT. */
  putPipeline(factoryName: string, name: string, properties: PipelineProperties): void {
    const f = this.requireFactory(factoryName);
    validatePipeline(f, name, properties);
    const existing = findPipeline(f, name);
    if (existing) f.pipelines.delete(existing.name);
    f.pipelines.set(name, { name, etag: newEtag(), properties });
  }

  /**
   * Scripts one activity of one pipeline (all factories) until `clearScripts`:
   * duration, outcome, error, output; or a function of the run and attempt.
   */
  script(pipelineName: string, activityName: string, script: ActivityScriptSource): void {
    this.scripts.set(scriptKey(pipelineName, activityName), script);
  }

  clearScripts(): void {
    this.scripts.clear();
  }

  run(runId: string): PipelineRunRecord | undefined {
    return this.engine.runs.get(runId);
  }

  runsOf(factoryName: string): PipelineRunRecord[] {
    return [...this.engine.runs.values()].filter((r) => r.factoryName.toLowerCase() === factoryName.toLowerCase());
  }

  /** Starts a manual run as createRun would (same parameter checks). */
  startRun(factoryName: string, pipelineName: string, parameters: Record<string, Json> = {}): PipelineRunRecord {
    const f = this.requireFactory(factoryName);
    const pipeline = findPipeline(f, pipelineName);
    if (!pipeline) throw new ServiceError(404, "NotFound", `Entity ${pipelineName} not found`);
    validateRunParameters(pipeline, parameters);
    return this.engine.start(f, pipeline, effectiveParameters(pipeline, parameters), { invokedBy: manualInvoker() });
  }

  whenFinished(runId: string): Promise<PipelineRunRecord> {
    return this.engine.whenFinished(runId);
  }

  /** Puts back what tests change: scripts, the Custom runner (the bridge stays), timings and the page size. */
  reset(): void {
    this.clearScripts();
    this.customActivityRunner = this.defaultCustomActivityRunner;
    this.pageSize = 100;
    Object.assign(this.timings, DEFAULT_TIMINGS);
  }

  close(): void {
    this.engine.close();
    // A shared clock is closed by its owner; timers of aborted runs are cancelled with their sleeps.
    this.ownClock?.close();
  }
}

const DEFAULT_TIMINGS: RunTimings = { queueSeconds: 1, activitySeconds: 3, cancelSeconds: 1 };

function scriptKey(pipeline: string, activity: string): string {
  return `${pipeline.toLowerCase()}\u0000${activity.toLowerCase()}`;
}
