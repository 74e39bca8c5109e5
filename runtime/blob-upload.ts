/**
 * Uploads one block blob with a Content-MD5 that is always the MD5 of the bytes
 * actually sent: a file is read once, each block hashed as it goes out, so a
 * file that changes during its upload still gets an MD5 that matches the blob.
 * Takes any BlockBlobClient: one from a service client (Entra, account key,
 * SAS) or one opened from a bare URL that carries its own SAS. Retries are
 * the client's pipeline's: open it with the runtime's (openBlobAccess,
 * blobPipeline, or blockBlobClientFromUrl for a bare URL), which honours
 * Retry-After on throttling and backs off on transient failures.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { BlockBlobClient } from "@azure/storage-blob";
import { errorStatus } from "./errors";
import { md5Of, md5OfFile } from "./blob-md5";

/** A body in memory, or a file; `md5`, when the caller has hashed it already, saves a read. */
export type UploadSource = { content: Buffer; md5?: Buffer } | { file: string; md5?: Buffer };

export interface Md5UploadOptions {
  /** Bodies above this size go up in blocks of this size. */
  blockSizeBytes: number;
  /** Blocks in flight for one blob. */
  blockConcurrency?: number;
  contentType?: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /** Bytes the service has acknowledged. */
  onBytes?(bytes: number): void;
}

export interface Md5UploadResult {
  /** The MD5 the blob carries: that of the bytes sent. */
  md5: Buffer;
  bytes: number;
}

/** Block ids as the SDK makes them (same length), so they mix with blocks an earlier SDK upload left uncommitted. */
function blockId(prefix: string, index: number): string {
  return Buffer.from(`${prefix}${String(index).padStart(6, "0")}`).toString("base64");
}

async function putWhole(blob: BlockBlobClient, content: Buffer, md5: Buffer, options: Md5UploadOptions): Promise<void> {
  await blob.upload(content, content.length, {
    abortSignal: options.signal,
    blobHTTPHeaders: { blobContentMD5: md5, blobContentType: options.contentType },
    metadata: options.metadata,
  });
  options.onBytes?.(content.length);
}

/** Reads blocks in order (hashing them), stages up to `blockConcurrency` at once, commits with the MD5 of everything read. */
async function putBlocks(blob: BlockBlobClient, readBlock: (index: number) => Promise<Buffer | undefined>, options: Md5UploadOptions): Promise<Md5UploadResult> {
  const hash = crypto.createHash("md5");
  const prefix = crypto.randomUUID();
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let bytes = 0;
  for (let index = 0; ; index++) {
    if (failure) break;
    const block = await readBlock(index);
    if (!block || block.length === 0) break;
    hash.update(block);
    bytes += block.length;
    const id = blockId(prefix, index);
    ids.push(id);
    const staged: Promise<void> = blob
      .stageBlock(id, block, block.length, { abortSignal: options.signal, transactionalContentMD5: md5Of(block) })
      .then(() => options.onBytes?.(block.length))
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inFlight.delete(staged));
    inFlight.add(staged);
    if (inFlight.size >= (options.blockConcurrency ?? 4)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  const md5 = hash.digest();
  await blob.commitBlockList(ids, { abortSignal: options.signal, blobHTTPHeaders: { blobContentMD5: md5, blobContentType: options.contentType }, metadata: options.metadata });
  return { md5, bytes };
}

/**
 * One Put Blob streamed from the file (no whole-file buffer), with the MD5 of
 * a hash pass in its header; the bytes sent are hashed too. If they differ
 * (the file changed in between) it is sent again; a file that keeps changing
 * is finally read into memory once, so header and body cannot disagree.
 */
async function putWholeFile(blob: BlockBlobClient, file: string, size: number, knownMd5: Buffer | undefined, options: Md5UploadOptions): Promise<Md5UploadResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const stats = attempt === 0 ? { size } : await fs.promises.stat(file);
    if (stats.size > options.blockSizeBytes || stats.size === 0) break;
    const md5 = attempt === 0 && knownMd5 ? knownMd5 : await md5OfFile(file, undefined, options.signal);
    let sent: crypto.Hash | undefined;
    try {
      await blob.upload(
        // A factory: the retry policy sends it again from the start.
        () => {
          const hash = crypto.createHash("md5");
          sent = hash;
          const stream = fs.createReadStream(file, { highWaterMark: 256 * 1024, end: Math.max(0, stats.size - 1), signal: options.signal });
          stream.on("data", (chunk) => hash.update(chunk as Buffer));
          return stream;
        },
        stats.size,
        { abortSignal: options.signal, blobHTTPHeaders: { blobContentMD5: md5, blobContentType: options.contentType }, metadata: options.metadata },
      );
    } catch (e) {
      // The service may check the header against the body (400 Md5Mismatch) and store nothing: if the file changed since it was hashed, hash and send it again.
      if (errorStatus(e) === 400 && !(await md5OfFile(file, undefined, options.signal)).equals(md5)) continue;
      // A file that shrank under the stream ends the request short: try again with what it is now.
      if (options.signal?.aborted || (e as NodeJS.ErrnoException).code === "ENOENT") throw e;
      if ((await fs.promises.stat(file)).size !== stats.size) continue;
      throw e;
    }
    if (sent && sent.digest().equals(md5)) {
      options.onBytes?.(stats.size);
      return { md5, bytes: stats.size };
    }
  }
  const content = await fs.promises.readFile(file, { signal: options.signal });
  return uploadWithMd5(blob, { content }, options);
}

export async function uploadWithMd5(blob: BlockBlobClient, source: UploadSource, options: Md5UploadOptions): Promise<Md5UploadResult> {
  const blockSize = options.blockSizeBytes;
  if ("content" in source) {
    const { content } = source;
    if (content.length <= blockSize) {
      const md5 = source.md5 ?? md5Of(content);
      await putWhole(blob, content, md5, options);
      return { md5, bytes: content.length };
    }
    return putBlocks(blob, async (i) => (i * blockSize < content.length ? content.subarray(i * blockSize, (i + 1) * blockSize) : undefined), options);
  }
  const { size } = await fs.promises.stat(source.file);
  if (size <= blockSize) return putWholeFile(blob, source.file, size, source.md5, options);
  const handle = await fs.promises.open(source.file, "r");
  try {
    return await putBlocks(
      blob,
      async () => {
        const buffer = Buffer.allocUnsafe(blockSize);
        let filled = 0;
        while (filled < blockSize) {
          const { bytesRead } = await handle.read(buffer, filled, blockSize - filled, null);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return filled === 0 ? undefined : buffer.subarray(0, filled);
      },
      options,
    );
  } finally {
    await handle.close();
  }
}
