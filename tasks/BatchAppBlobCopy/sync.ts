/**
 * Syncs a list of source files to a container prefix: list the prefix once,
 * hash each file, upload only what differs (always with Content-MD5, also on
 * multi-block uploads, where the SDK does not set it by itself), then delete
 * stale blobs under the prefix if asked. Block blobs commit at once, so a
 * reader never sees a half-written blob, and a run stopped anywhere can simply
 * be run again.
 */
import * as fs from "node:fs";
import { lookup as lookupMimeType } from "mime-types";
import type { ContainerClient } from "@azure/storage-blob";
import type { SourceFile } from "../../runtime/files";
import { TaskError } from "../../runtime/errors";
import { retryThrottled } from "../../runtime/retry";
import { forEachLimited } from "../../runtime/concurrency";
import { contentMd5Base64, md5Of, md5OfFile } from "../../runtime/blob-md5";
import { uploadWithMd5 } from "../../runtime/blob-upload";

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
  signal?: AbortSignal;
}

export interface SyncEvents {
  /** Bytes read or sent for a file (hashing counts for skipped files). */
  onBytes?(bytes: number): void;
  onFileDone?(file: SourceFile, action: "uploaded" | "skipped"): void;
  onPlanLine?(line: string): void;
}

export interface SyncResult {
  uploaded: number;
  skipped: number;
  deleted: number;
  bytesUploaded: number;
  /** Blob names (relative to the prefix) that were, or in a dry run would be, uploaded / deleted. */
  uploadedNames: string[];
  deletedNames: string[];
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

/** Stale blobs: under the prefix with no source file. Never anything outside the prefix. */
export function staleBlobNames(files: SourceFile[], existing: Map<string, ExistingBlob>): string[] {
  const wanted = new Set(files.map((f) => f.relativePath));
  return [...existing.keys()].filter((name) => !wanted.has(name)).sort();
}

export async function syncFiles(container: ContainerClient, files: SourceFile[], options: SyncOptions, events: SyncEvents = {}): Promise<SyncResult> {
  const retry = <T>(operation: () => Promise<T>) => retryThrottled(operation, { signal: options.signal });
  const { containerExists, blobs: existing } = await retry(() => listExistingBlobs(container, options.prefix, options.signal));
  const stale = options.deleteStale ? staleBlobNames(files, existing) : [];
  if (stale.length > options.maxDeletes) {
    throw new TaskError(
      "TooManyDeletes",
      `${stale.length} blobs under '${container.containerName}/${options.prefix}' have no source file and would be deleted, more than maxDeletes (${options.maxDeletes}). Nothing was changed. ` +
        `Check sourceFolder and blobPrefix, or raise maxDeletes if this is intended. First few: ${stale.slice(0, 5).join(", ")}.`,
    );
  }
  if (!options.dryRun && !containerExists) await retry(() => container.createIfNotExists({ abortSignal: options.signal }));

  const result: SyncResult = { uploaded: 0, skipped: 0, deleted: 0, bytesUploaded: 0, uploadedNames: [], deletedNames: [] };
  await forEachLimited(
    files,
    options.concurrency,
    async (file) => {
      const blob = existing.get(file.relativePath);
      // Small files: one read gives both the hash and the body, so the Content-MD5 always matches what is sent.
      const content = file.size <= READ_ONCE_MAX_BYTES ? await fs.promises.readFile(file.absolutePath, { signal: options.signal }) : undefined;
      if (content && options.mode === "sync") events.onBytes?.(content.length);
      const md5 = content ? md5Of(content) : await md5OfFile(file.absolutePath, options.mode === "sync" ? events.onBytes : undefined, options.signal);
      const unchanged = options.mode === "sync" && blob !== undefined && blob.size === file.size && blob.md5 === md5.toString("base64");
      if (unchanged) {
        result.skipped++;
        events.onFileDone?.(file, "skipped");
        return;
      }
      const reason = blob === undefined ? "new" : options.mode === "copy" ? "copy mode" : blob.md5 === undefined ? "no MD5 on blob" : "changed";
      if (options.dryRun) {
        events.onPlanLine?.(`Would upload ${file.relativePath} (${file.size} bytes, ${reason})`);
      } else {
        const blockBlob = container.getBlockBlobClient(options.prefix + file.relativePath);
        // The blob's MD5 is that of the bytes sent: a file that changed since it was hashed above is uploaded as it now is.
        await uploadWithMd5(blockBlob, content ? { content, md5 } : { file: file.absolutePath }, {
          blockSizeBytes: options.blockSizeBytes,
          blockConcurrency: 4,
          signal: options.signal,
          contentType: lookupMimeType(file.relativePath) || "application/octet-stream",
          onBytes: options.mode === "copy" ? events.onBytes : undefined,
        });
      }
      result.uploaded++;
      result.bytesUploaded += file.size;
      result.uploadedNames.push(file.relativePath);
      events.onFileDone?.(file, "uploaded");
    },
    options.signal,
  );

  if (stale.length) {
    if (options.dryRun) {
      for (const name of stale) events.onPlanLine?.(`Would delete ${options.prefix}${name}`);
      result.deleted = stale.length;
      result.deletedNames = stale;
    } else {
      await forEachLimited(
        stale,
        options.concurrency,
        async (name) => {
          await retry(() => container.deleteBlob(options.prefix + name, { deleteSnapshots: "include", abortSignal: options.signal })).catch((e: { statusCode?: number }) => {
            // Already gone (an earlier, interrupted run deleted it): that is the goal.
            if (e.statusCode !== 404) throw e;
          });
          result.deleted++;
          result.deletedNames.push(name);
        },
        options.signal,
      );
    }
  }
  result.uploadedNames.sort();
  result.deletedNames.sort();
  return result;
}
