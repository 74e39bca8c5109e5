/**
 * Data Factory through @azure/arm-datafactory, as the run needs it: the
 * factory and pipeline named in the inputs (unknown ones fail naming the
 * input, with the closest names), the factory's linked services, and the run
 * operations (create, get, activity runs page by page, cancel).
 */
import type { ActivityRunsQueryResponse, DataFactoryManagementClient, LinkedServiceResource, PipelineResource, PipelineRun, RunFilterParameters } from "@azure/arm-datafactory";
import { dataFactoryClient } from "../../runtime/datafactory";
import { errorCode, errorStatus, InputError, NotAuthorizedError } from "../../runtime/errors";
import type { AzureSession } from "../../runtime/session";
import { unknownNameError } from "./names";
import type { CreateRunOptions } from "./run-options";

export interface FoundFactory {
  name: string;
  resourceGroup: string;
  /** The ARM resource id (for the Data Factory Studio link). */
  id: string;
  /** Global parameter values, for pre-flight expressions. */
  globalParameters: Record<string, unknown>;
}

export interface FoundPipeline {
  name: string;
  definition: PipelineResource;
}

/** The run operations the wait uses (so the flow can be driven without Azure). */
export interface PipelineRunOperations {
  createRun(options: CreateRunOptions): Promise<string>;
  getRun(runId: string, signal?: AbortSignal): Promise<PipelineRun>;
  queryActivityRuns(runId: string, filter: RunFilterParameters, signal?: AbortSignal): Promise<ActivityRunsQueryResponse>;
  cancelRun(runId: string, recursive: boolean): Promise<void>;
}

/** Each call may take this long before it is given up (and, while waiting, tried again). */
const REQUEST_TIMEOUT_MS = 60_000;

function notAuthorized(operation: string, error: unknown): NotAuthorizedError {
  return new NotAuthorizedError({ operation, role: "Data Factory Contributor", scope: "on the factory (or its resource group)", cause: error });
}

export class DataFactoryAccess {
  private readonly client: DataFactoryManagementClient;

  constructor(
    private readonly session: AzureSession,
    private readonly resourceGroup: string,
    client?: DataFactoryManagementClient,
  ) {
    this.client = client ?? dataFactoryClient(session);
  }

  /** The factory, or an input error listing the factories of the resource group (and where a factory of that name is, if elsewhere). */
  async findFactory(name: string): Promise<FoundFactory> {
    try {
      const f = await this.client.factories.get(this.resourceGroup, name);
      const globalParameters: Record<string, unknown> = {};
      for (const [k, spec] of Object.entries(f.globalParameters ?? {})) globalParameters[k] = spec.value;
      return { name: f.name ?? name, resourceGroup: this.resourceGroup, id: f.id ?? "", globalParameters };
    } catch (error) {
      if (errorStatus(error) === 403) throw notAuthorized(`read data factory '${name}' in resource group '${this.resourceGroup}'`, error);
      if (errorStatus(error) !== 404) throw error;
      if (errorCode(error) === "ResourceGroupNotFound") {
        throw new InputError(
          "resourceGroupName",
          `Input 'resourceGroupName': resource group '${this.resourceGroup}' does not exist in subscription '${this.subscription()}' (or the service connection cannot see it).`,
        );
      }
    }
    const inGroup: string[] = [];
    for await (const f of this.client.factories.listByResourceGroup(this.resourceGroup)) if (f.name) inGroup.push(f.name);
    const elsewhere: string[] = [];
    try {
      for await (const f of this.client.factories.list()) {
        const group = /\/resourceGroups\/([^/]+)\//i.exec(f.id ?? "")?.[1];
        if (f.name?.toLowerCase() === name.toLowerCase() && group && group.toLowerCase() !== this.resourceGroup.toLowerCase()) elsewhere.push(group);
      }
    } catch {
      // Only a hint: the subscription-wide list may be denied where the group's is not.
    }
    const error = unknownNameError({ input: "factoryName", kind: ["data factory", "data factories"], name, scope: `resource group '${this.resourceGroup}'`, available: inGroup });
    if (elsewhere.length) error.message += ` A factory named '${name}' is in resource group ${elsewhere.map((g) => `'${g}'`).join(", ")}: set resourceGroupName to it.`;
    throw error;
  }

  /** The pipeline's definition, or an input error listing the factory's pipelines. */
  async findPipeline(factory: FoundFactory, name: string): Promise<FoundPipeline> {
    try {
      const definition = await this.client.pipelines.get(this.resourceGroup, factory.name, name);
      return { name: definition.name ?? name, definition };
    } catch (error) {
      if (errorStatus(error) === 403) throw notAuthorized(`read the pipelines of data factory '${factory.name}'`, error);
      if (errorStatus(error) !== 404) throw error;
    }
    const names: string[] = [];
    for await (const p of this.client.pipelines.listByFactory(this.resourceGroup, factory.name)) if (p.name) names.push(p.name);
    throw unknownNameError({ input: "pipelineName", kind: ["pipeline", "pipelines"], name, scope: `factory '${factory.name}'`, available: names });
  }

  async linkedServices(factory: FoundFactory): Promise<LinkedServiceResource[]> {
    const all: LinkedServiceResource[] = [];
    for await (const ls of this.client.linkedServices.listByFactory(this.resourceGroup, factory.name)) all.push(ls);
    return all;
  }

  runOperations(factory: FoundFactory, pipelineName: string): PipelineRunOperations {
    const rg = this.resourceGroup;
    const ops = this.client;
    const requestOptions = (signal?: AbortSignal) => ({ abortSignal: signal, requestOptions: { timeout: REQUEST_TIMEOUT_MS } });
    return {
      createRun: async (options) => {
        try {
          return (await ops.pipelines.createRun(rg, factory.name, pipelineName, { ...options, requestOptions: { timeout: REQUEST_TIMEOUT_MS } })).runId;
        } catch (error) {
          if (errorStatus(error) === 403) throw notAuthorized(`start a run of pipeline '${pipelineName}'`, error);
          throw error;
        }
      },
      getRun: (runId, signal) => ops.pipelineRuns.get(rg, factory.name, runId, requestOptions(signal)),
      queryActivityRuns: (runId, filter, signal) => ops.activityRuns.queryByPipelineRun(rg, factory.name, runId, filter, requestOptions(signal)),
      cancelRun: async (runId, recursive) => {
        try {
          await ops.pipelineRuns.cancel(rg, factory.name, runId, { isRecursive: recursive, requestOptions: { timeout: REQUEST_TIMEOUT_MS } });
        } catch (error) {
          if (errorStatus(error) === 403) throw notAuthorized(`cancel run ${runId}`, error);
          throw error;
        }
      },
    };
  }

  private subscription(): string {
    return this.session.connection.subscriptionName ?? this.session.connection.subscriptionId;
  }
}
