import { strict as assert } from "node:assert";
import { ClientSecretCredential } from "@azure/identity";
import { StorageManagementClient } from "@azure/arm-storage";
import { BatchManagementClient } from "@azure/arm-batch";
import { localAzure } from "../../fixture";
import { checkExchange, pollingPathsOf, specScope, type CheckContext, type ExchangeRecord } from "../spec/check-exchange";
import { OperationIndex } from "../spec/operations";
import { ExchangeRecorder, specCheckHooks, specCheckMode, type SpecCheckMode } from "../spec/run-check";
import { skipWithoutSpecs } from "../spec/load";
import { specValidator } from "../spec/validate";
import { RequestLog, type RequestLogEntry } from "../http";

const SUB = "/subscriptions/9b1c7d62-3e7f-4a55-9d0f-6f3c0a1b2c3d/resourceGroups/rg-release";
const ACCOUNT = `${SUB}/providers/Microsoft.Batch/batchAccounts/releasebatch`;
const FACTORY = `${SUB}/providers/Microsoft.DataFactory/factories/release-adf`;

function record(partial: Partial<ExchangeRecord> & Pick<ExchangeRecord, "service" | "method" | "path" | "status">): ExchangeRecord {
  return { query: "", ...partial, exchange: { requestHeaders: {}, responseHeaders: {}, ...partial.exchange } };
}

const armError = (code: string) => ({ error: { code, message: `${code}.` } });
const batchError = (code: string) => ({ code, message: { lang: "en-US", value: `${code}.` } });

describe("REST spec check of captured exchanges", () => {
  let ctx: CheckContext;
  const check = (r: ExchangeRecord) => checkExchange(ctx, r).map((m) => `${m.part} ${m.pointer}: ${m.message}`);
  before(function () {
    skipWithoutSpecs(this);
  });
  before(async () => {
    const validator = await specValidator();
    ctx = { validator, operations: new OperationIndex(validator.specs) };
  });

  it("leaves Storage, Entra, Blob, DevOps and provider registration out of scope", () => {
    assert.equal(specScope({ service: "arm", path: `${SUB}/providers/Microsoft.Storage/storageAccounts/releasestore` }), undefined);
    assert.equal(specScope({ service: "arm", path: "/subscriptions/9b1c/providers/Microsoft.Batch/register" }), undefined);
    assert.equal(specScope({ service: "arm", path: "/subscriptions/9b1c/providers/Microsoft.Batch" }), undefined);
    for (const service of ["entra", "blob", "devops"] as const) assert.equal(specScope({ service, path: "/pools" }), undefined);
    assert.equal(specScope({ service: "arm", path: ACCOUNT.toLowerCase() }), "arm");
    assert.equal(specScope({ service: "batch", path: "/pools" }), "batch");
  });

  it("reports an emulator route the spec does not have, and a method the spec does not allow", () => {
    assert.deepEqual(check(record({ service: "arm", method: "GET", path: `${FACTORY}/pipelines/release/runs`, query: "?api-version=2018-06-01", status: 200, route: "GET runs" })), [
      `route : no operation in the spec for GET ${FACTORY}/pipelines/release/runs`,
    ]);
    assert.deepEqual(check(record({ service: "batch", method: "PUT", path: "/pools/p1", query: "?api-version=2022-10-01.16.0", status: 200 })), [
      "route : the spec has no PUT on /pools/{poolId} (it has GET, DELETE, PATCH, HEAD)",
    ]);
  });

  it("checks front-door errors against the service's error shape, even on paths the spec lacks", () => {
    const ok = [
      record({ service: "arm", method: "GET", path: ACCOUNT, status: 401, exchange: { responseBody: armError("InvalidAuthenticationToken"), requestHeaders: {}, responseHeaders: {} } }),
      record({ service: "arm", method: "GET", path: `${FACTORY}/nowhere`, status: 400, exchange: { responseBody: armError("MissingApiVersionParameter"), requestHeaders: {}, responseHeaders: {} } }),
      record({ service: "batch", method: "GET", path: "/pools", status: 429, fault: "429", exchange: { responseBody: batchError("ServerBusy"), requestHeaders: {}, responseHeaders: {} } }),
      record({ service: "arm", method: "POST", path: `${FACTORY}/pipelines/p/createRun`, status: 403, exchange: { responseBody: armError("AuthorizationFailed"), requestHeaders: {}, responseHeaders: {} } }),
      // An operation the local Azure does not implement: 501 from the front door, no route.
      record({ service: "arm", method: "GET", path: `${FACTORY}/triggers`, query: "?api-version=2018-06-01", status: 501, exchange: { responseBody: armError("NotImplemented"), requestHeaders: {}, responseHeaders: {} } }),
      // No emulator route answered: the front door's 404 for an unknown path.
      record({ service: "batch", method: "GET", path: "/nothing/here", query: "?api-version=2022-10-01.16.0", status: 404, exchange: { responseBody: batchError("ResourceNotFound"), requestHeaders: {}, responseHeaders: {} } }),
    ];
    for (const r of ok) assert.deepEqual(check(r), [], `${r.status} ${r.path}`);
    assert.deepEqual(check(record({ service: "arm", method: "GET", path: FACTORY, status: 503, exchange: { responseBody: { message: "busy" }, requestHeaders: {}, responseHeaders: {} } })), [
      "response /error: required property is missing",
    ]);
    assert.deepEqual(check(record({ service: "batch", method: "GET", path: "/pools", status: 500, exchange: { responseBody: { code: 500 }, requestHeaders: {}, responseHeaders: {} } })), [
      "response /code: must be string, got 500",
    ]);
  });

  it("checks what the client sent on accepted requests: api-version, query types, body", () => {
    const pool = { id: "p1", vmSize: "standard_d2s_v3", virtualMachineConfiguration: { imageReference: { publisher: "canonical" }, nodeAgentSKUId: "batch.node.ubuntu 22.04" } };
    const add = (query: string, body: unknown) =>
      record({ service: "batch", method: "POST", path: "/pools", query, status: 201, exchange: { requestBody: body, requestHeaders: { "content-type": "application/json; odata=minimalmetadata" }, responseHeaders: {} } });
    assert.deepEqual(check(add("?api-version=2022-10-01.16.0&timeout=30", pool)), []);
    assert.deepEqual(check(add("?timeout=soon", pool)).sort(), ["request query:api-version: required query parameter is missing", 'request query:timeout: must be integer, got "soon"']);
    assert.deepEqual(check(add("?api-version=2021-06-01.14.0", pool)), ["request query:api-version: api-version 2021-06-01.14.0 is not the spec's 2022-10-01.16.0"]);
    assert.deepEqual(check(add("?api-version=2022-10-01.16.0", { ...pool, vmSize: 2 })), ["request /vmSize: must be string, got 2"]);
    const withHeaders = (headers: Record<string, string>) => {
      const r = add("?api-version=2022-10-01.16.0", pool);
      return { ...r, exchange: { ...r.exchange, requestHeaders: { ...r.exchange.requestHeaders, ...headers } } };
    };
    assert.deepEqual(check(withHeaders({ "ocp-date": "Wed, 25 Nov 2026 19:43:40 GMT", "client-request-id": "9c4d50ee-2d56-4cd3-8152-34347dc9f2b0" })), []);
    assert.deepEqual(check(withHeaders({ "ocp-date": "2026-11-25T19:43:40Z", "client-request-id": "request-1" })), [
      'request header:client-request-id: "request-1" is not a valid uuid',
      'request header:ocp-date: "2026-11-25T19:43:40Z" is not a valid date-time-rfc1123',
    ]);
    // A rejected request is not held against the client: negative tests send bad requests on purpose.
    assert.deepEqual(check({ ...add("", { id: 1 }), status: 400, exchange: { requestBody: { id: 1 }, responseBody: batchError("InvalidRequestBody"), requestHeaders: {}, responseHeaders: {} } }), []);
  });

  it("does not hold long-running operation status URLs handed out in Location headers against the spec", () => {
    const created = record({
      service: "arm",
      method: "PUT",
      path: ACCOUNT,
      query: "?api-version=2023-11-01",
      status: 202,
      route: "PUT account",
      exchange: { requestBody: { location: "westeurope" }, requestHeaders: {}, responseHeaders: { location: `https://127.0.0.1:1${SUB}/providers/Microsoft.Batch/locations/westeurope/accountOperationResults/op-1?api-version=2023-11-01` } },
    });
    const poll = record({ service: "arm", method: "GET", path: `${SUB}/providers/Microsoft.Batch/locations/westeurope/accountOperationResults/op-1`, query: "?api-version=2023-11-01", status: 200, route: "GET poll" });
    const withPolling = { ...ctx, pollingPaths: pollingPathsOf([created, poll]) };
    assert.deepEqual(checkExchange(withPolling, created), []);
    assert.deepEqual(checkExchange(withPolling, poll), []);
    assert.equal(checkExchange(ctx, poll).length, 1, "without the Location header the same GET is an unknown route");
  });

  it("reports undocumented status codes and missing bodies", () => {
    const get = (status: number, responseBody?: unknown) =>
      record({ service: "arm", method: "GET", path: ACCOUNT, query: "?api-version=2023-11-01", status, exchange: { responseBody, requestHeaders: {}, responseHeaders: {} } });
    assert.deepEqual(check(get(201, { name: "releasebatch" })), ["response : status 201 is not a documented response (documented: 200, default)"]);
    assert.deepEqual(check(get(200)), ["response : response has no JSON body but the spec defines one"]);
    assert.deepEqual(check(get(404, armError("ResourceNotFound"))), []);
  });

  it("finds Batch operations below an account path prefix", () => {
    const r = record({ service: "batch", method: "GET", path: "/releasebatch/pools/p1", query: "?api-version=2022-10-01.16.0", status: 200, exchange: { responseBody: { id: "p1", state: "active" }, requestHeaders: {}, responseHeaders: {} } });
    assert.deepEqual(checkExchange(ctx, r).map((m) => m.route), []);
    assert.deepEqual(check({ ...r, exchange: { ...r.exchange, responseBody: { id: "p1", state: "on" } } }), ['response /state: "on" is not an allowed value ("active", "deleting")']);
  });

  describe("end-of-run hook", () => {
    const bad = record({ service: "arm", method: "GET", path: ACCOUNT, query: "?api-version=2023-11-01", status: 200, route: "GET account", test: "a test", exchange: { responseBody: { location: 5 }, requestHeaders: {}, responseHeaders: {} } });
    const context = { timeout() {} } as unknown as Mocha.Context;
    const hooksFor = (mode: SpecCheckMode, records: ExchangeRecord[]) => {
      const recorder = new ExchangeRecorder();
      recorder.records.push(...records);
      return specCheckHooks(recorder, () => mode);
    };

    it("captures only when the check is on, and keeps only in-scope exchanges", () => {
      const off = new RequestLog();
      new ExchangeRecorder().attach(off, "off");
      assert.equal(off.capture, false);
      const log = new RequestLog();
      const recorder = new ExchangeRecorder();
      recorder.attach(log, "report");
      recorder.currentTest = "t";
      assert.equal(log.capture, true);
      const entry = (service: RequestLogEntry["service"], path: string): RequestLogEntry => ({
        time: "",
        service,
        method: "GET",
        path,
        query: "",
        status: 200,
        durationMs: 1,
        exchange: { requestHeaders: {}, responseHeaders: {} },
      });
      log.add(entry("arm", `${SUB}/providers/Microsoft.Storage/storageAccounts/s`));
      log.add(entry("entra", "/tenant/oauth2/v2.0/token"));
      log.add(entry("arm", FACTORY));
      log.add(entry("batch", "/pools"));
      log.clear();
      assert.deepEqual(recorder.records.map((r) => [r.service, r.path, r.test]), [["arm", FACTORY, "t"], ["batch", "/pools", "t"]]);
    });

    it("fails in strict mode, naming route, status, pointer and message", async () => {
      await assert.rejects(hooksFor("strict", [bad, bad]).afterAll.call(context), (e: Error) => {
        assert.match(e.message, /1 mismatch\(es\)|2 mismatch\(es\)/);
        assert.match(e.message, /BatchAccount_Get \(GET \/subscriptions\/\{subscriptionId\}\/.*\) -> 200 response \/location: must be string, got 5 \(x2\)/);
        assert.match(e.message, /first in: a test/);
        return true;
      });
    });

    it("prints and passes in report mode, and does nothing when off or clean", async () => {
      const printed: string[] = [];
      const original = console.warn;
      console.warn = (...args: unknown[]) => void printed.push(args.join(" "));
      try {
        await hooksFor("report", [bad]).afterAll.call(context);
        await hooksFor("off", [bad]).afterAll.call(context);
        await hooksFor("strict", []).afterAll.call(context);
      } finally {
        console.warn = original;
      }
      assert.equal(printed.length, 1);
      assert.match(printed[0], /report mode.*\n.*\/location: must be string/);
    });
  });

  describe("capture on the live local Azure", () => {
    it("records JSON bodies of ARM exchanges and keeps only Batch / Data Factory ones for the check", async () => {
      const azure = await localAzure();
      assert.equal(azure.log.capture, specCheckMode() !== "off", "localAzure() turns capture on unless the check is off");
      const recorder = new ExchangeRecorder();
      const seen: RequestLogEntry[] = [];
      const listen = (entry: RequestLogEntry) => {
        seen.push(entry);
        recorder.observe(entry);
      };
      azure.log.listeners.push(listen);
      const captureBefore = azure.log.capture;
      azure.log.capture = true;
      try {
        const credential = new ClientSecretCredential(azure.info.tenantId, azure.info.clientId, azure.info.clientSecret, {
          authorityHost: azure.info.authorityHost,
          disableInstanceDiscovery: true,
        });
        const options = { endpoint: azure.info.armUrl, credentials: { scopes: ["https://management.azure.com/.default"] }, retryOptions: { maxRetries: 0 } };
        const storage = new StorageManagementClient(credential, azure.info.subscriptionId, options);
        await storage.storageAccounts.listKeys(azure.info.resourceGroup, azure.info.storage.accountName);
        // A resource group that does not exist: the front door answers before any provider runs, so nothing is created.
        const batch = new BatchManagementClient(credential, azure.info.subscriptionId, { ...options, credentialScopes: ["https://management.azure.com/.default"] });
        await assert.rejects(batch.batchAccountOperations.beginCreate("rg-does-not-exist", "nobatch", { location: "westeurope" }));
      } finally {
        azure.log.capture = captureBefore;
        azure.log.listeners.splice(azure.log.listeners.indexOf(listen), 1);
      }
      const listKeys = seen.find((e) => e.service === "arm" && e.path.endsWith("/listKeys"));
      assert.ok(listKeys?.exchange, "the listKeys exchange is captured");
      assert.equal((listKeys.exchange.responseBody as { keys: unknown[] }).keys.length, 2);
      assert.match(listKeys.exchange.responseHeaders["content-type"] ?? "application/json", /json/);
      assert.ok(seen.some((e) => e.service === "entra" && e.exchange?.responseBody), "token responses are captured too");
      assert.deepEqual(
        recorder.records.map((r) => [r.service, r.method]),
        [["arm", "PUT"]],
        "only the Microsoft.Batch exchange is kept for the spec check",
      );
      assert.ok(recorder.records[0].status >= 400, "refused: nothing is created");
      assert.equal((recorder.records[0].exchange.requestBody as { location?: string }).location, "westeurope");
      assert.deepEqual(checkExchange(ctx, recorder.records[0]), []);
    });
  });
});
