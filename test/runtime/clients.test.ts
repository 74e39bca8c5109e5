/**
 * The runtime's Azure clients against the local Azure: signed in from the
 * service connection, endpoints found through ARM.
 */
import { strict as assert } from "node:assert";
import { localAzure, resetLocalAzure } from "../fixture";
import { envAgent } from "../harness/env-agent";
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { signIn } from "../../runtime/session";
import { batchServiceClient, resolveBatchAccount } from "../../runtime/batch";
import { dataFactoryClient } from "../../runtime/datafactory";
import { openBlobAccess, resolveStorageAccount } from "../../runtime/storage";
import { InputError, NotAuthorizedError, NotFoundError } from "../../runtime/errors";
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
    const { agent, session } = setup();
    const account = await resolveBatchAccount(session, azure.info.batch.accountName.toUpperCase());
    assert.equal(account.url, azure.info.batch.url);
    assert.equal(account.resourceGroup, azure.info.resourceGroup);
    const viaEntra = await batchServiceClient(session, account, "entra");
    assert.equal((await viaEntra.pool.get(azure.info.batch.poolId)).id, azure.info.batch.poolId);
    const viaKey = await batchServiceClient(session, account, "sharedKey");
    assert.equal((await viaKey.pool.get(azure.info.batch.poolId)).id, azure.info.batch.poolId);
    assert.ok(agent.secrets.includes(azure.info.batch.accountKey), "the account key was masked");
    const byId = await resolveBatchAccount(session, account.id);
    assert.equal(byId.url, account.url);
  });

  it("a missing account is a NotFoundError listing what the connection can see; the entry maps it to its input", async () => {
    const { reader, session } = setup();
    const missing = await resolveBatchAccount(session, "nosuch").then(
      () => assert.fail("found an account that does not exist"),
      (e: unknown) => e,
    );
    assert.ok(missing instanceof NotFoundError, String(missing));
    assert.equal(missing.code, "ResourceNotFound");
    assert.equal(missing.kind, "Batch account");
    assert.deepEqual(missing.visible, [azure.info.batch.accountName]);
    assert.equal(missing.message, `No Batch account named 'nosuch' in subscription '${session.connection.subscriptionName ?? session.connection.subscriptionId}'. The service connection can see: ${azure.info.batch.accountName}.`);

    const mapped = await resolveBatchAccount(session, "nosuch").catch(rethrowForInput(reader, "batchAccount")).catch((e: unknown) => e);
    assert.ok(mapped instanceof InputError);
    assert.equal(mapped.input, "batchAccount");
    assert.match(mapped.message, /^Input 'batchAccount' \(Batch account\): no Batch account named 'nosuch' in subscription '.*'\. The service connection can see: releasebatch\.$/);
    assert.ok(mapped.cause instanceof NotFoundError, "the lookup's error is kept as the cause");
    await assert.rejects(resolveStorageAccount(session, "nosuch").catch(rethrowForInput(reader, "storageAccount")), /^InputError: Input 'storageAccount' \(Storage account\): no storage account named 'nosuch' .*can see: releasestore\.$/);
  });

  it("an account id that does not exist is a NotFoundError carrying ARM's 404", async () => {
    const { session } = setup();
    const id = `/subscriptions/${session.connection.subscriptionId}/resourceGroups/${azure.info.resourceGroup}/providers/Microsoft.Batch/batchAccounts/gone`;
    const e = await resolveBatchAccount(session, id).catch((x: unknown) => x);
    assert.ok(e instanceof NotFoundError, String(e));
    assert.equal(e.statusCode, 404);
    assert.ok(e.requestId, "ARM's request id is kept");
    assert.equal(e.visible, undefined, "nothing was listed");
    assert.match(e.message, /^No Batch account with id '.*\/batchAccounts\/gone' \(ResourceNotFound \(HTTP 404\): .*\[request id [^\]]+\]\)\.$/);
    assert.equal((e.cause as { statusCode?: number }).statusCode, 404, "ARM's error is the cause");
  });

  it("reaches Data Factory and Blob storage", async () => {
    const { session } = setup();
    const factory = await dataFactoryClient(session).factories.get(azure.info.resourceGroup, azure.info.dataFactory.factoryName);
    assert.equal(factory.name, azure.info.dataFactory.factoryName);
    const storage = await resolveStorageAccount(session, azure.info.storage.accountName);
    const access = await openBlobAccess(session, storage, { kind: "entra" });
    const container = access.service.getContainerClient("runtime-clients");
    await container.createIfNotExists();
    assert.ok(await container.exists());
  });

  it("turns a 403 on ARM into a NotAuthorizedError naming the role and the action, which stays what it is for the entry", async () => {
    const { reader, session } = setup();
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/read" });
    const e = await resolveBatchAccount(session, azure.info.batch.accountName).catch(rethrowForInput(reader, "batchAccount")).catch((x: unknown) => x);
    assert.ok(e instanceof NotAuthorizedError, String(e));
    assert.equal(e.code, "AuthorizationFailed");
    assert.equal(e.role, "Reader");
    assert.equal(e.action, "Microsoft.Batch/batchAccounts/read");
    assert.equal(e.statusCode, 403);
    assert.match(e.message, /^The service connection may not read Batch account 'releasebatch': AuthorizationFailed \(HTTP 403\): .*\. Grant it the 'Reader' role \(it includes Microsoft\.Batch\/batchAccounts\/read\) on it \(or its resource group\)\.$/);
  });

  it("a refused key listing names the action and the way around it", async () => {
    const { session } = setup();
    const account = await resolveBatchAccount(session, azure.info.batch.accountName);
    const storage = await resolveStorageAccount(session, azure.info.storage.accountName);
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/listKeys/action" });
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/listKeys/action" });
    const batchKeys = await batchServiceClient(session, account, "sharedKey").catch((x: unknown) => x);
    assert.ok(batchKeys instanceof NotAuthorizedError);
    assert.equal(batchKeys.action, "Microsoft.Batch/batchAccounts/listKeys/action");
    assert.match(batchKeys.message, /may not read the keys of Batch account 'releasebatch'.*Grant it the 'Contributor' role .* on the account, or use Entra ID\.$/);
    const storageKeys = await openBlobAccess(session, storage, { kind: "accessKey" }).catch((x: unknown) => x);
    assert.ok(storageKeys instanceof NotAuthorizedError);
    assert.match(storageKeys.message, /may not list the keys of storage account 'releasestore'.*Grant it the 'Storage Account Key Operator Service Role' \(it includes Microsoft\.Storage\/storageAccounts\/listKeys\/action\) on the account, or use authType 'entra'\.$/);
  });
});
