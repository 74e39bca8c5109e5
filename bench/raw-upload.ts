/**
 * The ceiling: a plain parallel uploader written directly on
 * @azure/storage-blob (uploadFile per file, the task's block size and per-file
 * block concurrency, no listing, no hashing). Bundled and run as its own
 * process, like the task. With `hash`, it also MD5s each file first and sends
 * Content-MD5, as the task does (to split hashing's share from the rest). Reads its job as JSON from argv[2] and prints
 * {"files","bytes","transferMs"} on stdout. With `entra`, it signs in as a
 * service principal (for the like-for-like Entra comparison).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { ClientSecretCredential } from "@azure/identity";

interface Job {
  blobUrl: string;
  accountName: string;
  accountKey: string;
  container: string;
  source: string;
  concurrency: number;
  blockSizeBytes: number;
  hash?: boolean;
  /** Sign in with Entra (a service principal's secret) instead of the account key. */
  entra?: { authorityHost: string; tenantId: string; clientId: string; clientSecret: string };
}

async function md5(file: string): Promise<Buffer> {
  const h = crypto.createHash("md5");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest();
}

function listFiles(root: string, rel = ""): { rel: string; abs: string }[] {
  const out: { rel: string; abs: string }[] = [];
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, r));
    else if (entry.isFile()) out.push({ rel: r, abs: path.join(root, r) });
  }
  return out;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as Job;
  const credential = job.entra
    ? new ClientSecretCredential(job.entra.tenantId, job.entra.clientId, job.entra.clientSecret, { authorityHost: job.entra.authorityHost, disableInstanceDiscovery: true })
    : new StorageSharedKeyCredential(job.accountName, job.accountKey);
  const service = new BlobServiceClient(`${job.blobUrl}/`, credential);
  const container = service.getContainerClient(job.container);
  const files = listFiles(job.source);
  const started = performance.now();
  await container.createIfNotExists();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      await container.getBlockBlobClient(file.rel).uploadFile(file.abs, {
        blockSize: job.blockSizeBytes,
        maxSingleShotSize: job.blockSizeBytes,
        concurrency: 4,
        blobHTTPHeaders: job.hash ? { blobContentMD5: await md5(file.abs) } : undefined,
      });
      bytes += fs.statSync(file.abs).size;
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, files.length) }, worker));
  process.stdout.write(`${JSON.stringify({ files: files.length, bytes, transferMs: performance.now() - started })}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
