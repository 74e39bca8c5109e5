/**
 * The runtime's one retry policy in every client it builds, against the local
 * Azure's fault injection: ARM (arm-batch, arm-datafactory, arm-storage),
 * the Batch data plane (@azure/batch on ms-rest-js) and Blob storage.
 * Retry-After is waited (lower bounds only: a busy machine is only ever
 * late), transient failures are retried, each request is retried by one
 * policy only (the service sees exactly the attempts expected), the budget is
 * bounded, and a wait ends when the call is cancelled.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { localAzure, resetLocalAzure } from "../fixture";
import type { LocalAzure } from "../local-azure";
import type { FaultRule } from "../local-azure/faults";
import { envAgent } from "../harness/env-agent";
import { InputReader } from "../../runtime/inputs";
import { signIn, type AzureSession } from "../../runtime/session";
import { batchManagementClient, dataFactoryClient, storageManagementClient } from "../../runtime/clients";
import { resolveBatchAccount } from "../../runtime/batch";
import { openBatchData } from "../../runtime/batch-data-azure";
import { BatchDataError } from "../../runtime/batch-data";
import { openBlobAccess, resolveStorageAccount } from "../../runtime/storage";
import { CancelledError } from "../../runtime/errors";
import { RETRY_POLICY_NAME, type RetryInfo } from "../../runtime/retry";

describe("runtime: one retry policy for throttling and transient failures", function () {
  this.timeout(60_000);
  let azure: LocalAzure;
  let session: AzureSession;

  before(async () => {
    azure = await localAzure();
    const agent = envAgent(azure.info.env);
    session = signIn(agent, new InputReader(agent, {}), "azureSubscription", "LocalAzure");
  });
  afterEach(resetLocalAzure);

  /** Runs `call` with a fault rule and returns what the service saw: attempts to the path, faults injected, time taken. */
  async function withFault<T>(rule: FaultRule, call: () => Promise<T>): Promise<{ value?: T; error?: unknown; attempts: number; faulted: number; elapsedMs: number }> {
    const from = azure.log.entries.length;
    azure.faults.add(rule);
    const started = Date.now();
    let value: T | undefined;
    let error: unknown;
    try {
      value = await call();
    } catch (e) {
      error = e;
    }
    const elapsedMs = Date.now() - started;
    azure.faults.reset();
    const seen = azure.log.entries.slice(from).filter((e) => e.service === rule.service && (!rule.path || rule.path.test(e.path)) && (!rule.method || e.method === rule.method));
    return { value, error, attempts: seen.length, faulted: seen.filter((e) => e.fault).length, elapsedMs };
  }

  it("ARM clients carry the runtime's policy in place of the SDK's retry policies", () => {
    for (const client of [batchManagementClient(session), dataFactoryClient(session), storageManagementClient(session)]) {
      const names = client.pipeline.getOrderedPolicies().map((p) => p.name);
      assert.ok(names.includes(RETRY_POLICY_NAME), names.join(", "));
      assert.ok(!names.some((n) => /^(defaultRetryPolicy|retryPolicy|exponentialRetryPolicy|throttlingRetryPolicy|systemErrorRetryPolicy)$/.test(n)), names.join(", "));
    }
  });

  it("ARM: a 429 is retried after its Retry-After, once per fault (no second policy retries it too)", async () => {
    const path = /\/batchAccounts\/releasebatch$/i;
    const r = await withFault({ service: "arm", kind: "429", count: 2, retryAfterSeconds: 1, path }, () => batchManagementClient(session).batchAccountOperations.get(azure.info.resourceGroup, azure.info.batch.accountName));
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.value?.name, azure.info.batch.accountName);
    assert.equal(r.faulted, 2);
    assert.equal(r.attempts, 3, "two throttled attempts and the one that succeeded");
    assert.ok(r.elapsedMs >= 1900, `waited the two Retry-After seconds (${r.elapsedMs} ms)`);
  });

  it("ARM: transient 500s and connection resets are retried with back-off, for Data Factory and Storage too", async () => {
    const retries: RetryInfo[] = [];
    const factory = await withFault({ service: "arm", kind: "500", count: 2, path: /\/factories\/release-adf$/ }, () =>
      dataFactoryClient(session, { retry: { initialDelayMs: 20, onRetry: (i) => void retries.push(i) } }).factories.get(azure.info.resourceGroup, azure.info.dataFactory.factoryName),
    );
    assert.equal(factory.value?.name, azure.info.dataFactory.factoryName, String(factory.error));
    assert.equal(factory.attempts, 3);
    assert.deepEqual(retries.map((i) => [i.attempt, i.reason, i.throttled]), [[1, "HTTP 500", false], [2, "HTTP 500", false]]);

    const reset = await withFault({ service: "arm", kind: "reset", count: 1, path: /\/storageAccounts$/ }, () => resolveStorageAccount(session, azure.info.storage.accountName));
    assert.equal(reset.value?.name, azure.info.storage.accountName, String(reset.error));
    assert.equal(reset.attempts, 2, "the reset request and its retry");
  });

  it("ARM: the budget is bounded, and the last answer is what fails", async () => {
    const r = await withFault({ service: "arm", kind: "500", path: /\/batchAccounts\/releasebatch$/i }, () =>
      batchManagementClient(session, { retry: { maxRetries: 2, initialDelayMs: 10 } }).batchAccountOperations.get(azure.info.resourceGroup, azure.info.batch.accountName),
    );
    assert.equal((r.error as { statusCode?: number }).statusCode, 500);
    assert.equal(r.attempts, 3, "one try and two retries");
  });

  it("Batch data plane: 429 with Retry-After, 503 and a reset are each retried once; Batch's own errors are not", async () => {
    const account = await resolveBatchAccount(session, azure.info.batch.accountName);
    const batch = await openBatchData(session, account, "entra");
    const path = new RegExp(`^/pools/${azure.info.batch.poolId}$`);
    const throttled = await withFault({ service: "batch", kind: "429", count: 1, retryAfterSeconds: 1, path }, () => batch.getPool(azure.info.batch.poolId));
    assert.equal(throttled.value?.id, azure.info.batch.poolId, String(throttled.error));
    assert.equal(throttled.attempts, 2);
    assert.ok(throttled.elapsedMs >= 950, `waited Retry-After (${throttled.elapsedMs} ms)`);
    const busy = await withFault({ service: "batch", kind: "503", count: 1, retryAfterSeconds: 0, path }, () => batch.getPool(azure.info.batch.poolId));
    assert.equal(busy.attempts, 2, String(busy.error));
    const reset = await withFault({ service: "batch", kind: "reset", count: 1, path }, () => batch.getPool(azure.info.batch.poolId));
    assert.equal(reset.value?.id, azure.info.batch.poolId, String(reset.error));
    assert.equal(reset.attempts, 2);

    const from = azure.log.entries.length;
    const missing = await batch.getPool("no-such-pool").catch((e: unknown) => e);
    assert.ok(missing instanceof BatchDataError && missing.reason === "PoolNotFound");
    assert.equal(azure.log.entries.slice(from).filter((e) => e.service === "batch").length, 1, "a 404 is final");
  });

  it("Blob: 429 (which the SDK's own policy never retries), 500 and resets are retried; the account key client too", async () => {
    const storage = await resolveStorageAccount(session, azure.info.storage.accountName);
    const container = `retry-${crypto.randomBytes(3).toString("hex")}`;
    for (const auth of [{ kind: "entra" } as const, { kind: "accessKey" } as const]) {
      const access = await openBlobAccess(session, storage, auth, { retry: { initialDelayMs: 20 } });
      const client = access.service.getContainerClient(container);
      const path = new RegExp(`/${container}$`);
      const created = await withFault({ service: "blob", kind: "429", count: 2, retryAfterSeconds: 1, path, method: "PUT" }, () => client.createIfNotExists());
      assert.equal(created.error, undefined, String(created.error));
      assert.equal(created.attempts, 3, `${auth.kind}: two throttled attempts, then the create`);
      assert.ok(created.elapsedMs >= 1900, `${auth.kind}: Retry-After was waited (${created.elapsedMs} ms)`);
      const upload = await withFault({ service: "blob", kind: "500", count: 1, path: /\/file\.txt$/, method: "PUT" }, () => client.getBlockBlobClient("file.txt").upload("hello", 5));
      assert.equal(upload.error, undefined, String(upload.error));
      assert.equal(upload.attempts, 2);
      const read = await withFault({ service: "blob", kind: "reset", count: 1, path: /\/file\.txt$/, method: "GET" }, () => client.getBlobClient("file.txt").downloadToBuffer());
      assert.equal(read.value?.toString(), "hello", String(read.error));
      assert.equal(read.attempts, 2);
      await client.deleteIfExists();
    }
  });

  it("a wait for Retry-After ends as soon as the call is cancelled, for every client", async () => {
    const account = await resolveBatchAccount(session, azure.info.batch.accountName);
    const batch = await openBatchData(session, account, "entra");
    const storage = await resolveStorageAccount(session, azure.info.storage.accountName);
    const blob = (await openBlobAccess(session, storage, { kind: "entra" })).service.getContainerClient("never-created");
    const calls: [string, FaultRule["service"], (signal: AbortSignal) => Promise<unknown>][] = [
      ["ARM", "arm", (signal) => batchManagementClient(session).batchAccountOperations.get(azure.info.resourceGroup, azure.info.batch.accountName, { abortSignal: signal })],
      ["Batch", "batch", (signal) => batch.getPool(azure.info.batch.poolId, { signal })],
      ["Blob", "blob", (signal) => blob.exists({ abortSignal: signal })],
    ];
    for (const [name, service, call] of calls) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const r = await withFault({ service, kind: "429", retryAfterSeconds: 30 }, () => call(controller.signal));
      assert.ok(r.error, `${name}: the call failed`);
      assert.ok(r.error instanceof CancelledError || (r.error as Error).name === "AbortError", `${name}: ${String(r.error)}`);
      assert.ok(r.elapsedMs < 10_000, `${name}: did not wait out the 30 s Retry-After (${r.elapsedMs} ms)`);
      assert.equal(r.attempts, 1, `${name}: nothing was sent after the cancellation`);
    }
  });
});
