/**
 * Azure Batch for the tasks: the account found through ARM (by name in the
 * connection's subscription, or by id in the id's), the management client, and a data-plane
 * client signed in with Entra ID (Batch's own audience) or the account key.
 */
import type { BatchAccount } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { AzureIdentityCredentialAdapter, type ServiceClientOptions } from "@azure/ms-rest-js";
import { batchManagementClient } from "./clients";
import { retryRequestPolicyFactory, type RetryOptions } from "./retry";
import { errorStatus, NotAuthorizedError, TaskError } from "./errors";
import { findArmResource } from "./arm-resources";
import type { AzureSession } from "./session";

export interface ResolvedBatchAccount {
  name: string;
  resourceGroup: string;
  id: string;
  /**
   * The subscription the account is in (a resource id may name another than
   * the connection's); absent means the connection's. Pass it to a management
   * client built for the account: `batchManagementClient(session, { subscriptionId })`.
   */
  subscriptionId?: string;
  /** https://<account>.<region>.batch.azure.com */
  url: string;
}

export type BatchAuth = "entra" | "sharedKey";

export { batchManagementClient };

/** ms-rest-js's three retry policies off, the runtime's one on, innermost (it sees the raw answers). */
function dataPlaneOptions(retry: RetryOptions | undefined): ServiceClientOptions {
  return { noRetryPolicy: true, requestPolicyFactories: (defaults) => [...defaults, retryRequestPolicyFactory(retry)] };
}

const RESOURCE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)$/i;

/**
 * Finds a Batch account by name in the connection's subscription, or by full
 * resource id in the subscription the id names. Throws NotFoundError (with
 * the accounts the connection can see) or NotAuthorizedError (with the role
 * to grant); either names the id's subscription when the connection cannot
 * see it.
 */
export async function resolveBatchAccount(session: AzureSession, nameOrId: string): Promise<ResolvedBatchAccount> {
  const found = await findArmResource<BatchAccount>(session, nameOrId, {
    kind: "Batch account",
    idPattern: RESOURCE_ID,
    readAction: "Microsoft.Batch/batchAccounts/read",
    get: (rg, name, subscriptionId) => batchManagementClient(session, { subscriptionId }).batchAccountOperations.get(rg, name),
    list: () => batchManagementClient(session).batchAccountOperations.list(),
  });
  const endpoint = found.resource.accountEndpoint;
  if (!endpoint) throw new TaskError("NoAccountEndpoint", `Batch account '${found.name}' has no account endpoint yet (provisioning state ${found.resource.provisioningState}).`);
  return { name: found.name, resourceGroup: found.resourceGroup, id: found.id, subscriptionId: found.subscriptionId, url: `https://${endpoint}` };
}

export async function batchServiceClient(session: AzureSession, account: ResolvedBatchAccount, auth: BatchAuth, options: { retry?: RetryOptions } = {}): Promise<BatchServiceClient> {
  if (auth === "sharedKey") {
    let key: string | undefined;
    try {
      key = (await batchManagementClient(session, { subscriptionId: account.subscriptionId }).batchAccountOperations.getKeys(account.resourceGroup, account.name)).primary;
    } catch (e) {
      if (errorStatus(e) === 403) {
        throw new NotAuthorizedError({
          operation: `read the keys of Batch account '${account.name}'`,
          role: "Contributor",
          action: "Microsoft.Batch/batchAccounts/listKeys/action",
          scope: "on the account",
          alternative: "or use Entra ID",
          cause: e,
        });
      }
      throw e;
    }
    if (!key) throw new TaskError("NoAccountKey", `Batch account '${account.name}' returned no key (shared key access may be disabled). Use Entra ID.`);
    session.setSecret(key);
    return new BatchServiceClient(new BatchSharedKeyCredentials(account.name, key), account.url, dataPlaneOptions(options.retry));
  }
  // @azure/batch asks a TokenCredential for the ARM scope unless told Batch's own.
  return new BatchServiceClient(new AzureIdentityCredentialAdapter(session.credential, session.connection.cloud.batchScope), account.url, dataPlaneOptions(options.retry));
}
