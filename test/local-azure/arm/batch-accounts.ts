/**
 * Microsoft.Batch on the local ARM: the shared context of the provider's
 * routes (api-versions, account lookups, ARM paging, errors in the provider's
 * shape), batch accounts (get, list, listKeys, syncAutoStorageKeys) and the
 * auto-storage account the Batch service reaches with its key or its managed
 * identity (package containers, storageUrl SAS, package blobs).
 */
import { BlobSASPermissions, ContainerClient, StorageSharedKeyCredential, generateBlobSASQueryParameters } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import JSZip from "jszip";
import { ServiceError, type AzureRequest, type AzureResponse } from "../http";
import type { EntraService } from "../entra";
import { findByName, resourceId, type ArmService } from "./core";
import type { StorageState } from "./storage";
import type { BatchSimulation } from "../batch/simulation";
import { findKey, now, type ApplicationRecord, type BatchAccountRecord, type Json, type PackageEntry, type PackageRecord, type PoolRecord } from "../batch/state";

export const ACCOUNT_TYPE = "Microsoft.Batch/batchAccounts";
export const BASE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Batch/batchAccounts";
/** What Azure serves for Microsoft.Batch and current clients send (@azure/arm-batch 9.x: 2023-11-01). */
export const API_VERSIONS = ["2022-10-01", "2023-05-01", "2023-11-01", "2024-02-01", "2024-07-01", "2025-06-01"];

export interface BatchArmOptions {
  sim: BatchSimulation;
  storage: StorageState;
  entra: EntraService;
}

export function batchError(status: number, code: string, message: string, details?: { code: string; message: string; target?: string }[]): ServiceError {
  return new ServiceError(status, code, message, { target: "BatchAccount", details });
}

/** Entries of a zip, or undefined when the bytes are not one. */
export async function readZipEntries(data: Buffer): Promise<PackageEntry[] | undefined> {
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(data);
  } catch {
    return undefined;
  }
  const files = Object.values(zip.files).filter((f) => !f.dir);
  return Promise.all(
    files.map(async (f) => {
      const data = await f.async("nodebuffer");
      return { name: f.name, size: data.length, data };
    }),
  );
}

/** What the Microsoft.Batch routes share: lookups, auto-storage access, rendering of accounts, ARM paging. */
export function createBatchArmContext(arm: ArmService, options: BatchArmOptions) {
  const { sim, storage, entra } = options;
  const sub = () => arm.state.subscriptionId;
  const accountId = (a: BatchAccountRecord) => resourceId(arm.subscriptionOf(a.resourceGroup), a.resourceGroup, "Microsoft.Batch", "batchAccounts", a.name);
  const endpointHost = () => sim.state.url.replace(/^https?:\/\//, "");

  const getAccount = (req: AzureRequest): BatchAccountRecord => {
    const a = findKey(sim.state.accounts, req.params.accountName);
    if (!a || a.resourceGroup.toLowerCase() !== req.params.resourceGroupName.toLowerCase()) {
      throw new ServiceError(
        404,
        "ResourceNotFound",
        `The Resource '${ACCOUNT_TYPE}/${req.params.accountName}' under resource group '${req.params.resourceGroupName}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    return a;
  };
  const getApp = (a: BatchAccountRecord, name: string): ApplicationRecord => {
    const app = a.applications.get(name.toLowerCase());
    if (!app) throw batchError(404, "ApplicationNotFound", "The specified application does not exist.");
    return app;
  };
  const getPackage = (app: ApplicationRecord, version: string): PackageRecord => {
    const pkg = app.versions.get(version.toLowerCase());
    if (!pkg) throw batchError(404, "ApplicationPackageNotFound", "The specified application package does not exist.");
    return pkg;
  };
  const getPool = (a: BatchAccountRecord, name: string): PoolRecord => {
    const pool = findKey(a.pools, name);
    if (!pool) throw batchError(404, "PoolNotFound", "The specified pool does not exist.");
    return pool;
  };

  // ------------------------------------------------------------- auto-storage

  const storageAccountFor = (a: BatchAccountRecord) => {
    if (!a.autoStorage) {
      throw batchError(409, "AutoStorageNotConfigured", "The Batch account has no auto-storage account; application packages need one.");
    }
    const s = findByName(storage.accounts, a.autoStorage.storageAccountName);
    if (!s) throw batchError(409, "AutoStorageAccountNotFound", `The auto-storage account '${a.autoStorage.storageAccountName}' was not found.`);
    return s;
  };
  const blobUrl = (storageName: string, container: string, blob?: string) => `${storage.blobBaseUrl}/${storageName}/${container}${blob ? `/${blob}` : ""}`;

  /** The auto-storage container as the Batch service itself reaches it: with the account key, or its managed identity's token. */
  const serviceContainer = (a: BatchAccountRecord, container: string): ContainerClient => {
    const s = storageAccountFor(a);
    const url = blobUrl(s.name, container);
    if (a.autoStorage!.authenticationMode === "BatchAccountManagedIdentity") {
      const oid = a.identity.type === "SystemAssigned" ? a.identity.principalId : `batch-account:${a.name}`;
      const credential: TokenCredential = {
        getToken: async () => ({ token: entra.mintToken({ aud: "https://storage.azure.com/", oid }), expiresOnTimestamp: Date.now() + 3600_000 }),
      };
      return new ContainerClient(url, credential, { retryOptions: { maxTries: 2 } });
    }
    return new ContainerClient(url, new StorageSharedKeyCredential(s.name, s.keys[0]), { retryOptions: { maxTries: 2 } });
  };

  const ensureContainer = async (a: BatchAccountRecord, container: string) => {
    try {
      await serviceContainer(a, container).createIfNotExists();
    } catch (e) {
      throw batchError(500, "InternalServerError", `Creating the application package container failed: ${(e as Error).message.split("\n")[0]}`);
    }
  };

  const storageUrlFor = (a: BatchAccountRecord, pkg: PackageRecord): { storageUrl: string; storageUrlExpiry: string } => {
    const s = storageAccountFor(a);
    const expiresOn = new Date(Date.now() + 4 * 3600_000);
    const url = blobUrl(s.name, pkg.container, pkg.blobName);
    if (a.autoStorage!.authenticationMode === "BatchAccountManagedIdentity") return { storageUrl: url, storageUrlExpiry: expiresOn.toISOString() };
    const sas = generateBlobSASQueryParameters(
      { containerName: pkg.container, blobName: pkg.blobName, permissions: BlobSASPermissions.parse("rw"), startsOn: new Date(Date.now() - 5 * 60_000), expiresOn },
      new StorageSharedKeyCredential(s.name, s.keys[0]),
    ).toString();
    return { storageUrl: `${url}?${sas}`, storageUrlExpiry: expiresOn.toISOString() };
  };

  /** Reads the package blob: undefined when it does not exist, else its zip entries (undefined inside when not a zip). */
  const inspectPackageBlob = async (a: BatchAccountRecord, pkg: PackageRecord): Promise<{ entries: PackageEntry[] | undefined } | undefined> => {
    const blob = serviceContainer(a, pkg.container).getBlobClient(pkg.blobName);
    try {
      if (!(await blob.exists())) return undefined;
      return { entries: await readZipEntries(await blob.downloadToBuffer()) };
    } catch (e) {
      throw batchError(500, "InternalServerError", `Reading the application package blob failed: ${(e as Error).message.split("\n")[0]}`);
    }
  };

  const autoStorageGroupOf = (a: BatchAccountRecord) => (a.autoStorage && findByName(storage.accounts, a.autoStorage.storageAccountName)?.resourceGroup) || a.resourceGroup;
  const renderAccount = (a: BatchAccountRecord) => ({
    id: accountId(a),
    name: a.name,
    type: ACCOUNT_TYPE,
    location: a.location,
    tags: {},
    identity: a.identity,
    properties: {
      accountEndpoint: endpointHost(),
      nodeManagementEndpoint: endpointHost(),
      provisioningState: "Succeeded",
      poolAllocationMode: "BatchService",
      publicNetworkAccess: "Enabled",
      autoStorage: a.autoStorage
        ? {
            storageAccountId: resourceId(arm.subscriptionOf(autoStorageGroupOf(a)), autoStorageGroupOf(a), "Microsoft.Storage", "storageAccounts", a.autoStorage.storageAccountName),
            authenticationMode: a.autoStorage.authenticationMode,
            ...(a.autoStorage.nodeIdentityResourceId ? { nodeIdentityReference: { resourceId: a.autoStorage.nodeIdentityResourceId } } : {}),
            lastKeySync: a.autoStorage.lastKeySync,
          }
        : undefined,
      encryption: { keySource: "Microsoft.Batch" },
      dedicatedCoreQuota: 500,
      lowPriorityCoreQuota: 500,
      dedicatedCoreQuotaPerVMFamily: [],
      dedicatedCoreQuotaPerVMFamilyEnforced: true,
      poolQuota: 100,
      activeJobAndJobScheduleQuota: 300,
      allowedAuthenticationModes: a.allowedAuthenticationModes,
    },
  });
  const appId = (a: BatchAccountRecord, name: string) => `${accountId(a)}/applications/${name}`;
  const ok = (body: unknown, etag?: string): AzureResponse => ({ status: 200, body, headers: etag ? { etag } : {} });

  /** ARM list paging with maxresults and a nextLink. */
  const page = <T>(req: AzureRequest, items: T[]): AzureResponse => {
    const max = Math.min(Number(req.query.get("maxresults") ?? 1000) || 1000, 1000);
    const offset = Number(req.query.get("$skiptoken") ?? 0) || 0;
    const value = items.slice(offset, offset + max);
    const body: Json = { value };
    if (offset + max < items.length) {
      const url = new URL(req.url.toString());
      url.searchParams.set("$skiptoken", String(offset + max));
      body.nextLink = url.toString();
    }
    return ok(body);
  };

  // Resource files that name an auto-storage container are read with the service's own access.
  sim.state.autoStorageContainer = serviceContainer;
  return { sim, storage, entra, arm, sub, accountId, endpointHost, getAccount, getApp, getPackage, getPool, storageAccountFor, blobUrl, serviceContainer, ensureContainer, storageUrlFor, inspectPackageBlob, renderAccount, appId, ok, page };
}

export type BatchArmContext = ReturnType<typeof createBatchArmContext>;

export function registerBatchAccounts(ctx: BatchArmContext): void {
  const { arm, sim, getAccount, renderAccount, ok } = ctx;
  const read = { action: `${ACCOUNT_TYPE}/read`, apiVersions: API_VERSIONS };
  arm
    .add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Batch/batchAccounts", read, (req) =>
      ok({ value: [...sim.state.accounts.values()].filter((a) => arm.inSubscription(req, a.resourceGroup)).map(renderAccount) }),
    )
    .add("GET", BASE, read, (req) =>
      ok({ value: [...sim.state.accounts.values()].filter((a) => a.resourceGroup.toLowerCase() === req.params.resourceGroupName.toLowerCase()).map(renderAccount) }),
    )
    .add("GET", `${BASE}/{accountName}`, read, (req) => ok(renderAccount(getAccount(req))))
    .add("POST", `${BASE}/{accountName}/listKeys`, { action: `${ACCOUNT_TYPE}/listKeys/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      if (!a.allowedAuthenticationModes.includes("SharedKey")) {
        throw batchError(409, "OperationNotValidOnAccount", "The account does not allow SharedKey authentication, so its keys cannot be listed.");
      }
      return ok({ accountName: a.name, primary: a.keys.primary, secondary: a.keys.secondary });
    })
    .add("POST", `${BASE}/{accountName}/syncAutoStorageKeys`, { action: `${ACCOUNT_TYPE}/syncAutoStorageKeys/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      if (a.autoStorage) a.autoStorage.lastKeySync = now();
      return { status: 204 };
    });
}
