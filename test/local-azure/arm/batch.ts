/**
 * Microsoft.Batch on the local ARM (api-versions 2022-10-01 to 2025-06-01; 2023-11-01 as
 * @azure/arm-batch 9.x sends it): batch accounts (get, list, listKeys,
 * syncAutoStorageKeys), applications (create, get, update, list, delete),
 * application package versions (create, activate, get, list, delete) and
 * pools (get, list, update, stopResize, disableAutoScale), on the same state
 * the Batch data plane serves.
 *
 * Behaviour taken from the real service where it is known:
 * - Activating a version whose blob was never uploaded is 409
 *   ApplicationPackageBlobNotFound (Azure SDK for JS's live arm-batch tests).
 * - Activation does not look inside the blob: the same tests activate a blob
 *   holding "Hey there!" successfully, and users report that any file uploads
 *   and activates. A package that is not a zip fails later, when a node
 *   deploys it: the node becomes unusable (ApplicationPackageError, "Resource
 *   Unzip failed"), as Batch documents for deployment failures. The zip's
 *   central directory is read at activation so nodes can list its files.
 * - Setting defaultVersion to a version that is not active is 409
 *   RequestedDefaultVersionNotActive; deleting an application that still has
 *   versions is 409 ApplicationPackagesNotEmpty (same tests).
 * - Pool references to a missing application, a missing or pending version,
 *   or no version without a default are 409 InvalidApplicationPackageReferences
 *   (documented with the ApplicationPackageReference model), with one detail
 *   per bad reference. More than 10 references is 400 InvalidPropertyValue
 *   (the spec: "a maximum of 10 application package references on any given
 *   pool"), as the data plane refuses it.
 * - Deleting a version that a pool references is allowed (nothing documents a
 *   refusal): nodes that have it keep it; nodes that join, reboot or are
 *   reimaged afterwards fail to deploy it and become unusable. Deleting the
 *   application's default version clears defaultVersion.
 * Errors carry target "BatchAccount", as the Batch resource provider's do.
 *
 * batch-accounts.ts holds the shared context, accounts and auto-storage;
 * batch-applications.ts applications and versions; batch-pools.ts pools.
 */
import type { ArmService } from "./core";
import { createBatchArmContext, registerBatchAccounts, type BatchArmOptions } from "./batch-accounts";
import { registerBatchApplications } from "./batch-applications";
import { registerBatchPools } from "./batch-pools";

export { readZipEntries, type BatchArmOptions } from "./batch-accounts";

export function registerBatch(arm: ArmService, options: BatchArmOptions): void {
  const ctx = createBatchArmContext(arm, options);
  registerBatchAccounts(ctx);
  registerBatchApplications(ctx);
  registerBatchPools(ctx);
}
