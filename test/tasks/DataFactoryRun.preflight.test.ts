import { strict as assert } from "node:assert";
import type { ActivityUnion, LinkedServiceResource, PipelineResource } from "@azure/arm-datafactory";
import { resolveField } from "../../tasks/DataFactoryRun/expressions";
import { findCustomActivities, formatFinding, poolFactsFromArm, poolFactsFromBatch, preflight, type PoolFacts, type PreflightOptions } from "../../tasks/DataFactoryRun/preflight";

const blobLs = (name: string, props: Record<string, unknown>): LinkedServiceResource => ({ name, properties: { type: "AzureBlobStorage", ...props } as LinkedServiceResource["properties"] });
const key = (account: string) => ({ connectionString: `DefaultEndpointsProtocol=https;AccountName=${account};EndpointSuffix=core.windows.net;` });

const linkedServices: LinkedServiceResource[] = [
  {
    name: "BatchCompute",
    properties: {
      type: "AzureBatch",
      accountName: "releasebatch",
      batchUri: "https://releasebatch.westeurope.batch.azure.com",
      poolName: "adf-pool",
      linkedServiceName: { type: "LinkedServiceReference", referenceName: "StagingStore" },
    } as LinkedServiceResource["properties"],
  },
  blobLs("StagingStore", key("releasestore")),
  blobLs("SameAccountStore", key("releasestore")),
  blobLs("OtherStore", key("otherstore")),
  blobLs("VaultStore", { connectionString: { type: "AzureKeyVaultSecret", store: { referenceName: "kv", type: "LinkedServiceReference" }, secretName: "conn" } }),
  blobLs("IdentityStore", { serviceEndpoint: "https://releasestore.blob.core.windows.net/" }),
];

function custom(name: string, props: Record<string, unknown> = {}): ActivityUnion {
  return {
    name,
    type: "Custom",
    linkedServiceName: { type: "LinkedServiceReference", referenceName: "BatchCompute" },
    command: "/bin/sh -c 'python3 app.py'",
    resourceLinkedService: { type: "LinkedServiceReference", referenceName: "StagingStore" },
    folderPath: "apps/app/1.2.0",
    ...props,
  } as ActivityUnion;
}

interface Harness {
  options: PreflightOptions;
  listed: string[];
  poolsRead: string[];
}

function harness(activities: ActivityUnion[], overrides: Partial<PreflightOptions> = {}, blobs: Record<string, string[]> = { "apps/app/1.2.0/": ["app/1.2.0/app.py", "app/1.2.0/lib/util.py"] }, pools: Record<string, PoolFacts | Error> = { "adf-pool": { enableAutoScale: true, targetDedicatedNodes: 0, targetLowPriorityNodes: 0, virtualMachineConfiguration: true } }): Harness {
  const h: Harness = { listed: [], poolsRead: [], options: undefined as unknown as PreflightOptions };
  h.options = {
    pipelineName: "run-app",
    factoryName: "release-adf",
    pipeline: { activities } as PipelineResource,
    linkedServices,
    parameters: { version: "2.0.0" },
    strict: false,
    listBlobs: async (container, prefix, storage) => {
      h.listed.push(`${storage.linkedServiceName}:${storage.accountName}:${container}/${prefix}`);
      const entry = blobs[`${container}/${prefix}`];
      if (entry === undefined) return [];
      return entry;
    },
    readPool: async (pool) => {
      h.poolsRead.push(`${pool.accountName}/${pool.poolName}@${pool.batchUri}`);
      const facts = pools[pool.poolName];
      if (facts instanceof Error) throw facts;
      return facts;
    },
    ...overrides,
  };
  return h;
}

describe("DataFactoryRun pre-flight", () => {
  it("passes a well-formed Custom activity, reading its folder and pool once", async () => {
    const h = harness([custom("Run app"), custom("Run app again")]);
    const result = await preflight(h.options);
    assert.deepEqual(result.findings, []);
    assert.deepEqual(result.blocking, []);
    assert.deepEqual(result.customActivities, ["Run app", "Run app again"]);
    assert.deepEqual(h.listed, ["StagingStore:releasestore:apps/app/1.2.0/"]);
    assert.deepEqual(h.poolsRead, ["releasebatch/adf-pool@https://releasebatch.westeurope.batch.azure.com"]);
  });

  it("finds Custom activities inside ForEach, If Condition, Switch and Until", async () => {
    const nested = [
      { name: "each", type: "ForEach", items: { type: "Expression", value: "@createArray(1)" }, activities: [{ name: "when", type: "IfCondition", expression: { type: "Expression", value: "@true" }, ifTrueActivities: [custom("deep", { command: " python3 app.py " })] }] },
      { name: "switch", type: "Switch", on: { type: "Expression", value: "@'a'" }, cases: [{ value: "a", activities: [custom("in case")] }], defaultActivities: [custom("in default")] },
      { name: "until", type: "Until", expression: { type: "Expression", value: "@true" }, activities: [custom("in until")] },
      { name: "wait", type: "Wait", waitTimeInSeconds: 1 },
    ] as ActivityUnion[];
    assert.deepEqual(
      findCustomActivities(nested).map((f) => `${f.within.join(" > ")} > ${f.activity.name}`),
      ["ForEach 'each' > IfCondition 'when' > true > deep", "Switch 'switch' > case 'a' > in case", "Switch 'switch' > default > in default", "Until 'until' > in until"],
    );
    const result = await preflight(harness(nested).options);
    assert.deepEqual(result.findings.map((f) => `${f.activity}: ${f.check} ${f.severity}`), ["deep: command warning"]);
    assert.equal(
      formatFinding(result.findings[0]),
      "Warning: Custom activity 'deep': The command ' python3 app.py ' has leading and trailing spaces; Data Factory's run then never completes (MicrosoftDocs/azure-docs#56989). Fix: Remove them: 'python3 app.py'.",
    );
  });

  it("catches spaces at the ends of a command with expressions it cannot work out", async () => {
    const result = await preflight(harness([custom("tpl", { command: "python3 app.py @{pipeline().RunId} " })]).options);
    assert.equal(result.findings.length, 1);
    assert.match(result.findings[0].message, /^The command has trailing spaces/);
    const fine = await preflight(harness([custom("tpl", { command: "python3 app.py @{pipeline().RunId}" })]).options);
    assert.deepEqual(
      fine.findings.map((f) => [f.severity, f.message]),
      [["info", "The command not checked: 'python3 app.py @{pipeline().RunId}' cannot be worked out before the run: pipeline().RunId is known only once the run has started."]],
    );
  });

  it("warns when resourceLinkedService is another account than the Batch linked service's storage", async () => {
    const result = await preflight(harness([custom("Run app", { resourceLinkedService: { type: "LinkedServiceReference", referenceName: "OtherStore" } })], {}, { "apps/app/1.2.0/": ["app.py"] }).options);
    assert.equal(result.findings.length, 1);
    const f = result.findings[0];
    assert.equal(f.check, "resourceLinkedService");
    assert.equal(f.severity, "warning");
    assert.equal(
      f.message,
      "resourceLinkedService 'OtherStore' (account otherstore) is not the storage that Batch linked service 'BatchCompute' uses ('StagingStore', account releasestore); the activity then fails with an obscure error (Azure/Azure-DataFactory#187).",
    );
    assert.equal(f.fix, "Set resourceLinkedService to 'StagingStore' and deploy the application to account releasestore, or point the Batch linked service's linkedServiceName at 'OtherStore'.");
  });

  it("accepts another linked service for the same account with a note, and says when accounts cannot be compared", async () => {
    const same = await preflight(harness([custom("a", { resourceLinkedService: { type: "LinkedServiceReference", referenceName: "SameAccountStore" } })]).options);
    assert.deepEqual(same.findings.map((f) => f.severity), ["info"]);
    assert.match(same.findings[0].message, /different linked services for the same account releasestore/);
    const vault = await preflight(harness([custom("a", { resourceLinkedService: { type: "LinkedServiceReference", referenceName: "VaultStore" } })]).options);
    assert.deepEqual(vault.findings.map((f) => f.severity), ["warning"]);
    assert.match(vault.findings[0].message, /the accounts cannot be compared \(its connection string is kept in Key Vault\)/);
  });

  it("warns that a storage linked service without the account key cannot give ADF its SAS URLs (2505)", async () => {
    const result = await preflight(harness([custom("a", { resourceLinkedService: { type: "LinkedServiceReference", referenceName: "IdentityStore" } })]).options);
    const messages = result.findings.map((f) => f.message);
    assert.ok(messages.some((m) => /does not sign with the account key.*error 2505/.test(m)), messages.join("\n"));
    // Same account (from its endpoint), different linked service: a note, not a mismatch.
    assert.ok(messages.some((m) => /same account releasestore/.test(m)), messages.join("\n"));
  });

  it("warns when the folder is empty or missing, with the BatchAppBlobCopy settings that would fill it", async () => {
    const empty = await preflight(harness([custom("a", { folderPath: "apps/app/9.9.9/" })]).options);
    assert.equal(empty.findings.length, 1);
    assert.equal(empty.findings[0].message, "folderPath 'apps/app/9.9.9/' does not exist or is empty (the activity would fail with error 2507, \"The folder path does not exist or is empty\").");
    assert.equal(empty.findings[0].fix, "Deploy the application there first (for example BatchAppBlobCopy@1 with containerName 'apps' and blobPrefix 'app/9.9.9/'), or correct folderPath.");

    const notFound = Object.assign(new Error("The specified container does not exist."), { statusCode: 404, code: "ContainerNotFound" });
    const missing = await preflight(harness([custom("a", { folderPath: "nocontainer/app" })], { listBlobs: async () => Promise.reject(notFound) }).options);
    assert.match(missing.findings[0].message, /^Container 'nocontainer' does not exist in account releasestore/);

    const denied = Object.assign(new Error("This request is not authorized to perform this operation."), { statusCode: 403, code: "AuthorizationPermissionMismatch" });
    const unreadable = await preflight(harness([custom("a")], { listBlobs: async () => Promise.reject(denied) }).options);
    assert.deepEqual(unreadable.findings.map((f) => f.severity), ["info"]);
    assert.match(unreadable.findings[0].message, /not checked: the folder could not be listed \(AuthorizationPermissionMismatch \(HTTP 403\): This request is not authorized/);
  });

  it("warns about files of the same name in different folders, which ADF flattens (2508)", async () => {
    const result = await preflight(harness([custom("a")], {}, { "apps/app/1.2.0/": ["app/1.2.0/main.py", "app/1.2.0/config.json", "app/1.2.0/etc/config.json"] }).options);
    assert.equal(result.findings.length, 1);
    assert.match(result.findings[0].message, /holds files of the same name in different folders \('app\/1\.2\.0\/config\.json' and 'app\/1\.2\.0\/etc\/config\.json'\).*error 2508/);
  });

  it("works out folderPath expressions from the run's parameters, and skips what it cannot", async () => {
    const h = harness(
      [
        custom("concat", { folderPath: "@concat('apps/app/', pipeline().parameters.version)" }),
        custom("interpolated", { folderPath: { type: "Expression", value: "apps/app/@{pipeline().parameters.version}" } }),
        custom("from activity", { folderPath: "@activity('Prepare').output.folder" }),
      ],
      {},
      { "apps/app/2.0.0/": ["app.py"] },
    );
    const result = await preflight(h.options);
    assert.deepEqual(h.listed, ["StagingStore:releasestore:apps/app/2.0.0/"]);
    assert.deepEqual(
      result.findings.map((f) => `${f.activity}: ${f.severity}: ${f.message}`),
      ["from activity: info: folderPath not checked: '@activity('Prepare').output.folder' cannot be worked out before the run: the function activity() is not evaluated before the run."],
    );
  });

  it("warns about a pool that does not exist or cannot get nodes, and notes one it cannot read", async () => {
    const missing = await preflight(harness([custom("a")], {}, undefined, {}).options);
    assert.equal(missing.findings[0].message, "Pool 'adf-pool' of Batch account 'releasebatch' (Batch linked service 'BatchCompute') does not exist; the activity would fail with error 2501.");
    const stuck = await preflight(harness([custom("a")], {}, undefined, { "adf-pool": { enableAutoScale: false, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 } }).options);
    assert.match(stuck.findings[0].message, /can get no nodes: autoscale is off and its target is 0 dedicated and 0 low-priority nodes/);
    assert.equal(stuck.findings[0].fix, "Resize the pool to at least one node, or enable autoscale (BatchPoolAutoscale@1).");
    const fixed = await preflight(harness([custom("a")], {}, undefined, { "adf-pool": { enableAutoScale: false, targetDedicatedNodes: 0, targetLowPriorityNodes: 2 } }).options);
    assert.deepEqual(fixed.findings, []);
    const unreadable = await preflight(harness([custom("a")], {}, undefined, { "adf-pool": Object.assign(new Error("Server failed to authenticate the request."), { statusCode: 403, code: "AuthenticationFailed" }) }).options);
    assert.deepEqual(unreadable.findings.map((f) => [f.severity, f.message]), [["info", "Pool 'adf-pool' of Batch account 'releasebatch' not checked: it could not be read (AuthenticationFailed (HTTP 403): Server failed to authenticate the request.)."]]);
  });

  it("turns warnings into errors with strictPreflight", async () => {
    const h = harness([custom("a", { command: "run.sh " })], { strict: true }, undefined, { "adf-pool": { enableAutoScale: false, targetDedicatedNodes: 0, targetLowPriorityNodes: 0 } });
    const result = await preflight(h.options);
    assert.deepEqual(result.blocking.map((f) => `${f.check} ${f.severity}`), ["command error", "pool error"]);
    assert.match(formatFinding(result.blocking[0]), /^Error: Custom activity 'a': The command 'run\.sh ' has trailing spaces/);
    const lenient = await preflight(harness([custom("a", { command: "run.sh " })]).options);
    assert.deepEqual(lenient.blocking, []);
    assert.equal(lenient.findings[0].severity, "warning");
  });

  it("checks the definition: missing linked services, one of resourceLinkedService/folderPath alone, inactive activities", async () => {
    const result = await preflight(
      harness([
        custom("no batch", { linkedServiceName: { type: "LinkedServiceReference", referenceName: "Nope" } }),
        custom("folder only", { resourceLinkedService: undefined }),
        custom("off", { state: "Inactive", command: " x " }),
      ]).options,
    );
    assert.deepEqual(
      result.findings.map((f) => `${f.activity}: ${f.message}`),
      [
        "no batch: Its linked service 'Nope' does not exist in factory 'release-adf'.",
        "folder only: folderPath is set but resourceLinkedService is not; both are needed to copy the application to the node.",
        "off: The activity is deactivated (state Inactive); not checked.",
      ],
    );
    assert.equal(result.findings[1].fix, "Set resourceLinkedService to 'StagingStore'.");
  });

  it("reads pool facts from either Batch API", () => {
    assert.deepEqual(poolFactsFromBatch({ id: "p", enableAutoScale: false, targetDedicatedNodes: 2, virtualMachineConfiguration: { imageReference: {}, nodeAgentSKUId: "x" } }), {
      enableAutoScale: false,
      targetDedicatedNodes: 2,
      targetLowPriorityNodes: 0,
      virtualMachineConfiguration: true,
      allocationState: undefined,
    });
    assert.deepEqual(poolFactsFromArm({ scaleSettings: { autoScale: { formula: "$TargetDedicatedNodes=1;" } }, allocationState: "Steady" }), {
      enableAutoScale: true,
      targetDedicatedNodes: 0,
      targetLowPriorityNodes: 0,
      virtualMachineConfiguration: undefined,
      allocationState: "Steady",
    });
  });
});

describe("DataFactoryRun expressions", () => {
  const scope = { parameters: { version: "2.0.0", n: 42, cfg: { folder: "apps/x" } }, pipelineName: "run-app", factoryName: "release-adf" };
  it("keeps the type of a whole expression and makes interpolation text", () => {
    assert.deepEqual(resolveField("@pipeline().parameters.n", scope), { resolved: true, value: 42 });
    assert.deepEqual(resolveField("@{pipeline().parameters.n}", scope), { resolved: true, value: "42" });
    assert.deepEqual(resolveField("Answer is: @{pipeline().parameters.n}", scope), { resolved: true, value: "Answer is: 42" });
    assert.deepEqual(resolveField("@pipeline().parameters.cfg.folder", scope), { resolved: true, value: "apps/x" });
    assert.deepEqual(resolveField("@pipeline().parameters['version']", scope), { resolved: true, value: "2.0.0" });
    assert.deepEqual(resolveField("@concat('it''s ', pipeline().Pipeline, '/', pipeline().DataFactory)", scope), { resolved: true, value: "it's run-app/release-adf" });
    assert.deepEqual(resolveField("@@literal", scope), { resolved: true, value: "@literal" });
    assert.deepEqual(resolveField(" @notAnExpression", scope), { resolved: true, value: " @notAnExpression" });
  });

  it("says why it cannot work something out", () => {
    assert.deepEqual(resolveField("@pipeline().parameters.missing", scope), { resolved: false, reason: "'@pipeline().parameters.missing' cannot be worked out before the run: parameter 'missing' is not defined" });
    assert.deepEqual(resolveField("@utcNow()", scope), { resolved: false, reason: "'@utcNow()' cannot be worked out before the run: the function utcNow() is not evaluated before the run" });
  });
});
