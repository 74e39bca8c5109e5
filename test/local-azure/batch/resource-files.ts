/**
 * Downloads a task's resource files into its working directory before the
 * command line runs, as the Batch node agent does: `httpUrl` (one file, at
 * `filePath`), `storageContainerUrl` (a container URL with its SAS; every blob
 * under `blobPrefix`, keeping blob names, below `filePath` when it is given)
 * and `autoStorageContainerName` (the same, in the account's auto-storage
 * account, reached with the Batch service's own access). On Linux a file
 * without `fileMode` gets 0770.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ContainerClient } from "@azure/storage-blob";
import type { BatchAccountRecord, Json } from "./state";

export interface ResourceFileFailure {
  category: "usererror";
  code: "BlobNotFound" | "BlobAccessDenied" | "BlobDownloadMiscError";
  message: string;
  details: { name: string; value: string }[];
}

/** How the simulation reaches an auto-storage container (set by the ARM provider, which owns auto-storage). */
export type AutoStorageContainer = (account: BatchAccountRecord, container: string) => ContainerClient;

class DownloadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Resolves a path below `root`; a path that would leave it is refused. */
function inside(root: string, relative: string): string {
  const target = path.resolve(root, relative);
  if (target !== root && !target.startsWith(root + path.sep)) throw new DownloadError(400, `The file path '${relative}' leaves the task working directory.`);
  return target;
}

async function fromContainer(container: ContainerClient, prefix: string | undefined, targetDir: string, mode: number): Promise<void> {
  for await (const blob of container.listBlobsFlat({ prefix })) {
    const target = inside(targetDir, blob.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await container.getBlobClient(blob.name).downloadToFile(target);
    fs.chmodSync(target, mode);
  }
}

function failure(e: unknown, file: Json): ResourceFileFailure {
  const status = e instanceof DownloadError ? e.status : ((e as { statusCode?: number }).statusCode ?? 0);
  const source = String(file.httpUrl ?? file.storageContainerUrl ?? file.autoStorageContainerName ?? "").split("?")[0];
  const details = [
    { name: "FilePath", value: String(file.filePath ?? "") },
    { name: "ResourceFileSource", value: source },
  ];
  if (status === 404) return { category: "usererror", code: "BlobNotFound", message: "The specified blob does not exist.", details };
  if (status === 403 || status === 401) return { category: "usererror", code: "BlobAccessDenied", message: "Access for one of the specified Azure Blob(s) is denied", details };
  return { category: "usererror", code: "BlobDownloadMiscError", message: `Miscellaneous error encountered while downloading one of the specified Azure Blob(s): ${(e as Error).message.split("\n")[0]}`, details };
}

/** Downloads every resource file; returns the first failure (the task then fails without running). */
export async function downloadResourceFiles(
  files: Json[] | undefined,
  workingDir: string,
  account: BatchAccountRecord,
  autoStorage: AutoStorageContainer | undefined,
): Promise<ResourceFileFailure | undefined> {
  for (const file of files ?? []) {
    const mode = typeof file.fileMode === "string" ? parseInt(file.fileMode, 8) : 0o770;
    try {
      if (typeof file.httpUrl === "string") {
        const target = inside(workingDir, String(file.filePath ?? path.basename(new URL(file.httpUrl).pathname)));
        const response = await fetch(file.httpUrl);
        if (!response.ok) throw new DownloadError(response.status, `GET ${file.httpUrl.split("?")[0]} answered ${response.status}.`);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, Buffer.from(await response.arrayBuffer()));
        fs.chmodSync(target, mode);
      } else if (typeof file.storageContainerUrl === "string") {
        const dir = inside(workingDir, String(file.filePath ?? "."));
        await fromContainer(new ContainerClient(file.storageContainerUrl, undefined, { retryOptions: { maxTries: 2 } }), file.blobPrefix as string | undefined, dir, mode);
      } else if (typeof file.autoStorageContainerName === "string") {
        if (!autoStorage) throw new DownloadError(409, "The Batch account has no auto-storage account.");
        const dir = inside(workingDir, String(file.filePath ?? "."));
        await fromContainer(autoStorage(account, file.autoStorageContainerName), file.blobPrefix as string | undefined, dir, mode);
      }
    } catch (e) {
      return failure(e, file);
    }
  }
  return undefined;
}
