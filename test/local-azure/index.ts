/**
 * The local Azure: starts every service on loopback over HTTPS and hands the
 * tests a handle to seed and inspect state, inject faults and read the log.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadOrCreateTlsMaterial, type TlsMaterial } from "./tls";
import { FaultInjector } from "./faults";
import { RequestLog, startService, type ServiceHost } from "./http";
import { EntraService, type EntraState, type AppRegistration } from "./entra";
import { DevOpsService, type DevOpsState } from "./devops";
import { ArmService, type ArmResourceGroup, type ArmState } from "./arm/core";
import { registerStorage, type StorageState } from "./arm/storage";
import { registerResources } from "./arm/resources";
import { startAzurite, startBlobProxy, type AzuriteProcess } from "./blob";
import { registerBatch } from "./arm/batch";
import { SimClock } from "./clock";
import { BatchDataPlane } from "./batch/dataplane";
import { BatchSimulation } from "./batch/simulation";
import { createAccount, DEFAULT_TIMINGS, type BatchState } from "./batch/state";
import { registerDataFactory } from "./arm/datafactory";
import { registerDataFactoryDatasets } from "./arm/datafactory-datasets";
import { batchCustomActivityBridge } from "./batch/custom-activity";
import { DataFactoryState } from "./datafactory/state";
import { seedReleaseFactory } from "./datafactory/seed";

export interface LocalAzureOptions {
  /** Where the CA and Azurite's data go; a fresh temp folder by default. */
  workDir?: string;
  /**
   * A folder with the CA and server certificate to reuse. The test runner makes
   * one before Node starts, so that NODE_EXTRA_CA_CERTS can name it
   * (default: LOCAL_AZURE_TLS_DIR, else a new CA in workDir).
   */
  tlsDir?: string;
  /** Keep blobs on disk instead of in memory (large benchmarks). */
  blobsOnDisk?: boolean;
  /** Seed for fault injection draws. */
  faultSeed?: number;
  /** Real milliseconds per simulated second; 1000 is real time. */
  msPerSimulatedSecond?: number;
  /** Name of the AzureRM service connection in `env`. */
  connectionName?: string;
}

export interface LocalAzureInfo {
  ready: true;
  caCertPath: string;
  authorityHost: string;
  armUrl: string;
  devopsUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  servicePrincipalObjectId: string;
  subscriptionId: string;
  resourceGroup: string;
  storage: { accountName: string; accountKey: string; blobUrl: string };
  dataFactory: { factoryName: string };
  managedIdentity: { clientId: string; objectId: string; endpoint: string; header: string };
  devops: { oidcRequestUri: string; accessToken: string; serviceConnectionId: string };
  /**
   * A second subscription in the same tenant, which the seeded principal may
   * read (a platform team's shared storage): its own resource group and
   * storage account. The service connection names the primary one.
   */
  otherSubscription: { subscriptionId: string; subscriptionName: string; resourceGroup: string; storage: { accountName: string; accountKey: string } };
  /** The seeded Batch account: its data-plane URL (the account endpoint with https://) and primary key. */
  batch: { accountName: string; accountKey: string; url: string; poolId: string };
  env: Record<string, string>;
}

export interface LocalAzure {
  info: LocalAzureInfo;
  tls: TlsMaterial;
  log: RequestLog;
  faults: FaultInjector;
  entra: EntraService;
  devops: DevOpsService;
  arm: ArmService;
  /** The Batch simulation: seed and read accounts, pools, nodes and applications; script nodes and tasks. */
  batch: BatchSimulation;
  state: { entra: EntraState; devops: DevOpsState; arm: ArmState; storage: StorageState; dataFactory: DataFactoryState; batch: BatchState };
  /** Registers another app (service principal) and returns it. */
  addApp(options?: Partial<AppRegistration>): AppRegistration;
  close(): Promise<void>;
}

const uuid = () => crypto.randomUUID();
const secret = () => crypto.randomBytes(24).toString("base64url");

export async function startLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "local-azure-"));
  const ownsWorkDir = !options.workDir;
  const connectionName = options.connectionName ?? "LocalAzure";
  const tls = await loadOrCreateTlsMaterial(options.tlsDir ?? process.env.LOCAL_AZURE_TLS_DIR ?? path.join(workDir, "tls"));
  const log = new RequestLog();
  const faults = new FaultInjector(options.faultSeed ?? 1);

  const tenantId = uuid();
  const spn: AppRegistration = { clientId: uuid(), objectId: uuid(), displayName: "release-pipeline", secrets: [secret()], certificates: [], federatedCredentials: [] };
  const entraState: EntraState = {
    tenantId,
    apps: new Map([[spn.clientId, spn]]),
    managedIdentities: [{ clientId: uuid(), objectId: uuid() }],
    identityHeader: secret(),
    tokenLifetimeSeconds: 3600,
    issued: [],
  };
  const connectionId = connectionName;
  const devopsState: DevOpsState = {
    organizationId: uuid(),
    organizationName: "contoso",
    projectName: "batch-release",
    accessToken: secret(),
    serviceConnections: new Map([[connectionId, connectionName]]),
    tokensIssued: 0,
    tokenLifetimeSeconds: 600,
  };
  const otherSubscription = { subscriptionId: uuid(), subscriptionName: "Shared Services" };
  const otherGroup = { name: "rg-shared-storage", location: "westeurope", subscriptionId: otherSubscription.subscriptionId };
  const armState: ArmState = {
    subscriptionId: uuid(),
    subscriptionName: "Local Azure",
    tenantId,
    otherSubscriptions: [otherSubscription],
    resourceGroups: new Map<string, ArmResourceGroup>([
      ["rg-batch-release", { name: "rg-batch-release", location: "westeurope" }],
      [otherGroup.name, otherGroup],
    ]),
    denyRules: [],
  };
  const accountKeys = () => [crypto.randomBytes(64).toString("base64"), crypto.randomBytes(64).toString("base64")] as [string, string];
  const storageAccount = { name: "releasestore", resourceGroup: "rg-batch-release", location: "westeurope", keys: accountKeys(), allowSharedKeyAccess: true, created: new Date().toISOString() };
  const otherStorageAccount = { name: "sharedreleasestore", resourceGroup: otherGroup.name, location: "westeurope", keys: accountKeys(), allowSharedKeyAccess: true, created: new Date().toISOString() };
  const storageState: StorageState = {
    accounts: new Map([
      [storageAccount.name, storageAccount],
      [otherStorageAccount.name, otherStorageAccount],
    ]),
    blobBaseUrl: "",
  };

  const batchAccount = createAccount({
    name: "releasebatch",
    resourceGroup: "rg-batch-release",
    location: "westeurope",
    autoStorage: { storageAccountName: storageAccount.name, authenticationMode: "StorageKeys" },
  });
  const batchState: BatchState = {
    accounts: new Map([[batchAccount.name, batchAccount]]),
    defaultAccountName: batchAccount.name,
    url: "",
    timings: { ...DEFAULT_TIMINGS },
  };
  const clock = new SimClock(options.msPerSimulatedSecond ?? 20);
  const batch = new BatchSimulation(batchState, clock);
  const seededPool = batch.addPool(batchAccount, {
    id: "adf-pool",
    vmSize: "STANDARD_D2S_V3",
    virtualMachineConfiguration: {
      imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts", version: "latest" },
      nodeAgentSKUId: "batch.node.ubuntu 20.04",
    },
    targetDedicatedNodes: 0,
    enableAutoScale: false,
  });

  const entra = new EntraService(entraState);
  const devops = new DevOpsService(devopsState);
  const arm = new ArmService(armState, entra);
  registerResources(arm);
  registerStorage(arm, storageState);
  const batchDataPlane = new BatchDataPlane(batch, entra);
  const dataFactoryState = new DataFactoryState({ tenantId, clock, blobBaseUrl: () => storageState.blobBaseUrl });
  registerDataFactory(arm, dataFactoryState);
  registerDataFactoryDatasets(arm, dataFactoryState);
  // Custom activities whose Batch linked service points at the local Batch run there as Batch tasks.
  dataFactoryState.customActivityBridge = batchCustomActivityBridge(batch, { blobBaseUrl: () => storageState.blobBaseUrl });
  seedReleaseFactory(dataFactoryState, {
    factoryName: "release-adf",
    resourceGroup: "rg-batch-release",
    location: "westeurope",
    storageAccountName: storageAccount.name,
    storageAccountKey: storageAccount.keys[0],
    batchAccountName: batchAccount.name,
    batchAccountKey: batchAccount.keys.primary,
    poolName: seededPool.id,
  });

  // Closing stops the clock, then kills Batch task processes and removes the nodes' folders.
  const started: { close(): Promise<void> }[] = [{ close: async () => (clock.close(), batch.close()) }];
  try {
    const azuritePromise = startAzurite({
      tls,
      accounts: [...storageState.accounts.values()].map((a) => ({ name: a.name, key: a.keys[0] })),
      location: options.blobsOnDisk ? path.join(workDir, "azurite") : undefined,
    });
    const [entraHost, devopsHost, armHost, batchHost] = await Promise.all([
      startService({ name: "entra", tls, errorShape: "entra", log, faults, handle: (r) => entra.handle(r) }),
      startService({ name: "devops", tls, errorShape: "plain", log, faults, handle: (r) => devops.handle(r), requestIdHeader: "activityid" }),
      startService({ name: "arm", tls, errorShape: "arm", log, faults, handle: (r) => arm.handle(r), requestIdHeader: "x-ms-request-id" }),
      startService({
        name: "batch",
        tls,
        errorShape: "batch",
        log,
        faults,
        handle: (r) => batchDataPlane.handle(r),
        requestIdHeader: "request-id",
        ownRequestIds: true,
        answerHeaders: (h) => batchDataPlane.answerHeaders(h),
        renderError: (e, id) => batchDataPlane.renderError(e, id),
      }),
    ]);
    started.push(entraHost, devopsHost, armHost, batchHost);
    batchState.url = batchHost.url;
    registerBatch(arm, { sim: batch, storage: storageState, entra });
    const azurite: AzuriteProcess = await azuritePromise;
    started.push(azurite);
    const blobHost: ServiceHost = await startBlobProxy({ tls, azuritePort: azurite.port, faults, log, entra, arm: armState, storage: storageState });
    started.push(blobHost);

    entra.baseUrl = entraHost.url;
    devops.baseUrl = devopsHost.url;
    storageState.blobBaseUrl = blobHost.url;
    entra.trustIssuer({ issuer: devops.issuer, publicKeyPem: devops.publicKeyPem });
    spn.federatedCredentials.push({ issuer: devops.issuer, subject: devops.subjectFor(connectionName), audiences: ["api://AzureADTokenExchange"] });

    const mi = entraState.managedIdentities[0];
    const msiEndpoint = `${entraHost.url}/msi/token`;
    const c = connectionName;
    const env: Record<string, string> = {
      NODE_EXTRA_CA_CERTS: tls.caCertPath,
      [`ENDPOINT_URL_${c}`]: `${armHost.url}/`,
      [`ENDPOINT_AUTH_${c}`]: JSON.stringify({
        scheme: "ServicePrincipal",
        parameters: { serviceprincipalid: spn.clientId, serviceprincipalkey: spn.secrets[0], tenantid: tenantId, authenticationType: "spnKey" },
      }),
      [`ENDPOINT_AUTH_SCHEME_${c}`]: "ServicePrincipal",
      [`ENDPOINT_AUTH_PARAMETER_${c}_SERVICEPRINCIPALID`]: spn.clientId,
      [`ENDPOINT_AUTH_PARAMETER_${c}_SERVICEPRINCIPALKEY`]: spn.secrets[0],
      [`ENDPOINT_AUTH_PARAMETER_${c}_TENANTID`]: tenantId,
      [`ENDPOINT_AUTH_PARAMETER_${c}_AUTHENTICATIONTYPE`]: "spnKey",
      [`ENDPOINT_DATA_${c}_SUBSCRIPTIONID`]: armState.subscriptionId,
      [`ENDPOINT_DATA_${c}_SUBSCRIPTIONNAME`]: armState.subscriptionName,
      [`ENDPOINT_DATA_${c}_ENVIRONMENT`]: "AzureCloud",
      [`ENDPOINT_DATA_${c}_ACTIVEDIRECTORYAUTHORITY`]: `${entraHost.url}/`,
      [`ENDPOINT_DATA_${c}_ENVIRONMENTAUTHORITYURL`]: `${entraHost.url}/`,
      [`ENDPOINT_DATA_${c}_ACTIVEDIRECTORYSERVICEENDPOINTRESOURCEID`]: "https://management.azure.com/",
      SYSTEM_OIDCREQUESTURI: devops.oidcRequestUri,
      // The agent hands the job token over as a secret, never as a plain variable.
      SECRET_SYSTEM_ACCESSTOKEN: devopsState.accessToken,
      ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({ scheme: "OAuth", parameters: { AccessToken: devopsState.accessToken } }),
      ENDPOINT_URL_SYSTEMVSSCONNECTION: `${devopsHost.url}/${devopsState.organizationName}/`,
      IDENTITY_ENDPOINT: msiEndpoint,
      IDENTITY_HEADER: entraState.identityHeader,
    };
    const info: LocalAzureInfo = {
      ready: true,
      caCertPath: tls.caCertPath,
      authorityHost: entraHost.url,
      armUrl: armHost.url,
      devopsUrl: devopsHost.url,
      tenantId,
      clientId: spn.clientId,
      clientSecret: spn.secrets[0],
      servicePrincipalObjectId: spn.objectId,
      subscriptionId: armState.subscriptionId,
      resourceGroup: "rg-batch-release",
      storage: { accountName: storageAccount.name, accountKey: storageAccount.keys[0], blobUrl: `${blobHost.url}/${storageAccount.name}` },
      otherSubscription: { ...otherSubscription, resourceGroup: otherGroup.name, storage: { accountName: otherStorageAccount.name, accountKey: otherStorageAccount.keys[0] } },
      dataFactory: { factoryName: "release-adf" },
      managedIdentity: { clientId: mi.clientId, objectId: mi.objectId, endpoint: msiEndpoint, header: entraState.identityHeader },
      devops: { oidcRequestUri: devops.oidcRequestUri, accessToken: devopsState.accessToken, serviceConnectionId: connectionId },
      batch: { accountName: batchAccount.name, accountKey: batchAccount.keys.primary, url: batchHost.url, poolId: seededPool.id },
      env,
    };
    return {
      info,
      tls,
      log,
      faults,
      entra,
      devops,
      arm,
      batch,
      state: { entra: entraState, devops: devopsState, arm: armState, storage: storageState, dataFactory: dataFactoryState, batch: batchState },
      addApp(partial = {}) {
        const app: AppRegistration = { clientId: uuid(), objectId: uuid(), displayName: "app", secrets: [secret()], certificates: [], federatedCredentials: [], ...partial };
        entraState.apps.set(app.clientId, app);
        return app;
      },
      async close() {
        dataFactoryState.close();
        await Promise.all(started.map((s) => s.close()));
        if (ownsWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    dataFactoryState.close();
    await Promise.all(started.map((s) => s.close()));
    throw e;
  }
}
