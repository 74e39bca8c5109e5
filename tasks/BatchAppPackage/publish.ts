/**
 * Publishes a package as a version of a Batch application, through ARM:
 * every read and check first (account and its auto-storage, application,
 * versions and their packages' MD5, pools and their reference limit), then
 * the changes: application created if missing, version created (or a pending
 * one resumed, or an active one overwritten), upload to its storageUrl,
 * activation, default version, pool references, and retention.
 */
import type { ApplicationPackage, BatchManagementClient, Pool } from "@azure/arm-batch";
import { describeError, errorCode, errorStatus, InputError, NotAuthorizedError, TaskError } from "../../runtime/errors";
import { uploadWithMd5 } from "../../runtime/blob-upload";
import type { PackageFile } from "./source";
import { packageBlobMd5, type PackageBlob, type PackageBlobAuth } from "./package-blob";
import { describeReference, MAX_POOL_PACKAGE_REFERENCES, planPoolReferences, type PackageReference, type PoolReferencePlan } from "./pools";
import {
  compareSemver,
  decideOnExisting,
  newestActiveVersion,
  nextPatchVersion,
  parseSemver,
  planRetention,
  resolveVersion,
  VersionInputError,
  type ExistingDecision,
  type ExistingVersion,
  type OnExisting,
  type SemanticVersion,
  type VersionStrategy,
} from "./versions";

export interface PublishTarget {
  resourceGroup: string;
  accountName: string;
}

export interface PublishRequest {
  applicationName: string;
  versionStrategy: VersionStrategy;
  /** The version for `explicit` and `buildNumber`, worked out from the inputs. */
  version?: string;
  onExisting: OnExisting;
  setDefaultVersion: boolean;
  poolIds: readonly string[];
  keepVersions: number;
  package: PackageFile;
}

export interface PublishLog {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
}

export interface PublishDependencies {
  client: BatchManagementClient;
  /** Opens the blob at a version's storageUrl (with its SAS, or the connection's Entra identity). */
  openBlob(storageUrl: string): PackageBlob;
  /** `'name' (Label)`, as input errors name an input. */
  describeInput?(name: string): string;
  log: PublishLog;
  signal: AbortSignal;
  /** Block size for the upload (default 8 MiB) and blocks in flight (default 8). */
  blockSizeBytes?: number;
  blockConcurrency?: number;
  onUploadStart?(bytes: number, blob: PackageBlob): void;
  onUploadBytes?(bytes: number): void;
  onUploadDone?(): void;
}

export type PublishAction = ExistingDecision["action"];

export interface PublishResult {
  applicationName: string;
  applicationResourceId: string;
  applicationCreated: boolean;
  version: string;
  action: PublishAction;
  reason: string;
  /** How the package went to storage; undefined when nothing was uploaded. */
  upload?: { auth: PackageBlobAuth; bytes: number; url: string };
  /** A resumed version whose blob already held this package. */
  alreadyUploaded: boolean;
  defaultVersion?: string;
  /** The default version before, when this run changed it. */
  previousDefault?: { version?: string };
  pools: { poolId: string; changed: boolean; previous: string[] }[];
  pruned: { version: string; reason: string }[];
  /** Versions spared by retention although older than keepVersions, and why. */
  spared: { version: string; reason: string }[];
}

const UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024;
const BATCH = "Microsoft.Batch/batchAccounts";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function toExisting(pkg: ApplicationPackage): ExistingVersion {
  return { version: pkg.name ?? "", state: pkg.state === "Active" ? "Active" : "Pending", lastActivationTime: pkg.lastActivationTime };
}

const poolName = (pool: Pool) => pool.name ?? /\/pools\/([^/]+)$/i.exec(pool.id ?? "")?.[1] ?? "";
const sameName = (a: string | undefined, b: string | undefined) => (a ?? "").toLowerCase() === (b ?? "").toLowerCase();

/**
 * The version the strategy gives. nextPatch takes over a pending version that
 * is the highest present: an earlier run created it and stopped before
 * activating, and finishing it keeps the numbers without a gap.
 */
export function chooseVersion(request: Pick<PublishRequest, "versionStrategy" | "version">, sha256: string, existing: readonly ExistingVersion[]): string {
  if (request.versionStrategy === "nextPatch") {
    let highest: { parsed: SemanticVersion; version: ExistingVersion } | undefined;
    for (const v of existing) {
      const parsed = parseSemver(v.version);
      if (parsed && (!highest || compareSemver(parsed, highest.parsed) > 0)) highest = { parsed, version: v };
    }
    if (highest?.version.state === "Pending") return highest.version.version;
    return nextPatchVersion(existing.map((v) => v.version));
  }
  if (request.versionStrategy === "contentHash") return resolveVersion({ strategy: "contentHash", sha256 });
  if (!request.version) throw new TypeError(`versionStrategy ${request.versionStrategy} needs the version worked out from the inputs.`);
  return request.version;
}

/** A management-plane call whose 403 names the action and the role to grant (the client's pipeline retries throttling and transient failures). */
async function arm<T>(what: string, action: string, target: PublishTarget, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (errorStatus(e) === 403) {
      throw new NotAuthorizedError({ operation: `${what} in Batch account '${target.accountName}'`, role: "Contributor", action, scope: "on the Batch account (or a custom role with that action)", cause: e });
    }
    throw e;
  }
}

function storageRoleError(blob: PackageBlob, e: unknown, doing: string, nothingChanged: boolean): TaskError {
  const code = errorCode(e) ?? String(errorStatus(e));
  if (blob.auth === "entra") {
    return new TaskError(
      "AuthorizationFailed",
      `The service connection's identity may not ${doing} the package blob in storage account '${blob.accountName}' (${code}). ` +
        `The Batch account reaches its auto-storage with its managed identity, so Batch hands out a storageUrl without a SAS and the task uploads with the connection's own identity: grant it 'Storage Blob Data Contributor' on storage account '${blob.accountName}' (or its container '${blob.containerName}'; role assignments can take a few minutes to apply).` +
        (nothingChanged ? " Nothing was changed." : ""),
      { cause: e },
    );
  }
  return new TaskError(
    "AuthorizationFailed",
    `Storage account '${blob.accountName}' refused the SAS of the version's storageUrl (${code}) when the task tried to ${doing} the package blob. ` +
      `Batch signs it with the auto-storage account's key: if the keys were rotated, synchronise them (az batch account autostorage-keys sync --name <batch account> --resource-group <group>) and run again.` +
      (nothingChanged ? " Nothing was changed." : ""),
    { cause: e },
  );
}

export async function publishPackage(target: PublishTarget, request: PublishRequest, deps: PublishDependencies): Promise<PublishResult> {
  const { client, log, signal } = deps;
  const describeInput = deps.describeInput ?? quoteInput;
  const { resourceGroup: rg, accountName: acct } = target;
  const appName = request.applicationName;
  const options = { abortSignal: signal };
  const pkgFile = request.package;

  // ------------------------------------------------------------------ reads
  const account = await arm("read the account properties", `${BATCH}/read`, target, () => client.batchAccountOperations.get(rg, acct, options));
  const autoStorage = account.autoStorage;
  if (!autoStorage?.storageAccountId) {
    throw new TaskError(
      "NoAutoStorage",
      `Batch account '${acct}' has no auto-storage account, and Batch keeps application packages there. Nothing was changed. ` +
        `Link a storage account to it (Azure portal: the Batch account > Storage account > Select a storage account; or az batch account set --name ${acct} --resource-group ${rg} --storage-account <storage account name or id>), then run again.`,
    );
  }
  const storageName = /\/storageAccounts\/([^/]+)$/i.exec(autoStorage.storageAccountId)?.[1] ?? autoStorage.storageAccountId;
  log.info(
    `Batch account '${acct}' (resource group '${rg}'): auto-storage '${storageName}', ${autoStorage.authenticationMode === "BatchAccountManagedIdentity" ? "reached with the Batch account's managed identity (the package is uploaded with the service connection's identity)" : "reached with its keys (the package is uploaded with the storageUrl's SAS)"}.`,
  );

  let application = await arm("read applications", `${BATCH}/applications/read`, target, async () => {
    try {
      return await client.applicationOperations.get(rg, acct, appName, options);
    } catch (e) {
      if (errorStatus(e) === 404) return undefined;
      throw e;
    }
  });
  const packages = application
    ? await arm("list application versions", `${BATCH}/applications/versions/read`, target, () => collect(client.applicationPackageOperations.list(rg, acct, appName, options)))
    : [];
  const existing = packages.map(toExisting);
  if (application) {
    const active = existing.filter((v) => v.state === "Active").length;
    log.info(
      `Application '${application.name ?? appName}': ${existing.length} version(s) (${active} active, ${existing.length - active} pending), default ${application.defaultVersion ?? "none"}, updates ${application.allowUpdates === false ? "not allowed" : "allowed"}.`,
    );
  } else {
    log.info(`Application '${appName}' does not exist in Batch account '${acct}' yet: it is created.`);
  }

  const pools = request.poolIds.length ? await arm("list pools", `${BATCH}/pools/read`, target, () => collect(client.poolOperations.listByBatchAccount(rg, acct, options))) : [];
  const named: Pool[] = [];
  const missingPools: string[] = [];
  for (const id of request.poolIds) {
    const pool = pools.find((p) => sameName(poolName(p), id));
    if (pool) named.push(pool);
    else missingPools.push(id);
  }
  if (missingPools.length) {
    const present = pools.map(poolName);
    throw new InputError(
      "poolIds",
      `Input ${describeInput("poolIds")}: ${missingPools.map((p) => `'${p}'`).join(", ")} ${missingPools.length === 1 ? "is not a pool" : "are not pools"} of Batch account '${acct}'. Nothing was changed. ` +
        (present.length ? `Its pools: ${present.slice(0, 30).join(", ")}${present.length > 30 ? `, and ${present.length - 30} more` : ""}.` : "It has no pools."),
    );
  }

  let version = chooseVersion(request, pkgFile.sha256, existing);
  // Batch matches versions without regard to case: keep the one it has.
  const sameVersion = existing.find((v) => sameName(v.version, version));
  if (sameVersion) version = sameVersion.version;

  // The MD5 of the packages the decision compares with: the newest active version's, and the same version's.
  const blobOf = (v: ExistingVersion) => packages.find((p) => p.name === v.version)?.storageUrl;
  const withMd5 = new Map<string, string | undefined>();
  const readMd5 = async (v: ExistingVersion | undefined) => {
    if (!v || withMd5.has(v.version)) return;
    const url = blobOf(v);
    if (!url) return;
    const blob = deps.openBlob(url);
    try {
      withMd5.set(v.version, await packageBlobMd5(blob, signal));
    } catch (e) {
      if (errorStatus(e) === 403) {
        if (blob.auth === "entra") throw storageRoleError(blob, e, "read", true);
        log.debug(`The package of version ${v.version} cannot be read (${describeError(e)}): its MD5 is unknown.`);
        withMd5.set(v.version, undefined);
        return;
      }
      throw e;
    }
  };
  if (request.onExisting === "skipIfIdentical") await readMd5(newestActiveVersion(existing));
  await readMd5(sameVersion);
  const decisionInput = existing.map((v) => ({ ...v, md5: withMd5.get(v.version) }));

  let decision: ExistingDecision;
  try {
    decision = decideOnExisting({
      onExisting: request.onExisting,
      version,
      md5: pkgFile.md5,
      existing: decisionInput,
      allowUpdates: application?.allowUpdates !== false,
      applicationName: appName,
      versionFromContent: request.versionStrategy === "contentHash",
    });
  } catch (e) {
    if (e instanceof VersionInputError) throw new InputError(e.input, `${e.message} Nothing was changed.`);
    throw e;
  }
  version = decision.version;
  log.info(`Version ${version}: ${decision.reason}.`);

  const accountId = account.id ?? `/subscriptions/-/resourceGroups/${rg}/providers/${BATCH}/${acct}`;
  const applicationResourceId = () => application?.id ?? `${accountId}/applications/${appName}`;
  const poolPlans = named.map((pool) => planPoolReferences({ poolId: poolName(pool), applicationPackages: pool.applicationPackages }, { name: appName, resourceId: applicationResourceId() }, version));
  for (const plan of poolPlans) {
    if (plan.overLimit) throw overLimitError(plan, acct, describeInput);
  }

  // ---------------------------------------------------------------- changes
  let applicationCreated = false;
  let upload: PublishResult["upload"];
  let alreadyUploaded = false;
  if (decision.action !== "skip") {
    let versionCreated = false;
    // Undoes what this run created when it cannot go on for lack of a role, so that nothing is left changed.
    const rollBack = async () => {
      const undone: string[] = [];
      if (versionCreated) {
        await client.applicationPackageOperations.delete(rg, acct, appName, version).then(() => undone.push(`version ${version}`), (e: unknown) => log.warning(`Could not delete the pending version ${version} this run created: ${describeError(e)}`));
      }
      if (applicationCreated) {
        await client.applicationOperations.delete(rg, acct, appName).then(() => undone.push(`application '${appName}'`), (e: unknown) => log.warning(`Could not delete the application '${appName}' this run created: ${describeError(e)}`));
      }
      if (undone.length) log.info(`Removed what this run had created: ${undone.join(" and ")}.`);
      return undone.length === Number(versionCreated) + Number(applicationCreated);
    };

    let pkg: ApplicationPackage;
    try {
      if (!application) {
        application = await arm("create applications", `${BATCH}/applications/write`, target, () => client.applicationOperations.create(rg, acct, appName, options));
        applicationCreated = true;
        log.info(`Created application '${appName}'.`);
      }
      if (decision.action === "resume") {
        pkg = await arm("read application versions", `${BATCH}/applications/versions/read`, target, () => client.applicationPackageOperations.get(rg, acct, appName, version, options));
      } else {
        pkg = await arm("create application versions", `${BATCH}/applications/versions/write`, target, () => client.applicationPackageOperations.create(rg, acct, appName, version, options));
        versionCreated = decision.action === "create";
        log.info(decision.action === "create" ? `Created version ${version} (pending until its package is uploaded and activated).` : `Version ${version} is being replaced.`);
      }
    } catch (e) {
      if (e instanceof TaskError && e.code === "AuthorizationFailed" && (await rollBack())) throw new TaskError(e.code, `${e.message} Nothing was changed.`, { cause: e });
      throw e;
    }
    if (!pkg.storageUrl) throw new TaskError("NoStorageUrl", `Batch gave no storageUrl for version ${version} of application '${appName}'; run the task again.`);
    const blob = deps.openBlob(pkg.storageUrl);

    if (decision.action === "resume") {
      const md5 = await packageBlobMd5(blob, signal).catch(() => undefined);
      alreadyUploaded = md5 === pkgFile.md5;
      if (alreadyUploaded) log.info(`The pending version's blob holds this package already (MD5 ${md5}): it is activated without uploading again.`);
    }
    if (!alreadyUploaded) {
      deps.onUploadStart?.(pkgFile.size, blob);
      try {
        await uploadWithMd5(
          blob.client,
          { file: pkgFile.path, md5: Buffer.from(pkgFile.md5, "base64") },
          { blockSizeBytes: deps.blockSizeBytes ?? UPLOAD_BLOCK_BYTES, blockConcurrency: deps.blockConcurrency ?? 8, contentType: "application/zip", signal, onBytes: (n) => deps.onUploadBytes?.(n) },
        );
      } catch (e) {
        if (errorStatus(e) === 403) {
          const nothingChanged = decision.action === "create" && (await rollBack());
          throw storageRoleError(blob, e, "write", nothingChanged);
        }
        if (signal.aborted) throw e;
        throw new TaskError(
          "PackageUploadFailed",
          `Uploading the package of version ${version} to ${blob.displayUrl} failed: ${describeError(e)}. The version stays pending (unused by any pool); run the task again to complete it.`,
          { cause: e },
        );
      }
      deps.onUploadDone?.();
      upload = { auth: blob.auth, bytes: pkgFile.size, url: blob.displayUrl };
    }

    try {
      await arm("activate application versions", `${BATCH}/applications/versions/activate/action`, target, () => client.applicationPackageOperations.activate(rg, acct, appName, version, { format: "zip" }, options));
    } catch (e) {
      if (e instanceof TaskError && e.code === "AuthorizationFailed" && decision.action === "create" && (await rollBack())) throw new TaskError(e.code, `${e.message} Nothing was changed.`, { cause: e });
      throw e;
    }
    log.info(`Activated version ${version} (format zip).`);
  }

  // ------------------------------------------------ default, pools, retention
  let defaultVersion = application?.defaultVersion;
  let previousDefault: PublishResult["previousDefault"];
  if (request.setDefaultVersion && !sameName(defaultVersion, version)) {
    await arm("update applications", `${BATCH}/applications/write`, target, () => client.applicationOperations.update(rg, acct, appName, { defaultVersion: version }, options));
    previousDefault = { version: defaultVersion };
    log.info(`Default version of '${appName}': ${defaultVersion ?? "none"} -> ${version}.`);
    defaultVersion = version;
  }

  const poolResults: PublishResult["pools"] = [];
  for (const plan of poolPlans) {
    const previous = plan.previous.map(describeReference);
    if (!plan.changed) {
      log.info(`Pool '${plan.poolId}' references ${appName}:${version} already.`);
      poolResults.push({ poolId: plan.poolId, changed: false, previous });
      continue;
    }
    await updatePoolReferences(target, plan, { name: appName, resourceId: applicationResourceId() }, version, deps);
    const kept = plan.references.slice(0, -1).map(describeReference);
    log.info(
      `Pool '${plan.poolId}': ${previous.length ? previous.join(", ") : "no reference"} -> ${appName}:${version}${kept.length ? ` (kept: ${kept.join(", ")})` : ""}. Nodes get it when they join, reboot or are reimaged.`,
    );
    poolResults.push({ poolId: plan.poolId, changed: true, previous });
  }

  const pruned: PublishResult["pruned"] = [];
  const spared: PublishResult["spared"] = [];
  if (request.keepVersions > 0) {
    const [versionsNow, poolsNow] = await Promise.all([
      arm("list application versions", `${BATCH}/applications/versions/read`, target, () => collect(client.applicationPackageOperations.list(rg, acct, appName, options))),
      arm("list pools", `${BATCH}/pools/read`, target, () => collect(client.poolOperations.listByBatchAccount(rg, acct, options))),
    ]);
    const plan = planRetention({
      applicationName: appName,
      versions: versionsNow.map(toExisting),
      keepVersions: request.keepVersions,
      defaultVersion,
      pools: poolsNow.map((p) => ({ poolId: poolName(p), applicationPackages: p.applicationPackages })),
      current: version,
    });
    // Kept for another reason than being among the newest: the default, a pool's reference.
    for (const kept of plan.keep) if (kept.reason !== `among the ${request.keepVersions} newest`) spared.push(kept);
    for (const doomed of plan.delete) {
      await arm("delete application versions", `${BATCH}/applications/versions/delete`, target, () => client.applicationPackageOperations.delete(rg, acct, appName, doomed.version, options));
      pruned.push(doomed);
      log.info(`Deleted version ${doomed.version} (${doomed.reason}).`);
    }
    for (const s of spared) log.info(`Kept version ${s.version}: ${s.reason}.`);
  }

  return {
    applicationName: application?.name ?? appName,
    applicationResourceId: applicationResourceId(),
    applicationCreated,
    version,
    action: decision.action,
    reason: decision.reason,
    upload,
    alreadyUploaded,
    defaultVersion,
    previousDefault,
    pools: poolResults,
    pruned,
    spared,
  };
}

const quoteInput = (name: string) => `'${name}'`;

function overLimitError(plan: PoolReferencePlan, accountName: string, describeInput: (name: string) => string): InputError {
  return new InputError(
    "poolIds",
    `Input ${describeInput("poolIds")}: pool '${plan.poolId}' of Batch account '${accountName}' would have ${plan.references.length} application package references with this one, and Batch allows at most ${MAX_POOL_PACKAGE_REFERENCES}. Nothing was changed. ` +
      `It references ${(plan.overLimit ?? []).map(describeReference).join(", ")}: remove one it no longer needs, or leave the pool out of poolIds.`,
  );
}

/** Sets the pool's references, guarded by its ETag; a pool changed meanwhile is read again and planned afresh. */
async function updatePoolReferences(target: PublishTarget, planned: PoolReferencePlan, application: { name: string; resourceId: string }, version: string, deps: PublishDependencies): Promise<void> {
  const { client, signal } = deps;
  const { resourceGroup: rg, accountName: acct } = target;
  let plan = planned;
  for (let attempt = 1; ; attempt++) {
    // Read right before the write (the upload may have taken a while); the ETag guards the rest.
    const pool = await arm("read pools", `${BATCH}/pools/read`, target, () => client.poolOperations.get(rg, acct, plan.poolId, { abortSignal: signal }));
    const etag = pool.eTag ?? pool.etag;
    plan = planPoolReferences({ poolId: plan.poolId, applicationPackages: pool.applicationPackages }, application, version);
    if (plan.overLimit) throw overLimitError(plan, acct, deps.describeInput ?? quoteInput);
    if (!plan.changed) return;
    try {
      const references: PackageReference[] = plan.references;
      await arm("update pools", `${BATCH}/pools/write`, target, () => client.poolOperations.update(rg, acct, plan.poolId, { applicationPackages: references }, { ifMatch: etag, abortSignal: signal }));
      return;
    } catch (e) {
      if (errorStatus(e) === 412 && attempt < 5) {
        deps.log.debug(`Pool '${plan.poolId}' changed while its references were being set; reading it again.`);
        continue;
      }
      if (e instanceof TaskError) {
        throw new TaskError(e.code, `${e.message} Version ${version} is published${e.code === "AuthorizationFailed" ? "; once the role is granted, running the task again sets the pool references (the package is not published twice)" : ""}.`, { cause: e });
      }
      throw e;
    }
  }
}
