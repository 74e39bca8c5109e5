/**
 * Wire shapes of Microsoft.DataFactory 2018-06-01 (Factory, PipelineResource,
 * LinkedServiceResource, PipelineRun, ActivityRun). Only properties the spec
 * declares are emitted, plus extras that satisfy its `additionalProperties:
 * {type: object}` (so no nulls, strings or arrays beyond the declared ones):
 * a run in progress simply has no runEnd/durationInMs.
 */
import { resourceId } from "../arm/core";
import type { ActivityRunRecord, FactoryEntity, Json, LinkedServiceEntity, PipelineEntity, PipelineRunRecord } from "./types";

export const FACTORY_TYPE = "Microsoft.DataFactory/factories";

export function factoryId(subscriptionId: string, f: FactoryEntity): string {
  return resourceId(subscriptionId, f.resourceGroup, "Microsoft.DataFactory", "factories", f.name);
}

export function renderFactory(subscriptionId: string, f: FactoryEntity): Record<string, unknown> {
  return {
    id: factoryId(subscriptionId, f),
    name: f.name,
    type: FACTORY_TYPE,
    location: f.location,
    tags: f.tags,
    eTag: f.eTag,
    identity: { type: "SystemAssigned", principalId: f.identity.principalId, tenantId: f.identity.tenantId },
    properties: { provisioningState: "Succeeded", createTime: f.createTime, version: "2018-06-01", publicNetworkAccess: "Enabled" },
  };
}

export function renderPipeline(subscriptionId: string, f: FactoryEntity, p: PipelineEntity): Record<string, unknown> {
  return { id: `${factoryId(subscriptionId, f)}/pipelines/${p.name}`, name: p.name, type: `${FACTORY_TYPE}/pipelines`, properties: p.properties, etag: p.etag };
}

export function renderLinkedService(subscriptionId: string, f: FactoryEntity, l: LinkedServiceEntity): Record<string, unknown> {
  return { id: `${factoryId(subscriptionId, f)}/linkedservices/${l.name}`, name: l.name, type: `${FACTORY_TYPE}/linkedservices`, properties: l.properties, etag: l.etag };
}

/** PipelineRun.parameters is a map of strings: non-string values appear as their JSON text. */
export function parameterText(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function renderPipelineRun(run: PipelineRunRecord): Record<string, unknown> {
  const invokedBy: Record<string, string> = { id: run.invokedBy.id, name: run.invokedBy.name, invokedByType: run.invokedBy.invokedByType };
  if (run.invokedBy.pipelineName) invokedBy.pipelineName = run.invokedBy.pipelineName;
  if (run.invokedBy.pipelineRunId) invokedBy.pipelineRunId = run.invokedBy.pipelineRunId;
  return {
    runId: run.runId,
    runGroupId: run.runGroupId,
    isLatest: run.isLatest,
    pipelineName: run.pipelineName,
    parameters: Object.fromEntries(Object.entries(run.parameters).map(([k, v]) => [k, parameterText(v)])),
    runDimensions: {},
    invokedBy,
    runStart: run.runStart.toISOString(),
    ...(run.runEnd ? { runEnd: run.runEnd.toISOString(), durationInMs: run.runEnd.getTime() - run.runStart.getTime() } : {}),
    status: run.status,
    message: run.message,
    lastUpdated: run.lastUpdated.toISOString(),
  };
}

export function renderActivityRun(a: ActivityRunRecord): Record<string, unknown> {
  return {
    activityName: a.activityName,
    activityType: a.activityType,
    activityRunId: a.activityRunId,
    pipelineName: a.pipelineName,
    pipelineRunId: a.pipelineRunId,
    linkedServiceName: a.linkedServiceName,
    status: a.status,
    activityRunStart: a.activityRunStart.toISOString(),
    ...(a.activityRunEnd ? { activityRunEnd: a.activityRunEnd.toISOString(), durationInMs: a.activityRunEnd.getTime() - a.activityRunStart.getTime() } : {}),
    input: a.input,
    output: a.output,
    error: a.error,
    userProperties: a.userProperties,
  };
}
