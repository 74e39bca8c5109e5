/**
 * Reads an AzureRM service connection (ServicePrincipal with a secret or a
 * certificate, WorkloadIdentityFederation, ManagedServiceIdentity) into a
 * plain object. Secrets are masked as soon as they are read.
 */
import type { Agent } from "./agent";
import { resolveCloud, type CloudEndpoints } from "./clouds";

export type AzureConnection =
  | (ConnectionBase & { scheme: "ServicePrincipal"; clientId: string; clientSecret: string })
  | (ConnectionBase & { scheme: "ServicePrincipalCertificate"; clientId: string; certificatePem: string })
  | (ConnectionBase & { scheme: "WorkloadIdentityFederation"; clientId: string; oidc: OidcSource })
  | (ConnectionBase & { scheme: "ManagedServiceIdentity"; clientId?: string });

interface ConnectionBase {
  /** The connection id the pipeline knows it by. */
  id: string;
  tenantId: string;
  subscriptionId: string;
  subscriptionName?: string;
  cloud: CloudEndpoints;
}

/** Where Azure DevOps hands out the job's OIDC tokens for this connection. */
export interface OidcSource {
  requestUri: string;
  accessToken: string;
  serviceConnectionId: string;
}

/** `fail` raises an input error naming the connection input. */
export function readAzureConnection(agent: Agent, fail: (message: string) => never, connectionId: string): AzureConnection {
  const scheme = agent.getEndpointAuthorizationScheme(connectionId) ?? "ServicePrincipal";
  const auth = (key: string) => agent.getEndpointAuthorizationParameter(connectionId, key);
  const data = (key: string) => agent.getEndpointDataParameter(connectionId, key);
  const missing = (what: string): never => fail(`the service connection '${connectionId}' has no ${what}. Check the connection's settings or recreate it.`);
  const subscriptionId = data("subscriptionid") ?? missing("subscription id");
  const url = agent.getEndpointUrl(connectionId);
  const cloud = resolveCloud({
    environment: data("environment"),
    resourceManagerUrl: url,
    authorityHost: data("activeDirectoryAuthority") ?? data("environmentAuthorityUrl"),
    resourceManagerAudience: data("activeDirectoryServiceEndpointResourceId"),
  });
  const base = { id: connectionId, subscriptionId, subscriptionName: data("subscriptionname"), cloud };
  switch (scheme.toLowerCase()) {
    case "serviceprincipal": {
      const tenantId = auth("tenantid") ?? missing("tenant id");
      const clientId = auth("serviceprincipalid") ?? missing("service principal id");
      if ((auth("authenticationType") ?? "spnKey").toLowerCase() === "spncertificate") {
        const certificatePem = auth("servicePrincipalCertificate") ?? missing("certificate");
        // The agent masks single lines only: mask each line of the PEM.
        for (const line of certificatePem.split(/\r?\n/)) if (line.trim() && !line.startsWith("-----")) agent.setSecret(line.trim());
        return { ...base, scheme: "ServicePrincipalCertificate", tenantId, clientId, certificatePem };
      }
      const clientSecret = auth("serviceprincipalkey") ?? missing("service principal key");
      agent.setSecret(clientSecret);
      return { ...base, scheme: "ServicePrincipal", tenantId, clientId, clientSecret };
    }
    case "workloadidentityfederation": {
      const tenantId = auth("tenantid") ?? missing("tenant id");
      const clientId = auth("serviceprincipalid") ?? missing("service principal id");
      const requestUri = agent.getVariable("System.OidcRequestUri");
      const accessToken = agent.getEndpointAuthorizationParameter("SYSTEMVSSCONNECTION", "AccessToken") ?? agent.getVariable("System.AccessToken");
      if (!requestUri || !accessToken) {
        fail("workload identity federation needs System.OidcRequestUri and System.AccessToken, which this job does not have. Run the task in an Azure Pipelines job (agent 3.227 or later).");
      }
      agent.setSecret(accessToken);
      return { ...base, scheme: "WorkloadIdentityFederation", tenantId, clientId, oidc: { requestUri, accessToken, serviceConnectionId: connectionId } };
    }
    case "managedserviceidentity":
      return { ...base, scheme: "ManagedServiceIdentity", tenantId: auth("tenantid") ?? "", clientId: data("msiclientId") || undefined };
    default:
      return fail(`the service connection uses the '${scheme}' scheme. Use an Azure Resource Manager connection with a service principal, workload identity federation or a managed identity.`);
  }
}
