/**
 * Blob access for a storage account named in a task's inputs: the account is
 * found through ARM (its blob endpoint may be anywhere: sovereign clouds, DNS
 * zone endpoints, a local emulator), then reached with Entra ID, an account key
 * fetched through ARM, or a SAS token.
 */
import type { StorageAccount } from "@azure/arm-storage";
import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { describeError, errorCode, errorStatus, NotAuthorizedError, TaskError } from "./errors";
import { findArmResource } from "./arm-resources";
import { blobPipeline, type BlobClientOptions } from "./blob-retry";
import { storageManagementClient } from "./clients";
import type { AzureSession } from "./session";

export type BlobAuth = { kind: "entra" } | { kind: "accessKey" } | { kind: "sas"; token: string };

export interface ResolvedStorageAccount {
  name: string;
  resourceGroup: string;
  id: string;
  /**
   * The subscription the account is in (a resource id may name another than
   * the connection's); absent means the connection's. Pass it to a management
   * client built for the account: `storageManagementClient(session, { subscriptionId })`.
   */
  subscriptionId?: string;
  blobEndpoint: string;
  /** Hierarchical namespace (Data Lake Storage): directories are real, so a SAS can be scoped to one. */
  isHnsEnabled?: boolean;
}

export interface BlobAccess {
  account: ResolvedStorageAccount;
  service: BlobServiceClient;
  /** Present when the account key is in use (for SAS signing). */
  sharedKey?: StorageSharedKeyCredential;
  auth: BlobAuth["kind"];
}

const RESOURCE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i;

/**
 * Finds a storage account by name in the connection's subscription, or by
 * full resource id in the subscription the id names. Throws NotFoundError
 * (with the accounts the connection can see) or NotAuthorizedError (with the
 * role to grant); either names the id's subscription when the connection
 * cannot see it.
 */
export async function resolveStorageAccount(session: AzureSession, nameOrId: string): Promise<ResolvedStorageAccount> {
  const found = await findArmResource<StorageAccount>(session, nameOrId, {
    kind: "storage account",
    idPattern: RESOURCE_ID,
    readAction: "Microsoft.Storage/storageAccounts/read",
    get: (rg, name, subscriptionId) => storageManagementClient(session, { subscriptionId }).storageAccounts.getProperties(rg, name),
    list: () => storageManagementClient(session).storageAccounts.list(),
  });
  const blobEndpoint = found.resource.primaryEndpoints?.blob;
  if (!blobEndpoint) throw new TaskError("NoBlobEndpoint", `Storage account '${found.name}' has no Blob endpoint (kind ${found.resource.kind}).`);
  return { name: found.name, resourceGroup: found.resourceGroup, id: found.id, subscriptionId: found.subscriptionId, blobEndpoint, isHnsEnabled: found.resource.isHnsEnabled === true };
}

async function listAccountKey(session: AzureSession, account: ResolvedStorageAccount): Promise<string> {
  try {
    const keys = await storageManagementClient(session, { subscriptionId: account.subscriptionId }).storageAccounts.listKeys(account.resourceGroup, account.name);
    const key = keys.keys?.find((k) => k.value)?.value;
    if (!key) throw new TaskError("NoAccountKey", `Storage account '${account.name}' returned no keys.`);
    session.setSecret(key);
    return key;
  } catch (e) {
    if (errorStatus(e) === 403) {
      throw new NotAuthorizedError({
        operation: `list the keys of storage account '${account.name}'`,
        role: "Storage Account Key Operator Service Role",
        action: "Microsoft.Storage/storageAccounts/listKeys/action",
        scope: "on the account",
        alternative: "or use authType 'entra'",
        cause: e,
      });
    }
    throw e;
  }
}

export async function openBlobAccess(
  session: AzureSession,
  account: ResolvedStorageAccount,
  auth: BlobAuth,
  options: BlobClientOptions = {},
): Promise<BlobAccess> {
  switch (auth.kind) {
    case "entra":
      return { account, auth: "entra", service: new BlobServiceClient(account.blobEndpoint, blobPipeline(session.credential, options)) };
    case "accessKey": {
      const sharedKey = new StorageSharedKeyCredential(account.name, await listAccountKey(session, account));
      return { account, auth: "accessKey", sharedKey, service: new BlobServiceClient(account.blobEndpoint, blobPipeline(sharedKey, options)) };
    }
    case "sas": {
      const token = auth.token.replace(/^\?/, "");
      session.setSecret(token);
      const sig = new URLSearchParams(token).get("sig");
      if (sig) session.setSecret(sig);
      return { account, auth: "sas", service: new BlobServiceClient(`${account.blobEndpoint}?${token}`, blobPipeline(new AnonymousCredential(), options)) };
    }
  }
}

/** Turns Blob authorization failures into what to do about them. */
export function explainBlobError(error: unknown, access: Pick<BlobAccess, "account" | "auth">): unknown {
  const status = errorStatus(error);
  const code = errorCode(error);
  if (status !== 403) return error;
  const where = `storage account '${access.account.name}'`;
  if (access.auth === "entra" && (code === "AuthorizationPermissionMismatch" || code === "AuthorizationFailure")) {
    return new NotAuthorizedError({
      operation: `read and write blobs in ${where}`,
      role: "Storage Blob Data Contributor",
      scope: "on the account or the container (role assignments can take a few minutes to apply)",
      alternative: "or use authType 'accessKey'",
      cause: error,
    });
  }
  if (code === "KeyBasedAuthenticationNotPermitted") {
    return new TaskError("AuthorizationFailed", `Shared key access is disabled on ${where}, so '${access.auth}' cannot be used. Use authType 'entra'.`, { cause: error });
  }
  if (access.auth === "sas") {
    return new TaskError(
      "AuthorizationFailed",
      `The SAS token was refused by ${where} (${describeError(error)}). Check that it has read, write, list (and delete, for deleteStale) permission and has not expired.`,
      { cause: error },
    );
  }
  return error;
}
