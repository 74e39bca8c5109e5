/**
 * Blob reads for the pre-flight check (is the application's folder there?)
 * and the report (the tails of stdout.txt and stderr.txt), in the storage
 * accounts the factory's linked services name. Accounts are found through ARM;
 * blobs are read with the connection's Entra identity, and when that has no
 * data role (403) with the account key, if the connection may list it.
 * Credentials go only to the account's own blob endpoint: a URL from an
 * activity's output that points anywhere else is not read.
 */
import type { BlobServiceClient } from "@azure/storage-blob";
import { describeError, errorCode, errorStatus, NotAuthorizedError } from "../../runtime/errors";
import type { AzureSession } from "../../runtime/session";
import { openBlobAccess, resolveStorageAccount, type ResolvedStorageAccount } from "../../runtime/storage";
import type { BlobLister, StorageRef } from "./preflight";
import type { BlobTailReader } from "./report";

/** At most this many names are listed for a folder check (enough to tell empty from not, and to find duplicate names). */
const MAX_LISTED = 5000;

interface AccountAccess {
  account: ResolvedStorageAccount;
  entra: BlobServiceClient;
  key?: Promise<BlobServiceClient>;
  /** Set once Entra was refused, so later reads go straight to the key. */
  useKey: boolean;
}

const DATA_ROLE_REFUSED = new Set(["AuthorizationPermissionMismatch", "AuthorizationFailure"]);

/** The account a blob URL names: `<account>.blob.<suffix>`, or the first path segment on an IP or localhost endpoint. */
export function accountOfBlobUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (/^\d+\.\d+\.\d+\.\d+$|^localhost$|^\[.*\]$/.test(u.hostname)) return u.pathname.split("/").filter(Boolean)[0];
    return u.hostname.split(".")[0] || undefined;
  } catch {
    return undefined;
  }
}

export class StorageReader {
  private readonly accounts = new Map<string, Promise<AccountAccess>>();

  constructor(
    private readonly session: AzureSession,
    /** Says which credential is in use, once per account. */
    private readonly debug: (message: string) => void,
  ) {}

  /** For pre-flight: names under `container/prefix` of the linked service's account. */
  readonly listBlobs: BlobLister = async (container: string, prefix: string, storage: StorageRef) => {
    if (!storage.accountName) throw new Error(`the storage account of linked service '${storage.linkedServiceName}' is not shown in its definition`);
    return this.withService(storage.accountName, async (service) => {
      const names: string[] = [];
      for await (const blob of service.getContainerClient(container).listBlobsFlat({ prefix: prefix || undefined })) {
        names.push(blob.name);
        if (names.length >= MAX_LISTED) break;
      }
      return names;
    });
  };

  /** For the report: the last `maxBytes` of the blob a URL names. */
  readonly readBlobTail: BlobTailReader = async (url: string, maxBytes: number) => {
    const bare = url.split("?")[0] ?? url;
    const accountName = accountOfBlobUrl(bare);
    if (!accountName) throw new Error(`'${bare}' is not a blob URL`);
    return this.withService(accountName, async (service, account) => {
      const endpoint = account.blobEndpoint.replace(/\/?$/, "/");
      if (!bare.toLowerCase().startsWith(endpoint.toLowerCase())) {
        throw new Error(`'${bare}' is not on the blob endpoint of storage account '${account.name}' (${endpoint}), so it was not read`);
      }
      const [container = "", ...rest] = bare.slice(endpoint.length).split("/");
      const blob = service.getContainerClient(decodeURIComponent(container)).getBlobClient(rest.map(decodeURIComponent).join("/"));
      const size = (await blob.getProperties()).contentLength ?? 0;
      if (size === 0) return { bytes: Buffer.alloc(0), totalBytes: 0 };
      const offset = Math.max(0, size - maxBytes);
      const bytes = await blob.downloadToBuffer(offset, size - offset);
      return { bytes, totalBytes: size };
    });
  };

  /** Runs a read with Entra, and again with the account key when Entra has no data role. */
  private async withService<T>(accountName: string, read: (service: BlobServiceClient, account: ResolvedStorageAccount) => Promise<T>): Promise<T> {
    const access = await this.access(accountName);
    if (!access.useKey) {
      try {
        return await read(access.entra, access.account);
      } catch (error) {
        if (errorStatus(error) !== 403 || !DATA_ROLE_REFUSED.has(errorCode(error) ?? "")) throw error;
        access.useKey = true;
        access.key ??= this.keyService(access.account, error);
        this.debug(`Storage account '${access.account.name}': the service connection has no Blob data role (${errorCode(error)}); reading with the account key.`);
      }
    }
    return read(await access.key!, access.account);
  }

  private access(accountName: string): Promise<AccountAccess> {
    const key = accountName.toLowerCase();
    let found = this.accounts.get(key);
    if (!found) {
      found = this.lookup(accountName);
      this.accounts.set(key, found);
    }
    return found;
  }

  /** The account through ARM (a NotFoundError or NotAuthorizedError becomes the caller's note), with an Entra client. */
  private async lookup(accountName: string): Promise<AccountAccess> {
    const account = await resolveStorageAccount(this.session, accountName);
    const entra = (await openBlobAccess(this.session, account, { kind: "entra" })).service;
    return { account, entra, useKey: false };
  }

  private async keyService(account: ResolvedStorageAccount, entraError: unknown): Promise<BlobServiceClient> {
    try {
      return (await openBlobAccess(this.session, account, { kind: "accessKey" })).service;
    } catch (error) {
      throw new NotAuthorizedError({
        operation: `read blobs in storage account '${account.name}' (no Blob data role: ${describeError(entraError)}; and listing its keys failed: ${describeError(error)})`,
        role: "Storage Blob Data Reader",
        scope: "on the account",
        cause: error,
      });
    }
  }
}
