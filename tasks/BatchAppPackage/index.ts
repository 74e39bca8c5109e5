/**
 * BatchAppPackage@1: reads and checks the inputs, signs in, builds the
 * package (a deterministic zip of the folder, or the zip given), and
 * publishes it as a version of the Batch application.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { taskLibAgent } from "../../runtime/agent";
import { signIn } from "../../runtime/session";
import { explainSignInError } from "../../runtime/sign-in-errors";
import { batchManagementClient, resolveBatchAccount } from "../../runtime/batch";
import { TransferProgress, formatBytes, formatDuration } from "../../runtime/progress";
import { publishSummary } from "../../runtime/summary";
import { readPackageInputs } from "./inputs";
import { buildPackage } from "./source";
import { openPackageBlob } from "./package-blob";
import { publishPackage } from "./publish";
import { packageSummary } from "./summary";
import manifest from "./task.json";

void runTask(async ({ agent, signal }) => {
  const started = Date.now();
  const reader = new InputReader(agent, manifest);
  const inputs = readPackageInputs(reader, {
    buildNumber: agent.getVariable("Build.BuildNumber"),
    defaultWorkingDirectories: [agent.getVariable("System.DefaultWorkingDirectory"), agent.getVariable("Build.SourcesDirectory")],
  });
  for (const note of inputs.notes) agent.warning(note);

  const session = signIn(agent, reader, "azureSubscription", inputs.connectionId);
  const explainSignIn = async (e: unknown): Promise<never> => {
    throw await explainSignInError(e, session.connection);
  };
  // A read only: it runs while the package is zipped.
  const accountId = inputs.resourceGroupName
    ? `/subscriptions/${session.connection.subscriptionId}/resourceGroups/${inputs.resourceGroupName}/providers/Microsoft.Batch/batchAccounts/${inputs.batchAccount}`
    : inputs.batchAccount;
  const accountLookup = resolveBatchAccount(session, accountId).catch(rethrowForInput(reader, "batchAccountName"));
  accountLookup.catch(() => undefined); // awaited once the package is built

  const workDir = fs.mkdtempSync(path.join(agent.getVariable("Agent.TempDirectory") || os.tmpdir(), "batch-app-package-"));
  try {
    let zipProgress: TransferProgress | undefined;
    let zippedFiles = 0;
    let zippedBytes = 0;
    const pkg = await buildPackage(inputs.source, {
      outputDir: workDir,
      fileName: `${inputs.applicationName}.zip`,
      signal,
      fail: (input, message) => reader.fail(input, message),
      onWarning: (m) => agent.warning(m),
      onInfo: (m) => agent.info(m),
      onZipProgress: (bytes, total, entries, totalEntries) => {
        zipProgress ??= new TransferProgress(agent, { operation: "Zipping", totalItems: totalEntries, totalBytes: total });
        if (bytes > zippedBytes) zipProgress.addBytes(bytes - zippedBytes);
        zippedBytes = Math.max(zippedBytes, bytes);
        for (; zippedFiles < entries; zippedFiles++) zipProgress.itemDone();
      },
    });
    zipProgress?.finish();
    agent.info(
      `Package: ${pkg.zipped ? "zipped" : "given"} ${pkg.path}, ${pkg.entries} files, ${formatBytes(pkg.size)}${pkg.zipped ? ` from ${formatBytes(pkg.sourceBytes)}` : ""}; SHA-256 ${pkg.sha256}, MD5 ${pkg.md5}.`,
    );
    agent.setOutput("PackageSha256", pkg.sha256);

    const account = await accountLookup.catch(explainSignIn);
    let uploadProgress: TransferProgress | undefined;
    const result = await publishPackage(
      { resourceGroup: account.resourceGroup, accountName: account.name },
      {
        applicationName: inputs.applicationName,
        versionStrategy: inputs.versionStrategy,
        version: inputs.version,
        onExisting: inputs.onExisting,
        setDefaultVersion: inputs.setDefaultVersion,
        poolIds: inputs.poolIds,
        keepVersions: inputs.keepVersions,
        package: pkg,
      },
      {
        client: batchManagementClient(session, { subscriptionId: account.subscriptionId }),
        openBlob: (storageUrl) => openPackageBlob(storageUrl, { credential: session.credential, setSecret: (v) => session.setSecret(v) }),
        describeInput: (name) => reader.describe(name),
        log: { info: (m) => agent.info(m), warning: (m) => agent.warning(m), debug: (m) => agent.debug(m) },
        signal,
        onUploadStart: (bytes, blob) => {
          agent.info(`Uploading ${formatBytes(bytes)} to ${blob.displayUrl} (${blob.auth === "sas" ? "with the storageUrl's SAS" : "with the service connection's Entra identity"}).`);
          uploadProgress = new TransferProgress(agent, { operation: "Uploading", totalItems: 1, totalBytes: bytes });
        },
        onUploadBytes: (n) => uploadProgress?.addBytes(n),
        onUploadDone: () => {
          uploadProgress?.itemDone();
          uploadProgress?.finish();
        },
      },
    ).catch(explainSignIn);

    agent.setOutput("ApplicationId", result.applicationName);
    agent.setOutput("ApplicationVersion", result.version);
    agent.setOutput("PackageSkipped", String(result.action === "skip"));
    const table = packageSummary(result, pkg, { accountName: account.name, durationMs: Date.now() - started });
    publishSummary(agent, agent.getVariable("Agent.TempDirectory"), "batch-app-package", table);
    return result.action === "skip"
      ? `Published nothing: ${result.reason}. ${result.applicationName} ${result.version} is the package.`
      : `Published ${result.applicationName} ${result.version} (${formatBytes(pkg.size)}) in ${formatDuration(Date.now() - started)}.`;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}, taskLibAgent());
