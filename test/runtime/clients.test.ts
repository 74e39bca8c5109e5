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
import { findArmResource } from "../../runtime/arm-resources";
import { storageManagementClient } from "../../runtime/clients";
import type { LocalAzure } from "../local-azure";
import type { RequestLogEntry } from "../local-azure/http";
import { createAccount } from "../local-azure/batch/state";

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

  describe("a resource id in another subscription", () => {
    const storageId = (subscriptionId: string, resourceGroup: string, name: string) => `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${name}`;
    /** The ARM requests made while `run` ran. */
    const armRequests = async (run: () => Promise<unknown>): Promise<RequestLogEntry[]> => {
      const from = azure.log.entries.length;
      await run();
      return azure.log.entries.slice(from).filter((e) => e.service === "arm");
    };

    it("finds a storage account there, and lists its key there: the account carries the id's subscription", async () => {
      const { agent, session } = setup();
      const other = azure.info.otherSubscription;
      const id = storageId(other.subscriptionId, other.resourceGroup, other.storage.accountName);
      let account: Awaited<ReturnType<typeof resolveStorageAccount>> | undefined;
      const lookups = await armRequests(async () => (account = await resolveStorageAccount(session, id)));
      assert.ok(account);
      assert.deepEqual(
        { name: account.name, resourceGroup: account.resourceGroup, id: account.id, subscriptionId: account.subscriptionId },
        { name: other.storage.accountName, resourceGroup: other.resourceGroup, id, subscriptionId: other.subscriptionId },
      );
      assert.deepEqual(lookups.map((e) => `${e.method} ${e.path} ${e.status}`), [`GET ${id} 200`]);

      let container: string | undefined;
      const keyRequests = await armRequests(async () => {
        const access = await openBlobAccess(session, account!, { kind: "accessKey" });
        const client = access.service.getContainerClient("other-subscription");
        await client.createIfNotExists();
        await client.getBlockBlobClient("probe.txt").upload("probe", 5);
        container = client.url;
      });
      assert.deepEqual(keyRequests.map((e) => `${e.method} ${e.path} ${e.status}`), [`POST ${id}/listKeys 200`], "the key is listed in the account's subscription");
      assert.ok(agent.secrets.includes(other.storage.accountKey), "the other account's key was masked");
      assert.ok(container?.includes(`/${other.storage.accountName}/`), container);
      // Names still mean the connection's subscription.
      assert.equal((await resolveStorageAccount(session, azure.info.storage.accountName)).subscriptionId, azure.info.subscriptionId);
      await assert.rejects(resolveStorageAccount(session, other.storage.accountName), /^NotFoundError: No storage account named 'sharedreleasestore' in subscription 'Local Azure'\. The service connection can see: releasestore\.$/);
    });

    it("finds a Batch account there and reads its key there", async () => {
      const { agent, session } = setup();
      const other = azure.info.otherSubscription;
      const record = createAccount({ name: "sharedbatch", resourceGroup: other.resourceGroup, location: "westeurope" });
      azure.state.batch.accounts.set(record.name, record);
      try {
        const id = `/subscriptions/${other.subscriptionId}/resourceGroups/${other.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${record.name}`;
        const account = await resolveBatchAccount(session, id);
        assert.equal(account.subscriptionId, other.subscriptionId);
        assert.equal(account.id, id);
        const requests = await armRequests(async () => {
          const client = await batchServiceClient(session, account, "sharedKey");
          assert.deepEqual((await client.pool.list().then((page) => page.map((p) => p.id))), [], "the shared key of the other account was accepted");
        });
        assert.deepEqual(requests.map((e) => `${e.method} ${e.path} ${e.status}`), [`POST ${id}/listKeys 200`]);
        assert.ok(agent.secrets.includes(record.keys.primary), "the key was masked");
        await assert.rejects(resolveBatchAccount(session, record.name), /^NotFoundError: No Batch account named 'sharedbatch' in subscription 'Local Azure'/, "a name is looked up in the connection's subscription only");
      } finally {
        azure.state.batch.accounts.delete(record.name);
      }
    });

    it("a lookup whose get() ignores the subscription it is given is caught, not taken for the account", async () => {
      const { session } = setup();
      const other = azure.info.otherSubscription;
      // A namesake of the connection's account, asked for in the other subscription, read by a get() bound to the connection's.
      const id = storageId(other.subscriptionId, azure.info.resourceGroup, azure.info.storage.accountName);
      const client = storageManagementClient(session);
      const e = await findArmResource(session, id, {
        kind: "storage account",
        idPattern: /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)$/i,
        readAction: "Microsoft.Storage/storageAccounts/read",
        get: (rg, name) => client.storageAccounts.getProperties(rg, name),
        list: () => client.storageAccounts.list(),
      }).catch((x: unknown) => x);
      assert.ok(e instanceof Error && !(e instanceof NotFoundError), String(e));
      assert.equal(e.message, `The storage account lookup read '${storageId(azure.info.subscriptionId, azure.info.resourceGroup, azure.info.storage.accountName)}' for '${id}': its get() must use the subscription it is given.`);
    });

    it("a subscription the connection cannot see is a NotFoundError naming it; the entry maps it to its input", async () => {
      const { reader, session } = setup();
      const unseen = "0b0e5e3c-5d0f-4f5e-9a43-3f1f3c9d2a71";
      const id = storageId(unseen, "rg-elsewhere", "elsewherestore");
      let error: unknown;
      const requests = await armRequests(async () => (error = await resolveStorageAccount(session, id).catch(rethrowForInput(reader, "storageAccount")).catch((e: unknown) => e)));
      assert.deepEqual(requests.map((e) => `${e.method} ${e.path} ${e.status}`), [`GET ${id} 404`], "asked in the id's subscription, once");
      assert.ok(error instanceof InputError, String(error));
      assert.equal(error.input, "storageAccount");
      assert.ok(error.cause instanceof NotFoundError);
      assert.equal((error.cause.cause as { code?: string }).code, "SubscriptionNotFound");
      assert.match(
        error.message,
        new RegExp(
          `^Input 'storageAccount' \\(Storage account\\): no storage account with id '${id}' \\(SubscriptionNotFound \\(HTTP 404\\): The subscription '${unseen}' could not be found\\. \\[request id [^\\]]+\\]\\)\\. ` +
            `The id names subscription '${unseen}', which the service connection cannot see \\(its own is subscription 'Local Azure'\\)\\. ` +
            `The connection's identity must have access to that subscription \\(at least the Reader role on the storage account\\), or use a service connection for subscription '${unseen}'\\.$`,
        ),
      );
      const batchId = `/subscriptions/${unseen}/resourceGroups/rg-elsewhere/providers/Microsoft.Batch/batchAccounts/elsewherebatch`;
      const batchError = await resolveBatchAccount(session, batchId).catch((e: unknown) => e);
      assert.ok(batchError instanceof NotFoundError, String(batchError));
      assert.match(batchError.message, new RegExp(`The id names subscription '${unseen}', which the service connection cannot see .*at least the Reader role on the Batch account\\), or use a service connection for subscription '${unseen}'\\.$`));
    });

    it("a subscription the connection has no role in is a NotAuthorizedError naming it and the way out", async () => {
      const { reader, session } = setup();
      const other = azure.info.otherSubscription;
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "*", scope: `/subscriptions/${other.subscriptionId}` });
      const id = storageId(other.subscriptionId, other.resourceGroup, other.storage.accountName);
      const e = await resolveStorageAccount(session, id).catch(rethrowForInput(reader, "storageAccount")).catch((x: unknown) => x);
      assert.ok(e instanceof NotAuthorizedError, String(e));
      assert.equal(e.statusCode, 403);
      assert.equal(e.action, "Microsoft.Storage/storageAccounts/read");
      assert.match(
        e.message,
        new RegExp(
          `^The service connection may not read storage account 'sharedreleasestore' in subscription '${other.subscriptionId}' \\(the resource id's; the connection's own is subscription 'Local Azure'\\): AuthorizationFailed \\(HTTP 403\\): .*over scope '${id}'.*\\. ` +
            `Grant it the 'Reader' role \\(it includes Microsoft\\.Storage/storageAccounts/read\\) on the storage account, its resource group or subscription '${other.subscriptionId}', or use a service connection for subscription '${other.subscriptionId}'\\.$`,
        ),
      );
      // The connection's own subscription is unaffected.
      assert.equal((await resolveStorageAccount(session, azure.info.storage.accountName)).name, azure.info.storage.accountName);
    });
  });
});
