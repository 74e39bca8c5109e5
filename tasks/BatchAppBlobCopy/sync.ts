/**
 * Syncs source files to a container prefix: list the prefix once, hash each
 * file, upload only what differs (always with Content-MD5 of the bytes sent),
 * then delete stale blobs under the prefix if asked. Block blobs commit at
 * once, so a reader never sees a half-written blob, and a run stopped anywhere
 * can simply be run again.
 *
 * What the run manages: the blob names its source files map to, and, for
 * deleting, the blobs under the prefix that its include/exclude patterns
 * select. A blob it uploaded or found up to date is never deleted by it.
 */
import * as fs from "node:fs";
import { lookup as lookupMimeType } from "mime-types";
import type { ContainerClient } from "@azure/storage-blob";
import { explainFileError, type SourceFile } from "../../runtime/files";
import type { NamedFile } from "../../runtime/blob-naming";
import { describeError, errorCode, errorStatus, TaskError } from "../../runtime/errors";
import { forEachLimited } from "../../runtime/concurrency";
import { contentMd5Base64, md5Of, md5OfFile } from "../../runtime/blob-md5";
import { uploadWithMd5 } from "../../runtime/blob-upload";
import { isLockBlobName } from "../../runtime/blob-lock";

export interface ExistingBlob {
  size: number;
  /** Base64 Content-MD5, when the blob has one. */
  md5?: string;
}

export interface SyncOptions {
  prefix: string;
  mode: "sync" | "copy";
  deleteStale: boolean;
  maxDeletes: number;
  dryRun: boolean;
  concurrency: number;
  blockSizeBytes: number;
  /** Whether a blob name (below the prefix) is selected by the include/exclude patterns; unselected blobs are never deleted. */
  isManaged?: (name: string) => boolean;
  signal?: AbortSignal;
}

export interface SyncEvents {
  /** Bytes read or sent for a file (hashing counts for skipped files). */
  onBytes?(bytes: number): void;
  onFileDone?(file: SourceFile, action: "uploaded" | "skipped"): void;
  onPlanLine?(line: string): void;
  onWarning?(message: string): void;
}

export interface SyncResult {
  uploaded: number;
  skipped: number;
  deleted: number;
  bytesUploaded: number;
  /** Blob names (relative to the prefix) that were, or in a dry run would be, uploaded / deleted. */
  uploadedNames: string[];
  deletedNames: string[];
  /** Blobs in the listing (under the prefix). */
  existingCount: number;
}

/**
 * Lists the prefix once. Listing is also how the container's existence is
 * learnt: a container SAS may list blobs but not read container properties.
 */
export async function listExistingBlobs(container: ContainerClient, prefix: string, signal?: AbortSignal): Promise<{ containerExists: boolean; blobs: Map<string, ExistingBlob> }> {
  const blobs = new Map<string, ExistingBlob>();
  try {
    for await (const blob of container.listBlobsFlat({ prefix, abortSignal: signal })) {
      blobs.set(blob.name.slice(prefix.length), { size: blob.properties.contentLength ?? -1, md5: contentMd5Base64(blob.properties.contentMD5) });
    }
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return { containerExists: false, blobs };
    throw e;
  }
  return { containerExists: true, blobs };
}

/**
 * Files up to this size are read once: hashed and sent from the same buffer,
 * instead of read to hash and read again to upload. Most files of an
 * application tree are this small; with at most `concurrency` buffers at once
 * the memory stays bounded (16 MB at the default 16).
 */
export const READ_ONCE_MAX_BYTES = 1024 * 1024;

/**
 * Stale blobs: under the prefix, selected by the patterns, with no source
 * file, and not a lock blob. Never anything outside the prefix.
 */
export function staleBlobNames(wanted: ReadonlySet<string>, existing: ReadonlyMap<string, ExistingBlob>, isManaged: (name: string) => boolean = () => true): string[] {
  return [...existing.keys()].filter((name) => !wanted.has(name) && !isLockBlobName(name) && isManaged(name)).sort();
}

/** A blob someone else holds a lease on cannot be written or deleted without that lease id. */
function explainLeased(error: unknown, containerName: string, blobName: string, action: "overwritten" | "deleted"): unknown {
  if (errorCode(error) !== "LeaseIdMissing" && errorCode(error) !== "LeaseIdMismatchWithBlobOperation") return error;
  return Object.assign(
    new TaskError(
      "BlobLeased",
      `Blob '${containerName}/${blobName}' has an active lease held by someone else (${errorCode(error)}), so it cannot be ${action}. Find what holds it (a running job or another tool), let it finish or break the lease (az storage blob lease break), then run the task again; blobs done so far are kept.`,
    ),
    { cause: error },
  );
}

/** A listing that failed, with what was being listed and what to do. */
export function explainListingError(error: unknown, containerName: string, prefix: string): unknown {
  const status = errorStatus(error);
  if (status !== undefined && status < 500 && status !== 408) return error;
  return Object.assign(
    new TaskError(
      "ListFailed",
      `Listing the blobs under '${containerName}/${prefix}' failed after retries: ${describeError(error)}. Nothing was changed. This is a fault on the service or network side: run the task again; if it persists, check the storage account's health and the agent's network.`,
    ),
    { cause: error },
  );
}

export async function syncFiles(container: ContainerClient, files: NamedFile<SourceFile>[], options: SyncOptions, events: SyncEvents = {}): Promise<SyncResult> {
  const { containerExists, blobs: existing } = await listExistingBlobs(container, options.prefix, options.signal).catch((e: unknown) => {
    throw explainListingError(e, container.containerName, options.prefix);
  });
  const wanted = new Set(files.map((f) => f.name));
  const stale = options.deleteStale ? staleBlobNames(wanted, existing, options.isManaged) : [];
  const overCap = stale.length > options.maxDeletes;
  const tooManyDeletes = () =>
    new TaskError(
      "TooManyDeletes",
      `${stale.length} blobs under '${container.containerName}/${options.prefix}' have no source file and would be deleted, more than maxDeletes (${options.maxDeletes}). Nothing was changed. ` +
        `Check sourceFolder and blobPrefix, or raise maxDeletes if this is intended. First few: ${stale.slice(0, 5).join(", ")}.`,
    );
  if (overCap && !options.dryRun) throw tooManyDeletes();
  if (!options.dryRun && !containerExists) await container.createIfNotExists({ abortSignal: options.signal });

  const result: SyncResult = { uploaded: 0, skipped: 0, deleted: 0, bytesUploaded: 0, uploadedNames: [], deletedNames: [], existingCount: existing.size };
  /** Names this run uploaded or found up to date: never deleted by it. */
  const kept = new Set<string>();
  await forEachLimited(
    files,
    options.concurrency,
    ({ file, name }) => syncOne(file, name).catch((e: unknown) => {
      throw explainFileError(explainLeased(e, container.containerName, options.prefix + name, "overwritten"), file);
    }),
    options.signal,
  );
  async function syncOne(file: SourceFile, name: string): Promise<void> {
    const blob = existing.get(name);
    // Small files: one read gives both the hash and the body, so the Content-MD5 always matches what is sent.
    const content = file.size <= READ_ONCE_MAX_BYTES ? await fs.promises.readFile(file.absolutePath, { signal: options.signal }) : undefined;
    if (content && options.mode === "sync") events.onBytes?.(content.length);
    const md5 = content ? md5Of(content) : options.mode === "sync" ? await md5OfFile(file.absolutePath, events.onBytes, options.signal) : undefined;
    const size = content?.length ?? file.size;
    const unchanged = options.mode === "sync" && blob !== undefined && md5 !== undefined && blob.size === size && blob.md5 === md5.toString("base64");
    if (unchanged) {
      kept.add(name);
      result.skipped++;
      events.onFileDone?.(file, "skipped");
      return;
    }
    const reason = blob === undefined ? "new" : options.mode === "copy" ? "copy mode" : blob.md5 === undefined ? "no MD5 on blob" : "changed";
    if (options.dryRun) {
      events.onPlanLine?.(`Would upload ${name} (${size} bytes, ${reason})`);
    } else {
      const blockBlob = container.getBlockBlobClient(options.prefix + name);
      // The blob's MD5 is that of the bytes sent: a file that changed since it was hashed above is uploaded as it now is.
      const sent = await uploadWithMd5(blockBlob, content ? { content, md5 } : { file: file.absolutePath, md5 }, {
        blockSizeBytes: options.blockSizeBytes,
        blockConcurrency: 4,
        signal: options.signal,
        contentType: lookupMimeType(file.relativePath) || "application/octet-stream",
        onBytes: options.mode === "copy" ? events.onBytes : undefined,
      });
      if (md5 && !sent.md5.equals(md5)) {
        events.onWarning?.(`'${file.relativePath}' changed while it was being uploaded; the blob holds the file as it was read during the upload (its Content-MD5 matches that). Run the task again once the file is stable.`);
      }
    }
    kept.add(name);
    result.uploaded++;
    result.bytesUploaded += size;
    result.uploadedNames.push(name);
    events.onFileDone?.(file, "uploaded");
  }

  const toDelete = stale.filter((name) => !kept.has(name));
  if (toDelete.length) {
    if (options.dryRun) {
      for (const name of toDelete) events.onPlanLine?.(`Would delete ${options.prefix}${name}`);
      result.deleted = toDelete.length;
      result.deletedNames = toDelete;
    } else {
      await forEachLimited(
        toDelete,
        options.concurrency,
        async (name) => {
          await container.deleteBlob(options.prefix + name, { deleteSnapshots: "include", abortSignal: options.signal }).catch((e: { statusCode?: number }) => {
            // Already gone (an earlier, interrupted run deleted it): that is the goal.
            if (e.statusCode !== 404) throw explainLeased(e, container.containerName, options.prefix + name, "deleted");
          });
          result.deleted++;
          result.deletedNames.push(name);
        },
        options.signal,
      );
    }
  }
  // A dry run shows its whole plan first, then fails as the real run would.
  if (overCap) throw tooManyDeletes();
  result.uploadedNames.sort();
  result.deletedNames.sort();
  return result;
}
