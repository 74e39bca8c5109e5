/**
 * Microsoft.Batch on the local ARM (api-version 2023-11-01, as
 * @azure/arm-batch 9.x sends it): batch accounts (get, list, listKeys,
 * syncAutoStorageKeys), applications (create, get, update, list, delete),
 * application package versions (create, activate, get, list, delete) and
 * pools (get, list, update, stopResize, disableAutoScale), on the same state
 * the Batch data plane serves.
 *
 * Behaviour taken from the real service where it is known:
 * - Activating a version whose blob was never uploaded is 409
 *   ApplicationPackageBlobNotFound (Azure SDK for JS's live arm-batch tests).
 * - Activation does not look inside the blob: the same tests activate a blob
 *   holding "Hey there!" successfully, and users report that any file uploads
 *   and activates. A package that is not a zip fails later, when a node
 *   deploys it: the node becomes unusable (ApplicationPackageError, "Resource
 *   Unzip failed"), as Batch documents for deployment failures. The zip's
 *   central directory is read at activation so nodes can list its files.
 * - Setting defaultVersion to a version that is not active is 409
 *   RequestedDefaultVersionNotActive; deleting an application that still has
 *   versions is 409 ApplicationPackagesNotEmpty (same tests).
 * - Pool references to a missing application, a missing or pending version,
 *   or no version without a default are 409 InvalidApplicationPackageReferences
 *   (documented with the ApplicationPackageReference model), with one detail
 *   per bad reference.
 * - Deleting a version that a pool references is allowed (nothing documents a
 *   refusal): nodes that have it keep it; nodes that join, reboot or are
 *   reimaged afterwards fail to deploy it and become unusable. Deleting the
 *   application's default version clears defaultVersion.
 * Errors carry target "BatchAccount", as the Batch resource provider's do.
 */
import * as crypto from "node:crypto";
import { BlobSASPermissions, ContainerClient, StorageSharedKeyCredential, generateBlobSASQueryParameters } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import JSZip from "jszip";
import { ServiceError, jsonBody, type AzureRequest, type AzureResponse } from "../http";
import type { EntraService } from "../entra";
import { findByName, resourceId, type ArmService } from "./core";
import type { StorageState } from "./storage";
import type { BatchSimulation, PackageProblem } from "../batch/simulation";
import { findKey, newArmETag, now, type ApplicationRecord, type BatchAccountRecord, type Json, type PackageEntry, type PackageRecord, type PoolRecord } from "../batch/state";

const ACCOUNT_TYPE = "Microsoft.Batch/batchAccounts";
const BASE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Batch/batchAccounts";
const API_VERSIONS = ["2023-11-01", "2024-02-01", "2024-07-01"];

export interface BatchArmOptions {
  sim: BatchSimulation;
  storage: StorageState;
  entra: EntraService;
}

function batchError(status: number, code: string, message: string, details?: { code: string; message: string; target?: string }[]): ServiceError {
  return new ServiceError(status, code, message, { target: "BatchAccount", details });
}

const capitalize = (s: string | undefined) => (s ? s[0].toUpperCase() + s.slice(1) : s);
const ENUM_CASE: Record<string, string> = {
  nonadmin: "NonAdmin",
  admin: "Admin",
  task: "Task",
  pool: "Pool",
  taskcompletion: "TaskCompletion",
  retaineddata: "RetainedData",
  requeue: "Requeue",
  terminate: "Terminate",
  taskworkingdirectory: "TaskWorkingDirectory",
  containerimagedefault: "ContainerImageDefault",
};

/** Data-plane → ARM casing for the nested task shapes (userIdentity, containerSettings). */
function toArmTask(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toArmTask);
  if (!v || typeof v !== "object") return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    const key = k === "username" ? "userName" : k;
    out[key] = (k === "scope" || k === "elevationLevel" || k === "workingDirectory") && typeof x === "string" ? (ENUM_CASE[x.toLowerCase()] ?? x) : toArmTask(x);
  }
  return out;
}

/** ARM → data-plane casing. */
function toDataTask(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toDataTask);
  if (!v || typeof v !== "object") return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    const key = k === "userName" ? "username" : k;
    out[key] =
      (k === "scope" || k === "elevationLevel") && typeof x === "string"
        ? x.toLowerCase()
        : k === "workingDirectory" && typeof x === "string"
          ? x[0].toLowerCase() + x.slice(1)
          : toDataTask(x);
  }
  return out;
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
  return Promise.all(files.map(async (f) => ({ name: f.name, size: (await f.async("nodebuffer")).length })));
}

export function registerBatch(arm: ArmService, options: BatchArmOptions): void {
  const { sim, storage, entra } = options;
  const sub = () => arm.state.subscriptionId;
  const accountId = (a: BatchAccountRecord) => resourceId(sub(), a.resourceGroup, "Microsoft.Batch", "batchAccounts", a.name);
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

  // ------------------------------------------------------------- rendering

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
            storageAccountId: resourceId(sub(), findByName(storage.accounts, a.autoStorage.storageAccountName)?.resourceGroup ?? a.resourceGroup, "Microsoft.Storage", "storageAccounts", a.autoStorage.storageAccountName),
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
  const renderApp = (a: BatchAccountRecord, app: ApplicationRecord) => ({
    id: appId(a, app.name),
    name: app.name,
    type: `${ACCOUNT_TYPE}/applications`,
    etag: app.etag,
    properties: { ...(app.displayName !== undefined ? { displayName: app.displayName } : {}), allowUpdates: app.allowUpdates, ...(app.defaultVersion ? { defaultVersion: app.defaultVersion } : {}) },
  });
  const renderPackage = (a: BatchAccountRecord, app: ApplicationRecord, pkg: PackageRecord, withUrl = true) => ({
    id: `${appId(a, app.name)}/versions/${pkg.version}`,
    name: pkg.version,
    type: `${ACCOUNT_TYPE}/applications/versions`,
    etag: pkg.etag,
    properties: {
      state: pkg.state,
      ...(pkg.format ? { format: pkg.format } : {}),
      ...(withUrl ? storageUrlFor(a, pkg) : {}),
      ...(pkg.lastActivationTime ? { lastActivationTime: pkg.lastActivationTime } : {}),
    },
  });
  const renderPool = (a: BatchAccountRecord, pool: PoolRecord) => {
    let dedicated = 0;
    let lowPriority = 0;
    for (const n of pool.nodes.values()) n.isDedicated ? dedicated++ : lowPriority++;
    const vm = pool.virtualMachineConfiguration as (Json & { nodeAgentSKUId?: string }) | undefined;
    const { nodeAgentSKUId, ...vmRest } = vm ?? {};
    const last = pool.sim.lastResize;
    return {
      id: `${accountId(a)}/pools/${pool.id}`,
      name: pool.id,
      type: `${ACCOUNT_TYPE}/pools`,
      etag: `W/"${pool.eTag}"`,
      ...(pool.identity ? { identity: pool.identity } : {}),
      properties: {
        ...(pool.displayName ? { displayName: pool.displayName } : {}),
        lastModified: pool.lastModified,
        creationTime: pool.creationTime,
        provisioningState: pool.state === "deleting" ? "Deleting" : "Succeeded",
        provisioningStateTransitionTime: pool.stateTransitionTime,
        allocationState: capitalize(pool.allocationState),
        allocationStateTransitionTime: pool.allocationStateTransitionTime,
        vmSize: pool.vmSize.toUpperCase(),
        deploymentConfiguration: vm ? { virtualMachineConfiguration: { ...vmRest, nodeAgentSkuId: nodeAgentSKUId } } : { cloudServiceConfiguration: pool.cloudServiceConfiguration },
        currentDedicatedNodes: dedicated,
        currentLowPriorityNodes: lowPriority,
        scaleSettings: pool.enableAutoScale
          ? { autoScale: { formula: pool.autoScaleFormula ?? "", ...(pool.autoScaleEvaluationInterval ? { evaluationInterval: pool.autoScaleEvaluationInterval } : {}) } }
          : { fixedScale: { targetDedicatedNodes: pool.targetDedicatedNodes, targetLowPriorityNodes: pool.targetLowPriorityNodes, resizeTimeout: pool.resizeTimeout } },
        ...(pool.autoScaleRun ? { autoScaleRun: { evaluationTime: pool.autoScaleRun.timestamp, ...(pool.autoScaleRun.results ? { results: pool.autoScaleRun.results } : {}) } } : {}),
        interNodeCommunication: pool.enableInterNodeCommunication ? "Enabled" : "Disabled",
        ...(pool.networkConfiguration ? { networkConfiguration: pool.networkConfiguration } : {}),
        taskSlotsPerNode: pool.taskSlotsPerNode,
        taskSchedulingPolicy: { nodeFillType: capitalize(pool.taskSchedulingPolicy.nodeFillType) },
        ...(pool.metadata.length ? { metadata: pool.metadata } : {}),
        ...(pool.startTask ? { startTask: toArmTask(pool.startTask) } : {}),
        ...(pool.applicationPackageReferences.length
          ? { applicationPackages: pool.applicationPackageReferences.map((r) => ({ id: appId(a, r.applicationId), ...(r.version ? { version: r.version } : {}) })) }
          : {}),
        ...(last && pool.allocationState !== "steady"
          ? {
              resizeOperationStatus: {
                targetDedicatedNodes: last.targetDedicatedNodes,
                targetLowPriorityNodes: last.targetLowPriorityNodes,
                resizeTimeout: last.resizeTimeout,
                nodeDeallocationOption: ENUM_CASE[last.nodeDeallocationOption],
                startTime: last.startTime,
              },
            }
          : {}),
        ...(pool.targetNodeCommunicationMode ? { targetNodeCommunicationMode: capitalize(pool.targetNodeCommunicationMode) } : {}),
        ...(pool.currentNodeCommunicationMode ? { currentNodeCommunicationMode: capitalize(pool.currentNodeCommunicationMode) } : {}),
      },
    };
  };
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

  // ------------------------------------------------------------- routes

  const read = { action: `${ACCOUNT_TYPE}/read`, apiVersions: API_VERSIONS };
  arm
    .add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Batch/batchAccounts", read, () =>
      ok({ value: [...sim.state.accounts.values()].map(renderAccount) }),
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

  // Applications.
  const APP = `${ACCOUNT_TYPE}/applications`;
  const checkDefaultVersion = (app: ApplicationRecord, version: string | undefined) => {
    if (version === undefined || version === null) return;
    const pkg = app.versions.get(String(version).toLowerCase());
    if (!pkg || pkg.state !== "Active") {
      throw batchError(409, "RequestedDefaultVersionNotActive", `The requested default version '${version}' is not an active version of the application.`);
    }
  };
  arm
    .add("GET", `${BASE}/{accountName}/applications`, { action: `${APP}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      return page(req, [...a.applications.values()].map((app) => renderApp(a, app)));
    })
    .add("GET", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      return ok(renderApp(a, app), app.etag);
    })
    .add("PUT", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const name = req.params.applicationName;
      if (!/^[\w-]{1,64}$/.test(name)) throw batchError(400, "InvalidApplicationName", "The application name may contain only letters, digits, hyphens and underscores, at most 64 characters.");
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      const existing = a.applications.get(name.toLowerCase());
      const app: ApplicationRecord = existing ?? { name, allowUpdates: true, etag: newArmETag(), versions: new Map() };
      if (props.defaultVersion !== undefined) checkDefaultVersion(app, props.defaultVersion as string);
      if (props.displayName !== undefined) app.displayName = props.displayName as string;
      if (props.allowUpdates !== undefined) app.allowUpdates = Boolean(props.allowUpdates);
      if (props.defaultVersion !== undefined) app.defaultVersion = (props.defaultVersion as string) ?? undefined;
      app.etag = newArmETag();
      a.applications.set(name.toLowerCase(), app);
      return ok(renderApp(a, app), app.etag);
    })
    .add("PATCH", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      checkDefaultVersion(app, props.defaultVersion as string | undefined);
      if (props.displayName !== undefined) app.displayName = props.displayName as string;
      if (props.allowUpdates !== undefined) app.allowUpdates = Boolean(props.allowUpdates);
      if (props.defaultVersion !== undefined) app.defaultVersion = props.defaultVersion as string;
      app.etag = newArmETag();
      return ok(renderApp(a, app), app.etag);
    })
    .add("DELETE", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/delete`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = a.applications.get(req.params.applicationName.toLowerCase());
      if (!app) return { status: 204 };
      if (app.versions.size > 0) throw batchError(409, "ApplicationPackagesNotEmpty", "The application has application packages; delete them before deleting the application.");
      a.applications.delete(app.name.toLowerCase());
      return { status: 200 };
    });

  // Application package versions.
  const VER = `${APP}/versions`;
  const VERSION_PATH = `${BASE}/{accountName}/applications/{applicationName}/versions/{versionName}`;
  arm
    .add("GET", `${BASE}/{accountName}/applications/{applicationName}/versions`, { action: `${VER}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      return page(req, [...app.versions.values()].map((p) => renderPackage(a, app, p)));
    })
    .add("GET", VERSION_PATH, { action: `${VER}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = getPackage(app, req.params.versionName);
      return ok(renderPackage(a, app, pkg), pkg.etag);
    })
    .add("PUT", VERSION_PATH, { action: `${VER}/write`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const version = req.params.versionName;
      if (!/^[\w.-]{1,64}$/.test(version)) throw batchError(400, "InvalidApplicationPackageVersion", "The version may contain only letters, digits, hyphens, underscores and periods, at most 64 characters.");
      let pkg = app.versions.get(version.toLowerCase());
      if (pkg && pkg.state === "Active" && !app.allowUpdates) {
        throw batchError(409, "ApplicationPackageUpdatesNotAllowed", `The application '${app.name}' does not allow updates, and version '${pkg.version}' is already active.`);
      }
      if (!pkg) {
        const hash = crypto.createHash("sha256").update(`${a.name}/${app.name.toLowerCase()}`).digest("hex");
        const safe = app.name.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
        const container = `app-${safe}-${hash}`.slice(0, 63).replace(/-$/, "");
        pkg = {
          version,
          state: "Pending",
          etag: newArmETag(),
          container,
          blobName: `${app.name.toLowerCase()}-${version}-${crypto.randomUUID()}.zip`,
        };
        await ensureContainer(a, container);
        app.versions.set(version.toLowerCase(), pkg);
      }
      pkg.etag = newArmETag();
      return ok(renderPackage(a, app, pkg), pkg.etag);
    })
    .add("POST", `${VERSION_PATH}/activate`, { action: `${VER}/activate/action`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = getPackage(app, req.params.versionName);
      const format = jsonBody<{ format?: string }>(req, "InvalidRequestContent").format;
      if (!format) throw batchError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'format' is required.");
      if (format.toLowerCase() !== "zip") throw batchError(400, "InvalidApplicationPackageFormat", `The application package format '${format}' is not supported; only 'zip' is.`);
      const blob = await inspectPackageBlob(a, pkg);
      if (!blob) throw batchError(409, "ApplicationPackageBlobNotFound", "The application package blob was not found in the storage account. Upload the package to the storageUrl before activating it.");
      pkg.entries = blob.entries;
      pkg.state = "Active";
      pkg.format = "zip";
      pkg.lastActivationTime = now();
      pkg.etag = newArmETag();
      return ok(renderPackage(a, app, pkg, false), pkg.etag);
    })
    .add("DELETE", VERSION_PATH, { action: `${VER}/delete`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = app.versions.get(req.params.versionName.toLowerCase());
      if (!pkg) return { status: 204 };
      app.versions.delete(pkg.version.toLowerCase());
      if (app.defaultVersion?.toLowerCase() === pkg.version.toLowerCase()) app.defaultVersion = undefined;
      await serviceContainer(a, pkg.container).getBlobClient(pkg.blobName).deleteIfExists().catch(() => undefined);
      return { status: 200 };
    });

  // Pools.
  const POOL = `${ACCOUNT_TYPE}/pools`;
  const POOL_PATH = `${BASE}/{accountName}/pools/{poolName}`;
  const armPackageRefs = (a: BatchAccountRecord, refs: unknown) => {
    if (!Array.isArray(refs)) throw batchError(400, "InvalidRequestContent", "applicationPackages must be an array.");
    const parsed = (refs as { id?: string; version?: string }[]).map((r) => {
      if (!r || typeof r.id !== "string" || !r.id) throw batchError(400, "InvalidRequestContent", "Each application package reference needs an id.");
      const m = /\/applications\/([^/]+)\/?$/i.exec(r.id);
      return { applicationId: m ? m[1] : r.id, ...(r.version ? { version: r.version } : {}) };
    });
    const { problems } = sim.resolvePackages(a, parsed);
    if (problems.length > 0) throw invalidReferences(a, problems);
    return parsed;
  };
  const invalidReferences = (a: BatchAccountRecord, problems: PackageProblem[]) =>
    batchError(
      409,
      "InvalidApplicationPackageReferences",
      "One or more application package references could not be satisfied. This occurs if the application id or version does not exist or is not active, or if the reference did not specify a version and there is no default version configured.",
      problems.map((p) => ({ code: "InvalidApplicationPackageReference", message: p.reason, target: `${appId(a, p.applicationId)}${p.version ? `:${p.version}` : ""}` })),
    );
  arm
    .add("GET", `${BASE}/{accountName}/pools`, { action: `${POOL}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      return page(req, [...a.pools.values()].map((p) => renderPool(a, p)));
    })
    .add("GET", POOL_PATH, { action: `${POOL}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("PATCH", POOL_PATH, { action: `${POOL}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      const ifMatch = req.headers["if-match"] as string | undefined;
      if (ifMatch && ifMatch !== "*" && ifMatch.replace(/^W\//, "").replace(/"/g, "") !== pool.eTag) {
        throw batchError(412, "PreconditionFailed", "The condition specified in the If-Match header was not met: the pool has changed.");
      }
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      const refs = props.applicationPackages !== undefined ? armPackageRefs(a, props.applicationPackages) : undefined;
      const scale = props.scaleSettings as { fixedScale?: Json; autoScale?: Json } | undefined;
      if (scale?.fixedScale && pool.allocationState !== "steady") throw batchError(409, "PoolBeingResized", "The specified pool is being resized.");
      if (refs) pool.applicationPackageReferences = refs;
      if (props.metadata !== undefined) pool.metadata = (props.metadata as PoolRecord["metadata"]) ?? [];
      if (props.startTask !== undefined) {
        const st = toDataTask(props.startTask) as Json | null;
        pool.startTask = st && st.commandLine ? (st as PoolRecord["startTask"]) : undefined;
      }
      if (props.certificates !== undefined) pool.certificateReferences = (props.certificates as Json[]) ?? [];
      if (props.targetNodeCommunicationMode !== undefined) pool.targetNodeCommunicationMode = String(props.targetNodeCommunicationMode).toLowerCase();
      if (scale?.autoScale) {
        if (typeof scale.autoScale.formula !== "string") throw batchError(400, "InvalidRequestContent", "scaleSettings.autoScale.formula is required.");
        sim.enableAutoScale(pool, scale.autoScale.formula, scale.autoScale.evaluationInterval as string | undefined);
      } else if (scale?.fixedScale) {
        if (pool.enableAutoScale) sim.disableAutoScale(pool);
        const f = scale.fixedScale;
        sim.resize(a, pool, {
          targetDedicatedNodes: (f.targetDedicatedNodes as number | undefined) ?? 0,
          targetLowPriorityNodes: (f.targetLowPriorityNodes as number | undefined) ?? 0,
          resizeTimeout: f.resizeTimeout as string | undefined,
          nodeDeallocationOption: f.nodeDeallocationOption ? (String(f.nodeDeallocationOption).toLowerCase() as never) : undefined,
        });
      }
      sim.touchPool(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("POST", `${POOL_PATH}/stopResize`, { action: `${POOL}/stopResize/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      sim.stopResize(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    })
    .add("POST", `${POOL_PATH}/disableAutoScale`, { action: `${POOL}/disableAutoScale/action`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const pool = getPool(a, req.params.poolName);
      sim.disableAutoScale(pool);
      return ok(renderPool(a, pool), `W/"${pool.eTag}"`);
    });
}
