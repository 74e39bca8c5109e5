import { strict as assert } from "node:assert";
import { resolveCloud } from "../../runtime/clouds";
import { readAzureConnection } from "../../runtime/connection";
import type { Agent } from "../../runtime/agent";

describe("runtime: clouds and service connections", () => {
  it("knows the public, US Government and China clouds' endpoints and scopes", () => {
    const pub = resolveCloud({ environment: "AzureCloud" });
    assert.equal(pub.resourceManagerUrl, "https://management.azure.com/");
    assert.equal(pub.authorityHost, "https://login.microsoftonline.com");
    assert.equal(pub.batchScope, "https://batch.core.windows.net//.default");
    assert.equal(pub.storageSuffix, "core.windows.net");
    const gov = resolveCloud({ environment: "AzureUSGovernment" });
    assert.equal(gov.resourceManagerUrl, "https://management.usgovcloudapi.net/");
    assert.equal(gov.authorityHost, "https://login.microsoftonline.us");
    assert.equal(gov.resourceManagerScope, "https://management.usgovcloudapi.net/.default");
    assert.equal(gov.batchScope, "https://batch.core.usgovcloudapi.net//.default");
    const china = resolveCloud({ environment: "azurechinacloud" });
    assert.equal(china.resourceManagerUrl, "https://management.chinacloudapi.cn/");
    assert.equal(china.authorityHost, "https://login.chinacloudapi.cn");
    assert.equal(china.storageSuffix, "core.chinacloudapi.cn");
  });

  it("lets the connection's own URLs win (custom environments, the local Azure)", () => {
    const local = resolveCloud({
      environment: "AzureCloud",
      resourceManagerUrl: "https://127.0.0.1:4443",
      authorityHost: "https://127.0.0.1:4444/",
      resourceManagerAudience: "https://management.azure.com/",
    });
    assert.equal(local.resourceManagerUrl, "https://127.0.0.1:4443/");
    assert.equal(local.authorityHost, "https://127.0.0.1:4444");
    assert.equal(local.resourceManagerScope, "https://management.azure.com/.default");
    const stack = resolveCloud({ environment: "AzureStack", resourceManagerUrl: "https://management.local.azurestack.external/" });
    assert.equal(stack.name, "AzureStack");
    assert.equal(stack.resourceManagerScope, "https://management.local.azurestack.external/.default");
  });

  function agentWith(env: Record<string, string | undefined>, auth: Record<string, string>): Agent {
    const none = () => undefined;
    return {
      getInput: none,
      getVariable: (n) => env[n],
      getEndpointUrl: () => env.url,
      getEndpointAuthorizationScheme: () => env.scheme,
      getEndpointAuthorizationParameter: (_id, key) => auth[key.toLowerCase()],
      getEndpointDataParameter: (_id, key) => env[`data.${key.toLowerCase()}`],
      setSecret: () => undefined,
      setOutput: none,
      setProgress: none,
      info: none,
      debug: none,
      warning: none,
      error: none,
      uploadSummary: none,
      setFailed: none,
      setSucceeded: none,
    };
  }
  const fail = (m: string): never => {
    throw new Error(m);
  };

  it("reads each scheme of an AzureRM connection", () => {
    const base = { url: "https://management.usgovcloudapi.net/", "data.subscriptionid": "sub", "data.environment": "AzureUSGovernment" };
    const secret = readAzureConnection(agentWith({ ...base, scheme: "ServicePrincipal" }, { tenantid: "t", serviceprincipalid: "c", serviceprincipalkey: "s" }), fail, "conn");
    assert.equal(secret.scheme, "ServicePrincipal");
    assert.equal(secret.cloud.authorityHost, "https://login.microsoftonline.us");
    const cert = readAzureConnection(
      agentWith({ ...base, scheme: "ServicePrincipal" }, { tenantid: "t", serviceprincipalid: "c", authenticationtype: "spnCertificate", serviceprincipalcertificate: "PEM" }),
      fail,
      "conn",
    );
    assert.equal(cert.scheme, "ServicePrincipalCertificate");
    const wif = readAzureConnection(
      agentWith({ ...base, scheme: "WorkloadIdentityFederation", "System.OidcRequestUri": "https://dev.azure.com/x/oidc" }, { tenantid: "t", serviceprincipalid: "c", accesstoken: "job-token" }),
      fail,
      "conn",
    );
    assert.equal(wif.scheme, "WorkloadIdentityFederation");
    assert.ok(wif.scheme === "WorkloadIdentityFederation" && wif.oidc.serviceConnectionId === "conn" && wif.oidc.accessToken === "job-token");
    const msi = readAzureConnection(agentWith({ ...base, scheme: "ManagedServiceIdentity", "data.msiclientid": "mi" }, {}), fail, "conn");
    assert.ok(msi.scheme === "ManagedServiceIdentity" && msi.clientId === "mi");
  });

  it("names what is missing or unsupported", () => {
    assert.throws(() => readAzureConnection(agentWith({ scheme: "ServicePrincipal" }, {}), fail, "conn"), /has no subscription id/);
    assert.throws(() => readAzureConnection(agentWith({ "data.subscriptionid": "s", scheme: "PublishProfile" }, {}), fail, "conn"), /uses the 'PublishProfile' scheme/);
    assert.throws(() => readAzureConnection(agentWith({ "data.subscriptionid": "s", scheme: "WorkloadIdentityFederation" }, { tenantid: "t", serviceprincipalid: "c" }), fail, "conn"), /System\.OidcRequestUri/);
  });
});
