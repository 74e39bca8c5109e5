/**
 * Turns a service connection into an @azure/identity TokenCredential. For
 * workload identity federation the OIDC token is fetched from Azure DevOps on
 * every token request (it lives minutes) and is never written to disk.
 */
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from "@azure/identity";
import type { AzureConnection, OidcSource } from "./connection";
import { TaskError } from "./errors";

export interface CredentialOptions {
  /** Masks each OIDC token before anything could print it. */
  setSecret(value: string): void;
}

export async function fetchOidcToken(source: OidcSource, setSecret: (v: string) => void): Promise<string> {
  const url = new URL(source.requestUri);
  url.searchParams.set("api-version", "7.1");
  url.searchParams.set("serviceConnectionId", source.serviceConnectionId);
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${source.accessToken}`, "content-type": "application/json" },
    signal: AbortSignal.timeout(60_000),
  });
  if (!response.ok) {
    throw new TaskError(
      "OidcTokenRequestFailed",
      `Azure DevOps refused the OIDC token for service connection '${source.serviceConnectionId}' (HTTP ${response.status}). Check that the pipeline is authorized to use the connection.`,
    );
  }
  const body = (await response.json()) as { oidcToken?: string };
  if (!body.oidcToken) throw new TaskError("OidcTokenRequestFailed", "Azure DevOps answered without an OIDC token.");
  setSecret(body.oidcToken);
  return body.oidcToken;
}

export function createCredential(connection: AzureConnection, options: CredentialOptions): TokenCredential {
  const common = { authorityHost: connection.cloud.authorityHost, disableInstanceDiscovery: true } as const;
  switch (connection.scheme) {
    case "ServicePrincipal":
      return new ClientSecretCredential(connection.tenantId, connection.clientId, connection.clientSecret, common);
    case "ServicePrincipalCertificate":
      return new ClientCertificateCredential(connection.tenantId, connection.clientId, { certificate: connection.certificatePem }, common);
    case "WorkloadIdentityFederation":
      return new ClientAssertionCredential(connection.tenantId, connection.clientId, () => fetchOidcToken(connection.oidc, options.setSecret), common);
    case "ManagedServiceIdentity":
      return connection.clientId ? new ManagedIdentityCredential({ clientId: connection.clientId }) : new ManagedIdentityCredential();
  }
}
