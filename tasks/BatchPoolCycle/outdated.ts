/**
 * Which nodes miss an application package version the pool references.
 *
 * The pool's applicationPackageReferences name an application and a version,
 * or no version (the application's default, which only the management plane
 * knows: the entry injects that lookup). A node shows what it has installed
 * as directories under `applications/` in its files. On Linux nodes the
 * observed name is `<appid lower-cased><version><YYYY-MM-DD-HH-MM>` (for
 * example `mybatchapplication1.52024-10-24-20-44`: application
 * MyBatchApplication, version 1.5, installed 2024-10-24 20:44), which the
 * local Batch emulates. Unconfirmed: whether the version is lower-cased too
 * (matched case-insensitively here, as Batch treats ids and versions), and
 * the naming on Windows nodes. The name has no separator, so application
 * `app` version `11` and application `app1` version `1` look alike; a match
 * needs the whole `<appid><version>` and then exactly the time stamp, which
 * keeps `1.5` apart from `1.52`.
 */
import { TaskError } from "../../runtime/errors";

export interface PackageReference {
  applicationId: string;
  /** Absent: the application's default version. */
  version?: string;
}

export interface ResolvedPackage {
  applicationId: string;
  version: string;
}

/** The application's default version, or undefined when it has none. */
export type DefaultVersionLookup = (applicationId: string) => Promise<string | undefined>;

export async function resolvePackageReferences(poolId: string, refs: readonly PackageReference[], defaultVersion: DefaultVersionLookup): Promise<ResolvedPackage[]> {
  const resolved: ResolvedPackage[] = [];
  const defaults = new Map<string, string | undefined>();
  for (const ref of refs) {
    if (ref.version) {
      resolved.push({ applicationId: ref.applicationId, version: ref.version });
      continue;
    }
    const key = ref.applicationId.toLowerCase();
    if (!defaults.has(key)) defaults.set(key, await defaultVersion(ref.applicationId));
    const version = defaults.get(key);
    if (!version) {
      throw new TaskError(
        "NoDefaultVersion",
        `Pool '${poolId}' references application '${ref.applicationId}' without a version, and the application has no default version, so no node can be checked against it. Set a default version or name the version in the pool.`,
      );
    }
    resolved.push({ applicationId: ref.applicationId, version });
  }
  return resolved;
}

export const describePackage = (p: ResolvedPackage) => `${p.applicationId} ${p.version}`;

const STAMP = /^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$/;

/** The directory names directly under `applications/` in a node's file listing (with or without that prefix, any depth). */
export function applicationDirectories(fileNames: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const raw of fileNames) {
    const name = raw.replace(/\\/g, "/").replace(/^\/+/, "");
    const m = /^applications\/([^/]+)/i.exec(name);
    if (m?.[1]) dirs.add(m[1]);
  }
  return [...dirs];
}

/** Whether a directory under `applications/` holds this application's version. */
export function isPackageDirectory(directory: string, pkg: ResolvedPackage): boolean {
  const dir = directory.toLowerCase();
  const head = `${pkg.applicationId}${pkg.version}`.toLowerCase();
  return dir.startsWith(head) && STAMP.test(dir.slice(head.length));
}

/** Every version of the application found on the node, as far as the names tell (for the summary). */
export function installedVersions(directories: readonly string[], applicationId: string): string[] {
  const id = applicationId.toLowerCase();
  const versions = new Set<string>();
  for (const d of directories) {
    if (!d.toLowerCase().startsWith(id)) continue;
    const rest = d.slice(id.length);
    const m = /^(.+?)(\d{4}-\d{2}-\d{2}-\d{2}-\d{2})$/.exec(rest);
    if (m?.[1]) versions.add(m[1]);
  }
  return [...versions].sort();
}

export interface NodePackageStatus {
  nodeId: string;
  outdated: boolean;
  /** The referenced versions the node does not have. */
  missing: ResolvedPackage[];
  /** Per referenced application, the versions found on the node. */
  installed: { applicationId: string; versions: string[] }[];
}

export function nodePackageStatus(nodeId: string, fileNames: readonly string[], expected: readonly ResolvedPackage[]): NodePackageStatus {
  const dirs = applicationDirectories(fileNames);
  const missing = expected.filter((p) => !dirs.some((d) => isPackageDirectory(d, p)));
  const apps = [...new Map(expected.map((p) => [p.applicationId.toLowerCase(), p.applicationId])).values()];
  return {
    nodeId,
    outdated: missing.length > 0,
    missing,
    installed: apps.map((applicationId) => ({ applicationId, versions: installedVersions(dirs, applicationId) })),
  };
}

/** `app 2.0 (has 1.0)`, for messages. */
export function describeMissing(status: NodePackageStatus): string {
  return status.missing
    .map((m) => {
      const has = status.installed.find((i) => i.applicationId.toLowerCase() === m.applicationId.toLowerCase())?.versions ?? [];
      return `${describePackage(m)} (${has.length ? `has ${has.join(", ")}` : "not installed"})`;
    })
    .join(", ");
}
