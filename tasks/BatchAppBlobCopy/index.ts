/**
 * BatchAppBlobCopy@1: reads and checks the inputs, signs in, and syncs the
 * application folder to its container prefix.
 */
import { InputReader } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { signIn } from "../../runtime/session";
import { explainBlobError, openBlobAccess, resolveStorageAccount } from "../../runtime/storage";
import { selectFiles } from "../../runtime/files";
import { TransferProgress, formatBytes, formatDuration } from "../../runtime/progress";
import { publishSummary } from "../../runtime/summary";
import { readBlobCopyInputs } from "./inputs";
import { syncFiles } from "./sync";
import { createReadSas } from "../../runtime/blob-sas";
import { blobPipelineOptions } from "../../runtime/blob-retry";
import manifest from "./task.json";

void runTask(async ({ agent, signal }) => {
  const reader = new InputReader(agent, manifest);
  const inputs = readBlobCopyInputs(reader);

  const selection = await selectFiles(inputs.sourceFolder, inputs.include, inputs.exclude);
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
  const totalBytes = selection.files.reduce((sum, f) => sum + f.size, 0);
  agent.info(`Source: ${selection.files.length} files, ${formatBytes(totalBytes)} in '${inputs.sourceFolder}'.`);

  const session = signIn(agent, reader, "azureSubscription", inputs.connectionId);
  const account = await resolveStorageAccount(session, reader, "storageAccount", inputs.storageAccount);
  const access = await openBlobAccess(session, account, inputs.auth, blobPipelineOptions());
  const container = access.service.getContainerClient(inputs.containerName);
  const containerUrl = `${account.blobEndpoint.replace(/\/?$/, "/")}${inputs.containerName}`;
  const prefixUrl = `${containerUrl}/${inputs.blobPrefix}`;
  agent.info(`Target: ${prefixUrl} (${inputs.mode}${inputs.deleteStale ? ", deleting stale blobs" : ""}${inputs.dryRun ? ", dry run" : ""}; auth ${access.auth}).`);

  const started = Date.now();
  const progress = new TransferProgress(agent, { operation: inputs.dryRun ? "Comparing" : "Syncing", totalItems: selection.files.length, totalBytes });
  const result = await syncFiles(
    container,
    selection.files,
    { prefix: inputs.blobPrefix, mode: inputs.mode, deleteStale: inputs.deleteStale, maxDeletes: inputs.maxDeletes, dryRun: inputs.dryRun, concurrency: inputs.concurrency, blockSizeBytes: inputs.blockSizeBytes, signal },
    { onBytes: (n) => progress.addBytes(n), onFileDone: () => progress.itemDone(), onPlanLine: (line) => agent.info(line) },
  ).catch((e: unknown) => {
    throw explainBlobError(e, access);
  });
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
      { containerName: inputs.containerName, prefix: inputs.blobPrefix, hours: inputs.readSasHours, hierarchicalNamespace: false },
    );
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
});
