/**
 * Uploads one block blob with a Content-MD5 that is always the MD5 of the bytes
 * actually sent: a file is read once, each block hashed as it goes out, so a
 * file that changes during its upload still gets an MD5 that matches the blob.
 * Takes any BlockBlobClient: one from a service client (Entra, account key,
 * SAS) or one opened from a bare URL that carries its own SAS.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { BlockBlobClient } from "@azure/storage-blob";
import { retryThrottled } from "./retry";
import { md5Of } from "./blob-md5";

export type UploadSource = { content: Buffer; md5?: Buffer } | { file: string };

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
  await retryThrottled(
    () =>
      blob.upload(content, content.length, {
        abortSignal: options.signal,
        blobHTTPHeaders: { blobContentMD5: md5, blobContentType: options.contentType },
        metadata: options.metadata,
      }),
    { signal: options.signal },
  );
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
    const staged: Promise<void> = retryThrottled(() => blob.stageBlock(id, block, block.length, { abortSignal: options.signal, transactionalContentMD5: md5Of(block) }), { signal: options.signal })
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
  await retryThrottled(
    () => blob.commitBlockList(ids, { abortSignal: options.signal, blobHTTPHeaders: { blobContentMD5: md5, blobContentType: options.contentType }, metadata: options.metadata }),
    { signal: options.signal },
  );
  return { md5, bytes };
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
  const handle = await fs.promises.open(source.file, "r");
  try {
    const { size } = await handle.stat();
    if (size <= blockSize) {
      // Read to the end (the file may have grown since it was listed): what is read is what is hashed and sent.
      const content = await handle.readFile({ signal: options.signal });
      if (content.length <= blockSize) {
        const md5 = md5Of(content);
        await putWhole(blob, content, md5, options);
        return { md5, bytes: content.length };
      }
      return await uploadWithMd5(blob, { content }, options);
    }
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
