/**
 * Data Factory's Custom activity as a real Batch task, the way ADF drives
 * Batch (see the reference notes on the Custom activity): ADF is a client of
 * the Batch data plane with the linked service's account name and access key,
 * and of the Blob storage its linked services name. The local Azure installs
 * this bridge for every Custom activity whose Batch linked service points at
 * the local Batch (`batchUri` an Azure Batch account URL,
 * `https://<account>.<region>.batch.azure.com`, or the local endpoint); a
 * test's scripted activity is still simulated (datafactory/custom-dispatch.ts).
 *
 * What a run does, in order, with ADF's error codes (TSG table):
 * - the Batch URL must be a URI (2509) and reach an account (2510: a name or
 *   region the local Batch does not have); the access key and pool must be
 *   right (2501, from Pool_Get);
 * - the storage linked service of the Batch linked service (`adfjobs`) and the
 *   `resourceLinkedService` need account keys to sign SAS URLs (2505) and must
 *   accept them (2502);
 * - every blob under `folderPath` becomes its own resource file (a read SAS
 *   for that blob, 30 days and an hour), flattened into the working directory
 *   (a name twice: 2508; nothing there: 2507; the list over 32,768
 *   characters: 2504), with activity.json, linkedServices.json and
 *   datasets.json beside them, their copies kept under
 *   `adfjobs/<taskId>/runtime/`;
 * - job `adfv2-<poolName>` (added when missing) gets one task whose id is the
 *   activity run id (unconfirmed, see the notes), running the evaluated
 *   command as the pool's non-admin auto-user; it waits for a node like any
 *   task, so an autoscale formula must bring one up when the pool is at 0;
 * - when the task completes, its stdout.txt and stderr.txt are copied to
 *   `adfjobs/<taskId>/output/`, `wd/outputs.json` becomes `customOutput`,
 *   and a failed task is ADF's 2500 (the exit code stays in the output);
 * - a cancelled or timed-out activity terminates the task (unconfirmed for
 *   ADF; here no process outlives its activity).
 *
 * The JSON files: activity.json is the activity (name, type,
 * linkedServiceName, typeProperties with expressions evaluated: unconfirmed,
 * the notes leave it open); linkedServices.json and datasets.json are the
 * referenced definitions as ADF holds them, secrets in plain text (Key Vault
 * references unresolved), as ADF hands them to programs on its Azure
 * integration runtime.
 */
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { BlobSASPermissions, type ContainerClient } from "@azure/storage-blob";
import * as path from "node:path";
import { abortError } from "../clock";
import { CUSTOM_NONZERO_EXIT_ERROR, type ActivityOutcome, type CustomActivityContext } from "../datafactory/activities";
import { customActivityOutput } from "../datafactory/custom-output";
import type { CustomActivityBridge } from "../datafactory/custom-dispatch";
import { findDataset } from "../datafactory/datasets";
import { findLinkedService } from "../datafactory/runs";
import { blobStorageAccess, secretText, StorageAccessError, type BlobStorageAccess } from "../datafactory/storage-access";
import type { JsonObject } from "../datafactory/types";
import type { BatchSimulation } from "./simulation";
import { findKey } from "./state";

export interface BatchCustomActivityOptions {
  /** Local Blob endpoint base without the account (read when an activity runs). */
  blobBaseUrl(): string;
  /** Simulated seconds between looks at the task (default 5). */
  pollSeconds?: number;
}

/** The most characters the generated resource files may take (ADF's TSG, error 2504). */
export const MAX_RESOURCE_FILES_CHARS = 32_768;

const AZURE_BATCH_HOST = /^([a-z0-9]+)\.([a-z0-9-]+)\.batch\.azure\.com$/i;

class BridgeFailure extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;
const codeOf = (e: unknown) => String((e as { code?: unknown; body?: { code?: unknown } }).code ?? (e as { body?: { code?: unknown } }).body?.code ?? "");

const BATCH_ACCESS = () => new BridgeFailure("2501", "Cannot access user batch account; please check batch account settings.");
const STORAGE_ACCESS = () => new BridgeFailure("2502", "Cannot access user storage account; please check storage account settings.");
const NO_ACCOUNT_KEY = () => new BridgeFailure("2505", "Cannot create Shared Access Signature unless Account Key credentials are used.");

function storageOf(ctx: CustomActivityContext, linkedServiceName: string, blobBaseUrl: string): BlobStorageAccess {
  try {
    const access = blobStorageAccess(ctx.factory, linkedServiceName, blobBaseUrl);
    if (!access.accountKey) throw NO_ACCOUNT_KEY();
    return access;
  } catch (e) {
    if (e instanceof StorageAccessError) throw e.reason === "credential" ? NO_ACCOUNT_KEY() : e.reason === "unsupported" ? new BridgeFailure("2502", e.message) : STORAGE_ACCESS();
    throw e;
  }
}

async function readStream(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function batchCustomActivityBridge(batch: BatchSimulation, options: BatchCustomActivityOptions): CustomActivityBridge {
  const localHost = () => {
    try {
      return new URL(batch.state.url).host.toLowerCase();
    } catch {
      return "";
    }
  };
  return {
    handles(ctx) {
      let url: URL;
      try {
        url = new URL(ctx.batch.batchUri);
      } catch {
        // Not a URI at all: ADF's 2509, which the bridge answers.
        return true;
      }
      return AZURE_BATCH_HOST.test(url.hostname) || url.host.toLowerCase() === localHost();
    },
    async run(ctx) {
      try {
        return await runOnBatch(batch, options, ctx, localHost());
      } catch (e) {
        if (e instanceof BridgeFailure) return { status: "Failed", output: {}, error: { errorCode: e.errorCode, message: e.message, failureType: "UserError" } };
        throw e;
      }
    },
  };
}

async function runOnBatch(batch: BatchSimulation, options: BatchCustomActivityOptions, ctx: CustomActivityContext, localHost: string): Promise<ActivityOutcome> {
  const { clock, signal } = ctx;
  const blobBaseUrl = options.blobBaseUrl();
  let url: URL;
  try {
    url = new URL(ctx.batch.batchUri);
  } catch {
    throw new BridgeFailure("2509", `Batch url ${ctx.batch.batchUri} is invalid; it must be in Uri format.`);
  }
  const host = AZURE_BATCH_HOST.exec(url.hostname);
  const hostAccount = host ? findKey(batch.state.accounts, host[1]) : url.host.toLowerCase() === localHost ? findKey(batch.state.accounts, ctx.batch.accountName) : undefined;
  if (!hostAccount || (host && hostAccount.location.toLowerCase() !== host[2].toLowerCase())) {
    // The name does not resolve: no such account in that region.
    throw new BridgeFailure("2510", "An error occurred while sending the request.");
  }
  const batchLs = findLinkedService(ctx.factory, ctx.batch.linkedServiceName);
  const bt = (batchLs?.properties.typeProperties ?? {}) as JsonObject;
  let accessKey: string | undefined;
  try {
    accessKey = secretText(bt.accessKey, `The 'accessKey' of linked service '${ctx.batch.linkedServiceName}'`);
  } catch (e) {
    if (e instanceof StorageAccessError) throw new BridgeFailure("2501", e.message);
    throw e;
  }
  if (!accessKey || hostAccount.name.toLowerCase() !== ctx.batch.accountName.toLowerCase()) throw BATCH_ACCESS();
  const client = new BatchServiceClient(new BatchSharedKeyCredentials(ctx.batch.accountName, accessKey), batch.state.url);
  let vmSize: string | undefined;
  try {
    vmSize = (await client.pool.get(ctx.batch.poolName)).vmSize?.toLowerCase();
  } catch (e) {
    if ([401, 403, 404].includes(statusOf(e) ?? 0)) throw BATCH_ACCESS();
    throw e;
  }

  const staging = storageOf(ctx, ctx.staging.linkedServiceName, blobBaseUrl);
  const adfjobs = staging.container("adfjobs");
  try {
    await adfjobs.createIfNotExists();
  } catch (e) {
    if ([401, 403].includes(statusOf(e) ?? 0)) throw STORAGE_ACCESS();
    throw e;
  }
  const now = clock.now();
  const sas = (c: ContainerClient, blob: string) =>
    c.getBlobClient(blob).generateSasUrl({ permissions: BlobSASPermissions.parse("r"), startsOn: now, expiresOn: new Date(now.getTime() + 30 * 86400_000 + 3600_000) });

  // Every blob under folderPath is its own resource file, flattened into the working directory.
  const resourceFiles: { httpUrl: string; filePath: string }[] = [];
  if (ctx.resources) {
    const access = storageOf(ctx, ctx.resources.linkedServiceName, blobBaseUrl);
    const [containerName, ...rest] = ctx.resources.folderPath.replace(/^\/+/, "").split("/");
    const prefix = rest.join("/").replace(/\/+$/, "");
    const source = access.container(containerName);
    const names = new Set<string>();
    try {
      for await (const blob of source.listBlobsFlat({ prefix: prefix ? `${prefix}/` : undefined })) {
        if (blob.name.endsWith("/")) continue;
        const name = path.posix.basename(blob.name);
        if (names.has(name)) throw new BridgeFailure("2508", "There are duplicate files in the resource folder.");
        names.add(name);
        resourceFiles.push({ httpUrl: await sas(source, blob.name), filePath: name });
      }
    } catch (e) {
      if (e instanceof BridgeFailure) throw e;
      if ([401, 403].includes(statusOf(e) ?? 0)) throw STORAGE_ACCESS();
      if (statusOf(e) !== 404) throw e;
    }
    if (names.size === 0) throw new BridgeFailure("2507", `The folder path does not exist or is empty: ${ctx.resources.folderPath}.`);
  }

  const referenced = (ctx.typeProperties.referenceObjects ?? {}) as { linkedServices?: { referenceName: string }[]; datasets?: { referenceName: string }[] };
  const runtimeFiles: Record<string, unknown> = {
    "activity.json": { name: ctx.activity.name, type: "Custom", linkedServiceName: ctx.activity.linkedServiceName, typeProperties: ctx.typeProperties },
    "linkedServices.json": (referenced.linkedServices ?? []).map((r) => {
      const ls = findLinkedService(ctx.factory, r.referenceName);
      return { name: ls?.name ?? r.referenceName, properties: ls?.properties ?? {} };
    }),
    "datasets.json": (referenced.datasets ?? []).map((r) => {
      const ds = findDataset(ctx.factory, r.referenceName);
      return { name: ds?.name ?? r.referenceName, properties: ds?.properties ?? {} };
    }),
  };
  for (const [name, content] of Object.entries(runtimeFiles)) {
    const blob = `${ctx.taskId}/runtime/${name}`;
    const text = JSON.stringify(content, null, 2);
    await adfjobs.getBlockBlobClient(blob).upload(text, Buffer.byteLength(text));
    resourceFiles.push({ httpUrl: await sas(adfjobs, blob), filePath: name });
  }
  if (JSON.stringify(resourceFiles).length > MAX_RESOURCE_FILES_CHARS) throw new BridgeFailure("2504", "Operation returned an invalid status code 'BadRequest'.");

  const jobId = ctx.batch.jobId;
  try {
    await client.job.add({ id: jobId, poolInfo: { poolId: ctx.batch.poolName } });
  } catch (e) {
    if (codeOf(e) !== "JobExists") throw e;
  }
  const retentionDays = Number(ctx.typeProperties.retentionTimeInDays ?? 30);
  await client.task.add(jobId, {
    id: ctx.taskId,
    commandLine: ctx.command,
    resourceFiles,
    constraints: { retentionTime: `P${Number.isFinite(retentionDays) && retentionDays > 0 ? retentionDays : 30}D` },
    userIdentity: { autoUser: { scope: "task", elevationLevel: "nonadmin" } },
  });

  // Wait for the task to complete, as ADF polls it; cancelling or timing out terminates it.
  const pollSeconds = options.pollSeconds ?? 5;
  let task;
  try {
    for (;;) {
      await clock.sleep(pollSeconds, signal);
      task = await client.task.get(jobId, ctx.taskId);
      if (task.state === "completed") break;
    }
  } catch (e) {
    if (signal.aborted) {
      await client.task.terminate(jobId, ctx.taskId).catch(() => undefined);
      throw abortError();
    }
    throw e;
  }

  const taskFile = async (name: string): Promise<Buffer | undefined> => {
    try {
      return await readStream((await client.file.getFromTask(jobId, ctx.taskId, name)).readableStreamBody);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  };
  for (const name of ["stdout.txt", "stderr.txt"]) {
    const content = (await taskFile(name)) ?? Buffer.alloc(0);
    await adfjobs.getBlockBlobClient(`${ctx.taskId}/output/${name}`).uploadData(content);
  }
  let customOutput: JsonObject | undefined;
  const outputs = await taskFile("wd/outputs.json");
  if (outputs) {
    try {
      const parsed = JSON.parse(outputs.toString("utf8")) as unknown;
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) customOutput = parsed as JsonObject;
    } catch {
      // ADF's behaviour for an outputs.json that is not JSON is not documented; it is left out.
    }
  }
  const info = task.executionInfo;
  const started = info?.startTime?.getTime();
  const ended = info?.endTime?.getTime();
  const output = customActivityOutput({
    exitCode: info?.exitCode ?? 1,
    adfJobsUrl: ctx.adfJobsUrl,
    batchAccountName: hostAccount.name,
    poolName: ctx.batch.poolName,
    vmSize,
    location: ctx.location,
    executionSeconds: started !== undefined && ended !== undefined ? (ended - started) / 1000 : 0,
    customOutput,
  });
  if (info?.result === "success") return { status: "Succeeded", output };
  // Without an exit code the command never ran (a resource file could not be downloaded): Batch's reason is kept in the message.
  const failure = info?.exitCode === undefined && info?.failureInfo ? ` Batch task failure: ${info.failureInfo.code}: ${info.failureInfo.message}` : "";
  return { status: "Failed", output, error: { ...CUSTOM_NONZERO_EXIT_ERROR, message: `${CUSTOM_NONZERO_EXIT_ERROR.message}${failure}` } };
}
