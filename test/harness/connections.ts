/**
 * Service connection environments for the four sign-in schemes, pointed at the
 * local Azure, as the agent would hand them to a task.
 */
import type { LocalAzure } from "../local-azure";
import type { AppRegistration } from "../local-azure/entra";

export type Scheme = "secret" | "certificate" | "federated" | "managedIdentity";

const CONNECTION = "LocalAzure";

/** The local Azure's env with the service connection's auth replaced. */
export function connectionEnv(azure: LocalAzure, scheme: Scheme, extra: { app?: AppRegistration; certificatePem?: string } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(azure.info.env)) {
    if (!k.startsWith(`ENDPOINT_AUTH_${CONNECTION}`) && !k.startsWith(`ENDPOINT_AUTH_PARAMETER_${CONNECTION}`) && !k.startsWith(`ENDPOINT_AUTH_SCHEME_${CONNECTION}`)) env[k] = v;
  }
  const set = (schemeName: string, parameters: Record<string, string>) => {
    env[`ENDPOINT_AUTH_SCHEME_${CONNECTION}`] = schemeName;
    env[`ENDPOINT_AUTH_${CONNECTION}`] = JSON.stringify({ scheme: schemeName, parameters });
    for (const [k, v] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${CONNECTION}_${k.toUpperCase()}`] = v;
  };
  const tenantid = azure.info.tenantId;
  switch (scheme) {
    case "secret":
      set("ServicePrincipal", { serviceprincipalid: azure.info.clientId, serviceprincipalkey: azure.info.clientSecret, tenantid, authenticationType: "spnKey" });
      break;
    case "certificate":
      set("ServicePrincipal", {
        serviceprincipalid: extra.app!.clientId,
        servicePrincipalCertificate: extra.certificatePem!,
        tenantid,
        authenticationType: "spnCertificate",
      });
      break;
    case "federated":
      set("WorkloadIdentityFederation", { serviceprincipalid: azure.info.clientId, tenantid });
      break;
    case "managedIdentity":
      set("ManagedServiceIdentity", { tenantid });
      env[`ENDPOINT_DATA_${CONNECTION}_MSICLIENTID`] = azure.info.managedIdentity.clientId;
      break;
  }
  return env;
}
