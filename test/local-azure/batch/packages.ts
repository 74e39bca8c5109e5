/**
 * Application packages on nodes. A node gets packages only when it joins the
 * pool, reboots or is reimaged, from the pool's applicationPackageReferences at
 * that moment (the version named, else the application's defaultVersion). A
 * node remembers what it has; a reboot keeps earlier deployments, a reimage
 * starts afresh. The default-version variable (AZ_BATCH_APP_PACKAGE_<app>)
 * follows the application's default as it was at the node's last deployment. Each package shows under `applications/` in the layout
 * observed on Linux nodes: `applications/<appid lower-cased><version>
 * <YYYY-MM-DD-HH-MM>` (for example `applications/mybatchapplication1.52024-10-24-20-44`)
 * with the zip's files directly inside. A package that cannot be deployed
 * (deleted, not active, or a blob that is not a zip) makes the node unusable,
 * as Batch documents for deployment failures.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type ApplicationPackageReference,
  type BatchAccountRecord,
  type PackageEntry,
  type NodeRecord,
  type PoolRecord,
} from "./state";
import type { BatchSimulation } from "./simulation";

/** A problem with one application package reference (pool add/patch, ARM pool update, node deployment). */
export interface PackageProblem {
  applicationId: string;
  version?: string;
  reason: string;
}

export interface ResolvedPackage {
  applicationId: string;
  version: string;
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * Resolves package references against the account's applications: each must
 * name an existing application and an active version, or rely on a default
 * version. Returns the resolved packages and the problems, one per bad reference.
 */
export function resolvePackages(sim: BatchSimulation, account: BatchAccountRecord, refs: ApplicationPackageReference[]): { resolved: ResolvedPackage[]; problems: PackageProblem[] } {
  const resolved: ResolvedPackage[] = [];
  const problems: PackageProblem[] = [];
  for (const ref of refs) {
    const name = applicationName(account, ref.applicationId);
    if (name === undefined) {
      problems.push({ applicationId: ref.applicationId, version: ref.version, reason: `The application '${ref.applicationId}' does not belong to Batch account '${account.name}'.` });
      continue;
    }
    const app = account.applications.get(name.toLowerCase());
    if (!app) {
      problems.push({ applicationId: ref.applicationId, version: ref.version, reason: `The application '${ref.applicationId}' does not exist.` });
      continue;
    }
    const version = ref.version ?? app.defaultVersion;
    if (!version) {
      problems.push({ applicationId: ref.applicationId, reason: `No version was specified for application '${ref.applicationId}' and it has no default version.` });
      continue;
    }
    const pkg = app.versions.get(version.toLowerCase());
    if (!pkg) {
      problems.push({ applicationId: ref.applicationId, version, reason: `The version '${version}' of application '${ref.applicationId}' does not exist.` });
      continue;
    }
    if (pkg.state !== "Active") {
      problems.push({ applicationId: ref.applicationId, version, reason: `The version '${version}' of application '${ref.applicationId}' is not active.` });
      continue;
    }
    resolved.push({ applicationId: app.name, version: pkg.version });
  }
  return { resolved, problems };
}

const APPLICATION_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)\/applications\/([^/]+)$/i;

/**
 * The application a reference names: a plain name, or the fully qualified id
 * Batch documents for pools (`/subscriptions/.../batchAccounts/{account}/applications/{name}`),
 * which must name this account; undefined for another account's application.
 */
function applicationName(account: BatchAccountRecord, applicationId: string): string | undefined {
  const m = APPLICATION_ID.exec(applicationId);
  if (!m) return applicationId;
  const sameAccount = m[1].toLowerCase() === account.resourceGroup.toLowerCase() && m[2].toLowerCase() === account.name.toLowerCase();
  return sameAccount ? m[3] : undefined;
}

/** Directory name Batch uses on Linux: <appid lower-cased><version><YYYY-MM-DD-HH-MM>. */
export function packageDirectory(applicationId: string, version: string, at: Date): string {
  const stamp = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}-${pad(at.getUTCHours())}-${pad(at.getUTCMinutes())}`;
  return `applications/${applicationId.toLowerCase()}${version}${stamp}`;
}

/** Deploys the pool's packages onto a node; returns the problems that make the node unusable. */
export function deployPackages(sim: BatchSimulation, account: BatchAccountRecord, pool: PoolRecord, node: NodeRecord, fresh: boolean): PackageProblem[] {
  if (fresh) node.installedPackages = [];
  const { resolved, problems } = resolvePackages(sim, account, pool.applicationPackageReferences);
  const at = new Date();
  for (const p of resolved) {
    const pkg = account.applications.get(p.applicationId.toLowerCase())!.versions.get(p.version.toLowerCase())!;
    if (!pkg.entries) {
      problems.push({ applicationId: p.applicationId, version: p.version, reason: "Resource Unzip failed" });
      continue;
    }
    const already = node.installedPackages.some((i) => i.applicationId.toLowerCase() === p.applicationId.toLowerCase() && i.version === p.version);
    if (already) continue;
    const directory = packageDirectory(p.applicationId, p.version, at);
    unzipOnto(node, directory, pkg.entries);
    node.installedPackages.push({ applicationId: p.applicationId, version: p.version, directory, installedAt: at.toISOString(), entries: pkg.entries, defaultAtDeployment: false });
  }
  // The node's package variables are set now, from the defaults of this moment: a default
  // version changed later reaches the node only when it deploys again, as pool references do.
  for (const installed of node.installedPackages) {
    const defaultVersion = account.applications.get(installed.applicationId.toLowerCase())?.defaultVersion;
    installed.defaultAtDeployment = defaultVersion !== undefined && defaultVersion.toLowerCase() === installed.version.toLowerCase();
  }
  return problems;
}

/** Writes a package's files into its directory on the node, the zip's layout kept. */
function unzipOnto(node: NodeRecord, directory: string, entries: PackageEntry[]): void {
  if (!node.sim.rootDir) return;
  const base = path.join(node.sim.rootDir, directory);
  fs.mkdirSync(base, { recursive: true });
  for (const e of entries) {
    const target = path.resolve(base, e.name);
    if (!target.startsWith(base + path.sep)) continue;
    if (e.name.endsWith("/")) {
      fs.mkdirSync(target, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, e.data ?? Buffer.alloc(e.size));
    fs.chmodSync(target, 0o755);
  }
}
