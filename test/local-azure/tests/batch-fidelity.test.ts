import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as path from "node:path";
import { BatchManagementClient } from "@azure/arm-batch";
import { BatchServiceClient, BatchSharedKeyCredentials } from "@azure/batch";
import { ServiceClient, WebResource } from "@azure/ms-rest-js";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { localCredential, rejectsWith } from "../../harness/azure-test";
import { REPO_ROOT } from "../../harness/run-task";
import { parseTimeScale } from "../cli";
import { startLocalAzureCli } from "./cli-process";

type RestErr = { statusCode?: number; code?: string; body?: { values?: { key: string; value: string }[] } };
const rejects = (promise: Promise<unknown>, check: (e: RestErr) => void) => rejectsWith<RestErr>(promise, check);
const uid = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
const API = "api-version=2022-10-01.16.0";

describe("local Azure: Batch fidelity (headers, nodes and images, ARM api-versions, time scale)", function () {
  let azure: LocalAzure;
  let client: BatchServiceClient;
  let raw: ServiceClient;
  let savedMs: number;

  before(async () => {
    azure = await localAzure();
    const credentials = new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey);
    client = new BatchServiceClient(credentials, azure.info.batch.url);
    raw = new ServiceClient(credentials);
    savedMs = azure.batch.clock.msPerSimulatedSecond;
    azure.batch.clock.msPerSimulatedSecond = 5;
  });
  after(() => {
    azure.batch.clock.msPerSimulatedSecond = savedMs;
  });
  afterEach(resetLocalAzure);

  const send = (method: "GET" | "POST", urlPath: string, headers: Record<string, string> = {}) => {
    const request = new WebResource(`${azure.info.batch.url}${urlPath}`, method);
    for (const [k, v] of Object.entries(headers)) request.headers.set(k, v);
    return raw.sendRequest(request);
  };

  it("answers with its own request-id, and echoes client-request-id only when asked with return-client-request-id: true", async () => {
    const clientId = crypto.randomUUID();
    const plain = await send("GET", `/pools/${azure.info.batch.poolId}?${API}`, { "client-request-id": clientId, "x-ms-client-request-id": clientId });
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get("request-id") ?? "", /^[0-9a-f-]{36}$/);
    assert.notEqual(plain.headers.get("request-id"), clientId);
    assert.equal(plain.headers.get("client-request-id"), undefined);
    assert.equal(plain.headers.get("x-ms-client-request-id"), undefined);
    const echoed = await send("GET", `/pools/${azure.info.batch.poolId}?${API}`, { "client-request-id": clientId, "return-client-request-id": "true" });
    assert.equal(echoed.headers.get("client-request-id"), clientId);
    assert.notEqual(echoed.headers.get("request-id"), clientId);
    const again = await send("GET", `/pools/${azure.info.batch.poolId}?${API}`);
    assert.notEqual(again.headers.get("request-id"), plain.headers.get("request-id"));
  });

  it("gives error bodies the same odata.metadata base and headers as successes, injected faults included", async () => {
    const ok = await send("GET", `/pools/${azure.info.batch.poolId}?${API}`);
    const base = String(ok.parsedBody["odata.metadata"]).split("$metadata#")[0];
    assert.equal(base, `${azure.info.batch.url}/`);
    const clientId = crypto.randomUUID();
    const missing = await send("GET", `/pools/no-such-pool?${API}`, { "client-request-id": clientId, "return-client-request-id": "true" });
    assert.equal(missing.status, 404);
    assert.equal(missing.parsedBody.code, "PoolNotFound");
    assert.equal(missing.parsedBody["odata.metadata"], `${base}$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`);
    assert.equal(missing.headers.get("dataserviceversion"), ok.headers.get("dataserviceversion"));
    assert.equal(missing.headers.get("content-type"), ok.headers.get("content-type"));
    assert.equal(missing.headers.get("client-request-id"), clientId);
    assert.match(missing.parsedBody.message.value, new RegExp(`RequestId:${missing.headers.get("request-id")}`));
    azure.faults.add({ service: "batch", kind: "503", count: 1, retryAfterSeconds: 1 });
    const once = new ServiceClient(new BatchSharedKeyCredentials(azure.info.batch.accountName, azure.info.batch.accountKey), { noRetryPolicy: true });
    const busy = await once.sendRequest(new WebResource(`${azure.info.batch.url}/pools?${API}`, "GET"));
    assert.equal(busy.status, 503);
    assert.equal(busy.parsedBody["odata.metadata"], missing.parsedBody["odata.metadata"]);
    assert.equal(busy.headers.get("dataserviceversion"), "3.0");
    assert.equal(busy.headers.get("retry-after"), "1");
  });

  it("gives the nodes of a pool distinct IP addresses, also after nodes leave and others join", async () => {
    const id = uid("ips");
    await client.pool.add({ id, vmSize: "standard_d2s_v3", virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" }, targetDedicatedNodes: 3 });
    const pool = azure.batch.account().pools.get(id)!;
    const idle = (n: number) => azure.batch.waitFor(() => pool.nodes.size === n && pool.allocationState === "steady" && [...pool.nodes.values()].every((x) => x.state === "idle"), { what: `${n} idle nodes` });
    await idle(3);
    const seen = new Set((await client.computeNode.list(id)).map((n) => n.ipAddress!));
    assert.equal(seen.size, 3);
    await client.pool.removeNodes(id, { nodeList: [[...pool.nodes.keys()][0]] });
    await idle(2);
    await client.pool.resize(id, { targetDedicatedNodes: 4 });
    await idle(4);
    const ips = (await client.computeNode.list(id)).map((n) => n.ipAddress!);
    assert.equal(new Set(ips).size, 4, ips.join(", "));
    for (const ip of ips) assert.match(ip, /^10\.0\.\d+\.\d+$/);
    await client.pool.deleteMethod(id);
  });

  it("shows an image without a version as latest, and each node's exactVersion agrees with the image", async () => {
    const latest = uid("latest");
    const pinned = uid("pinned");
    const image = { publisher: "canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts" };
    await client.pool.add({ id: latest, vmSize: "standard_d2s_v3", virtualMachineConfiguration: { imageReference: image, nodeAgentSKUId: "batch.node.ubuntu 22.04" }, targetDedicatedNodes: 1 });
    await client.pool.add({ id: pinned, vmSize: "standard_d2s_v3", virtualMachineConfiguration: { imageReference: { ...image, version: "22.04.202301100" }, nodeAgentSKUId: "batch.node.ubuntu 22.04" }, targetDedicatedNodes: 1 });
    assert.deepEqual((await client.pool.get(latest)).virtualMachineConfiguration?.imageReference, { ...image, version: "latest" });
    const nodeOf = async (poolId: string) => {
      const pool = azure.batch.account().pools.get(poolId)!;
      await azure.batch.waitFor(() => [...pool.nodes.values()].some((n) => n.state === "idle"));
      return (await client.computeNode.list(poolId))[0];
    };
    const fromLatest = (await nodeOf(latest)).virtualMachineInfo?.imageReference;
    assert.equal(fromLatest?.version, "latest");
    assert.match(fromLatest?.exactVersion ?? "", /^22\.04\.\d{9}$/);
    assert.equal((await nodeOf(pinned)).virtualMachineInfo?.imageReference?.exactVersion, "22.04.202301100");
    await Promise.all([client.pool.deleteMethod(latest), client.pool.deleteMethod(pinned)]);
  });

  it("refuses an unknown nodeAgentSKUId with 400 InvalidPropertyValue naming it", async () => {
    await rejects(
      client.pool.add({ id: uid("sku"), vmSize: "standard_d2s_v3", virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 99.04" } }),
      (e) => {
        assert.equal(e.statusCode, 400);
        assert.equal(e.code, "InvalidPropertyValue");
        const values = Object.fromEntries((e.body?.values ?? []).map((v) => [v.key, v.value]));
        assert.equal(values.PropertyName, "nodeAgentSKUId");
        assert.equal(values.PropertyValue, "batch.node.ubuntu 99.04");
      },
    );
  });

  it("accepts on ARM the Microsoft.Batch api-versions Azure serves and clients send, and names them when refusing another", async () => {
    const credential = localCredential(azure);
    // Only 2023-11-01's spec is vendored, so the exchanges of the other versions cannot be checked against a spec: capture pauses for them.
    const capturing = azure.log.capture;
    for (const apiVersion of ["2022-10-01", "2023-05-01", "2023-11-01", "2024-02-01", "2024-07-01"]) {
      azure.log.capture = capturing && apiVersion === "2023-11-01";
      try {
        const arm = new BatchManagementClient(credential, azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"], apiVersion });
        const account = await arm.batchAccountOperations.get(azure.info.resourceGroup, azure.info.batch.accountName);
        assert.equal(account.name, azure.info.batch.accountName, apiVersion);
      } finally {
        azure.log.capture = capturing;
      }
    }
    const old = new BatchManagementClient(credential, azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"], apiVersion: "2017-09-01", retryOptions: { maxRetries: 0 } });
    await rejects(old.batchAccountOperations.get(azure.info.resourceGroup, azure.info.batch.accountName), (e) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, "NoRegisteredProviderFound");
      assert.match((e as unknown as Error).message, /2022-10-01, 2023-05-01, 2023-11-01, 2024-02-01, 2024-07-01/);
    });
  });

  it("`npm run local-azure -- --time-scale <factor>` slows simulated time for a person driving it by hand", async function () {
    this.timeout(60_000);
    assert.equal(parseTimeScale(["--time-scale", "2"]), 500);
    assert.equal(parseTimeScale([]), undefined);
    assert.throws(() => parseTimeScale(["--time-scale", "fast"]), /--time-scale needs a factor above 0/);
    // One clock: Data Factory runs and Batch nodes follow the same time scale.
    assert.equal(azure.state.dataFactory.clock, azure.batch.clock);
    const cli = await startLocalAzureCli(["--time-scale", "1"]);
    try {
      const line = cli.readyLine;
      const info = JSON.parse(line) as { timeScale: number; msPerSimulatedSecond: number };
      assert.equal(info.timeScale, 1);
      assert.equal(info.msPerSimulatedSecond, 1000);
    } finally {
      await cli.stop();
    }
    const bad = spawn(process.execPath, [require.resolve("tsx/cli"), path.join(REPO_ROOT, "test", "local-azure", "cli.ts"), "--time-scale", "0"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    bad.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => bad.on("exit", r));
    assert.equal(code, 2);
    assert.match(stderr, /--time-scale needs a factor above 0 and at most 10000/);
  });
});
