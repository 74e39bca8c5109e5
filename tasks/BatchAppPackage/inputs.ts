/**
 * BatchAppPackage's inputs, read and checked into one typed object before
 * anything is sent to Azure: names and versions against Batch's rules, the
 * source on disk, the pools' ids, the retention count.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { InputReader } from "../../runtime/inputs";
import { InputError } from "../../runtime/errors";
import {
  parseKeepVersions,
  parseOnExisting,
  parseVersionStrategy,
  validateApplicationName,
  validateVersion,
  versionFromBuildNumber,
  VersionInputError,
  type OnExisting,
  type VersionStrategy,
} from "./versions";

export type PackageSource = { kind: "folder"; folder: string; include: string[]; exclude: string[] } | { kind: "zip"; file: string };

export interface PackageInputs {
  connectionId: string;
  /** The Batch account's name, or its full resource id. */
  batchAccount: string;
  /** With a name: the account's resource group (else it is looked for in the whole subscription). */
  resourceGroupName?: string;
  applicationName: string;
  source: PackageSource;
  versionStrategy: VersionStrategy;
  /** Known before any call for `explicit` and `buildNumber`; the others need the zip or the versions present. */
  version?: string;
  onExisting: OnExisting;
  setDefaultVersion: boolean;
  /** Distinct pool ids, in the order given. */
  poolIds: string[];
  /** 0 keeps every version. */
  keepVersions: number;
  /** Said once the run starts (inputs that are set but have no effect). */
  notes: string[];
}

/** Batch pool ids: letters, digits, '-' and '_', at most 64 characters. */
const POOL_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** Resource group names: letters, digits, '_', '-', '.', '(' and ')', at most 90, not ending in '.'. */
const RESOURCE_GROUP = /^[-\w._()]{1,90}$/;
/** Batch account names: 3-24 lowercase letters and digits. */
const BATCH_ACCOUNT = /^[a-z0-9]{3,24}$/;
const BATCH_ACCOUNT_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Batch\/batchAccounts\/[^/]+$/i;

/** The `poolIds` input: one per line (commas, as a multi-select picker joins them, also separate). */
export function parsePoolIds(lines: readonly string[]): { poolIds: string[]; problems: string[] } {
  const poolIds: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const id of lines.flatMap((l) => l.split(",")).map((s) => s.trim()).filter(Boolean)) {
    if (!POOL_ID.test(id)) {
      problems.push(`'${id}' is not a Batch pool id (letters, digits, '-' and '_', at most 64 characters)`);
      continue;
    }
    // Pool ids are case-insensitive in Batch.
    if (seen.has(id.toLowerCase())) continue;
    seen.add(id.toLowerCase());
    poolIds.push(id);
  }
  return { poolIds, problems };
}

/** What the entry hands in from the job's variables. */
export interface PackageVariables {
  /** Build.BuildNumber (versionStrategy buildNumber). */
  buildNumber?: string;
  /**
   * System.DefaultWorkingDirectory and Build.SourcesDirectory: the agent hands a
   * filePath input left empty over as that folder, so it counts as not set (as
   * task-lib's filePathSupplied reads it) rather than packaging the whole checkout.
   */
  defaultWorkingDirectories?: (string | undefined)[];
}

/** A filePath input as given, or undefined when it is empty (or the folder the agent puts in its place). */
function suppliedPath(reader: InputReader, name: string, variables: PackageVariables): string | undefined {
  const value = reader.optionalString(name);
  if (value === undefined) return undefined;
  const resolved = path.resolve(value);
  const roots = (variables.defaultWorkingDirectories ?? []).filter((r): r is string => !!r);
  return roots.some((r) => path.resolve(r) === resolved) ? undefined : resolved;
}

/** Reads the inputs; `variables` are the job's (see PackageVariables). */
export function readPackageInputs(reader: InputReader, variables: PackageVariables): PackageInputs {
  const fromRules = <T>(read: () => T): T => {
    try {
      return read();
    } catch (e) {
      // The rules' messages name the input already.
      if (e instanceof VersionInputError) throw new InputError(e.input, e.message);
      throw e;
    }
  };
  const notes: string[] = [];
  const connectionId = reader.string("azureSubscription");

  const accountInput = reader.string("batchAccountName");
  const resourceGroup = reader.optionalString("resourceGroupName");
  let resourceGroupName: string | undefined;
  if (BATCH_ACCOUNT_ID.test(accountInput)) {
    if (resourceGroup) notes.push(`resourceGroupName '${resourceGroup}' is not used: batchAccountName is a full resource id.`);
  } else {
    if (!BATCH_ACCOUNT.test(accountInput)) {
      reader.fail("batchAccountName", `'${accountInput}' is not a Batch account name (3-24 lowercase letters and digits) nor a Batch account resource id (/subscriptions/.../resourceGroups/.../providers/Microsoft.Batch/batchAccounts/<name>).`);
    }
    if (resourceGroup) {
      if (!RESOURCE_GROUP.test(resourceGroup) || resourceGroup.endsWith(".")) {
        reader.fail("resourceGroupName", `'${resourceGroup}' is not a resource group name (at most 90 letters, digits, '_', '-', '.', '(' and ')', not ending in '.'). Leave it empty to find the account by name in the whole subscription.`);
      }
      resourceGroupName = resourceGroup;
    }
  }

  const applicationName = fromRules(() => validateApplicationName(reader.optionalString("applicationName") ?? ""));

  const sourceKind = reader.pick("packageSource", ["folder", "zip"] as const);
  let source: PackageSource;
  if (sourceKind === "folder") {
    const folder = suppliedPath(reader, "sourceFolder", variables);
    if (folder === undefined) {
      reader.fail("sourceFolder", "a value is required with packageSource: folder: the folder that holds the application, e.g. $(Pipeline.Workspace)/drop/app (the default working directory itself is never packaged whole).");
    }
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(folder);
    } catch {
      reader.fail("sourceFolder", `'${folder}' does not exist. Point it at the folder that holds the application, e.g. $(Pipeline.Workspace)/drop/app.`);
    }
    if (!stat.isDirectory()) reader.fail("sourceFolder", `'${folder}' is a file, not a folder. To publish an existing zip, set packageSource: zip and zipFile.`);
    const include = reader.lines("include");
    source = { kind: "folder", folder, include: include.length ? include : ["**"], exclude: reader.lines("exclude") };
  } else {
    const file = suppliedPath(reader, "zipFile", variables);
    if (file === undefined) reader.fail("zipFile", "a value is required with packageSource: zip: the path of the .zip to publish, e.g. $(Pipeline.Workspace)/drop/app.zip.");
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(file);
    } catch {
      reader.fail("zipFile", `'${file}' does not exist. Give the path of the .zip to publish, e.g. $(Pipeline.Workspace)/drop/app.zip.`);
    }
    if (!stat.isFile()) reader.fail("zipFile", `'${file}' is not a file. To zip a folder, set packageSource: folder and sourceFolder.`);
    if (reader.lines("include").length || reader.lines("exclude").length) notes.push("include and exclude apply to packageSource: folder only; the zip is published as it is.");
    source = { kind: "zip", file };
  }

  const versionStrategy = fromRules(() => parseVersionStrategy(reader.string("versionStrategy")));
  const versionInput = reader.optionalString("version");
  let version: string | undefined;
  if (versionStrategy === "explicit") version = fromRules(() => validateVersion(versionInput ?? ""));
  else if (versionInput) notes.push(`version '${versionInput}' is not used: versionStrategy is ${versionStrategy}.`);
  if (versionStrategy === "buildNumber") version = fromRules(() => versionFromBuildNumber(variables.buildNumber));

  const onExisting = fromRules(() => parseOnExisting(reader.string("onExisting")));
  const pools = parsePoolIds(reader.lines("poolIds"));
  if (pools.problems.length) reader.fail("poolIds", `${pools.problems.join("; ")}. Give one pool id per line.`);
  if (pools.poolIds.length > 100) reader.fail("poolIds", `${pools.poolIds.length} pools are named; a Batch account holds at most 100 by default. Name the pools that run this application.`);
  const keepVersions = fromRules(() => parseKeepVersions(reader.optionalString("keepVersions")));

  return {
    connectionId,
    batchAccount: accountInput,
    resourceGroupName,
    applicationName,
    source,
    versionStrategy,
    version,
    onExisting,
    setDefaultVersion: reader.bool("setDefaultVersion"),
    poolIds: pools.poolIds,
    keepVersions,
    notes,
  };
}
