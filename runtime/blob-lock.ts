/**
 * A lock on a blob prefix for the length of a run: a lease on a lock blob
 * beside the prefix, renewed while the run works. A second run that tries to
 * take it fails at once and is told who holds it (the holder writes its run's
 * description into the lock blob's metadata). The lease is short, so a run
 * that crashed releases the prefix within that time.
 */
import * as crypto from "node:crypto";
import type { ContainerClient } from "@azure/storage-blob";
import { errorCode, errorStatus, TaskError } from "./errors";

/** Lock blobs end in this; a sync never uploads over or deletes them. */
export const LOCK_BLOB_SUFFIX = ".blobcopy-lock";
export const LOCK_LEASE_SECONDS = 20;

/** The lock blob for a prefix: beside it (`app/1.0/` → `app/1.0.blobcopy-lock`), so it is not under the prefix itself. */
export function lockBlobName(prefix: string): string {
  return `${prefix.replace(/\/$/, "")}${LOCK_BLOB_SUFFIX}`;
}

export function isLockBlobName(name: string): boolean {
  return name.endsWith(LOCK_BLOB_SUFFIX);
}

export interface LockHolder {
  /** One line saying which run holds the lock, e.g. "release 'app-release-42', job 3fa…, agent 'ubuntu-1'". */
  description: string;
}

export interface HeldLock {
  readonly name: string;
  /** Aborted when the lease could not be renewed: the run no longer holds the prefix. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

const HOLDER_KEY = "holder";
const SINCE_KEY = "heldsince";

export async function acquireBlobLock(
  container: ContainerClient,
  prefix: string,
  holder: LockHolder,
  options: {
    leaseSeconds?: number;
    signal?: AbortSignal;
    onRenewFailed?(error: unknown): void;
    /** Called when the container does not exist (creates it, or throws); the lock is then tried again. */
    onContainerMissing?(): Promise<void>;
  } = {},
): Promise<HeldLock> {
  const name = lockBlobName(prefix);
  const blob = container.getBlockBlobClient(name);
  const leaseSeconds = options.leaseSeconds ?? LOCK_LEASE_SECONDS;
  const lease = blob.getBlobLeaseClient(crypto.randomUUID());
  const where = `'${container.containerName}/${name}'`;

  for (let attempt = 0; ; attempt++) {
    try {
      await lease.acquireLease(leaseSeconds, { abortSignal: options.signal });
      break;
    } catch (e) {
      if (errorStatus(e) === 404 && errorCode(e) === "ContainerNotFound" && options.onContainerMissing && attempt < 3) {
        await options.onContainerMissing();
        continue;
      }
      if (errorStatus(e) === 404 && attempt < 3) {
        // First run on this prefix: create the (empty) lock blob; a concurrent creator wins just as well.
        await blob.upload("", 0, { conditions: { ifNoneMatch: "*" }, abortSignal: options.signal }).catch((ce: unknown) => {
          if (errorStatus(ce) !== 409 && errorStatus(ce) !== 412) throw ce;
        });
        continue;
      }
      if (errorStatus(e) === 409 && (errorCode(e) === "LeaseAlreadyPresent" || errorCode(e) === undefined)) {
        const metadata = await blob.getProperties({ abortSignal: options.signal }).then((p) => p.metadata ?? {}, () => ({}) as Record<string, string>);
        const who = metadata[HOLDER_KEY] ? decodeURIComponent(metadata[HOLDER_KEY]) : undefined;
        const since = metadata[SINCE_KEY];
        throw new TaskError(
          "TargetLocked",
          `Another run is syncing to '${container.containerName}/${prefix}': it holds the lock ${where}${who ? ` (${who}${since ? `, since ${since}` : ""})` : ""}. ` +
            `Two runs writing the same prefix at once would leave a mix of both. Wait for that run to finish and run this one again; a run that crashed releases the lock within ${leaseSeconds} s.`,
        );
      }
      throw e;
    }
  }

  const leaseId = lease.leaseId;
  await blob.setMetadata({ [HOLDER_KEY]: encodeURIComponent(holder.description), [SINCE_KEY]: new Date().toISOString() }, { conditions: { leaseId }, abortSignal: options.signal });
  const lost = new AbortController();
  const renew = setInterval(
    () => {
      lease.renewLease().catch((e: unknown) => {
        clearInterval(renew);
        options.onRenewFailed?.(e);
        lost.abort(new TaskError("LockLost", `The lock ${where} could not be renewed, so another run may now write to the prefix. Run this one again.`));
      });
    },
    Math.max(1000, (leaseSeconds * 1000) / 4),
  );
  renew.unref();
  return {
    name,
    lost: lost.signal,
    release: async () => {
      clearInterval(renew);
      await lease.releaseLease().catch(() => undefined); // it expires by itself anyway
    },
  };
}
