/**
 * The Copy activity, blob to blob, as ADF runs it for file-based stores: the
 * activity's input and output dataset references (parameters evaluated in the
 * pipeline's context, then the datasets' own expressions), AzureBlobStorage
 * locations, Binary or DelimitedText datasets, and the source's store
 * settings: `wildcardFolderPath`, `wildcardFileName` (`*` and `?`), `prefix`,
 * `recursive` (default true); the sink's `copyBehavior` PreserveHierarchy
 * (the default: paths below the source folder are kept).
 *
 * DelimitedText to DelimitedText with identical format settings, and Binary to
 * Binary, copy the bytes as they are; then ADF reports no row counts
 * (copy-activity-monitoring.md: rowsRead / rowsCopied "do not apply when
 * copying files as-is"). Different settings parse and rewrite each file and
 * report rowsRead and rowsCopied.
 *
 * The output has the fields of ADF's blob-to-blob quickstart output:
 * dataRead, dataWritten, filesRead, filesWritten, source/sinkPeakConnections,
 * copyDuration (s), throughput (KB/s = dataRead / copyDuration), errors,
 * effectiveIntegrationRuntime, usedDataIntegrationUnits, usedParallelCopies
 * and executionDetails with the queuing and transfer durations.
 *
 * Failures are ADF's Copy error 2200 with the connector's error inside the
 * message (`ErrorCode=UserErrorSourceBlobNotExists,...` when no file matches;
 * that wording is from ADF's messages, unconfirmed for a wildcard that
 * matches nothing). Anything this emulator does not do (other stores,
 * formats, copy behaviours, compression) fails with a message that says so.
 */
import * as path from "node:path";
import type { ContainerClient } from "@azure/storage-blob";
import type { ActivityContext, ActivityOutcome, ScriptedError } from "./activities";
import { regionDisplayName } from "./custom-output";
import { resolveDataset, type ResolvedDataset } from "./datasets";
import { convertDelimited, delimitedTextFormat, sameFormat, unsupportedFormat, type DelimitedTextFormat } from "./delimited-text";
import { evaluateValue } from "./expressions";
import { blobStorageAccess, StorageAccessError } from "./storage-access";
import type { Json, JsonObject, ReferenceJson } from "./types";

export const COPY_ERROR_CODE = "2200";

class CopyFailure extends Error {}

const notSupported = (what: string) => new CopyFailure(`The local Data Factory cannot run this Copy activity: ${what}.`);

interface BlobLocation {
  container: string;
  folderPath: string;
  fileName?: string;
}

function locationOf(dataset: ResolvedDataset, side: "source" | "sink"): BlobLocation {
  const location = (dataset.typeProperties.location ?? {}) as JsonObject;
  if (location.type !== "AzureBlobStorageLocation") {
    throw notSupported(`the ${side} dataset '${dataset.name}' has a location of type '${String(location.type ?? "none")}' (only AzureBlobStorageLocation is)`);
  }
  const text = (v: Json | undefined) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
  const container = text(location.container);
  if (!container) throw new CopyFailure(`ErrorCode=UserErrorInvalidContainer,'The ${side} dataset '${dataset.name}' names no container.'`);
  return { container, folderPath: text(location.folderPath).replace(/^\/+|\/+$/g, ""), fileName: text(location.fileName) || undefined };
}

/** `*` and `?` as ADF's wildcard file and folder names use them. */
function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("").map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`, "i");
}

const join = (...parts: string[]) => parts.filter(Boolean).join("/");

interface SourceFile {
  name: string;
  /** The path below the source folder, kept by PreserveHierarchy. */
  relative: string;
}

async function listSource(container: ContainerClient, location: BlobLocation, settings: JsonObject): Promise<{ files: SourceFile[]; folder: string }> {
  const recursive = settings.recursive !== false;
  const wildcardFolder = typeof settings.wildcardFolderPath === "string" ? settings.wildcardFolderPath.replace(/^\/+|\/+$/g, "") : undefined;
  const wildcardFile = typeof settings.wildcardFileName === "string" ? settings.wildcardFileName : undefined;
  const prefix = typeof settings.prefix === "string" ? settings.prefix : undefined;
  const folder = wildcardFolder ?? location.folderPath;
  if (!wildcardFile && !prefix && location.fileName) {
    const name = join(folder, location.fileName);
    const exists = await container.getBlobClient(name).exists();
    return { files: exists ? [{ name, relative: location.fileName }] : [], folder };
  }
  const folderPattern = wildcardFolder && /[*?]/.test(wildcardFolder) ? wildcard(wildcardFolder) : undefined;
  const listPrefix = prefix ?? (folderPattern ? folder.slice(0, folder.search(/[*?]/)) : folder ? `${folder}/` : undefined);
  const files: SourceFile[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: listPrefix || undefined })) {
    // Folder markers (zero-length blobs ending in /) are not files.
    if (blob.name.endsWith("/")) continue;
    const dir = path.posix.dirname(blob.name) === "." ? "" : path.posix.dirname(blob.name);
    const file = path.posix.basename(blob.name);
    let base: string;
    if (folderPattern) {
      const match = [...dir.split("/").keys()].map((i) => dir.split("/").slice(0, i + 1).join("/")).find((d) => folderPattern.test(d));
      if (!match) continue;
      base = match;
    } else base = prefix !== undefined ? "" : folder;
    const relative = base ? blob.name.slice(base.length + 1) : blob.name;
    if (!recursive && relative.includes("/")) continue;
    if (wildcardFile && !wildcard(wildcardFile).test(file)) continue;
    files.push({ name: blob.name, relative });
  }
  return { files, folder };
}

function datasetReference(activity: JsonObject, key: "inputs" | "outputs", ctx: ActivityContext): ReferenceJson {
  const list = activity[key];
  if (!Array.isArray(list) || list.length !== 1) throw notSupported(`it needs exactly one ${key === "inputs" ? "input" : "output"} dataset (it has ${Array.isArray(list) ? list.length : 0})`);
  return evaluateValue(list[0] as Json, ctx.expressions) as unknown as ReferenceJson;
}

type Transfer = { kind: "bytes" } | { kind: "rows"; source: DelimitedTextFormat; sink: DelimitedTextFormat };

function transferOf(source: ResolvedDataset, sink: ResolvedDataset): Transfer {
  if (source.type === "Binary" && sink.type === "Binary") return { kind: "bytes" };
  if (source.type === "DelimitedText" && sink.type === "DelimitedText") {
    const from = delimitedTextFormat(source.typeProperties);
    const to = delimitedTextFormat(sink.typeProperties);
    const unsupported = unsupportedFormat(from) ?? unsupportedFormat(to);
    if (unsupported) throw notSupported(`${unsupported} is not supported`);
    return sameFormat(from, to) ? { kind: "bytes" } : { kind: "rows", source: from, sink: to };
  }
  if (source.type === "Binary" || sink.type === "Binary") {
    throw new CopyFailure(`ErrorCode=UserErrorInvalidCopyBehaviorBinary,'A Binary dataset can only be copied to or from another Binary dataset (source '${source.type}', sink '${sink.type}').'`);
  }
  throw notSupported(`datasets of type '${source.type}' and '${sink.type}' (Binary and DelimitedText are)`);
}

export interface CopyActivityOptions {
  /** Local Blob endpoint base without the account. */
  blobBaseUrl: string;
}

function failed(message: string): ActivityOutcome {
  const error: ScriptedError = { errorCode: COPY_ERROR_CODE, message, failureType: "UserError" };
  return { status: "Failed", output: {}, error };
}

/** Runs a Copy activity for real against the local Blob service. */
export async function runCopyActivity(ctx: ActivityContext, options: CopyActivityOptions): Promise<ActivityOutcome> {
  const start = ctx.clock.now();
  const queueSeconds = 2;
  try {
    await ctx.clock.sleep(queueSeconds, ctx.signal);
    const activity = ctx.activity as unknown as JsonObject;
    const source = resolveDataset(ctx.factory, datasetReference(activity, "inputs", ctx), ctx.expressions);
    const sink = resolveDataset(ctx.factory, datasetReference(activity, "outputs", ctx), ctx.expressions);
    const transfer = transferOf(source, sink);
    const sourceSettings = ((ctx.typeProperties.source as JsonObject | undefined)?.storeSettings ?? {}) as JsonObject;
    const sinkSettings = ((ctx.typeProperties.sink as JsonObject | undefined)?.storeSettings ?? {}) as JsonObject;
    for (const [side, settings, expected] of [["source", sourceSettings, "AzureBlobStorageReadSettings"], ["sink", sinkSettings, "AzureBlobStorageWriteSettings"]] as const) {
      if (settings.type !== undefined && settings.type !== expected) throw notSupported(`the ${side} storeSettings are of type '${String(settings.type)}' (only ${expected} is)`);
    }
    const copyBehavior = typeof sinkSettings.copyBehavior === "string" ? sinkSettings.copyBehavior : "PreserveHierarchy";
    if (copyBehavior !== "PreserveHierarchy") throw notSupported(`copyBehavior '${copyBehavior}' (only PreserveHierarchy is)`);

    const from = locationOf(source, "source");
    const to = locationOf(sink, "sink");
    const sourceAccess = blobStorageAccess(ctx.factory, source.linkedServiceName, options.blobBaseUrl);
    const sinkAccess = blobStorageAccess(ctx.factory, sink.linkedServiceName, options.blobBaseUrl);
    const sourceContainer = sourceAccess.container(from.container);
    const { files, folder } = await listSource(sourceContainer, from, sourceSettings);
    if (files.length === 0) {
      const where = `${options.blobBaseUrl}/${sourceAccess.accountName}/${from.container}`;
      const containerExists = await sourceContainer.exists();
      throw new CopyFailure(
        `ErrorCode=UserErrorSourceBlobNotExists,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=The required Blob is missing. ContainerName: ${where}, ContainerExist: ${containerExists ? "True" : "False"}, BlobPrefix: ${folder}, BlobCount: 0.,Source=Microsoft.DataTransfer.ClientLibrary,'`,
      );
    }
    if (to.fileName && files.length > 1) throw notSupported(`the sink dataset '${sink.name}' names one file (${to.fileName}) but ${files.length} files match`);
    const sinkContainer = sinkAccess.container(to.container);
    await sinkContainer.createIfNotExists();

    let dataRead = 0;
    let dataWritten = 0;
    let rows = 0;
    const transferStart = Date.now();
    for (const file of files) {
      if (ctx.signal.aborted) break;
      const bytes = await sourceContainer.getBlobClient(file.name).downloadToBuffer();
      dataRead += bytes.length;
      let out: Buffer = bytes;
      if (transfer.kind === "rows") {
        const converted = convertDelimited(bytes.toString("utf8"), transfer.source, transfer.sink);
        out = Buffer.from(converted.output, "utf8");
        rows += converted.rows;
      }
      const target = join(to.folderPath, to.fileName ?? file.relative);
      await sinkContainer.getBlockBlobClient(target).uploadData(out);
      dataWritten += out.length;
    }
    // The transfer takes at least a simulated second, more for large data (about 10 MB/s per DIU-4 copy).
    const transferSeconds = Math.max(1, Math.ceil(dataRead / (10 * 1024 * 1024)));
    const spent = (Date.now() - transferStart) / ctx.clock.ms(1);
    if (spent < transferSeconds) await ctx.clock.sleep(transferSeconds - spent, ctx.signal);
    const copyDuration = queueSeconds + transferSeconds;
    const output: JsonObject = {
      dataRead,
      dataWritten,
      filesRead: files.length,
      filesWritten: files.length,
      sourcePeakConnections: 1,
      sinkPeakConnections: 1,
      ...(transfer.kind === "rows" ? { rowsRead: rows, rowsCopied: rows } : {}),
      copyDuration,
      throughput: Math.round((dataRead / 1024 / copyDuration) * 1000) / 1000,
      errors: [],
      effectiveIntegrationRuntime: `DefaultIntegrationRuntime (${regionDisplayName(ctx.factory.location)})`,
      usedDataIntegrationUnits: 4,
      usedParallelCopies: 1,
      executionDetails: [
        {
          source: { type: "AzureBlobStorage" },
          sink: { type: "AzureBlobStorage" },
          status: "Succeeded",
          start: start.toISOString(),
          duration: copyDuration,
          usedDataIntegrationUnits: 4,
          usedParallelCopies: 1,
          detailedDurations: { queuingDuration: queueSeconds, transferDuration: transferSeconds },
        },
      ],
    };
    return { status: "Succeeded", output };
  } catch (e) {
    if (e instanceof Error && e.name === "AbortError") throw e;
    if (e instanceof CopyFailure) return failed(e.message);
    if (e instanceof StorageAccessError) return failed(`ErrorCode=UserErrorInvalidCredential,'${e.message}'`);
    const status = (e as { statusCode?: number }).statusCode;
    if (status === 403 || status === 401) return failed(`ErrorCode=AzureBlobOperationFailed,'Blob operation failed: the storage account refused the credential (${status}).'`);
    throw e;
  }
}
