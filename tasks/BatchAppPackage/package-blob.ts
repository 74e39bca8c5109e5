/**
 * The blob behind an application package version, reached at the storageUrl
 * Batch hands out: with the SAS it carries (auto-storage with storage keys),
 * else with the service connection's own Entra identity (auto-storage with
 * the Batch account's managed identity). Azure's URLs are host-style
 * (`https://<account>.blob.core.windows.net/<container>/<blob>`), an emulator's
 * path-style (`https://127.0.0.1:<port>/<account>/<container>/<blob>`); the
 * Blob client reads both.
 */
import type { TokenCredential } from "@azure/identity";
import { AnonymousCredential, BlockBlobClient } from "@azure/storage-blob";
import { errorCode, errorStatus } from "../../runtime/errors";
import { blobPipeline, type BlobClientOptions } from "../../runtime/blob-retry";

export type PackageBlobAuth = "sas" | "entra";

export interface PackageBlob {
  client: BlockBlobClient;
  auth: PackageBlobAuth;
  /** The URL without its query: safe to print. */
  displayUrl: string;
  accountName: string;
  containerName: string;
  blobName: string;
}

export interface OpenPackageBlobOptions {
  credential: TokenCredential;
  /** The runtime's retry policy, with these settings. */
  client?: BlobClientOptions;
  /** Masks the SAS (and its signature) in all later output. */
  setSecret(value: string): void;
}

export function openPackageBlob(storageUrl: string, options: OpenPackageBlobOptions): PackageBlob {
  const url = new URL(storageUrl);
  const sas = url.search.replace(/^\?/, "");
  const hasSas = new URLSearchParams(sas).has("sig");
  if (sas) {
    options.setSecret(sas);
    const sig = new URLSearchParams(sas).get("sig");
    if (sig) {
      options.setSecret(sig);
      options.setSecret(encodeURIComponent(sig));
    }
  }
  const client = hasSas
    ? new BlockBlobClient(storageUrl, blobPipeline(new AnonymousCredential(), options.client))
    : new BlockBlobClient(`${url.origin}${url.pathname}`, blobPipeline(options.credential, options.client));
  return {
    client,
    auth: hasSas ? "sas" : "entra",
    displayUrl: `${url.origin}${url.pathname}`,
    accountName: client.accountName,
    containerName: client.containerName,
    blobName: client.name,
  };
}

/** The blob's Content-MD5 (base64), or undefined when it has none or does not exist; other failures are thrown. */
export async function packageBlobMd5(blob: PackageBlob, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const properties = await blob.client.getProperties({ abortSignal: signal });
    const md5 = properties.contentMD5;
    return md5 && md5.length ? Buffer.from(md5).toString("base64") : undefined;
  } catch (e) {
    if (errorStatus(e) === 404 || errorCode(e) === "BlobNotFound") return undefined;
    throw e;
  }
}
