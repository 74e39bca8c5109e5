import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import JSZip from "jszip";
import { BatchManagementClient } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { BlockBlobClient } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith } from "../../harness/azure-test";
import type { PoolRecord } from "../batch/state";

const ARM_SCOPE = "https://management.azure.com/.default";

type RestErr = { statusCode?: number; code?: string; details?: { error?: { details?: { target?: string }[]; target?: string } } };

const rejects = (promise: Promise<unknown>, check: (e: RestErr) => void) => rejectsWith<RestErr>(promise, check);

/** A zip of the given files. */
export async function makeZip(files: Record<string, string>): Promise<Buffer> {
  const zip = new JSZip();
  for (const [name, text] of Object.entries(files)) zip.file(name, text);
  return zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}

describe("local Azure: Microsoft.Batch on ARM", function () {
  let azure: LocalAzure;
  let arm: BatchManagementClient;
  let data: BatchServiceClient;
  let savedMs: number;
  const rg = "rg-batch-release";
  const acct = "releasebatch";

  before(async () => {
    azure = await localAzure();
    const credential = localCredential(azure);
    arm = new BatchManagementClient(credential, azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: [ARM_SCOPE], retryOptions: { maxRetries: 0 } });
    data = new BatchServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), azure.info.batch.url);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
  });
  after(() => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
  });
  afterEach(resetLocalAzure);

  const uid = (prefix: string) => `${prefix}${crypto.randomBytes(3).toString("hex")}`;

  async function publish(app: string, version: string, content: Buffer): Promise<void> {
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, version);
    assert.equal(pkg.state, "Pending");
    await new BlockBlobClient(pkg.storageUrl!).uploadData(content);
  }

  it("gets the account with its data-plane endpoint and auto-storage, and lists its keys", async () => {
    const account = await arm.batchAccountOperations.get(rg, acct);
    assert.equal(account.accountEndpoint, azure.info.batch.url.replace("https://", ""));
    assert.equal(account.provisioningState, "Succeeded");
    assert.match(account.autoStorage?.storageAccountId ?? "", /\/providers\/Microsoft\.Storage\/storageAccounts\/releasestore$/);
    assert.equal(account.autoStorage?.authenticationMode, "StorageKeys");
    const keys = await arm.batchAccountOperations.getKeys(rg, acct);
    assert.equal(keys.accountName, acct);
    assert.equal(keys.primary, azure.info.batch.accountKey);
    // The listed key signs data-plane requests.
    const viaKeys = new BatchServiceClient(new BatchSharedKeyCredentials(acct, keys.secondary!), `https://${account.accountEndpoint}`);
    assert.equal((await viaKeys.pool.get(azure.info.batch.poolId)).id, azure.info.batch.poolId);
    const listed = [];
    for await (const a of arm.batchAccountOperations.listByResourceGroup(rg)) listed.push(a.name);
    assert.deepEqual(listed, [acct]);
  });

  it("creates, gets, updates, lists and deletes applications", async () => {
    const name = uid("app");
    const created = await arm.applicationOperations.create(rg, acct, name, { parameters: { displayName: "Release app", allowUpdates: true } });
    assert.equal(created.name, name);
    assert.equal(created.allowUpdates, true);
    const updated = await arm.applicationOperations.update(rg, acct, name, { displayName: "Renamed", allowUpdates: false });
    assert.equal(updated.displayName, "Renamed");
    assert.equal((await arm.applicationOperations.get(rg, acct, name)).allowUpdates, false);
    const names: string[] = [];
    for await (const a of arm.applicationOperations.list(rg, acct)) names.push(a.name!);
    assert.ok(names.includes(name));
    await rejects(arm.applicationOperations.update(rg, acct, name, { defaultVersion: "9.9" }), (e) => {
      assert.equal(e.statusCode, 409);
      assert.equal(e.code, "RequestedDefaultVersionNotActive");
    });
    await arm.applicationOperations.delete(rg, acct, name);
    await rejects(arm.applicationOperations.get(rg, acct, name), (e) => {
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, "ApplicationNotFound");
    });
  });

  it("publishes a package: create (SAS storageUrl), upload the zip, activate; refuses activation without a blob", async () => {
    const app = uid("tool");
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "1.0");
    const url = new URL(pkg.storageUrl!);
    assert.equal(url.origin, new URL(azure.info.storage.blobUrl).origin);
    assert.match(url.pathname, new RegExp(`^/releasestore/app-${app}-[0-9a-f]+/`));
    assert.equal(url.searchParams.get("sr"), "b");
    assert.match(url.searchParams.get("sp") ?? "", /w/);
    assert.ok(pkg.storageUrlExpiry && pkg.storageUrlExpiry > new Date());

    await rejects(arm.applicationPackageOperations.activate(rg, acct, app, "1.0", { format: "zip" }), (e) => {
      assert.equal(e.statusCode, 409);
      assert.equal(e.code, "ApplicationPackageBlobNotFound");
    });
    await new BlockBlobClient(pkg.storageUrl!).uploadData(await makeZip({ "run.sh": "#!/bin/sh\necho hi\n", "lib/data.txt": "data" }));
    const active = await arm.applicationPackageOperations.activate(rg, acct, app, "1.0", { format: "zip" });
    assert.equal(active.state, "Active");
    assert.equal(active.format, "zip");
    assert.ok(active.lastActivationTime);
    assert.equal((await arm.applicationPackageOperations.get(rg, acct, app, "1.0")).state, "Active");
    const versions: string[] = [];
    for await (const v of arm.applicationPackageOperations.list(rg, acct, app)) versions.push(v.name!);
    assert.deepEqual(versions, ["1.0"]);
    await arm.applicationOperations.update(rg, acct, app, { defaultVersion: "1.0" });
    await rejects(arm.applicationOperations.delete(rg, acct, app), (e) => assert.equal(e.code, "ApplicationPackagesNotEmpty"));
    await arm.applicationPackageOperations.delete(rg, acct, app, "1.0");
    assert.equal((await arm.applicationOperations.get(rg, acct, app)).defaultVersion, undefined);
    await arm.applicationOperations.delete(rg, acct, app);
  });

  it("gives a plain storageUrl when auto-storage uses the Batch account's managed identity", async () => {
    const account = azure.batch.account();
    const saved = account.autoStorage!.authenticationMode;
    account.autoStorage!.authenticationMode = "BatchAccountManagedIdentity";
    try {
      const app = uid("mi");
      await arm.applicationOperations.create(rg, acct, app);
      const pkg = await arm.applicationPackageOperations.create(rg, acct, app, "1");
      assert.equal(new URL(pkg.storageUrl!).search, "");
      assert.equal((await arm.batchAccountOperations.get(rg, acct)).autoStorage?.authenticationMode, "BatchAccountManagedIdentity");
    } finally {
      account.autoStorage!.authenticationMode = saved;
    }
  });

  it("updates pool package references, refusing bad ones with 409 InvalidApplicationPackageReferences", async () => {
    const app = uid("pkg");
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    await publish(app, "2.0", await makeZip({ "tool.bin": "x" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "2.0", { format: "zip" });
    await arm.applicationPackageOperations.create(rg, acct, app, "3.0"); // pending: never activated
    const appId = `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${acct}/applications/${app}`;
    const updated = await arm.poolOperations.update(rg, acct, azure.info.batch.poolId, { applicationPackages: [{ id: appId, version: "2.0" }] });
    assert.deepEqual(updated.applicationPackages, [{ id: appId, version: "2.0" }]);
    assert.deepEqual((await data.pool.get(azure.info.batch.poolId)).applicationPackageReferences, [{ applicationId: app, version: "2.0" }]);
    await rejects(
      arm.poolOperations.update(rg, acct, azure.info.batch.poolId, {
        applicationPackages: [
          { id: `${appId}-missing`, version: "1" },
          { id: appId, version: "9.9" },
          { id: appId, version: "3.0" },
          { id: appId },
        ],
      }),
      (e) => {
        assert.equal(e.statusCode, 409);
        assert.equal(e.code, "InvalidApplicationPackageReferences");
      },
    );
    const raw = await fetch(`${azure.info.armUrl}/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${acct}/pools/${azure.info.batch.poolId}?api-version=2023-11-01`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${azure.entra.mintToken({ aud: "https://management.azure.com/", oid: azure.info.servicePrincipalObjectId })}`, "content-type": "application/json" },
      body: JSON.stringify({ properties: { applicationPackages: [{ id: appId }] } }),
    });
    assert.equal(raw.status, 409);
    const body = (await raw.json()) as { error: { code: string; details: { target: string }[] } };
    assert.equal(body.error.code, "InvalidApplicationPackageReferences");
    assert.equal(body.error.details.length, 1);
    assert.match(body.error.details[0].target, new RegExp(`/applications/${app}$`));
    // The pool kept its good references.
    assert.equal((await arm.poolOperations.get(rg, acct, azure.info.batch.poolId)).applicationPackages?.length, 1);
    // At most 10 references, as on the data plane.
    await rejects(arm.poolOperations.update(rg, acct, azure.info.batch.poolId, { applicationPackages: Array.from({ length: 11 }, () => ({ id: appId, version: "2.0" })) }), (e) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, "InvalidPropertyValue");
      assert.match((e as { message?: string }).message ?? "", /at most 10 application packages/);
    });
    assert.equal((await arm.poolOperations.get(rg, acct, azure.info.batch.poolId)).applicationPackages?.length, 1);
    await arm.poolOperations.update(rg, acct, azure.info.batch.poolId, { applicationPackages: [] });
  });

  it("installs pool packages on nodes only when they join or reboot; a non-zip package makes the node unusable", async () => {
    const poolId = uid("apps");
    await data.pool.add({
      id: poolId,
      vmSize: "standard_d2s_v3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "o", sku: "s" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: 1,
    });
    const pool: PoolRecord = azure.batch.account().pools.get(poolId)!;
    await azure.batch.waitFor(() => [...pool.nodes.values()].some((n) => n.state === "idle"));
    const [node] = [...pool.nodes.values()];
    const app = uid("Release");
    await arm.applicationOperations.create(rg, acct, app, { parameters: { allowUpdates: true } });
    await publish(app, "1.5", await makeZip({ "bin/tool": "binary", "README.txt": "read me" }));
    await arm.applicationPackageOperations.activate(rg, acct, app, "1.5", { format: "zip" });
    await arm.poolOperations.update(rg, acct, poolId, { applicationPackages: [{ id: app, version: "1.5" }] });

    const files = async () => (await data.file.listFromComputeNode(poolId, node.id, { recursive: true, fileListFromComputeNodeOptions: { filter: "startswith(name,'applications')" } })).map((f) => f.name!);
    assert.deepEqual(await files(), ["applications"], "a node already in the pool does not get the new package");
    await data.computeNode.reboot(poolId, node.id);
    await azure.batch.waitFor(() => node.state === "idle" && node.installedPackages.length === 1);
    const names = await files();
    const dir = names.find((n) => /^applications\/[^/]+$/.test(n))!;
    assert.match(dir, new RegExp(`^applications/${app.toLowerCase()}1\\.5\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}$`));
    assert.ok(names.includes(`${dir}/bin/tool`));
    assert.ok(names.includes(`${dir}/README.txt`));
    const top = await data.file.listFromComputeNode(poolId, node.id);
    assert.deepEqual(top.map((f) => f.name).sort(), ["applications", "fsmounts", "shared", "startup", "volatile", "workitems"]);

    // Not a zip: activation succeeds (Batch does not look inside), deployment fails on the node.
    await publish(app, "2.0", Buffer.from("Hey there! not a zip"));
    const activated = await arm.applicationPackageOperations.activate(rg, acct, app, "2.0", { format: "zip" });
    assert.equal(activated.state, "Active");
    await arm.poolOperations.update(rg, acct, poolId, { applicationPackages: [{ id: app, version: "2.0" }] });
    await data.computeNode.reboot(poolId, node.id, { nodeRebootOption: "terminate" });
    await azure.batch.waitFor(() => node.state === "unusable");
    const got = await data.computeNode.get(poolId, node.id);
    assert.equal(got.errors?.[0].code, "ApplicationPackageError");
    await data.pool.deleteMethod(poolId);
  });

  it("answers 403 AuthorizationFailed for a denied principal", async () => {
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/listKeys/action" });
    await rejects(arm.batchAccountOperations.getKeys(rg, acct), (e) => {
      assert.equal(e.statusCode, 403);
      assert.equal(e.code, "AuthorizationFailed");
    });
    await arm.batchAccountOperations.get(rg, acct);
  });
});
