/**
 * The runtime's Azure clients against the local Azure: signed in from the
 * service connection, endpoints found through ARM.
 */
import { strict as assert } from "node:assert";
import { localAzure, resetLocalAzure } from "../fixture";
import { envAgent } from "../harness/env-agent";
import { InputReader } from "../../runtime/inputs";
import { signIn } from "../../runtime/session";
import { batchServiceClient, resolveBatchAccount } from "../../runtime/batch";
import { dataFactoryClient } from "../../runtime/datafactory";
import { openBlobAccess, resolveStorageAccount } from "../../runtime/storage";
import { InputError } from "../../runtime/errors";
import type { LocalAzure } from "../local-azure";

describe("runtime: Azure clients", function () {
  this.timeout(30_000);
  let azure: LocalAzure;
  before(async () => {
    azure = await localAzure();
  });
  afterEach(resetLocalAzure);

  const setup = () => {
    const agent = envAgent(azure.info.env);
    const reader = new InputReader(agent, { inputs: [{ name: "batchAccount", label: "Batch account" }, { name: "storageAccount", label: "Storage account" }] });
    return { agent, reader, session: signIn(agent, reader, "azureSubscription", "LocalAzure") };
  };

  it("finds the Batch account through ARM and reaches its data plane with Entra ID (Batch audience) and with the account key", async () => {
    const { agent, reader, session } = setup();
    const account = await resolveBatchAccount(session, reader, "batchAccount", azure.info.batch.accountName.toUpperCase());
    assert.equal(account.url, azure.info.batch.url);
    assert.equal(account.resourceGroup, azure.info.resourceGroup);
    const viaEntra = await batchServiceClient(session, account, "entra");
    assert.equal((await viaEntra.pool.get(azure.info.batch.poolId)).id, azure.info.batch.poolId);
    const viaKey = await batchServiceClient(session, account, "sharedKey");
    assert.equal((await viaKey.pool.get(azure.info.batch.poolId)).id, azure.info.batch.poolId);
    assert.ok(agent.secrets.includes(azure.info.batch.accountKey), "the account key was masked");
    const byId = await resolveBatchAccount(session, reader, "batchAccount", account.id);
    assert.equal(byId.url, account.url);
  });

  it("names the input when the Batch or storage account does not exist", async () => {
    const { reader, session } = setup();
    await assert.rejects(resolveBatchAccount(session, reader, "batchAccount", "nosuch"), (e: Error) => e instanceof InputError && /^Input 'batchAccount' \(Batch account\): no Batch account named 'nosuch'.*can see: releasebatch/.test(e.message));
    await assert.rejects(resolveStorageAccount(session, reader, "storageAccount", "nosuch"), /Input 'storageAccount' \(Storage account\): no storage account named 'nosuch'/);
  });

  it("reaches Data Factory and Blob storage", async () => {
    const { reader, session } = setup();
    const factory = await dataFactoryClient(session).factories.get(azure.info.resourceGroup, azure.info.dataFactory.factoryName);
    assert.equal(factory.name, azure.info.dataFactory.factoryName);
    const storage = await resolveStorageAccount(session, reader, "storageAccount", azure.info.storage.accountName);
    const access = await openBlobAccess(session, storage, { kind: "entra" });
    const container = access.service.getContainerClient("runtime-clients");
    await container.createIfNotExists();
    assert.ok(await container.exists());
  });

  it("turns a 403 on ARM into the role to grant", async () => {
    const { reader, session } = setup();
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/read" });
    await assert.rejects(resolveBatchAccount(session, reader, "batchAccount", azure.info.batch.accountName), /may not read Batch account .*Reader role/);
  });
});
