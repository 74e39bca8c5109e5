/**
 * How a run reaches the Blob storage a linked service names (AzureBlobStorage
 * or the older AzureStorage type): the account and its credential from the
 * stored definition, as ADF reads it (a connection string with AccountKey or
 * SharedAccessSignature, a SAS URI, or a separate `accountKey`), against the
 * local Blob service (every `*.blob.core.windows.net` endpoint is the local
 * one). Secrets come from the stored definition, which ADF holds decrypted;
 * what ARM answers is masked (see arm/datafactory.ts).
 *
 * Not reachable locally, and said so by name: Key Vault secret references
 * and identity-based access (serviceEndpoint with a managed identity or a
 * service principal), which need services the local Azure does not run for
 * Data Factory.
 */
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { findLinkedService } from "./runs";
import type { FactoryEntity, Json, JsonObject } from "./types";

export const BLOB_LINKED_SERVICE_TYPES = ["AzureBlobStorage", "AzureStorage"];

export interface BlobStorageAccess {
  linkedServiceName: string;
  accountName: string;
  /** The account key, when the linked service has one (needed to sign SAS URLs). */
  accountKey?: string;
  /** A SAS token (without `?`), when the linked service authenticates with one. */
  sasToken?: string;
  /** A container of the account, with the linked service's credential. */
  container(name: string): ContainerClient;
}

export class StorageAccessError extends Error {
  constructor(
    message: string,
    /** What is wrong: no such linked service, not Blob storage, no usable credential. */
    readonly reason: "missing" | "type" | "credential" | "unsupported",
  ) {
    super(message);
  }
}

/** A string property, or the value of a SecureString; Key Vault references are refused by name. */
export function secretText(value: Json | undefined, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "object" && !Array.isArray(value)) {
    if (value.type === "AzureKeyVaultSecret") {
      throw new StorageAccessError(`${what} is an Azure Key Vault secret reference, which the local Data Factory cannot resolve; give the value as a SecureString.`, "unsupported");
    }
    if (typeof value.value === "string") return value.value;
  }
  return undefined;
}

function connectionStringParts(cs: string): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const piece of cs.split(";")) {
    const eq = piece.indexOf("=");
    if (eq > 0) parts[piece.slice(0, eq).trim().toLowerCase()] = piece.slice(eq + 1).trim();
  }
  return parts;
}

/** Reads how to reach a Blob storage linked service; throws StorageAccessError when it cannot be reached locally. */
export function blobStorageAccess(factory: FactoryEntity, linkedServiceName: string, blobBaseUrl: string): BlobStorageAccess {
  const ls = findLinkedService(factory, linkedServiceName);
  if (!ls) throw new StorageAccessError(`The linked service '${linkedServiceName}' does not exist in factory '${factory.name}'.`, "missing");
  if (!BLOB_LINKED_SERVICE_TYPES.includes(ls.properties.type)) {
    throw new StorageAccessError(`The linked service '${ls.name}' is of type '${ls.properties.type}'; only Azure Blob Storage (${BLOB_LINKED_SERVICE_TYPES.join(", ")}) is supported here.`, "type");
  }
  const tp = (ls.properties.typeProperties ?? {}) as JsonObject;
  const what = (p: string) => `The '${p}' of linked service '${ls.name}'`;
  let accountName = "";
  let accountKey = secretText(tp.accountKey, what("accountKey"));
  let sasToken = secretText(tp.sasToken, what("sasToken"));
  const cs = secretText(tp.connectionString, what("connectionString"));
  if (cs) {
    const parts = connectionStringParts(cs);
    accountName = parts.accountname ?? "";
    accountKey ??= parts.accountkey;
    sasToken ??= parts.sharedaccesssignature;
    if (!accountName && parts.blobendpoint) accountName = /^https?:\/\/([^./]+)\./i.exec(parts.blobendpoint)?.[1] ?? "";
  }
  const sasUri = secretText(tp.sasUri, what("sasUri"));
  if (sasUri) {
    const url = new URL(sasUri);
    accountName ||= url.hostname.split(".")[0];
    sasToken ??= url.search.replace(/^\?/, "") || undefined;
  }
  const endpoint = typeof tp.serviceEndpoint === "string" ? tp.serviceEndpoint : undefined;
  if (!accountName && endpoint) accountName = /^https?:\/\/([^./]+)\./i.exec(endpoint)?.[1] ?? "";
  if (!accountName) throw new StorageAccessError(`The linked service '${ls.name}' names no storage account (connectionString, sasUri or serviceEndpoint).`, "credential");
  if (!accountKey && !sasToken) {
    throw new StorageAccessError(
      `The linked service '${ls.name}' has neither an account key nor a SAS; identity-based access (managed identity, service principal) is not available to the local Data Factory.`,
      "credential",
    );
  }
  const sas = sasToken?.replace(/^\?/, "");
  const base = `${blobBaseUrl}/${accountName}`;
  return {
    linkedServiceName: ls.name,
    accountName,
    accountKey,
    sasToken: sas,
    container: (name) =>
      accountKey
        ? new ContainerClient(`${base}/${name}`, new StorageSharedKeyCredential(accountName, accountKey), { retryOptions: { maxTries: 2 } })
        : new ContainerClient(`${base}/${name}?${sas}`, undefined, { retryOptions: { maxTries: 2 } }),
  };
}

/** The public blob URL ADF shows for a blob (outputs, monitoring), on the local Blob service. */
export function blobUrl(blobBaseUrl: string, accountName: string, path: string): string {
  return `${blobBaseUrl}/${accountName}/${path}`;
}
