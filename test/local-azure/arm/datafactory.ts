/**
 * Microsoft.DataFactory 2018-06-01 on the local ARM, as @azure/arm-datafactory
 * 12 calls it: factories (get, list, list by resource group), pipelines
 * (get, list, createOrUpdate, delete),
 * linked services (get, list, createOrUpdate; secrets masked as ADF does),
 * createRun, pipeline runs (get, cancel, queryPipelineRuns) and
 * queryActivityruns; datasets are in datafactory-datasets.ts. Other
 * operations are 501 NotImplemented from the front door. The run simulation lives in ../datafactory/.
 *
 * Not-found answers (all 404): an unknown factory is ARM's ResourceNotFound,
 * as for any tracked resource. Pipelines and runs are answered by ADF itself;
 * its exact codes are not documented in the spec, so these are chosen and
 * unconfirmed: `NotFound` "Entity <name> not found" for a pipeline or linked
 * service, `PipelineRunNotFound` for a run id. A reference run that does not
 * exist on createRun is `ReferencedPipelineRunNotValid` (400), ADF's code.
 */
import { ServiceError, jsonBody, type AzureRequest, type AzureResponse } from "../http";
import { resourceNotFound, type ApiVersions, type ArmService } from "./core";
import { queryRuns, type RunFilterParameters } from "../datafactory/query";
import { renderActivityRun, renderFactory, renderLinkedService, renderPipeline, renderPipelineRun } from "../datafactory/render";
import { effectiveParameters, findLinkedService, findPipeline, manualInvoker } from "../datafactory/runs";
import { newEtag, type DataFactoryState } from "../datafactory/state";
import { validatePipeline, validateRunParameters } from "../datafactory/validation";
import type { ActivityRunRecord, FactoryEntity, Json, JsonObject, LinkedServiceEntity, LinkedServiceProperties, PipelineProperties, PipelineRunRecord } from "../datafactory/types";

/**
 * Azure serves factories, pipelines, linked services and the run operations
 * at 2018-06-01 (GA, what @azure/arm-datafactory 12 sends) and at the V2
 * preview 2017-09-01-preview (ARM's provider registration, as listed in
 * Azure/azure-resource-manager-schemas#2037). Only 2018-06-01 is answered;
 * the preview is 501 NotImplemented rather than a refusal Azure would not give.
 */
export const DATA_FACTORY_API_VERSIONS: ApiVersions = { served: ["2018-06-01", "2017-09-01-preview"], emulated: ["2018-06-01"] };
export const TYPE = "Microsoft.DataFactory/factories";
export const BASE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DataFactory/factories/{factoryName}";

export function entityNotFound(name: string): ServiceError {
  return new ServiceError(404, "NotFound", `Entity ${name} not found`);
}

/** What ADF shows for a SecureString it holds. */
export const SECRET_MASK = "**********";

const SECRET_PARTS = /(^|;)\s*(AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)\s*=[^;]*/gi;

function maskValue(value: Json): Json {
  if (Array.isArray(value)) return value.map(maskValue);
  if (value === null || typeof value !== "object") return value;
  if (value.type === "SecureString" && "value" in value) return { ...value, value: SECRET_MASK };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v)]));
}

/**
 * A linked service as ADF answers it (get, list, and the createOrUpdate
 * response): it never returns a secret it holds. A SecureString's value is
 * masked, and a plain connection string loses its key, SAS or password,
 * which ADF keeps encrypted and names by `encryptedCredential` (as in the
 * AzureBlobStorage GET body quoted in Azure/azure-powershell#10032). The run
 * simulation reads the stored definition, unmasked.
 */
export function maskedLinkedService(l: LinkedServiceEntity): LinkedServiceEntity {
  const typeProperties = l.properties.typeProperties;
  if (!typeProperties) return l;
  const masked = maskValue(typeProperties) as JsonObject;
  const cs = masked.connectionString;
  if (typeof cs === "string" && new RegExp(SECRET_PARTS.source, "i").test(cs)) {
    masked.connectionString = cs.replace(SECRET_PARTS, "$1").replace(/^;+/, "").replace(/;{2,}/g, ";");
    masked.encryptedCredential ??= Buffer.from(JSON.stringify({ Version: "2017-11-30", ProtectionMode: "Key", SecretContentType: "Plaintext" })).toString("base64");
  }
  return { ...l, properties: { ...l.properties, typeProperties: masked } };
}

function bool(value: string | null): boolean {
  return value?.toLowerCase() === "true";
}

/** If-None-Match on a GET: 304 with no body when the etag matches (or `*`). */
export function notModified(req: AzureRequest, etag: string): boolean {
  const header = req.headers["if-none-match"];
  return typeof header === "string" && (header === "*" || header.replace(/"/g, "") === etag.replace(/"/g, ""));
}

/** If-Match on a PUT: 412 unless it matches the current etag (or `*`). */
export function checkIfMatch(req: AzureRequest, current: string | undefined): void {
  const header = req.headers["if-match"];
  if (typeof header !== "string" || header === "*") return;
  if (!current || header.replace(/"/g, "") !== current.replace(/"/g, "")) {
    throw new ServiceError(412, "PreconditionFailed", "The specified ETag does not match the current entity ETag.");
  }
}

/** The factory a request's path names, in its resource group, or ARM's ResourceNotFound. */
export function requestedFactory(state: DataFactoryState, req: AzureRequest): FactoryEntity {
  const { resourceGroupName: rg, factoryName } = req.params;
  const f = state.factory(factoryName);
  if (!f || f.resourceGroup.toLowerCase() !== rg.toLowerCase()) throw resourceNotFound(TYPE, factoryName, rg);
  return f;
}

export function registerDataFactory(arm: ArmService, state: DataFactoryState): void {
  /** A factory is in its resource group's subscription. */
  const sub = (f: FactoryEntity) => arm.subscriptionOf(f.resourceGroup);
  const factoryOf = (req: AzureRequest): FactoryEntity => requestedFactory(state, req);
  const runOf = (f: FactoryEntity, runId: string): PipelineRunRecord => {
    const run = state.run(runId) ?? [...state.engine.runs.values()].find((r) => r.runId.toLowerCase() === runId.toLowerCase());
    if (!run || run.factoryName !== f.name) throw new ServiceError(404, "PipelineRunNotFound", `Pipeline run '${runId}' does not exist in factory '${f.name}'.`);
    return run;
  };
  const ok = (body?: unknown): AzureResponse => ({ status: 200, body });

  arm
    // Factories_List and Factories_ListByResourceGroup: how a caller finds a factory it only knows by name.
    .add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.DataFactory/factories", { action: `${TYPE}/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) =>
      ok({ value: [...state.factories.values()].filter((f) => arm.inSubscription(req, f.resourceGroup)).map((f) => renderFactory(sub(f), f)) }),
    )
    .add("GET", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DataFactory/factories", { action: `${TYPE}/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) =>
      ok({ value: [...state.factories.values()].filter((f) => f.resourceGroup.toLowerCase() === req.params.resourceGroupName.toLowerCase()).map((f) => renderFactory(sub(f), f)) }),
    )
    .add("GET", BASE, { action: `${TYPE}/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      return notModified(req, f.eTag) ? { status: 304 } : ok(renderFactory(sub(f), f));
    })

    // Pipelines
    .add("GET", `${BASE}/pipelines`, { action: `${TYPE}/pipelines/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      return ok({ value: [...f.pipelines.values()].map((p) => renderPipeline(sub(f), f, p)) });
    })
    .add("GET", `${BASE}/pipelines/{pipelineName}`, { action: `${TYPE}/pipelines/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const p = findPipeline(f, req.params.pipelineName);
      if (!p) throw entityNotFound(req.params.pipelineName);
      return notModified(req, p.etag) ? { status: 304 } : ok(renderPipeline(sub(f), f, p));
    })
    .add("PUT", `${BASE}/pipelines/{pipelineName}`, { action: `${TYPE}/pipelines/write`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const name = req.params.pipelineName;
      const body = jsonBody<{ properties?: PipelineProperties }>(req, "BadRequest");
      const existing = findPipeline(f, name);
      checkIfMatch(req, existing?.etag);
      const properties = validatePipeline(f, name, body.properties);
      if (existing) f.pipelines.delete(existing.name);
      const entity = { name: existing?.name ?? name, etag: newEtag(), properties };
      f.pipelines.set(entity.name, entity);
      return ok(renderPipeline(sub(f), f, entity));
    })
    .add("DELETE", `${BASE}/pipelines/{pipelineName}`, { action: `${TYPE}/pipelines/delete`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const p = findPipeline(f, req.params.pipelineName);
      if (!p) return { status: 204 };
      f.pipelines.delete(p.name);
      return { status: 200 };
    })

    // Linked services
    .add("GET", `${BASE}/linkedservices`, { action: `${TYPE}/linkedservices/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      return ok({ value: [...f.linkedServices.values()].map((l) => renderLinkedService(sub(f), f, maskedLinkedService(l))) });
    })
    .add("GET", `${BASE}/linkedservices/{linkedServiceName}`, { action: `${TYPE}/linkedservices/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const l = findLinkedService(f, req.params.linkedServiceName);
      if (!l) throw entityNotFound(req.params.linkedServiceName);
      return notModified(req, l.etag) ? { status: 304 } : ok(renderLinkedService(sub(f), f, maskedLinkedService(l)));
    })
    .add("PUT", `${BASE}/linkedservices/{linkedServiceName}`, { action: `${TYPE}/linkedservices/write`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const name = req.params.linkedServiceName;
      const body = jsonBody<{ properties?: LinkedServiceProperties }>(req, "BadRequest");
      if (!body.properties || typeof body.properties.type !== "string") throw new ServiceError(400, "BadRequest", `The linked service '${name}' needs 'properties.type'.`);
      const existing = findLinkedService(f, name);
      checkIfMatch(req, existing?.etag);
      if (existing) f.linkedServices.delete(existing.name);
      const entity = { name: existing?.name ?? name, etag: newEtag(), properties: body.properties };
      f.linkedServices.set(entity.name, entity);
      return ok(renderLinkedService(sub(f), f, maskedLinkedService(entity)));
    })

    // Runs
    .add("POST", `${BASE}/pipelines/{pipelineName}/createRun`, { action: `${TYPE}/pipelines/createrun/action`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const pipeline = findPipeline(f, req.params.pipelineName);
      if (!pipeline) throw entityNotFound(req.params.pipelineName);
      const passed = jsonBody<Record<string, Json> | null>(req, "BadRequest") ?? {};
      if (typeof passed !== "object" || Array.isArray(passed)) throw new ServiceError(400, "BadRequest", "The request body must be an object of parameter values.");
      const referenceId = req.query.get("referencePipelineRunId");
      const startActivityName = req.query.get("startActivityName") ?? undefined;
      if (startActivityName && !(pipeline.properties.activities ?? []).some((a) => a.name === startActivityName)) {
        throw new ServiceError(400, "BadRequest", `The activity '${startActivityName}' does not exist in pipeline '${pipeline.name}'.`);
      }
      let parameters: Record<string, Json>;
      let recovery;
      if (referenceId) {
        const reference = state.run(referenceId);
        if (!reference || reference.factoryName !== f.name) {
          // ADF's answer, target included (MicrosoftDocs/azure-docs#38179).
          throw new ServiceError(400, "ReferencedPipelineRunNotValid", `Referenced pipeline run id ${referenceId} is not a valid run id.`, { target: `pipeline/${pipeline.name}/` });
        }
        // The spec: with a reference run, its parameters are used, not the body's.
        parameters = reference.parameters;
        if (bool(req.query.get("isRecovery"))) recovery = { reference, startActivityName, startFromFailure: bool(req.query.get("startFromFailure")) };
      } else {
        validateRunParameters(pipeline, passed);
        parameters = effectiveParameters(pipeline, passed);
      }
      const run = state.engine.start(f, pipeline, parameters, { invokedBy: manualInvoker(), recovery });
      return ok({ runId: run.runId });
    })
    .add("GET", `${BASE}/pipelineruns/{runId}`, { action: `${TYPE}/pipelineruns/read`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      return ok(renderPipelineRun(runOf(f, req.params.runId)));
    })
    .add("POST", `${BASE}/pipelineruns/{runId}/cancel`, { action: `${TYPE}/pipelineruns/cancel/action`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const run = runOf(f, req.params.runId);
      // Unconfirmed: cancelling a finished run is answered 200 and changes nothing.
      state.engine.cancel(run.runId, bool(req.query.get("isRecursive")));
      return { status: 200 };
    })
    .add("POST", `${BASE}/queryPipelineRuns`, { action: `${TYPE}/querypipelineruns/action`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const params = jsonBody<RunFilterParameters>(req, "BadRequest");
      const iso = (d: Date | undefined) => d?.toISOString();
      const page = queryRuns(state.runsOf(f.name), params, {
        lastUpdated: (r) => r.lastUpdated,
        fields: {
          PipelineName: (r) => r.pipelineName,
          Status: (r) => r.status,
          RunId: (r) => r.runId,
          RunGroupId: (r) => r.runGroupId,
          RunStart: (r) => iso(r.runStart),
          RunEnd: (r) => iso(r.runEnd),
          LatestOnly: (r) => String(r.isLatest),
        },
        orderFields: { RunStart: (r) => iso(r.runStart), RunEnd: (r) => iso(r.runEnd), PipelineName: (r) => r.pipelineName, Status: (r) => r.status },
        defaultOrder: (a, b) => a.runStart.getTime() - b.runStart.getTime(),
        pageSize: state.pageSize,
      });
      return ok({ value: page.value.map(renderPipelineRun), ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) });
    })
    .add("POST", `${BASE}/pipelineruns/{runId}/queryActivityruns`, { action: `${TYPE}/pipelineruns/queryactivityruns/action`, versions: DATA_FACTORY_API_VERSIONS }, (req) => {
      const f = factoryOf(req);
      const run = runOf(f, req.params.runId);
      const params = jsonBody<RunFilterParameters>(req, "BadRequest");
      const iso = (d: Date | undefined) => d?.toISOString();
      const page = queryRuns<ActivityRunRecord>(run.activityRuns, params, {
        lastUpdated: (a) => a.lastUpdated,
        fields: {
          ActivityName: (a) => a.activityName,
          ActivityType: (a) => a.activityType,
          Status: (a) => a.status,
          ActivityRunStart: (a) => iso(a.activityRunStart),
          ActivityRunEnd: (a) => iso(a.activityRunEnd),
        },
        orderFields: { ActivityName: (a) => a.activityName, ActivityRunStart: (a) => iso(a.activityRunStart), ActivityRunEnd: (a) => iso(a.activityRunEnd), Status: (a) => a.status },
        defaultOrder: (a, b) => a.activityRunStart.getTime() - b.activityRunStart.getTime(),
        pageSize: state.pageSize,
      });
      return ok({ value: page.value.map(renderActivityRun), ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) });
    });
}
