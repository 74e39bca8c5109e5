/**
 * Blob clients with the runtime's one retry policy (runtime/retry.ts):
 * throttling waits as long as the service asks (Blob's own policy does not
 * retry 429 at all), transient failures back off. The SDK's own retry is set
 * to a single try, so no request is retried twice over.
 */
import { AnonymousCredential, BlockBlobClient, newPipeline, type Pipeline, type StoragePipelineOptions, type StorageSharedKeyCredential } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/identity";
import { blobRetryPolicyFactory, type RetryOptions } from "./retry";

export interface BlobClientOptions {
  retry?: RetryOptions;
  /** The SDK's other pipeline settings (user agent, proxy, keep-alive); its retry options are the runtime's. */
  pipeline?: Omit<StoragePipelineOptions, "retryOptions">;
}

/** A Blob pipeline for the given credential, with the runtime's retry policy. */
export function blobPipeline(credential: StorageSharedKeyCredential | AnonymousCredential | TokenCredential = new AnonymousCredential(), options: BlobClientOptions = {}): Pipeline {
  const pipeline = newPipeline(credential, { ...options.pipeline, retryOptions: { maxTries: 1 } });
  pipeline.factories.push(blobRetryPolicyFactory(options.retry));
  return pipeline;
}

/** A block blob from a URL that carries its own SAS (the `storageUrl` ARM returns for an application package). */
export function blockBlobClientFromUrl(url: string, options: BlobClientOptions = {}): BlockBlobClient {
  return new BlockBlobClient(url, blobPipeline(new AnonymousCredential(), options));
}
