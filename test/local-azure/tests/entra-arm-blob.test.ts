import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { generate } from "selfsigned";
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ManagedIdentityCredential,
  type AccessToken,
  type TokenCredential,
} from "@azure/identity";
import { StorageManagementClient } from "@azure/arm-storage";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith } from "../../harness/azure-test";

const ARM_SCOPE = "https://management.azure.com/.default";

function staticToken(token: string): TokenCredential {
  return { getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}

function armClient(azure: LocalAzure, credential: TokenCredential): StorageManagementClient {
  return new StorageManagementClient(credential, azure.info.subscriptionId, {
    endpoint: azure.info.armUrl,
    credentials: { scopes: [ARM_SCOPE] },
    retryOptions: { maxRetries: 0 },
  });
}

function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

describe("local Azure: Entra ID, ARM (Microsoft.Storage) and Blob", function () {
  let azure: LocalAzure;
  before(async () => {
    azure = await localAzure();
  });
  afterEach(resetLocalAzure);

  describe("Entra ID token endpoint", () => {
    it("issues a client-secret token with the requested audience, tenant and object id", async () => {
      const credential = localCredential(azure);
      const token = await credential.getToken("https://batch.core.windows.net//.default");
      const claims = decodeJwt(token.token);
      assert.equal(claims.aud, "https://batch.core.windows.net/");
      assert.equal(claims.tid, azure.info.tenantId);
      assert.equal(claims.oid, azure.info.servicePrincipalObjectId);
      assert.equal(claims.iss, `https://sts.windows.net/${azure.info.tenantId}/`);
      assert.ok(Number(claims.exp) > Date.now() / 1000);
      const storage = decodeJwt((await credential.getToken("https://storage.azure.com/.default")).token);
      assert.equal(storage.aud, "https://storage.azure.com/");
    });

    it("refuses a wrong secret with AADSTS7000215", async () => {
      const credential = localCredential(azure, { clientSecret: "not-the-secret" });
      await rejectsWith(credential.getToken(ARM_SCOPE), (e) => assert.match(e.message, /AADSTS7000215/));
    });

    it("refuses an unknown tenant with AADSTS90002", async () => {
      const credential = localCredential(azure, { tenantId: crypto.randomUUID() });
      await rejectsWith(credential.getToken(ARM_SCOPE), (e) => assert.match(e.message, /AADSTS90002|endpoints_resolution_error/));
    });

    it("accepts a certificate assertion signed by the registered certificate and refuses another key", async () => {
      const pems = await generate([{ name: "commonName", value: "release-pipeline-cert" }], { keySize: 2048, algorithm: "sha256" });
      const app = azure.addApp({ certificates: [pems.cert], secrets: [] });
      const good = new ClientCertificateCredential(azure.info.tenantId, app.clientId, { certificate: `${pems.private}\n${pems.cert}` }, {
        authorityHost: azure.info.authorityHost,
        disableInstanceDiscovery: true,
      });
      const token = await good.getToken(ARM_SCOPE);
      assert.equal(decodeJwt(token.token).oid, app.objectId);
      assert.equal(azure.state.entra.issued.at(-1)?.grant, "certificate");

      const other = await generate([{ name: "commonName", value: "someone-else" }], { keySize: 2048, algorithm: "sha256" });
      const bad = new ClientCertificateCredential(azure.info.tenantId, app.clientId, { certificate: `${other.private}\n${other.cert}` }, {
        authorityHost: azure.info.authorityHost,
        disableInstanceDiscovery: true,
      });
      await rejectsWith(bad.getToken(ARM_SCOPE), (e) => assert.match(e.message, /AADSTS700027/));
    });

    it("exchanges an Azure DevOps OIDC token (workload identity federation), fetching a fresh one each time", async () => {
      const before = azure.state.devops.tokensIssued;
      const fetchOidcToken = async (): Promise<string> => {
        const url = `${azure.info.devops.oidcRequestUri}?api-version=7.1&serviceConnectionId=${azure.info.devops.serviceConnectionId}`;
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${azure.info.devops.accessToken}`, "content-type": "application/json" } });
        assert.equal(res.status, 200);
        return ((await res.json()) as { oidcToken: string }).oidcToken;
      };
      const credential = new ClientAssertionCredential(azure.info.tenantId, azure.info.clientId, fetchOidcToken, {
        authorityHost: azure.info.authorityHost,
        disableInstanceDiscovery: true,
      });
      const token = await credential.getToken(ARM_SCOPE);
      assert.equal(decodeJwt(token.token).oid, azure.info.servicePrincipalObjectId);
      assert.ok(azure.state.devops.tokensIssued > before, "an OIDC token was fetched from Azure DevOps");
      assert.equal(azure.state.entra.issued.at(-1)?.grant, "federated");
    });

    it("refuses a federated assertion whose subject has no federated credential (AADSTS70021)", async () => {
      const app = azure.addApp({ secrets: [] });
      const credential = new ClientAssertionCredential(
        azure.info.tenantId,
        app.clientId,
        async () => {
          const url = `${azure.info.devops.oidcRequestUri}?api-version=7.1&serviceConnectionId=${azure.info.devops.serviceConnectionId}`;
          const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${azure.info.devops.accessToken}` } });
          return ((await res.json()) as { oidcToken: string }).oidcToken;
        },
        { authorityHost: azure.info.authorityHost, disableInstanceDiscovery: true },
      );
      await rejectsWith(credential.getToken(ARM_SCOPE), (e) => assert.match(e.message, /AADSTS70021/));
    });

    it("refuses the DevOps OIDC request without the job's access token", async () => {
      const res = await fetch(`${azure.info.devops.oidcRequestUri}?api-version=7.1&serviceConnectionId=${azure.info.devops.serviceConnectionId}`, {
        method: "POST",
        headers: { authorization: "Bearer wrong" },
      });
      assert.equal(res.status, 401);
    });

    it("answers a DevOps call it does not implement with 501 NotImplemented, not a 404", async () => {
      const res = await fetch(`${azure.info.devopsUrl}/contoso/_apis/connectionData?api-version=7.1`, { headers: { authorization: `Bearer ${azure.info.devops.accessToken}` } });
      assert.equal(res.status, 501);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, "NotImplemented");
      assert.match(body.message, /^The local Azure DevOps does not implement GET \/contoso\/_apis\/connectionData; it serves POST \/\{organization\}\/_apis\/distributedtask\/.*\/oidctoken only\.$/);
    });

    it("serves managed identity tokens on loopback (App Service style)", async () => {
      const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
      process.env.IDENTITY_ENDPOINT = azure.info.managedIdentity.endpoint;
      process.env.IDENTITY_HEADER = azure.info.managedIdentity.header;
      try {
        const credential = new ManagedIdentityCredential({ clientId: azure.info.managedIdentity.clientId });
        const token = await credential.getToken(ARM_SCOPE);
        const claims = decodeJwt(token.token);
        assert.equal(claims.oid, azure.info.managedIdentity.objectId);
        assert.equal(claims.aud, "https://management.azure.com/");
      } finally {
        process.env.IDENTITY_ENDPOINT = saved.endpoint;
        process.env.IDENTITY_HEADER = saved.header;
        if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
        if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
      }
      assert.ok(azure.log.find({ service: "entra", path: /\/msi\/token$/ }).length > 0);
    });
  });

  describe("ARM", () => {
    const credential = () =>
      localCredential(azure);

    it("gets the storage account with its blob endpoint and lists its keys", async () => {
      const client = armClient(azure, credential());
      const account = await client.storageAccounts.getProperties(azure.info.resourceGroup, azure.info.storage.accountName);
      assert.equal(account.primaryEndpoints?.blob, `${azure.info.storage.blobUrl}/`);
      const keys = await client.storageAccounts.listKeys(azure.info.resourceGroup, azure.info.storage.accountName);
      assert.equal(keys.keys?.[0].value, azure.info.storage.accountKey);
    });

    it("answers an unknown account with ResourceNotFound and an unknown group with ResourceGroupNotFound", async () => {
      const client = armClient(azure, credential());
      await rejectsWith(client.storageAccounts.getProperties(azure.info.resourceGroup, "nosuchaccount"), (e) => {
        assert.equal(e.statusCode, 404);
        assert.equal(e.code, "ResourceNotFound");
      });
      await rejectsWith(client.storageAccounts.getProperties("rg-nope", "x"), (e) => assert.equal(e.code, "ResourceGroupNotFound"));
    });

    it("refuses an expired token, a token for another audience and a forged token", async () => {
      const expired = azure.entra.mintToken({ aud: "https://management.azure.com/", oid: azure.info.servicePrincipalObjectId, expiresInSeconds: -60 });
      await rejectsWith(armClient(azure, staticToken(expired)).storageAccounts.getProperties(azure.info.resourceGroup, azure.info.storage.accountName), (e) => {
        assert.equal(e.statusCode, 401);
        assert.equal(e.code, "ExpiredAuthenticationToken");
      });
      const batchAudience = azure.entra.mintToken({ aud: "https://batch.core.windows.net/", oid: azure.info.servicePrincipalObjectId });
      await rejectsWith(armClient(azure, staticToken(batchAudience)).storageAccounts.getProperties(azure.info.resourceGroup, azure.info.storage.accountName), (e) =>
        assert.equal(e.code, "InvalidAuthenticationTokenAudience"),
      );
      const [h, p] = batchAudience.split(".");
      await rejectsWith(armClient(azure, staticToken(`${h}.${p}.${Buffer.from("forged").toString("base64url")}`)).storageAccounts.list().next(), (e) =>
        assert.equal(e.code, "InvalidAuthenticationToken"),
      );
    });

    it("answers 403 AuthorizationFailed for a denied principal", async () => {
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/listKeys/action" });
      const client = armClient(azure, credential());
      await rejectsWith(client.storageAccounts.listKeys(azure.info.resourceGroup, azure.info.storage.accountName), (e) => {
        assert.equal(e.statusCode, 403);
        assert.equal(e.code, "AuthorizationFailed");
        assert.match(e.message, /listKeys\/action/);
      });
      // Reading the account is still allowed.
      await client.storageAccounts.getProperties(azure.info.resourceGroup, azure.info.storage.accountName);
    });

    it("requires api-version and answers an unknown provider with 501 NotImplemented in ARM's shape", async () => {
      const token = azure.entra.mintToken({ aud: "https://management.azure.com/", oid: azure.info.servicePrincipalObjectId });
      const noVersion = await fetch(`${azure.info.armUrl}/subscriptions/${azure.info.subscriptionId}/providers/Microsoft.Storage/storageAccounts`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(noVersion.status, 400);
      assert.deepEqual(((await noVersion.json()) as { error: { code: string } }).error.code, "MissingApiVersionParameter");
      const unknown = await fetch(`${azure.info.armUrl}/subscriptions/${azure.info.subscriptionId}/providers/Microsoft.Nope/things?api-version=2020-01-01`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(unknown.status, 501);
      const body = (await unknown.json()) as { error: { code: string; message: string } };
      assert.deepEqual(body, {
        error: { code: "NotImplemented", message: "The local Azure does not implement the operation 'Microsoft.Nope/things/read' (GET /subscriptions/{subscriptionId}/providers/Microsoft.Nope/things)." },
      });
    });

    it("retries an injected 429 after Retry-After and succeeds", async () => {
      azure.faults.add({ service: "arm", kind: "429", count: 1, retryAfterSeconds: 1 });
      const client = new StorageManagementClient(credential(), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentials: { scopes: [ARM_SCOPE] } });
      const started = Date.now();
      const account = await client.storageAccounts.getProperties(azure.info.resourceGroup, azure.info.storage.accountName);
      assert.equal(account.name, azure.info.storage.accountName);
      assert.ok(Date.now() - started >= 900, "the client waited for Retry-After");
      assert.equal(azure.log.entries.filter((e) => e.service === "arm" && e.fault === "429").length >= 1, true);
    });
  });

  describe("Blob (Azurite behind the local proxy)", () => {
    it("accepts Entra tokens, account keys and refuses a wrong key", async () => {
      const credential = localCredential(azure);
      const service = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, credential);
      const container = service.getContainerClient(`t${crypto.randomBytes(4).toString("hex")}`);
      await container.create();
      await container.getBlockBlobClient("dir/file.txt").upload("hello", 5);
      const keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
      const text = await keyed.getContainerClient(container.containerName).getBlobClient("dir/file.txt").downloadToBuffer();
      assert.equal(text.toString(), "hello");
      const wrongKey = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, crypto.randomBytes(64).toString("base64")), {
        retryOptions: { maxTries: 1 },
      });
      await rejectsWith(wrongKey.getContainerClient(container.containerName).getBlobClient("dir/file.txt").getProperties(), (e) => assert.equal(e.statusCode, 403));
    });

    it("refuses a principal without a data role (AuthorizationPermissionMismatch)", async () => {
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write" });
      const credential = localCredential(azure);
      const container = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, credential).getContainerClient(`t${crypto.randomBytes(4).toString("hex")}`);
      await container.create();
      await rejectsWith(container.getBlockBlobClient("x").upload("x", 1), (e) => {
        assert.equal(e.statusCode, 403);
        assert.equal(e.code, "AuthorizationPermissionMismatch");
      });
    });

    it("shows the public endpoint in listings, not Azurite's own port", async () => {
      const keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
      const container = keyed.getContainerClient(`t${crypto.randomBytes(4).toString("hex")}`);
      await container.create();
      await container.getBlockBlobClient("dir/a.txt").upload("a", 1);
      const containers = (await keyed.listContainers({ prefix: container.containerName }).byPage().next()).value;
      assert.equal(containers.serviceEndpoint, `${azure.info.storage.blobUrl}/`);
      assert.deepEqual(containers.containerItems.map((c: { name: string }) => c.name), [container.containerName]);
      const blobs = (await container.listBlobsFlat().byPage().next()).value;
      assert.equal(blobs.serviceEndpoint, `${azure.info.storage.blobUrl}/`);
      assert.deepEqual(blobs.segment.blobItems.map((b: { name: string }) => b.name), ["dir/a.txt"]);
      const byFolder = (await container.listBlobsByHierarchy("/").byPage().next()).value;
      assert.equal(byFolder.serviceEndpoint, `${azure.info.storage.blobUrl}/`);
      // With an Entra token too, and nothing in the raw XML names another port.
      const entra = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, localCredential(azure));
      const raw = (await entra.getContainerClient(container.containerName).listBlobsFlat().byPage().next()).value._response.bodyAsText ?? "";
      const ports = [...raw.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1]);
      assert.ok(ports.length > 0, raw.slice(0, 200));
      assert.deepEqual([...new Set(ports)], [new URL(azure.info.storage.blobUrl).port]);
    });

    it("injects resets and 503s on a seeded share of requests; the SDK retries through them", async () => {
      const keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey), {
        retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50, maxTries: 8 },
      });
      const container = keyed.getContainerClient(`t${crypto.randomBytes(4).toString("hex")}`);
      await container.create();
      azure.faults.add({ service: "blob", kind: "503", rate: 0.2, retryAfterSeconds: 0 });
      azure.faults.add({ service: "blob", kind: "reset", rate: 0.1 });
      for (let i = 0; i < 20; i++) await container.getBlockBlobClient(`b${i}`).upload(`content ${i}`, `content ${i}`.length);
      const faulted = azure.log.entries.filter((e) => e.service === "blob" && (e.fault === "503" || e.fault === "reset"));
      assert.ok(faulted.length > 0, "some requests were faulted");
      azure.faults.reset();
      let count = 0;
      for await (const _ of container.listBlobsFlat()) count++;
      assert.equal(count, 20);
    });
  });
});
