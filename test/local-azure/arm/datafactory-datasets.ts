/**
 * Microsoft.DataFactory 2018-06-01 datasets on the local ARM, as
 * @azure/arm-datafactory 12 calls them: Datasets_ListByFactory,
 * Datasets_Get (If-None-Match: 304), Datasets_CreateOrUpdate (If-Match: 412)
 * and Datasets_Delete (200, or 204 when there was none). A dataset is stored
 * as PUT and answered as a DatasetResource (id, name, type, properties,
 * etag); the checks on save are in ../datafactory/datasets.ts.
 */
import { jsonBody, type AzureRequest, type AzureResponse } from "../http";
import type { ArmService } from "./core";
import { BASE, checkIfMatch, DATA_FACTORY_API_VERSIONS, entityNotFound, notModified, requestedFactory, TYPE } from "./datafactory";
import { factoryId } from "../datafactory/render";
import { findDataset, validateDataset } from "../datafactory/datasets";
import { newEtag, type DataFactoryState } from "../datafactory/state";
import type { DatasetEntity, DatasetProperties, FactoryEntity } from "../datafactory/types";

export function renderDataset(subscriptionId: string, f: FactoryEntity, d: DatasetEntity): Record<string, unknown> {
  return { id: `${factoryId(subscriptionId, f)}/datasets/${d.name}`, name: d.name, type: `${TYPE}/datasets`, properties: d.properties, etag: d.etag };
}

export function registerDataFactoryDatasets(arm: ArmService, state: DataFactoryState): void {
  /** A factory is in its resource group's subscription. */
  const sub = (f: FactoryEntity) => arm.subscriptionOf(f.resourceGroup);
  const factoryOf = (req: AzureRequest): FactoryEntity => requestedFactory(state, req);
  const ok = (body?: unknown): AzureResponse => ({ status: 200, body });
  const options = (verb: "read" | "write" | "delete") => ({ action: `${TYPE}/datasets/${verb}`, versions: DATA_FACTORY_API_VERSIONS });

  arm
    .add("GET", `${BASE}/datasets`, options("read"), (req) => {
      const f = factoryOf(req);
      return ok({ value: [...f.datasets.values()].map((d) => renderDataset(sub(f), f, d)) });
    })
    .add("GET", `${BASE}/datasets/{datasetName}`, options("read"), (req) => {
      const f = factoryOf(req);
      const d = findDataset(f, req.params.datasetName);
      if (!d) throw entityNotFound(req.params.datasetName);
      return notModified(req, d.etag) ? { status: 304 } : ok(renderDataset(sub(f), f, d));
    })
    .add("PUT", `${BASE}/datasets/{datasetName}`, options("write"), (req) => {
      const f = factoryOf(req);
      const name = req.params.datasetName;
      const body = jsonBody<{ properties?: DatasetProperties }>(req, "BadRequest");
      const existing = findDataset(f, name);
      checkIfMatch(req, existing?.etag);
      const properties = validateDataset(f, name, body.properties);
      if (existing) f.datasets.delete(existing.name);
      const entity: DatasetEntity = { name: existing?.name ?? name, etag: newEtag(), properties };
      f.datasets.set(entity.name, entity);
      return ok(renderDataset(sub(f), f, entity));
    })
    .add("DELETE", `${BASE}/datasets/{datasetName}`, options("delete"), (req) => {
      const f = factoryOf(req);
      const d = findDataset(f, req.params.datasetName);
      if (!d) return { status: 204 };
      f.datasets.delete(d.name);
      return { status: 200 };
    });
}
