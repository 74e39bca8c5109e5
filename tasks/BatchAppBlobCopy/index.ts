/**
 * BatchAppBlobCopy@1: reads and checks the inputs, signs in, and syncs the
 * application folder to its container prefix.
 */
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { taskLibAgent } from "../../runtime/agent";
import { signIn } from "../../runtime/session";
import { explainSignInError } from "../../runtime/sign-in-errors";
import { explainBlobError, openBlobAccess, resolveStorageAccount, type BlobAccess } from "../../runtime/storage";
import { pathSelector, selectFiles } from "../../runtime/files";
import { encodeBlobPath, nameFiles } from "../../runtime/blob-naming";
import { acquireBlobLock, lockBlobName, type HeldLock } from "../../runtime/blob-lock";
import { TaskError } from "../../runtime/errors";
import type { ContainerClient } from "@azure/storage-blob";
import { TransferProgress, formatBytes, formatDuration } from "../../runtime/progress";
import { publishSummary } from "../../runtime/summary";
import { readBlobCopyInputs } from "./inputs";
import { syncFiles } from "./sync";
import { createReadSas } from "../../runtime/blob-sas";
import manifest from "./task.json";

/** The scope Blob storage tokens are asked for (the same in every public and sovereign cloud). */
const BLOB_TOKEN_SCOPE = "https://storage.azure.com/.default";

/** Inputs that carry secrets: masked before anything reads them. */
const SECRET_INPUTS = ["sasToken"];

void runTask(async ({ agent, signal }) => {
  const reader = new InputReader(agent, manifest);
  const inputs = readBlobCopyInputs(reader);

  const session = signIn(agent, reader, "azureSubscription", inputs.connectionId);
  const explainSignIn = async (e: unknown): Promise<never> => {
    throw await explainSignInError(e, session.connection);
  };
  // Reads only, so they start now and overlap the scan of the source folder: the account's lookup
  // through ARM (and its key), and with Entra the Blob token, which the credential then has cached.
  const accessLookup = resolveStorageAccount(session, inputs.storageAccount)
    .catch(rethrowForInput(reader, "storageAccount"))
    .then((account) => openBlobAccess(session, account, inputs.auth));
  accessLookup.catch(() => undefined); // awaited below, once the source folder has been checked
  if (inputs.auth.kind === "entra") session.credential.getToken(BLOB_TOKEN_SCOPE, { abortSignal: signal }).catch(() => undefined);

  const selection = await selectFiles(inputs.sourceFolder, inputs.include, inputs.exclude, { followSymlinks: inputs.followSymlinks });
  if (selection.scanned === 0) {
    reader.fail("sourceFolder", `'${inputs.sourceFolder}' is empty: no files to upload. An empty folder is almost always a wrong path (check the artifact download step).`);
  }
  if (selection.unmatchedIncludes.length) {
    reader.fail("include", `${selection.unmatchedIncludes.map((p) => `'${p}'`).join(", ")} matched no file under '${inputs.sourceFolder}'. Check the patterns (they are relative to the source folder).`);
  }
  if (selection.files.length === 0) {
    reader.fail("exclude", `the exclude patterns leave no files to upload from '${inputs.sourceFolder}'.`);
  }
  for (const pattern of selection.unmatchedExcludes) agent.warning(`Exclude pattern '${pattern}' matched no file.`);
  if (selection.skipped.length) {
    const shown = selection.skipped.slice(0, 10).map((p) => `'${p.relativePath}' (${p.reason})`);
    agent.warning(
      `${selection.skipped.length} path(s) in '${inputs.sourceFolder}' are not regular files and were skipped: ${shown.join(", ")}${selection.skipped.length > shown.length ? `, and ${selection.skipped.length - shown.length} more` : ""}.`,
    );
  }
  if (selection.outsideLinks.length) {
    const shown = selection.outsideLinks.slice(0, 10).map((l) => `'${l.relativePath}' -> '${l.target}'`);
    agent.warning(
      `${selection.outsideLinks.length} symbolic link(s) lead outside '${inputs.sourceFolder}' and were followed: ${shown.join(", ")}${selection.outsideLinks.length > shown.length ? `, and ${selection.outsideLinks.length - shown.length} more` : ""}. Set followSymlinks: false to skip links.`,
    );
  }
  // Names Azure would refuse or store under another name are refused before anything changes.
  const naming = nameFiles(inputs.blobPrefix, selection.files);
  if (naming.refused.length) {
    const shown = naming.refused.slice(0, 20).map((r) => `'${r.relativePath}': ${r.problem}`);
    throw new TaskError(
      "InvalidBlobNames",
      `${naming.refused.length} file(s) in '${inputs.sourceFolder}' have names Blob storage would refuse or store under another name (a sync would then delete them as stale). Nothing was changed. ` +
        `Rename them or leave them out with 'exclude': ${shown.join("; ")}${naming.refused.length > shown.length ? `; and ${naming.refused.length - shown.length} more` : ""}.`,
    );
  }
  const totalBytes = selection.files.reduce((sum, f) => sum + f.size, 0);
  agent.info(`Source: ${selection.files.length} files, ${formatBytes(totalBytes)} in '${inputs.sourceFolder}'.`);

  return copy(await accessLookup.catch(explainSignIn)).catch(explainSignIn);

  async function copy(access: BlobAccess): Promise<string> {
    const account = access.account;
    const container = access.service.getContainerClient(inputs.containerName);
    const containerUrl = `${account.blobEndpoint.replace(/\/?$/, "/")}${inputs.containerName}`;
    // Percent-encoded: '#', '?', '%' or a space in the prefix would otherwise break the URL (a SAS would land in its fragment).
    const prefixUrl = `${containerUrl}/${encodeBlobPath(inputs.blobPrefix)}`;
    agent.info(`Target: ${prefixUrl} (${inputs.mode}${inputs.deleteStale ? ", deleting stale blobs" : ""}${inputs.dryRun ? ", dry run" : ""}; auth ${access.auth}).`);

    // One run at a time per prefix: a lease on a lock blob beside it, renewed while the run works.
    let lock: HeldLock | undefined;
    if (!inputs.dryRun) {
      // The container is created when the lock finds it missing (one round trip less on every run).
      lock = await acquireBlobLock(container, inputs.blobPrefix, { description: describeRun(agent) }, { signal, onContainerMissing: () => createContainer(container, access.auth, signal) }).catch((e: unknown) => {
        throw explainBlobError(e, access);
      });
      agent.debug(`Holding the lock ${inputs.containerName}/${lock.name}.`);
    }
    const runSignal = lock ? AbortSignal.any([signal, lock.lost]) : signal;

    const started = Date.now();
    const progress = new TransferProgress(agent, { operation: inputs.dryRun ? "Comparing" : "Syncing", totalItems: selection.files.length, totalBytes });
    const isManaged = pathSelector(inputs.include, inputs.exclude);
    const result = await syncFiles(
      container,
      naming.named,
      {
        prefix: inputs.blobPrefix,
        mode: inputs.mode,
        deleteStale: inputs.deleteStale,
        maxDeletes: inputs.maxDeletes,
        dryRun: inputs.dryRun,
        concurrency: inputs.concurrency,
        blockSizeBytes: inputs.blockSizeBytes,
        isManaged,
        signal: runSignal,
      },
      { onBytes: (n) => progress.addBytes(n), onFileDone: () => progress.itemDone(), onPlanLine: (line) => agent.info(line), onWarning: (m) => agent.warning(m) },
    )
      .catch((e: unknown) => {
        throw lock?.lost.aborted ? lock.lost.reason : explainBlobError(e, access);
      })
      .finally(() => lock?.release());
    progress.finish();
    const duration = Date.now() - started;

    agent.setOutput("ContainerUrl", containerUrl);
    agent.setOutput("BlobPrefixUrl", prefixUrl);
    agent.setOutput("UploadedCount", String(result.uploaded));
    agent.setOutput("SkippedCount", String(result.skipped));
    agent.setOutput("DeletedCount", String(result.deleted));
    if (inputs.readSasHours > 0 && !inputs.dryRun) {
      const sas = await createReadSas(
        { accountName: account.name, sharedKey: access.sharedKey, service: access.service },
        { containerName: inputs.containerName, prefix: inputs.blobPrefix, hours: inputs.readSasHours, hierarchicalNamespace: account.isHnsEnabled === true },
      );
      if (sas.scope === "directory") {
        agent.info(`ReadSasUrl is a directory SAS: it reads and lists '${inputs.containerName}/${inputs.blobPrefix}' only (the account has hierarchical namespace).`);
      } else if (inputs.blobPrefix) {
        agent.info(
          `ReadSasUrl reads and lists the whole container '${inputs.containerName}', not only '${inputs.blobPrefix}': on an account without hierarchical namespace a SAS cannot be scoped to a folder.`,
        );
        if (await hasBlobsOutsidePrefix(container, inputs.blobPrefix, signal)) {
          agent.warning(
            `Container '${inputs.containerName}' holds blobs outside '${inputs.blobPrefix}', and ReadSasUrl can read them too. Give each application its own container if whoever gets the URL must not read the others.`,
          );
        }
      }
      session.setSecret(sas.query);
      const sasUrl = `${prefixUrl}?${sas.query}`;
      agent.setOutput("ReadSasUrl", sasUrl, { secret: true });
    }

    const verb = inputs.dryRun ? "Would upload" : "Uploaded";
    publishSummary(agent, agent.getVariable("Agent.TempDirectory"), "batch-app-blob-copy", {
      title: `Batch app copy${inputs.dryRun ? " (dry run)" : ""}: ${inputs.containerName}/${inputs.blobPrefix}`,
      rows: [
        ["Target", prefixUrl],
        [verb, `${result.uploaded} files (${formatBytes(result.bytesUploaded)})`],
        ["Up to date (skipped)", String(result.skipped)],
        [inputs.dryRun ? "Would delete" : "Deleted", String(result.deleted)],
        ["Duration", formatDuration(duration)],
      ],
    });
    return `${verb} ${result.uploaded}, skipped ${result.skipped}, ${inputs.dryRun ? "would delete" : "deleted"} ${result.deleted}.`;
  }
}, taskLibAgent({ secretInputs: SECRET_INPUTS }));

/** Creates the missing container (private); a container SAS cannot, so it is told what to do instead. */
async function createContainer(container: ContainerClient, auth: string, signal: AbortSignal): Promise<void> {
  if (auth === "sas") {
    throw new TaskError(
      "ContainerNotFound",
      `Container '${container.containerName}' does not exist, and a container SAS cannot create it. Create the container (or check containerName for a typo), or give a SAS whose resource types include containers (srt=sco, permission c).`,
    );
  }
  await container.createIfNotExists({ abortSignal: signal });
}

/**
 * Whether the container holds anything beside the prefix: one short listing
 * per folder level along the prefix (names are sorted, so three entries tell).
 */
async function hasBlobsOutsidePrefix(container: ContainerClient, prefix: string, signal: AbortSignal): Promise<boolean> {
  const segments = prefix.replace(/\/$/, "").split("/");
  let parent = "";
  for (const [i, segment] of segments.entries()) {
    const expected = new Set([`${parent}${segment}/`]);
    if (i === segments.length - 1) expected.add(lockBlobName(prefix));
    const page = (await container.listBlobsByHierarchy("/", { prefix: parent, abortSignal: signal }).byPage({ maxPageSize: 3 }).next()).value;
    const names = [...(page?.segment.blobPrefixes ?? []).map((p: { name: string }) => p.name), ...(page?.segment.blobItems ?? []).map((b: { name: string }) => b.name)];
    if (names.some((n) => !expected.has(n))) return true;
    parent = `${parent}${segment}/`;
  }
  return false;
}

/** Which run this is, as the lock blob tells a second run. */
function describeRun(agent: { getVariable(name: string): string | undefined }): string {
  const v = (name: string) => agent.getVariable(name) || undefined;
  const parts = [
    v("Release.ReleaseName") ? `release '${v("Release.ReleaseName")}'` : v("Build.BuildNumber") ? `build '${v("Build.BuildNumber")}'` : undefined,
    v("Build.DefinitionName") ?? v("Release.DefinitionName") ? `pipeline '${v("Build.DefinitionName") ?? v("Release.DefinitionName")}'` : undefined,
    v("System.TeamProject") ? `project '${v("System.TeamProject")}'` : undefined,
    v("System.JobId") ? `job ${v("System.JobId")}` : undefined,
    v("Agent.Name") ? `agent '${v("Agent.Name")}'` : undefined,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : `process ${process.pid}`;
}
