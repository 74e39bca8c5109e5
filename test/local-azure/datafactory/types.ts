/**
 * Data Factory entities as the emulator keeps them: definitions stored as the
 * JSON that was PUT (so they round-trip), and run records from which the wire
 * shapes (PipelineRun, ActivityRun) are rendered.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type DependencyCondition = "Succeeded" | "Failed" | "Skipped" | "Completed";

export interface ActivityDependency {
  activity: string;
  dependencyConditions: DependencyCondition[];
}

export interface ReferenceJson {
  referenceName: string;
  type: string;
  parameters?: JsonObject;
}

/** One activity of a pipeline definition (only the fields the simulation reads are typed). */
export interface ActivityDefinition {
  name: string;
  type: string;
  description?: string;
  state?: "Active" | "Inactive";
  onInactiveMarkAs?: "Succeeded" | "Failed" | "Skipped";
  dependsOn?: ActivityDependency[];
  userProperties?: { name: string; value: Json }[];
  linkedServiceName?: ReferenceJson;
  policy?: JsonObject;
  typeProperties?: JsonObject;
  [key: string]: unknown;
}

export interface ParameterSpecification {
  type: "Object" | "String" | "Int" | "Float" | "Bool" | "Array" | "SecureString" | string;
  defaultValue?: Json;
}

export interface PipelineProperties {
  description?: string;
  activities?: ActivityDefinition[];
  parameters?: Record<string, ParameterSpecification>;
  variables?: JsonObject;
  concurrency?: number;
  annotations?: Json[];
  folder?: { name?: string };
  [key: string]: unknown;
}

export interface PipelineEntity {
  name: string;
  etag: string;
  properties: PipelineProperties;
}

export interface LinkedServiceProperties {
  type: string;
  typeProperties?: JsonObject;
  description?: string;
  connectVia?: ReferenceJson;
  [key: string]: unknown;
}

export interface LinkedServiceEntity {
  name: string;
  etag: string;
  properties: LinkedServiceProperties;
}

/** A dataset's properties as PUT: `type`, `linkedServiceName`, `typeProperties`, `parameters`, ... */
export interface DatasetProperties {
  type: string;
  linkedServiceName: ReferenceJson;
  typeProperties?: JsonObject;
  parameters?: Record<string, ParameterSpecification>;
  description?: string;
  [key: string]: unknown;
}

export interface DatasetEntity {
  name: string;
  etag: string;
  properties: DatasetProperties;
}

export interface FactoryEntity {
  name: string;
  resourceGroup: string;
  /** ARM location name, e.g. westeurope. */
  location: string;
  createTime: string;
  eTag: string;
  tags: Record<string, string>;
  identity: { principalId: string; tenantId: string };
  pipelines: Map<string, PipelineEntity>;
  linkedServices: Map<string, LinkedServiceEntity>;
  datasets: Map<string, DatasetEntity>;
}

export type PipelineRunStatus = "Queued" | "InProgress" | "Succeeded" | "Failed" | "Canceling" | "Cancelled";
export type ActivityRunStatus = "Queued" | "InProgress" | "Succeeded" | "Failed" | "Cancelled";

/** ADF's activity error object: empty strings on success, `target` the activity name. */
export interface ActivityError {
  errorCode: string;
  message: string;
  failureType: string;
  target: string;
  details: string;
}

export interface ActivityRunRecord {
  activityRunId: string;
  activityName: string;
  activityType: string;
  pipelineName: string;
  pipelineRunId: string;
  linkedServiceName: string;
  status: ActivityRunStatus;
  activityRunStart: Date;
  activityRunEnd?: Date;
  input: JsonObject;
  output: JsonObject;
  error: ActivityError;
  userProperties: Record<string, string>;
  /** Not on the wire (ActivityRun has no such field); used for lastUpdatedAfter/Before. */
  lastUpdated: Date;
}

export interface PipelineRunRecord {
  runId: string;
  runGroupId: string;
  isLatest: boolean;
  factoryName: string;
  resourceGroup: string;
  pipelineName: string;
  /** Effective parameter values (passed, else default), typed. */
  parameters: Record<string, Json>;
  invokedBy: { id: string; name: string; invokedByType: string; pipelineName?: string; pipelineRunId?: string };
  runStart: Date;
  runEnd?: Date;
  lastUpdated: Date;
  status: PipelineRunStatus;
  message: string;
  activityRuns: ActivityRunRecord[];
  /** Final outcome per activity name, including Skipped ones that have no activity run. */
  outcomes: Map<string, "Succeeded" | "Failed" | "Skipped" | "Cancelled">;
  /** Child runs started by ExecutePipeline activities. */
  childRunIds: string[];
  parentRunId?: string;
}
