import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { StorageManagementClient } from "@azure/arm-storage";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith } from "../../harness/azure-test";
import { dataFactoryClient, errorOf } from "../datafactory/test-client";
import { armOperationName, generalisePath } from "../arm/core";
import { checkExchange, type ExchangeRecord } from "../spec/check-exchange";
import { OperationIndex } from "../spec/operations";
import { specValidator } from "../spec/validate";
import { skipWithoutSpecs } from "../spec/load";

const ARM_SCOPE = "https://management.azure.com/.default";

interface ArmErrorBody {
  error: { code: string; message: string };
}

describe("local Azure: ARM fidelity (unimplemented operations, api-versions, subscriptions and resource groups)", function () {
  let azure: LocalAzure;
  let token: string;
  let sub: string;
  let rgPath: string;
  let accountPath: string;
  let factoryPath: string;

  /** A raw ARM call as any client sends it: bearer token, api-version in the query. */
  const arm = async (method: string, path: string, apiVersion: string | undefined, bearer = token) => {
    const url = `${azure.info.armUrl}${path}${apiVersion ? `${path.includes("?") ? "&" : "?"}api-version=${apiVersion}` : ""}`;
    const res = await fetch(url, { method, headers: { authorization: `Bearer ${bearer}` } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const armError = (body: unknown) => (body as ArmErrorBody).error;

  before(async () => {
    azure = await localAzure();
    token = (await localCredential(azure).getToken(ARM_SCOPE)).token;
    sub = `/subscriptions/${azure.info.subscriptionId}`;
    rgPath = `${sub}/resourceGroups/${azure.info.resourceGroup}`;
    accountPath = `${rgPath}/providers/Microsoft.Storage/storageAccounts/${azure.info.storage.accountName}`;
    factoryPath = `${rgPath}/providers/Microsoft.DataFactory/factories/${azure.info.dataFactory.factoryName}`;
  });
  afterEach(resetLocalAzure);

  describe("operations the local Azure does not implement", () => {
    it("answers 501 NotImplemented naming the operation, in ARM's error shape, through @azure/arm-storage", async () => {
      const client = new StorageManagementClient(localCredential(azure), azure.info.subscriptionId, {
        endpoint: azure.info.armUrl,
        credentials: { scopes: [ARM_SCOPE] },
        retryOptions: { maxRetries: 0 },
      });
      await rejectsWith(client.blobServices.getServiceProperties(azure.info.resourceGroup, azure.info.storage.accountName), (e) => {
        assert.equal(e.statusCode, 501);
        assert.equal(e.code, "NotImplemented");
        assert.equal(
          e.message,
          "The local Azure does not implement the operation 'Microsoft.Storage/storageAccounts/blobServices/read' (GET /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/{blobServiceName}).",
        );
      });
      // A method the path does not implement names the ones it does.
      await rejectsWith(client.storageAccounts.update(azure.info.resourceGroup, azure.info.storage.accountName, { tags: { a: "b" } }), (e) => {
        assert.equal(e.statusCode, 501);
        assert.equal(e.code, "NotImplemented");
        assert.match(e.message, /'Microsoft\.Storage\/storageAccounts\/write' \(PATCH \/subscriptions\/\{subscriptionId\}\/resourceGroups\/\{resourceGroupName\}\/providers\/Microsoft\.Storage\/storageAccounts\/\{accountName\}\)\. It implements GET on this path\.$/);
      });
    });

    it("answers 501 for a Data Factory operation and for a provider it does not emulate; the body is ARM's error shape", async () => {
      const e = await errorOf(dataFactoryClient(azure).triggers.listByFactory(azure.info.resourceGroup, azure.info.dataFactory.factoryName).next());
      assert.equal(e.statusCode, 501);
      assert.equal(e.code, "NotImplemented");
      assert.match(e.message, /'Microsoft\.DataFactory\/factories\/triggers\/read' \(GET \/subscriptions\/\{subscriptionId\}\/resourceGroups\/\{resourceGroupName\}\/providers\/Microsoft\.DataFactory\/factories\/\{factoryName\}\/triggers\)/);

      const vm = await arm("GET", `${rgPath}/providers/Microsoft.Compute/virtualMachines/vm1`, "2024-07-01");
      assert.equal(vm.status, 501);
      assert.deepEqual(Object.keys(vm.body as object), ["error"]);
      assert.equal(armError(vm.body).code, "NotImplemented");
      assert.match(armError(vm.body).message, /'Microsoft\.Compute\/virtualMachines\/read' \(GET \/subscriptions\/\{subscriptionId\}\/resourceGroups\/\{resourceGroupName\}\/providers\/Microsoft\.Compute\/virtualMachines\/\{virtualMachineName\}\)/);
      const action = await arm("POST", `${accountPath}/regenerateKey`, "2025-08-01");
      assert.equal(action.status, 501);
      assert.match(armError(action.body).message, /'Microsoft\.Storage\/storageAccounts\/regenerateKey\/action' \(POST .*\/storageAccounts\/\{accountName\}\/regenerateKey\)/);
    });

    it("keeps ARM's real answers ahead of 501: unknown subscription and resource group, a denied principal, an unknown resource of an implemented type", async () => {
      const otherSub = await arm("GET", `/subscriptions/${crypto.randomUUID()}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x/blobServices/default`, "2025-08-01");
      assert.equal(otherSub.status, 404);
      assert.equal(armError(otherSub.body).code, "SubscriptionNotFound");
      const noGroup = await arm("GET", `${sub}/resourceGroups/rg-nope/providers/Microsoft.Storage/storageAccounts/x/blobServices/default`, "2025-08-01");
      assert.equal(noGroup.status, 404);
      assert.equal(armError(noGroup.body).code, "ResourceGroupNotFound");
      assert.equal(armError(noGroup.body).message, "Resource group 'rg-nope' could not be found.");

      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/*" });
      const denied = await arm("GET", `${accountPath}/blobServices/default`, "2025-08-01");
      assert.equal(denied.status, 403);
      assert.equal(armError(denied.body).code, "AuthorizationFailed");
      assert.match(armError(denied.body).message, /perform action 'Microsoft\.Storage\/storageAccounts\/blobServices\/read' over scope '.*\/blobServices\/default'/);
      // A POST action is checked on the resource it acts on, as ARM scopes it.
      const deniedAction = await arm("POST", `${accountPath}/regenerateKey`, "2025-08-01");
      assert.equal(deniedAction.status, 403);
      assert.match(armError(deniedAction.body).message, new RegExp(`perform action 'Microsoft\\.Storage/storageAccounts/regenerateKey/action' over scope '${accountPath}' `));
      azure.state.arm.denyRules.length = 0;

      // An api-version Azure serves but the local Azure does not answer: the real checks come first there too.
      const oldVersionNoGroup = await arm("GET", `${sub}/resourceGroups/rg-nope/providers/Microsoft.Storage/storageAccounts/x`, "2019-06-01");
      assert.equal(armError(oldVersionNoGroup.body).code, "ResourceGroupNotFound");

      const unknownAccount = await arm("GET", `${rgPath}/providers/Microsoft.Storage/storageAccounts/nosuchaccount`, "2025-08-01");
      assert.equal(unknownAccount.status, 404);
      assert.equal(armError(unknownAccount.body).code, "ResourceNotFound");
      const unknownPipeline = await errorOf(dataFactoryClient(azure).pipelines.get(azure.info.resourceGroup, azure.info.dataFactory.factoryName, "no-such-pipeline"));
      assert.equal(unknownPipeline.statusCode, 404);
    });

    it("is a front-door error the REST spec check accepts in ARM's CloudError shape, and still reports a wrong body", async function () {
      skipWithoutSpecs(this);
      azure.log.capture = true;
      await arm("GET", `${factoryPath}/triggers`, "2018-06-01");
      const entry = azure.log.find({ service: "arm", path: /\/triggers$/ }).at(-1);
      assert.ok(entry?.exchange, "the exchange was captured");
      assert.equal(entry.status, 501);
      assert.equal(entry.route, undefined, "no emulator route answered it");
      const validator = await specValidator();
      const ctx = { validator, operations: new OperationIndex(validator.specs) };
      const record: ExchangeRecord = { ...entry, exchange: entry.exchange };
      assert.deepEqual(checkExchange(ctx, record), []);
      const wrong = checkExchange(ctx, { ...record, exchange: { ...record.exchange, responseBody: { code: "NotImplemented" } } });
      assert.deepEqual(wrong.map((m) => `${m.part} ${m.pointer}: ${m.message}`), ["response /error: required property is missing"]);
    });

    it("names operations and path templates from the path alone", () => {
      assert.deepEqual(armOperationName("POST", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DataFactory/factories/{factoryName}/pipelines/{pipelineName}/createRun"), {
        namespace: "Microsoft.DataFactory",
        type: "factories/pipelines",
        action: "Microsoft.DataFactory/factories/pipelines/createRun/action",
      });
      assert.deepEqual(armOperationName("DELETE", "/subscriptions/{s}/resourceGroups/{rg}"), { namespace: "Microsoft.Resources", type: "subscriptions/resourceGroups", action: "Microsoft.Resources/subscriptions/resourceGroups/delete" });
      assert.equal(armOperationName("GET", "/subscriptions/{s}/providers/Microsoft.Storage/storageAccounts").action, "Microsoft.Storage/storageAccounts/read");
      assert.equal(generalisePath("/subscriptions/abc/resourcegroups/rg1/providers/Microsoft.Web/sites/app1/config/web", []), "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/providers/Microsoft.Web/sites/{siteName}/config/{configName}");
      assert.equal(generalisePath("/subscriptions/abc/locations", []), "/subscriptions/{subscriptionId}/locations");
    });
  });

  describe("api-versions", () => {
    it("answers the Storage api-versions current clients send and refuses unknown ones as ARM does", async () => {
      for (const version of ["2025-08-01", "2025-06-01", "2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01", "2021-04-01"]) {
        const res = await arm("GET", accountPath, version);
        assert.equal(res.status, 200, version);
        assert.equal((res.body as { name: string }).name, azure.info.storage.accountName);
      }
      const unknown = await arm("GET", accountPath, "2023-02-01");
      assert.equal(unknown.status, 400);
      assert.equal(armError(unknown.body).code, "NoRegisteredProviderFound");
      assert.match(
        armError(unknown.body).message,
        /^No registered resource provider found for location 'westeurope' and API version '2023-02-01' for type 'storageAccounts'\. The supported api-versions are '2025-08-01, 2025-06-01, 2025-01-01, 2024-01-01, .*, 2015-05-01-preview'\. The supported locations are 'westeurope'\.$/,
      );
      const listKeys = await arm("POST", `${accountPath}/listKeys`, "1999-01-01");
      assert.match(armError(listKeys.body).message, /for type 'storageAccounts'\./);
      // At subscription scope there is no location: ARM says the type is not found for that version.
      const list = await arm("GET", `${sub}/providers/Microsoft.Storage/storageAccounts`, "2023-02-01");
      assert.equal(list.status, 400);
      assert.equal(armError(list.body).code, "InvalidResourceType");
      assert.match(armError(list.body).message, /^The resource type 'storageAccounts' could not be found in the namespace 'Microsoft\.Storage' for api version '2023-02-01'\. The supported api-versions are '2025-08-01,2025-06-01,.*,2015-05-01-preview'\.$/);
      // Served by Azure, older than the account shape rendered here: not a refusal Azure would give.
      const old = await arm("GET", accountPath, "2019-06-01");
      assert.equal(old.status, 501);
      assert.equal(armError(old.body).code, "NotImplemented");
      assert.match(armError(old.body).message, /at api-version '2019-06-01'\. Azure serves this api-version; the local Azure answers '2025-08-01, .*, 2021-01-01'\.$/);
    });

    it("answers Data Factory 2018-06-01 only: the preview Azure also serves is 501, others are NoRegisteredProviderFound", async () => {
      assert.equal((await arm("GET", factoryPath, "2018-06-01")).status, 200);
      const preview = await arm("GET", `${factoryPath}/pipelines/run-batch-app`, "2017-09-01-preview");
      assert.equal(preview.status, 501);
      assert.equal(armError(preview.body).code, "NotImplemented");
      const other = await arm("GET", `${factoryPath}/pipelines/run-batch-app`, "2020-01-01");
      assert.equal(other.status, 400);
      assert.equal(
        armError(other.body).message,
        "No registered resource provider found for location 'westeurope' and API version '2020-01-01' for type 'factories/pipelines'. The supported api-versions are '2018-06-01, 2017-09-01-preview'. The supported locations are 'westeurope'.",
      );
    });

    it("answers the Microsoft.Resources api-versions clients send and refuses others with InvalidApiVersionParameter", async () => {
      for (const version of ["2025-04-01", "2024-11-01", "2022-12-01", "2021-04-01", "2021-01-01", "2020-01-01", "2016-06-01"]) {
        assert.equal((await arm("GET", "/subscriptions", version)).status, 200, `/subscriptions ${version}`);
        assert.equal((await arm("GET", rgPath, version)).status, 200, `resource group ${version}`);
      }
      const bad = await arm("GET", `${sub}/resourcegroups`, "2015-07-01");
      assert.equal(bad.status, 400);
      assert.equal(armError(bad.body).code, "InvalidApiVersionParameter");
      assert.match(armError(bad.body).message, /^The api-version '2015-07-01' is invalid\. The supported versions are '2025-04-01,2025-03-01,2024-11-01,.*,2014-01-01'\.$/);
    });
  });

  describe("subscriptions and resource groups", () => {
    it("lists and gets the subscriptions in ARM's shape, the connection's first", async () => {
      const list = await arm("GET", "/subscriptions", "2022-12-01");
      assert.equal(list.status, 200);
      const body = list.body as { value: Record<string, unknown>[]; count: { type: string; value: number } };
      assert.deepEqual(
        body.value.map((s) => [s.subscriptionId, s.displayName]),
        [
          [azure.info.subscriptionId, "Local Azure"],
          [azure.info.otherSubscription.subscriptionId, azure.info.otherSubscription.subscriptionName],
        ],
      );
      assert.deepEqual(body.count, { type: "Total", value: 2 });
      const expected = {
        id: sub,
        subscriptionId: azure.info.subscriptionId,
        tenantId: azure.info.tenantId,
        displayName: "Local Azure",
        state: "Enabled",
      };
      for (const [key, value] of Object.entries(expected)) assert.equal(body.value[0][key], value, key);
      assert.equal((body.value[0].subscriptionPolicies as { spendingLimit: string }).spendingLimit, "Off");
      const one = await arm("GET", sub, "2022-12-01");
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, body.value[0]);
      const other = await arm("GET", `/subscriptions/${azure.info.otherSubscription.subscriptionId}`, "2022-12-01");
      assert.equal(other.status, 200);
      assert.deepEqual(other.body, body.value[1]);
      const unknown = await arm("GET", `/subscriptions/${crypto.randomUUID()}`, "2022-12-01");
      assert.equal(unknown.status, 404);
      assert.equal(armError(unknown.body).code, "SubscriptionNotFound");
    });

    it("honours the token's tenant: another tenant sees no subscription and is refused on this one", async () => {
      const otherTenant = crypto.randomUUID();
      const foreign = azure.entra.mintToken({ aud: "https://management.azure.com/", oid: crypto.randomUUID(), tid: otherTenant });
      const list = await arm("GET", "/subscriptions", "2022-12-01", foreign);
      assert.equal(list.status, 200);
      assert.deepEqual((list.body as { value: unknown[] }).value, []);
      const one = await arm("GET", sub, "2022-12-01", foreign);
      assert.equal(one.status, 401);
      assert.equal(armError(one.body).code, "InvalidAuthenticationTokenTenant");
      assert.equal(
        armError(one.body).message,
        `The access token is from the wrong issuer 'https://sts.windows.net/${otherTenant}/'. It must match the tenant 'https://sts.windows.net/${azure.info.tenantId}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${azure.info.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
      );
      assert.equal((await arm("GET", `${sub}/resourcegroups`, "2022-12-01", foreign)).status, 401);
    });

    it("honours the deny list: a principal without subscriptions/read does not see the subscription and is refused it", async () => {
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Resources/subscriptions/read" });
      assert.deepEqual(((await arm("GET", "/subscriptions", "2022-12-01")).body as { value: unknown[] }).value, []);
      const one = await arm("GET", sub, "2022-12-01");
      assert.equal(one.status, 403);
      assert.equal(armError(one.body).code, "AuthorizationFailed");
      assert.match(armError(one.body).message, new RegExp(`action 'Microsoft\\.Resources/subscriptions/read' over scope '${sub}'`));
      // Reading resource groups is another action.
      assert.equal((await arm("GET", rgPath, "2022-12-01")).status, 200);
    });

    it("a second subscription has its own groups and resources; each is found only under its own subscription", async () => {
      const other = azure.info.otherSubscription;
      const otherSub = `/subscriptions/${other.subscriptionId}`;
      const groups = await arm("GET", `${otherSub}/resourcegroups`, "2025-04-01");
      assert.deepEqual((groups.body as { value: { id: string }[] }).value.map((g) => g.id), [`${otherSub}/resourceGroups/${other.resourceGroup}`]);
      const primaryGroups = (await arm("GET", `${sub}/resourcegroups`, "2025-04-01")).body as { value: { name: string }[] };
      assert.ok(!primaryGroups.value.some((g) => g.name === other.resourceGroup), "the other subscription's group is not listed under the connection's");

      const accountId = `${otherSub}/resourceGroups/${other.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${other.storage.accountName}`;
      const account = await arm("GET", accountId, "2025-08-01");
      assert.equal(account.status, 200);
      assert.equal((account.body as { id: string }).id, accountId);
      const listed = (await arm("GET", `${otherSub}/providers/Microsoft.Storage/storageAccounts`, "2025-08-01")).body as { value: { name: string }[] };
      assert.deepEqual(listed.value.map((a) => a.name), [other.storage.accountName]);
      const primaryListed = (await arm("GET", `${sub}/providers/Microsoft.Storage/storageAccounts`, "2025-08-01")).body as { value: { name: string }[] };
      assert.deepEqual(primaryListed.value.map((a) => a.name), [azure.info.storage.accountName]);
      for (const path of [`${otherSub}/providers/Microsoft.Batch/batchAccounts`, `${otherSub}/providers/Microsoft.DataFactory/factories`]) {
        const none = await arm("GET", path, path.includes("Batch") ? "2023-11-01" : "2018-06-01");
        assert.equal(none.status, 200, path);
        assert.deepEqual((none.body as { value: unknown[] }).value, [], `${path}: the connection's resources are not in the other subscription`);
      }

      // A group asked for under the wrong subscription is not found there, as in Azure.
      const wrongSub = await arm("GET", `${sub}/resourceGroups/${other.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${other.storage.accountName}`, "2025-08-01");
      assert.equal(wrongSub.status, 404);
      assert.equal(armError(wrongSub.body).code, "ResourceGroupNotFound");
      const wrongGroup = await arm("GET", `${otherSub}/resourceGroups/${azure.info.resourceGroup}`, "2025-04-01");
      assert.equal(wrongGroup.status, 404);
      assert.equal(armError(wrongGroup.body).code, "ResourceGroupNotFound");

      // A principal with no role there: every request in it is refused 403, scoped to the subscription.
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "*", scope: otherSub });
      const refused = await arm("GET", accountId, "2025-08-01");
      assert.equal(refused.status, 403);
      assert.match(armError(refused.body).message, new RegExp(`action 'Microsoft\\.Storage/storageAccounts/read' over scope '${accountId}'`));
      const visible = (await arm("GET", "/subscriptions", "2022-12-01")).body as { value: { subscriptionId: string }[] };
      assert.deepEqual(visible.value.map((s) => s.subscriptionId), [azure.info.subscriptionId]);
      assert.equal((await arm("GET", accountPath, "2025-08-01")).status, 200, "the connection's own subscription is unaffected");
    });

    it("lists, gets and checks resource groups; the list holds only the groups the principal may read", async () => {
      azure.state.arm.resourceGroups.set("rg-hidden", { name: "rg-hidden", location: "northeurope" });
      try {
        const list = await arm("GET", `${sub}/resourcegroups`, "2025-04-01");
        assert.equal(list.status, 200);
        const groups = (list.body as { value: { id: string; name: string; type: string; location: string; properties: { provisioningState: string } }[] }).value;
        assert.deepEqual(
          groups.map((g) => g.name),
          [azure.info.resourceGroup, "rg-hidden"],
        );
        assert.deepEqual(groups[0], { id: rgPath, name: azure.info.resourceGroup, type: "Microsoft.Resources/resourceGroups", location: "westeurope", properties: { provisioningState: "Succeeded" } });

        azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Resources/subscriptions/resourceGroups/read", scope: `${sub}/resourceGroups/rg-hidden` });
        const filtered = await arm("GET", `${sub}/resourcegroups`, "2025-04-01");
        assert.deepEqual((filtered.body as { value: { name: string }[] }).value.map((g) => g.name), [azure.info.resourceGroup]);
        const hidden = await arm("GET", `${sub}/resourceGroups/rg-hidden`, "2025-04-01");
        assert.equal(hidden.status, 403);
        assert.equal(armError(hidden.body).code, "AuthorizationFailed");

        const one = await arm("GET", `${sub}/resourceGroups/RG-BATCH-RELEASE`, "2025-04-01");
        assert.equal(one.status, 200);
        assert.equal((one.body as { name: string }).name, azure.info.resourceGroup);
        const missing = await arm("GET", `${sub}/resourceGroups/rg-nope`, "2025-04-01");
        assert.equal(missing.status, 404);
        assert.deepEqual(missing.body, { error: { code: "ResourceGroupNotFound", message: "Resource group 'rg-nope' could not be found." } });

        const exists = await arm("HEAD", rgPath, "2025-04-01");
        assert.equal(exists.status, 204);
        assert.equal(exists.text, "");
        const absent = await arm("HEAD", `${sub}/resourceGroups/rg-nope`, "2025-04-01");
        assert.equal(absent.status, 404);
        assert.equal(absent.text, "");
      } finally {
        azure.state.arm.resourceGroups.delete("rg-hidden");
      }
    });
  });
});
