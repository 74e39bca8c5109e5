/**
 * The one place the management clients are built: each signed in with the
 * session's credential for the cloud's ARM scope (the SDKs spell the option
 * two ways; the value is decided here once), pointed at the cloud's ARM
 * endpoint, and with the runtime's retry policy in place of the SDK's. Each
 * works in the connection's subscription unless told another.
 */
import { BatchManagementClient } from "@azure/arm-batch";
import { DataFactoryManagementClient } from "@azure/arm-datafactory";
import { StorageManagementClient } from "@azure/arm-storage";
import { useRetryPolicy, type RetryOptions } from "./retry";
import type { AzureSession } from "./session";

export interface ManagementClientOptions {
  retry?: RetryOptions;
  /**
   * The subscription the client works in; default: the service connection's.
   * For a resource found by id in another subscription, pass the one it was
   * found in (`account.subscriptionId`).
   */
  subscriptionId?: string;
}

const subscriptionFor = (session: AzureSession, options: ManagementClientOptions) => options.subscriptionId ?? session.connection.subscriptionId;

/** The cloud's ARM endpoint and the scope its tokens are asked for. */
export function armTarget(session: AzureSession): { endpoint: string; scopes: string[] } {
  const cloud = session.connection.cloud;
  return { endpoint: cloud.resourceManagerUrl, scopes: [cloud.resourceManagerScope] };
}

export function batchManagementClient(session: AzureSession, options: ManagementClientOptions = {}): BatchManagementClient {
  const { endpoint, scopes } = armTarget(session);
  return useRetryPolicy(new BatchManagementClient(session.credential, subscriptionFor(session, options), { endpoint, credentialScopes: scopes }), options.retry);
}

export function dataFactoryClient(session: AzureSession, options: ManagementClientOptions = {}): DataFactoryManagementClient {
  const { endpoint, scopes } = armTarget(session);
  return useRetryPolicy(new DataFactoryManagementClient(session.credential, subscriptionFor(session, options), { endpoint, credentialScopes: scopes }), options.retry);
}

export function storageManagementClient(session: AzureSession, options: ManagementClientOptions = {}): StorageManagementClient {
  const { endpoint, scopes } = armTarget(session);
  // arm-storage 20 is a modular client: the same scope goes in `credentials.scopes`.
  return useRetryPolicy(new StorageManagementClient(session.credential, subscriptionFor(session, options), { endpoint, credentials: { scopes } }), options.retry);
}
