/**
 * BatchAppPackage@1's rules for names and versions, without Azure: which
 * application name and version are valid, which version a strategy gives,
 * what to do when the version exists, and which old versions to delete.
 * Every rejection is a VersionInputError naming the input and what would be
 * valid. It imports nothing: the task entry turns a VersionInputError into the
 * runtime's InputError (same code, input and message).
 */

/** Bad input found by these rules, before anything changes in Azure; shaped like the runtime's InputError. */
export class VersionInputError extends Error {
  readonly code = "InvalidInput";
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(message);
    this.name = "VersionInputError";
  }
}

/** Batch's rules (Microsoft.Batch applications and application packages). */
export const APPLICATION_NAME_PATTERN = /^[a-zA-Z0-9_-]+$/;
export const VERSION_PATTERN = /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$/;
export const MAX_NAME_LENGTH = 64;

export type VersionStrategy = "explicit" | "buildNumber" | "contentHash" | "nextPatch";
export const VERSION_STRATEGIES: readonly VersionStrategy[] = ["explicit", "buildNumber", "contentHash", "nextPatch"];
export type OnExisting = "skipIfIdentical" | "fail" | "overwrite";
export const ON_EXISTING: readonly OnExisting[] = ["skipIfIdentical", "fail", "overwrite"];

/** Hex characters of the zip's SHA-256 used by `contentHash` (48 bits: no collision among an application's 40 versions). */
export const CONTENT_HASH_LENGTH = 12;

function quote(value: string): string {
  return JSON.stringify(value);
}

export function validateApplicationName(name: string, input = "applicationName"): string {
  const value = name.trim();
  if (!value) throw new VersionInputError(input, `${input} is required: the Batch application's name (letters, digits, '_' and '-', at most ${MAX_NAME_LENGTH} characters).`);
  if (value.length > MAX_NAME_LENGTH) throw new VersionInputError(input, `${input} ${quote(value)} is ${value.length} characters long; a Batch application name has at most ${MAX_NAME_LENGTH}.`);
  if (!APPLICATION_NAME_PATTERN.test(value)) {
    throw new VersionInputError(input, `${input} ${quote(value)} is not a valid Batch application name: use only letters, digits, '_' and '-' (no spaces or dots), at most ${MAX_NAME_LENGTH} characters.`);
  }
  return value;
}

export function validateVersion(version: string, input = "version"): string {
  const value = version.trim();
  if (!value) throw new VersionInputError(input, `${input} is required with versionStrategy: explicit (for example 1.4.2).`);
  if (value.length > MAX_NAME_LENGTH) throw new VersionInputError(input, `${input} ${quote(value)} is ${value.length} characters long; a Batch application version has at most ${MAX_NAME_LENGTH}.`);
  if (!VERSION_PATTERN.test(value)) {
    throw new VersionInputError(
      input,
      `${input} ${quote(value)} is not a valid Batch application version: use letters, digits, '_', '-' and '.', not starting with '.', at most ${MAX_NAME_LENGTH} characters (for example 1.4.2 or 2024-06-01_3).`,
    );
  }
  return value;
}

export function parseVersionStrategy(value: string, input = "versionStrategy"): VersionStrategy {
  const found = VERSION_STRATEGIES.find((s) => s.toLowerCase() === value.trim().toLowerCase());
  if (!found) throw new VersionInputError(input, `${input} ${quote(value)} is not one of: ${VERSION_STRATEGIES.join(", ")}.`);
  return found;
}

export function parseOnExisting(value: string, input = "onExisting"): OnExisting {
  const found = ON_EXISTING.find((s) => s.toLowerCase() === value.trim().toLowerCase());
  if (!found) throw new VersionInputError(input, `${input} ${quote(value)} is not one of: ${ON_EXISTING.join(", ")}.`);
  return found;
}

/** `keepVersions`: empty or 0 keeps every version; otherwise a whole number of versions to keep. */
export function parseKeepVersions(value: string | undefined, input = "keepVersions"): number {
  const text = (value ?? "").trim();
  if (!text) return 0;
  if (!/^\d+$/.test(text) || Number(text) > 1000) {
    throw new VersionInputError(input, `${input} ${quote(text)} is not valid: give a whole number of versions to keep (1 or more), or 0 to keep them all.`);
  }
  return Number(text);
}

/**
 * Build.BuildNumber made into a Batch version: characters Batch does not
 * allow become '-' (a run of them one '-'), and '.' or '-' at either end go. Fails when nothing is left or the result is too long, rather
 * than cutting it (two builds could then share a version).
 */
export function versionFromBuildNumber(buildNumber: string | undefined): string {
  const raw = (buildNumber ?? "").trim();
  const input = "Build.BuildNumber";
  if (!raw) throw new VersionInputError(input, "versionStrategy: buildNumber needs Build.BuildNumber, which is empty here; run in a pipeline, or use versionStrategy: explicit with a version.");
  const version = raw
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[.-]+/, "")
    .replace(/[.-]+$/, "");
  if (!version || !VERSION_PATTERN.test(version)) {
    throw new VersionInputError(input, `Build.BuildNumber ${quote(raw)} has nothing a Batch version can use (letters, digits, '_', '-', '.'); set the pipeline's 'name:' to a format such as $(Date:yyyyMMdd)$(Rev:.r), or use versionStrategy: explicit.`);
  }
  if (version.length > MAX_NAME_LENGTH) {
    throw new VersionInputError(input, `Build.BuildNumber ${quote(raw)} gives the version ${quote(version)}, longer than Batch's ${MAX_NAME_LENGTH} characters; shorten the pipeline's 'name:' format, or use versionStrategy: explicit.`);
  }
  return version;
}

/** The first CONTENT_HASH_LENGTH hex characters of the zip's SHA-256. */
export function versionFromContentHash(sha256: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) throw new TypeError(`A SHA-256 in hex is 64 characters, not ${quote(sha256)}.`);
  return sha256.slice(0, CONTENT_HASH_LENGTH).toLowerCase();
}

export interface SemanticVersion {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
}

/** Semantic Versioning 2.0 (no '+build', which Batch does not allow); undefined for anything else. */
export function parseSemver(version: string): SemanticVersion | undefined {
  const match = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$/.exec(version);
  if (!match) return undefined;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const patch = Number(match[3]);
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease: match[4] ? match[4].split(".") : [] };
}

/** Semantic Versioning precedence: negative when a < b. */
export function compareSemver(a: SemanticVersion, b: SemanticVersion): number {
  for (const key of ["major", "minor", "patch"] as const) if (a[key] !== b[key]) return a[key] - b[key];
  if (!a.prerelease.length || !b.prerelease.length) return b.prerelease.length - a.prerelease.length;
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i] ?? "";
    const y = b.prerelease[i] ?? "";
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.prerelease.length - b.prerelease.length;
}

/**
 * One patch above the highest semantic version among `existing`
 * (1.4.2 and 1.4.3-rc.1 give 1.4.3 and 1.4.4); non-semver versions are
 * ignored; 1.0.0 when there is none.
 */
export function nextPatchVersion(existing: readonly string[]): string {
  let highest: SemanticVersion | undefined;
  for (const v of existing) {
    const parsed = parseSemver(v);
    if (parsed && (!highest || compareSemver(parsed, highest) > 0)) highest = parsed;
  }
  return highest ? `${highest.major}.${highest.minor}.${highest.patch + 1}` : "1.0.0";
}

export interface VersionRequest {
  strategy: VersionStrategy;
  /** The `version` input (explicit). */
  version?: string;
  /** Build.BuildNumber (buildNumber). */
  buildNumber?: string;
  /** The package's SHA-256 in hex (contentHash). */
  sha256?: string;
  /** Versions the application has (nextPatch). */
  existingVersions?: readonly string[];
}

/** The version to publish; checked against Batch's rules. */
export function resolveVersion(request: VersionRequest): string {
  switch (request.strategy) {
    case "explicit":
      return validateVersion(request.version ?? "");
    case "buildNumber":
      return versionFromBuildNumber(request.buildNumber);
    case "contentHash":
      if (!request.sha256) throw new TypeError("contentHash needs the package's SHA-256.");
      return versionFromContentHash(request.sha256);
    case "nextPatch":
      return nextPatchVersion(request.existingVersions ?? []);
  }
}

/** A version of the application as read back from Batch (plus the package's MD5 when known). */
export interface ExistingVersion {
  version: string;
  state: "Pending" | "Active";
  lastActivationTime?: Date;
  /** When the resource was made, if known (a pending package has no activation time). */
  createdAt?: Date;
  /** Base64 MD5 of the package's blob (its Content-MD5), if known. */
  md5?: string;
}

export type ExistingDecision =
  /** The version does not exist: create it, upload, activate. */
  | { action: "create"; version: string; reason: string }
  /** The version exists but was never activated (an earlier run stopped): upload and activate it. */
  | { action: "resume"; version: string; reason: string }
  /** The same package is published already: publish nothing, output `version`. */
  | { action: "skip"; version: string; reason: string }
  /** Replace the package of an existing version (the application allows updates). */
  | { action: "overwrite"; version: string; reason: string };

function activationOrder(v: ExistingVersion): number {
  return (v.lastActivationTime ?? v.createdAt)?.getTime() ?? Number.NEGATIVE_INFINITY;
}

/** The newest active version: latest activation, ties broken by the higher version name. */
export function newestActiveVersion(versions: readonly ExistingVersion[]): ExistingVersion | undefined {
  return versions
    .filter((v) => v.state === "Active")
    .sort((a, b) => activationOrder(b) - activationOrder(a) || (a.version < b.version ? 1 : a.version > b.version ? -1 : 0))[0];
}

export interface ExistingRequest {
  onExisting: OnExisting;
  /** The version the strategy gave. */
  version: string;
  /** Base64 MD5 of the package about to be published. */
  md5: string;
  existing: readonly ExistingVersion[];
  /** The application's allowUpdates. */
  allowUpdates: boolean;
  applicationName: string;
  /** The version was made from the package's SHA-256 (contentHash): an active version of that name holds this package, MD5 known or not. */
  versionFromContent?: boolean;
}

/**
 * What to do given the versions present. skipIfIdentical publishes nothing
 * when the newest active version holds the same package (whatever its name);
 * a version that exists with the same package is never published again;
 * a pending one is completed; one that differs fails, or with `overwrite`
 * (and allowUpdates) is replaced.
 */
export function decideOnExisting(request: ExistingRequest): ExistingDecision {
  const { version, md5, applicationName } = request;
  if (request.onExisting === "skipIfIdentical") {
    const newest = newestActiveVersion(request.existing);
    if (newest?.md5 && newest.md5 === md5) {
      return { action: "skip", version: newest.version, reason: `the newest active version ${newest.version} has the same package (MD5 ${md5})` };
    }
  }
  const same = request.existing.find((v) => v.version === version);
  if (!same) return { action: "create", version, reason: `version ${version} does not exist yet` };
  if (same.state === "Pending") return { action: "resume", version, reason: `version ${version} was created but never activated (an earlier run stopped); its package is uploaded and activated now` };
  if (same.md5 && same.md5 === md5) return { action: "skip", version, reason: `version ${version} is active with the same package (MD5 ${md5})` };
  if (request.versionFromContent && !same.md5) return { action: "skip", version, reason: `version ${version} is active, and its name is this package's content hash` };
  const differs = same.md5 ? `holds a different package (MD5 ${same.md5}, this one ${md5})` : "has a package whose MD5 is unknown, so it cannot be shown to be the same";
  if (request.onExisting === "overwrite") {
    if (!request.allowUpdates) {
      throw new VersionInputError(
        "onExisting",
        `Version ${version} of application ${applicationName} ${differs}, and onExisting is overwrite, but the application does not allow updates (allowUpdates is false). Allow updates on the application (az batch application set --allow-updates true), or publish a new version.`,
      );
    }
    return { action: "overwrite", version, reason: `version ${version} ${differs}; the application allows updates, so its package is replaced` };
  }
  throw new VersionInputError(
    "onExisting",
    `Version ${version} of application ${applicationName} already exists and ${differs}. Publish a new version (another version, or versionStrategy: nextPatch or contentHash), or set onExisting: overwrite if the application allows updates.`,
  );
}

export interface PoolReferences {
  poolId: string;
  /** The pool's applicationPackages: `id` is the application's name or resource id; no version means the default. */
  applicationPackages?: readonly { id: string; version?: string }[];
}

export interface RetentionRequest {
  applicationName: string;
  versions: readonly ExistingVersion[];
  /** 0 keeps every version. */
  keepVersions: number;
  defaultVersion?: string;
  pools: readonly PoolReferences[];
  /** The version this run published (or skipped to): always kept. */
  current?: string;
}

export interface RetentionPlan {
  keep: { version: string; reason: string }[];
  delete: { version: string; reason: string }[];
}

/** Whether a pool's reference names this application (by name, or by a resource id ending in /applications/<name>). */
export function referencesApplication(referenceId: string, applicationName: string): boolean {
  const id = referenceId.trim().replace(/\/+$/, "").toLowerCase();
  const name = applicationName.toLowerCase();
  return id === name || id.endsWith(`/applications/${name}`);
}

/**
 * Keeps the `keepVersions` newest versions (by activation time, else
 * creation time; versions with neither count as the oldest) and deletes the
 * rest, except the default version, any version a pool references, and the
 * current one. Every version appears once, with the reason.
 */
export function planRetention(request: RetentionRequest): RetentionPlan {
  const plan: RetentionPlan = { keep: [], delete: [] };
  const protectedBy = new Map<string, string[]>();
  const protect = (version: string, why: string) => protectedBy.set(version, [...(protectedBy.get(version) ?? []), why]);
  if (request.current) protect(request.current, "published by this run");
  if (request.defaultVersion) protect(request.defaultVersion, "the default version");
  for (const pool of request.pools) {
    for (const ref of pool.applicationPackages ?? []) {
      if (!referencesApplication(ref.id, request.applicationName)) continue;
      if (ref.version) protect(ref.version, `referenced by pool ${pool.poolId}`);
      // A reference without a version follows the default, which is kept already.
    }
  }
  const newestFirst = [...request.versions].sort(
    (a, b) => activationOrder(b) - activationOrder(a) || (a.version < b.version ? 1 : a.version > b.version ? -1 : 0),
  );
  newestFirst.forEach((v, index) => {
    const reasons = protectedBy.get(v.version);
    if (request.keepVersions <= 0) plan.keep.push({ version: v.version, reason: "keepVersions is 0: every version is kept" });
    else if (index < request.keepVersions) plan.keep.push({ version: v.version, reason: `among the ${request.keepVersions} newest` });
    else if (reasons) plan.keep.push({ version: v.version, reason: reasons.join("; ") });
    else plan.delete.push({ version: v.version, reason: `older than the ${request.keepVersions} newest` });
  });
  return plan;
}
