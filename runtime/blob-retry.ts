/**
 * Blob retry defaults: the SDK's exponential policy for transient failures
 * (500, 503, resets, timeouts); throttling (429) is retried around whole
 * idempotent steps with retryThrottled, which honours Retry-After.
 */
import type { StoragePipelineOptions, StorageRetryOptions } from "@azure/storage-blob";

export const BLOB_RETRY_OPTIONS: Readonly<StorageRetryOptions> = Object.freeze({ maxTries: 6, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 });

/** Pipeline options for a Blob client with the defaults above. */
export function blobPipelineOptions(extra: StoragePipelineOptions = {}): StoragePipelineOptions {
  return { ...extra, retryOptions: { ...BLOB_RETRY_OPTIONS, ...(extra.retryOptions ?? {}) } };
}
