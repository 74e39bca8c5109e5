/**
 * A pool's application package references with this application pointed at
 * the published version: other applications' references are kept as they
 * are, in their order, and the pool's limit of 10 is checked.
 */
import { referencesApplication } from "./versions";

/** Batch allows at most this many application package references on a pool. */
export const MAX_POOL_PACKAGE_REFERENCES = 10;

export interface PackageReference {
  /** The application's resource id (ARM), or its name. */
  id: string;
  /** No version: the application's default. */
  version?: string;
}

export interface PoolReferencePlan {
  poolId: string;
  /** What the pool gets: every other application's reference, then this application's. */
  references: PackageReference[];
  /** This application's references before (usually one). */
  previous: PackageReference[];
  /** False when the pool references exactly this version already. */
  changed: boolean;
  /** Over MAX_POOL_PACKAGE_REFERENCES: the references that fill the pool. */
  overLimit?: PackageReference[];
}

export function planPoolReferences(
  pool: { poolId: string; applicationPackages?: readonly PackageReference[] },
  application: { name: string; resourceId: string },
  version: string,
): PoolReferencePlan {
  const current = pool.applicationPackages ?? [];
  const others = current.filter((r) => !referencesApplication(r.id, application.name));
  const previous = current.filter((r) => referencesApplication(r.id, application.name));
  const references = [...others.map((r) => ({ id: r.id, ...(r.version ? { version: r.version } : {}) })), { id: application.resourceId, version }];
  const changed = !(previous.length === 1 && previous[0]?.version === version);
  return {
    poolId: pool.poolId,
    references,
    previous,
    changed,
    ...(references.length > MAX_POOL_PACKAGE_REFERENCES ? { overLimit: others } : {}),
  };
}

/** `app:1.2`, `/…/applications/app` → `app (default version)`, for messages. */
export function describeReference(ref: PackageReference): string {
  const name = /\/applications\/([^/]+)\/?$/i.exec(ref.id)?.[1] ?? ref.id;
  return ref.version ? `${name}:${ref.version}` : `${name} (default version)`;
}
