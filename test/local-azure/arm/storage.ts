/**
 * Microsoft.Storage on the local ARM: storage account get/list and listKeys.
 * An account is in its resource group's subscription (the front door has
 * checked that the group is in the path's subscription).
 * Each account's blob endpoint is the local Blob service (Azurite behind the
 * local proxy), path-style: https://127.0.0.1:P/<account>/.
 */
import { ServiceError, type AzureResponse } from "../http";
import { findByName, resourceId, resourceNotFound, type ApiVersions, type ArmService } from "./core";

export interface StorageAccount {
  name: string;
  resourceGroup: string;
  location: string;
  keys: [string, string];
  /** When false, the Blob service refuses shared key and account SAS requests, as Azure does. */
  allowSharedKeyAccess: boolean;
  created: string;
}

export interface StorageState {
  accounts: Map<string, StorageAccount>;
  /** Blob endpoint base, without the account: https://127.0.0.1:P */
  blobBaseUrl: string;
}

const TYPE = "Microsoft.Storage/storageAccounts";

/**
 * Microsoft.Storage/storageAccounts api-versions. Served: the stable and
 * preview versions of the Microsoft.Storage REST specs, the ones ARM lists in
 * its NoRegisteredProviderFound answers quoted in public issue reports
 * (2016-07-01 among them), up to 2025-08-01, which @azure/arm-storage 20
 * sends. Answered here: 2021-01-01 and later, whose account shape
 * (allowSharedKeyAccess, primaryEndpoints) is the one rendered; older ones
 * are 501 NotImplemented.
 */
export const STORAGE_API_VERSIONS: ApiVersions = {
  served: [
    "2025-08-01", "2025-06-01", "2025-01-01", "2024-01-01", "2023-05-01", "2023-04-01", "2023-01-01", "2022-09-01", "2022-05-01",
    "2021-09-01", "2021-08-01", "2021-06-01", "2021-05-01", "2021-04-01", "2021-02-01", "2021-01-01", "2020-08-01-preview",
    "2019-06-01", "2019-04-01", "2018-11-01", "2018-07-01", "2018-03-01-preview", "2018-02-01", "2017-10-01", "2017-06-01",
    "2016-12-01", "2016-07-01", "2016-05-01", "2016-01-01", "2015-06-15", "2015-05-01-preview",
  ],
  emulated: [
    "2025-08-01", "2025-06-01", "2025-01-01", "2024-01-01", "2023-05-01", "2023-04-01", "2023-01-01", "2022-09-01", "2022-05-01",
    "2021-09-01", "2021-08-01", "2021-06-01", "2021-05-01", "2021-04-01", "2021-02-01", "2021-01-01",
  ],
};

export function registerStorage(arm: ArmService, state: StorageState): void {
  const render = (a: StorageAccount) => ({
    id: resourceId(arm.subscriptionOf(a.resourceGroup), a.resourceGroup, "Microsoft.Storage", "storageAccounts", a.name),
    name: a.name,
    type: TYPE,
    location: a.location,
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    tags: {},
    properties: {
      provisioningState: "Succeeded",
      creationTime: a.created,
      primaryLocation: a.location,
      statusOfPrimary: "available",
      allowSharedKeyAccess: a.allowSharedKeyAccess,
      allowBlobPublicAccess: false,
      minimumTlsVersion: "TLS1_2",
      supportsHttpsTrafficOnly: true,
      accessTier: "Hot",
      primaryEndpoints: { blob: `${state.blobBaseUrl}/${a.name}/` },
    },
  });
  const get = (rg: string, name: string): StorageAccount => {
    const account = findByName(state.accounts, name);
    if (!account || account.resourceGroup.toLowerCase() !== rg.toLowerCase()) throw resourceNotFound(TYPE, name, rg);
    return account;
  };
  const base = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts";
  arm
    .add("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/storageAccounts", { action: `${TYPE}/read`, versions: STORAGE_API_VERSIONS }, (req): AzureResponse => ({
      status: 200,
      body: { value: [...state.accounts.values()].filter((a) => arm.inSubscription(req, a.resourceGroup)).map(render) },
    }))
    .add("GET", base, { action: `${TYPE}/read`, versions: STORAGE_API_VERSIONS }, (req): AzureResponse => ({
      status: 200,
      body: { value: [...state.accounts.values()].filter((a) => a.resourceGroup.toLowerCase() === req.params.resourceGroupName.toLowerCase()).map(render) },
    }))
    .add("GET", `${base}/{accountName}`, { action: `${TYPE}/read`, versions: STORAGE_API_VERSIONS }, (req): AzureResponse => ({
      status: 200,
      body: render(get(req.params.resourceGroupName, req.params.accountName)),
    }))
    .add("POST", `${base}/{accountName}/listKeys`, { action: `${TYPE}/listKeys/action`, versions: STORAGE_API_VERSIONS }, (req): AzureResponse => {
      const a = get(req.params.resourceGroupName, req.params.accountName);
      if (req.query.get("$expand") && req.query.get("$expand") !== "kerb") {
        throw new ServiceError(400, "InvalidParameter", "Value for $expand is invalid.");
      }
      return {
        status: 200,
        body: { keys: a.keys.map((value, i) => ({ keyName: `key${i + 1}`, value, permissions: "FULL", creationTime: a.created })) },
      };
    });
}
