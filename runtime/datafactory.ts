/**
 * Azure Data Factory's management client for the connection's cloud.
 */
import { DataFactoryManagementClient } from "@azure/arm-datafactory";
import type { AzureSession } from "./session";

export function dataFactoryClient(session: AzureSession): DataFactoryManagementClient {
  const cloud = session.connection.cloud;
  return new DataFactoryManagementClient(session.credential, session.connection.subscriptionId, {
    endpoint: cloud.resourceManagerUrl,
    credentialScopes: [cloud.resourceManagerScope],
  });
}
