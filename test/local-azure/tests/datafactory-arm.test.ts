import { strict as assert } from "node:assert";
import type { CopyActivity, CustomActivity, DatasetResource, DelimitedTextDataset, PipelineResource, WaitActivity } from "@azure/arm-datafactory";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { dataFactoryClient, errorOf } from "../datafactory/test-client";

describe("local Azure: Microsoft.DataFactory resources (factories, pipelines, datasets, linked services)", function () {
  let azure: LocalAzure;
  let rg: string;
  let factory: string;
  before(async () => {
    azure = await localAzure();
    rg = azure.info.resourceGroup;
    factory = azure.info.dataFactory.factoryName;
  });
  afterEach(async () => {
    await resetLocalAzure();
    azure.state.dataFactory.reset();
  });

  it("gets the seeded factory with its identity and provisioning state", async () => {
    const f = await dataFactoryClient(azure).factories.get(rg, factory);
    assert.equal(f.name, "release-adf");
    assert.equal(f.type, "Microsoft.DataFactory/factories");
    assert.equal(f.id, `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/release-adf`);
    assert.equal(f.location, "westeurope");
    assert.equal(f.provisioningState, "Succeeded");
    assert.equal(f.version, "2018-06-01");
    assert.ok(f.createTime instanceof Date);
    assert.equal(f.identity?.type, "SystemAssigned");
    assert.equal(f.identity?.tenantId, azure.info.tenantId);
    assert.match(f.eTag ?? "", /^"[0-9a-f-]+"$/);
  });

  it("answers 404 ResourceNotFound for an unknown factory, and for a factory in another resource group", async () => {
    const client = dataFactoryClient(azure);
    const e = await errorOf(client.factories.get(rg, "no-such-factory"));
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, "ResourceNotFound");
    assert.match(e.message, /Microsoft\.DataFactory\/factories\/no-such-factory/);
    azure.state.arm.resourceGroups.set("rg-other", { name: "rg-other", location: "westeurope" });
    try {
      assert.equal((await errorOf(client.pipelines.get("rg-other", factory, "run-batch-app"))).code, "ResourceNotFound");
    } finally {
      azure.state.arm.resourceGroups.delete("rg-other");
    }
  });

  it("lists factories in the subscription and in a resource group", async () => {
    const client = dataFactoryClient(azure);
    azure.state.dataFactory.addFactory({ name: "other-adf", resourceGroup: "rg-other", location: "northeurope" });
    azure.state.arm.resourceGroups.set("rg-other", { name: "rg-other", location: "northeurope" });
    try {
      const all: string[] = [];
      for await (const f of client.factories.list()) all.push(`${f.name}@${f.location}`);
      assert.deepEqual(all.sort(), ["other-adf@northeurope", "release-adf@westeurope"]);
      const inGroup: string[] = [];
      for await (const f of client.factories.listByResourceGroup(rg)) inGroup.push(f.name ?? "");
      assert.deepEqual(inGroup, ["release-adf"]);
      const e = await errorOf(client.factories.listByResourceGroup("rg-nope").next());
      assert.equal(e.code, "ResourceGroupNotFound");
    } finally {
      azure.state.dataFactory.factories.delete("other-adf");
      azure.state.arm.resourceGroups.delete("rg-other");
    }
  });

  it("lists and gets the release pipeline as it was defined", async () => {
    const client = dataFactoryClient(azure);
    const names: string[] = [];
    for await (const p of client.pipelines.listByFactory(rg, factory)) names.push(p.name ?? "");
    assert.ok(names.includes("run-batch-app"), names.join(","));

    const p = await client.pipelines.get(rg, factory, "run-batch-app");
    assert.equal(p.type, "Microsoft.DataFactory/factories/pipelines");
    assert.ok(p.etag);
    // The seeded pipeline is examples/data-factory's, as deployed.
    assert.deepEqual(Object.keys(p.parameters ?? {}), ["appFolder", "releaseRunId"]);
    assert.equal(p.parameters?.appFolder.defaultValue, "apps/app/current");
    const [stage, runApp] = p.activities ?? [];
    assert.equal(stage.type, "Copy");
    const copy = stage as CopyActivity;
    assert.deepEqual(copy.inputs, [{ referenceName: "IncomingCsv", type: "DatasetReference" }]);
    assert.equal(copy.outputs?.[0].referenceName, "StagedCsv");
    assert.equal((copy.source as { storeSettings?: { wildcardFileName?: string } }).storeSettings?.wildcardFileName, "*.csv");
    const custom = runApp as CustomActivity;
    assert.equal(custom.type, "Custom");
    assert.equal(custom.name, "RunApp");
    assert.equal(custom.linkedServiceName?.referenceName, "BatchCompute");
    assert.equal(custom.resourceLinkedService?.referenceName, "StagingStorage");
    assert.deepEqual(custom.folderPath, { value: "@pipeline().parameters.appFolder", type: "Expression" });
    assert.equal(custom.command, `/bin/sh -c 'python3 "\${AZ_BATCH_APP_PACKAGE_batchapp:-.}/app.py" --run-id "@{pipeline().RunId}"'`);
    assert.deepEqual(custom.dependsOn, [{ activity: "StageInput", dependencyConditions: ["Succeeded"] }]);
  });

  it("round-trips a pipeline through createOrUpdate, with a new etag on every update and If-Match checked", async () => {
    const client = dataFactoryClient(azure);
    const definition: PipelineResource = {
      description: "round trip",
      parameters: { label: { type: "String", defaultValue: "x" } },
      activities: [
        { name: "First", type: "Wait", waitTimeInSeconds: 1 } as WaitActivity,
        {
          name: "Second",
          type: "Custom",
          dependsOn: [{ activity: "First", dependencyConditions: ["Succeeded", "Failed"] }],
          linkedServiceName: { referenceName: "BatchCompute", type: "LinkedServiceReference" },
          command: { value: "@concat('echo ', pipeline().parameters.label)", type: "Expression" },
          extendedProperties: { mode: "fast" },
        } as CustomActivity,
      ],
      annotations: ["release"],
    };
    const put = await client.pipelines.createOrUpdate(rg, factory, "roundtrip", definition);
    assert.equal(put.name, "roundtrip");
    assert.equal(put.id, `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/${factory}/pipelines/roundtrip`);
    assert.equal(put.type, "Microsoft.DataFactory/factories/pipelines");
    const got = await client.pipelines.get(rg, factory, "roundtrip");
    assert.equal(got.etag, put.etag);
    assert.deepEqual(got.activities, put.activities);
    assert.deepEqual(got.activities?.[1], { ...definition.activities![1] });
    assert.deepEqual(got.annotations, ["release"]);

    const again = await client.pipelines.createOrUpdate(rg, factory, "roundtrip", { ...definition, description: "changed" }, { ifMatch: put.etag });
    assert.notEqual(again.etag, put.etag);
    assert.equal(again.description, "changed");
    const stale = await errorOf(client.pipelines.createOrUpdate(rg, factory, "roundtrip", definition, { ifMatch: put.etag }));
    assert.equal(stale.statusCode, 412);
  });

  it("answers 404 for an unknown pipeline", async () => {
    const e = await errorOf(dataFactoryClient(azure).pipelines.get(rg, factory, "no-such-pipeline"));
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, "NotFound");
    assert.match(e.message, /no-such-pipeline/);
  });

  it("refuses pipelines with a dangling dependency, an undeclared parameter or a missing linked service", async () => {
    const client = dataFactoryClient(azure);
    const dangling = await errorOf(
      client.pipelines.createOrUpdate(rg, factory, "bad-deps", {
        activities: [{ name: "A", type: "Wait", waitTimeInSeconds: 1, dependsOn: [{ activity: "Ghost", dependencyConditions: ["Succeeded"] }] } as WaitActivity],
      }),
    );
    assert.equal(dangling.statusCode, 400);
    assert.equal(dangling.code, "BadRequest");
    assert.match(dangling.message, /Ghost/);

    const undeclared = await errorOf(
      client.pipelines.createOrUpdate(rg, factory, "bad-params", {
        activities: [{ name: "A", type: "Wait", waitTimeInSeconds: "@pipeline().parameters.delay" } as WaitActivity],
      }),
    );
    assert.equal(undeclared.statusCode, 400);
    assert.equal(undeclared.message, "Missing parameter definition for 'delay'");

    const missingLs = await errorOf(
      client.pipelines.createOrUpdate(rg, factory, "bad-ls", {
        activities: [{ name: "A", type: "Custom", command: "true", linkedServiceName: { referenceName: "NoSuchBatch", type: "LinkedServiceReference" } } as CustomActivity],
      }),
    );
    assert.equal(missingLs.statusCode, 400);
    assert.match(missingLs.message, /invalid reference 'NoSuchBatch'/);
    await assert.rejects(client.pipelines.get(rg, factory, "bad-ls"));
  });

  it("serves examples/data-factory's datasets and round-trips datasets: get, list, createOrUpdate with If-Match, If-None-Match, delete", async () => {
    const client = dataFactoryClient(azure);
    const seeded: string[] = [];
    for await (const d of client.datasets.listByFactory(rg, factory)) seeded.push(d.name ?? "");
    assert.ok(seeded.includes("IncomingCsv") && seeded.includes("StagedCsv"), seeded.join(","));
    const incoming = (await client.datasets.get(rg, factory, "IncomingCsv")) as DatasetResource & { properties: DelimitedTextDataset };
    assert.equal(incoming.type, "Microsoft.DataFactory/factories/datasets");
    assert.equal(incoming.id, `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/${factory}/datasets/IncomingCsv`);
    assert.equal(incoming.properties.type, "DelimitedText");
    assert.deepEqual(incoming.properties.location, { type: "AzureBlobStorageLocation", container: "input", folderPath: "incoming" });
    assert.equal(incoming.properties.firstRowAsHeader, true);

    const definition: DatasetResource = {
      properties: {
        type: "Binary",
        linkedServiceName: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
        parameters: { folder: { type: "String", defaultValue: "in" } },
        location: { type: "AzureBlobStorageLocation", container: "data", folderPath: { value: "@dataset().folder", type: "Expression" } },
      } as DatasetResource["properties"],
    };
    const put = await client.datasets.createOrUpdate(rg, factory, "RawFiles", definition);
    assert.equal(put.name, "RawFiles");
    assert.ok(put.etag);
    const got = await client.datasets.get(rg, factory, "RawFiles");
    assert.deepEqual(got.properties, put.properties);
    assert.deepEqual((got.properties as unknown as { location: unknown }).location, { type: "AzureBlobStorageLocation", container: "data", folderPath: { value: "@dataset().folder", type: "Expression" } });
    const unchanged = await client.datasets.get(rg, factory, "RawFiles", { ifNoneMatch: put.etag });
    assert.equal(unchanged.name, undefined, "304: nothing new");
    const again = await client.datasets.createOrUpdate(rg, factory, "RawFiles", { properties: { ...definition.properties, description: "raw" } }, { ifMatch: put.etag });
    assert.notEqual(again.etag, put.etag);
    assert.equal((await errorOf(client.datasets.createOrUpdate(rg, factory, "RawFiles", definition, { ifMatch: put.etag }))).statusCode, 412);

    const dangling = await errorOf(client.datasets.createOrUpdate(rg, factory, "Dangling", { properties: { ...definition.properties, linkedServiceName: { referenceName: "NoSuchStorage", type: "LinkedServiceReference" } } }));
    assert.equal(dangling.statusCode, 400);
    assert.equal(dangling.message, "The document creation or update failed because of invalid reference 'NoSuchStorage'.");
    const copyOf = (dataset: string): PipelineResource => ({
      activities: [{ name: "Copy", type: "Copy", inputs: [{ referenceName: dataset, type: "DatasetReference" }], outputs: [{ referenceName: "RawFiles", type: "DatasetReference" }], source: { type: "BinarySource" }, sink: { type: "BinarySink" } } as CopyActivity],
    });
    const noDataset = await errorOf(client.pipelines.createOrUpdate(rg, factory, "copy-missing", copyOf("NoSuchDataset")));
    assert.equal(noDataset.statusCode, 400);
    assert.equal(noDataset.message, "The document creation or update failed because of invalid reference 'NoSuchDataset'.");

    await client.datasets.delete(rg, factory, "RawFiles");
    assert.equal((await errorOf(client.datasets.get(rg, factory, "RawFiles"))).statusCode, 404);
    // Deleting what is not there succeeds (204), as for pipelines.
    await client.datasets.delete(rg, factory, "RawFiles");
  });

  it("serves the Batch and staging linked services the Custom activity uses", async () => {
    const client = dataFactoryClient(azure);
    const batch = await client.linkedServices.get(rg, factory, "BatchCompute");
    assert.equal(batch.properties.type, "AzureBatch");
    const tp = batch.properties as unknown as { accountName: string; poolName: string; batchUri: string; linkedServiceName: { referenceName: string } };
    assert.equal(tp.accountName, "releasebatch");
    assert.equal(tp.poolName, "adf-pool");
    assert.equal(tp.batchUri, "https://releasebatch.westeurope.batch.azure.com");
    assert.equal(tp.linkedServiceName.referenceName, "StagingStorage");
    const staging = await client.linkedServices.get(rg, factory, "StagingStorage");
    assert.equal(staging.properties.type, "AzureBlobStorage");
    assert.match(String((staging.properties as unknown as { connectionString: string }).connectionString), new RegExp(`AccountName=${azure.info.storage.accountName};`));
  });

  it("never returns a linked service's secrets: SecureStrings are masked, connection strings lose their key", async () => {
    const client = dataFactoryClient(azure);
    const accountKey = "c2VjcmV0LWFjY291bnQta2V5LXRoYXQtbXVzdC1ub3QtbGVhaw==";
    const batchKey = "batch-key-that-must-not-leak";
    const put = await client.linkedServices.createOrUpdate(rg, factory, "KeyedStorage", {
      properties: {
        type: "AzureBlobStorage",
        connectionString: `DefaultEndpointsProtocol=https;AccountName=${azure.info.storage.accountName};AccountKey=${accountKey};EndpointSuffix=core.windows.net`,
      } as never,
    });
    const putText = JSON.stringify(put);
    assert.ok(!putText.includes(accountKey), putText);
    await client.linkedServices.createOrUpdate(rg, factory, "KeyedBatch", {
      properties: {
        type: "AzureBatch",
        accountName: "releasebatch",
        batchUri: "https://releasebatch.westeurope.batch.azure.com",
        poolName: "adf-pool",
        accessKey: { type: "SecureString", value: batchKey },
        linkedServiceName: { referenceName: "KeyedStorage", type: "LinkedServiceReference" },
      } as never,
    });
    const storage = (await client.linkedServices.get(rg, factory, "KeyedStorage")).properties as unknown as { connectionString: string; encryptedCredential?: string };
    assert.equal(storage.connectionString, `DefaultEndpointsProtocol=https;AccountName=${azure.info.storage.accountName};EndpointSuffix=core.windows.net`);
    assert.ok(storage.encryptedCredential, "the key is named by encryptedCredential");
    const batch = (await client.linkedServices.get(rg, factory, "KeyedBatch")).properties as unknown as { accessKey: { type: string; value: string }; linkedServiceName: { referenceName: string } };
    assert.deepEqual(batch.accessKey, { type: "SecureString", value: "**********" });
    assert.equal(batch.linkedServiceName.referenceName, "KeyedStorage");
    const listed: unknown[] = [];
    for await (const l of client.linkedServices.listByFactory(rg, factory)) listed.push(l);
    const listText = JSON.stringify(listed);
    assert.ok(!listText.includes(accountKey) && !listText.includes(batchKey), "no secret in the list");
    // The stored definition keeps the secret for the run simulation.
    const stored = azure.state.dataFactory.factory(factory)?.linkedServices.get("KeyedBatch");
    assert.equal((stored?.properties.typeProperties?.accessKey as { value: string }).value, batchKey);
  });

  it("retries an injected 429 after Retry-After", async () => {
    azure.faults.add({ service: "arm", kind: "429", count: 1, retryAfterSeconds: 1, path: /Microsoft\.DataFactory/ });
    const started = Date.now();
    const p = await dataFactoryClient(azure, { maxRetries: 3 }).pipelines.get(rg, factory, "run-batch-app");
    assert.equal(p.name, "run-batch-app");
    assert.ok(Date.now() - started >= 900, "the client waited for Retry-After");
    assert.equal(azure.log.find({ service: "arm", path: /pipelines\/run-batch-app$/ }).filter((e) => e.fault === "429").length, 1);
  });

  it("answers 403 AuthorizationFailed to a principal denied createRun, and lets it read", async () => {
    azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.DataFactory/factories/pipelines/createrun/action" });
    const client = dataFactoryClient(azure);
    const e = await errorOf(client.pipelines.createRun(rg, factory, "run-batch-app", { parameters: { releaseRunId: "1" } }));
    assert.equal(e.statusCode, 403);
    assert.equal(e.code, "AuthorizationFailed");
    assert.match(e.message, /Microsoft\.DataFactory\/factories\/pipelines\/createrun\/action/);
    assert.match(e.message, /pipelines\/run-batch-app'/);
    assert.equal((await client.pipelines.get(rg, factory, "run-batch-app")).name, "run-batch-app");
  });

  it("answers a createRun whose reference run does not exist as ADF does, with its target", async () => {
    const token = await new (await import("@azure/identity")).ClientSecretCredential(azure.info.tenantId, azure.info.clientId, azure.info.clientSecret, {
      authorityHost: azure.info.authorityHost,
      disableInstanceDiscovery: true,
    }).getToken("https://management.azure.com/.default");
    const url = `${azure.info.armUrl}/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/${factory}/pipelines/run-batch-app/createRun?api-version=2018-06-01&referencePipelineRunId=not-a-run`;
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: { code: "ReferencedPipelineRunNotValid", message: "Referenced pipeline run id not-a-run is not a valid run id.", target: "pipeline/run-batch-app/" },
    });
  });

  it("refuses an api-version Data Factory does not serve with NoRegisteredProviderFound", async () => {
    const token = await new (await import("@azure/identity")).ClientSecretCredential(azure.info.tenantId, azure.info.clientId, azure.info.clientSecret, {
      authorityHost: azure.info.authorityHost,
      disableInstanceDiscovery: true,
    }).getToken("https://management.azure.com/.default");
    const url = `${azure.info.armUrl}/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.DataFactory/factories/${factory}?api-version=2019-01-01`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token.token}` } });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: {
        code: "NoRegisteredProviderFound",
        message:
          "No registered resource provider found for location 'westeurope' and API version '2019-01-01' for type 'factories'. The supported api-versions are '2018-06-01, 2017-09-01-preview'. The supported locations are 'westeurope'.",
      },
    });
  });
});
