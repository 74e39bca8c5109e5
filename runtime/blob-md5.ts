/**
 * MD5 as Blob storage uses it (Content-MD5, base64): of a buffer, or of a file
 * read as a stream.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";

export function md5Of(content: Buffer): Buffer {
  return crypto.createHash("md5").update(content).digest();
}

export async function md5OfFile(file: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<Buffer> {
  const hash = crypto.createHash("md5");
  const stream = fs.createReadStream(file, { highWaterMark: 1024 * 1024, signal });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return hash.digest();
}

/** A listing's Content-MD5 (bytes) as base64, or undefined when the blob has none. */
export function contentMd5Base64(md5: Uint8Array | undefined): string | undefined {
  return md5 && md5.length ? Buffer.from(md5).toString("base64") : undefined;
}
