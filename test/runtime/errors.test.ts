/**
 * The runtime's typed errors: the closed set of codes, what a wrapped error
 * keeps (cause, HTTP status, the service's request id), the lookup errors'
 * messages, the mapping to an input, and the debug log's cause chain (never
 * headers or tokens).
 */
import { strict as assert } from "node:assert";
import { RestError } from "@azure/ms-rest-js";
import {
  CancelledError,
  describeError,
  describeErrorChain,
  errorCode,
  errorRequestId,
  InputError,
  NotAuthorizedError,
  NotFoundError,
  TaskError,
  TimeoutError,
} from "../../runtime/errors";
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { envAgent } from "../harness/env-agent";

/** An Azure error as the legacy SDK (@azure/batch) raises it, with a request that carries a token. */
function batchRestError(): RestError {
  const headers = new Map([
    ["request-id", "server-req-7"],
    ["client-request-id", "client-req-1"],
  ]);
  const error = new RestError("The specified pool does not exist.\nRequestId:server-req-7\nTime:2024-01-01T00:00:00Z", "PoolNotFound", 404);
  Object.assign(error, {
    request: { headers: { authorization: "Bearer eyJ.secret-token.sig" }, url: "https://acct.region.batch.azure.com/pools/p?sig=sas-signature" },
    response: { headers: { get: (n: string) => headers.get(n.toLowerCase()) } },
  });
  return error;
}

describe("runtime: typed errors", () => {
  it("a TaskError's code is one of a closed set: a free-form code does not compile", () => {
    // @ts-expect-error "Whatever" is not a TaskErrorCode; the type-check fails if this line compiles.
    const loose = new TaskError("Whatever", "x");
    assert.equal(loose.code, "Whatever");
    const typed = new TaskError("LockLost", "The lock was lost.");
    assert.equal(typed.code, "LockLost");
    assert.equal(typed.statusCode, undefined);
    assert.equal(typed.requestId, undefined);
    assert.equal(typed.cause, undefined);
  });

  it("wrapping keeps the cause, and takes its HTTP status and the service's request id (not the client's)", () => {
    const cause = batchRestError();
    const wrapped = new TaskError("BatchRequestFailed", "Pool 'p' could not be read.", { cause });
    assert.equal(wrapped.cause, cause);
    assert.equal(wrapped.statusCode, 404);
    assert.equal(wrapped.requestId, "server-req-7");
    const explicit = new TaskError("AuthorizationFailed", "No.", { cause, statusCode: 403, requestId: "other" });
    assert.equal(explicit.statusCode, 403);
    assert.equal(explicit.requestId, "other");
    assert.ok(new CancelledError("stop", { cause }).cause === cause && new TimeoutError("late", { cause }).statusCode === 404);
  });

  it("describeError stays one line: code, status, first line of the message, request id; a TaskError its message", () => {
    const cause = batchRestError();
    assert.equal(describeError(cause), "PoolNotFound (HTTP 404): The specified pool does not exist. [request id server-req-7]");
    assert.equal(describeError(new TaskError("BatchRequestFailed", "Pool 'p' could not be read.", { cause })), "Pool 'p' could not be read.");
    assert.equal(errorCode(Object.assign(new Error("x"), { reason: "PoolNotFound", code: "RestError" })), "PoolNotFound", "the seam's reason comes first");
    assert.equal(errorRequestId(cause), "server-req-7");
    // What ms-rest-js leaves on a raw @azure/batch error: Batch's message object in place of the string.
    const raw = Object.assign(new Error("x"), { statusCode: 409, code: "NodeBeingRebooted" });
    Object.defineProperty(raw, "message", { value: { lang: "en-US", value: "The node is being rebooted.\nRequestId:abc" } });
    assert.equal(describeError(raw), "NodeBeingRebooted (HTTP 409): The node is being rebooted.");
  });

  it("NotFoundError says what the connection can see, or why it may see nothing", () => {
    const some = new NotFoundError({ kind: "Batch account", name: "nosuch", where: "subscription 'Prod'", visible: ["a", "b"] });
    assert.equal(some.code, "ResourceNotFound");
    assert.equal(some.message, "No Batch account named 'nosuch' in subscription 'Prod'. The service connection can see: a, b.");
    assert.equal(some.detail, "no Batch account named 'nosuch' in subscription 'Prod'. The service connection can see: a, b.");
    const many = new NotFoundError({ kind: "pool", name: "p", visible: Array.from({ length: 25 }, (_, i) => `pool${i}`) });
    assert.match(many.message, /can see: pool0, .*, pool19, and 5 more\.$/);
    const none = new NotFoundError({ kind: "storage account", name: "s", where: "subscription 'Prod'", visible: [], whenNoneVisible: "it needs at least the Reader role" });
    assert.equal(none.message, "No storage account named 's' in subscription 'Prod'. The service connection sees no storage accounts there; it needs at least the Reader role.");
    const byId = new NotFoundError({ kind: "Batch account", name: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/a", byId: true, cause: batchRestError() });
    assert.match(byId.message, /^No Batch account with id '\/subscriptions\/x\/.*\/a' \(PoolNotFound \(HTTP 404\): The specified pool does not exist\. \[request id server-req-7\]\)\.$/);
    assert.equal(byId.statusCode, 404);
  });

  it("NotAuthorizedError names the role, the action and the way around it", () => {
    const e = new NotAuthorizedError({ operation: "read Batch account 'a'", role: "Reader", action: "Microsoft.Batch/batchAccounts/read", scope: "on it (or its resource group)", cause: batchRestError() });
    assert.equal(e.code, "AuthorizationFailed");
    assert.equal(e.role, "Reader");
    assert.equal(e.action, "Microsoft.Batch/batchAccounts/read");
    assert.equal(
      e.message,
      "The service connection may not read Batch account 'a': PoolNotFound (HTTP 404): The specified pool does not exist. [request id server-req-7]. Grant it the 'Reader' role (it includes Microsoft.Batch/batchAccounts/read) on it (or its resource group).",
    );
    const actionOnly = new NotAuthorizedError({ operation: "list keys", action: "Microsoft.Storage/storageAccounts/listKeys/action", alternative: "or use authType 'entra'" });
    assert.equal(actionOnly.message, "The service connection may not list keys. Grant it a role with Microsoft.Storage/storageAccounts/listKeys/action, or use authType 'entra'.");
  });

  it("rethrowForInput turns a NotFoundError into an InputError naming the input, keeping the cause; other errors pass", () => {
    const reader = new InputReader({ getInput: () => undefined }, { inputs: [{ name: "poolId", label: "Pool" }] });
    const notFound = new NotFoundError({ kind: "pool", name: "p1", where: "Batch account 'a'", visible: ["p2"] });
    const mapped = (() => {
      try {
        return rethrowForInput(reader, "poolId")(notFound);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(mapped instanceof InputError);
    assert.equal(mapped.input, "poolId");
    assert.equal(mapped.message, "Input 'poolId' (Pool): no pool named 'p1' in Batch account 'a'. The service connection can see: p2.");
    assert.equal(mapped.cause, notFound);
    const denied = new NotAuthorizedError({ operation: "read pool 'p1'", role: "Reader" });
    assert.throws(() => rethrowForInput(reader, "poolId")(denied), (e: unknown) => e === denied);
    const other = new Error("socket hang up");
    assert.throws(() => rethrowForInput(reader, "poolId")(other), (e: unknown) => e === other);
  });

  it("the debug log shows the cause chain with codes, status and request ids, never the request's headers or URL", () => {
    const chain = describeErrorChain(new InputError("poolId", "Input 'poolId': no pool.", { cause: new NotFoundError({ kind: "pool", name: "p", cause: batchRestError() }) }));
    assert.equal(chain.length, 3);
    assert.match(chain[0] ?? "", /^\[code InvalidInput, HTTP 404, request id server-req-7\] InputError: Input 'poolId': no pool\./);
    assert.match(chain[1] ?? "", /^Caused by: \[code ResourceNotFound, HTTP 404, request id server-req-7\] NotFoundError: No pool named 'p'/);
    assert.match(chain[2] ?? "", /^Caused by: \[code PoolNotFound, HTTP 404, request id server-req-7\] (RestError|Error): The specified pool does not exist\./);
    const all = chain.join("\n");
    assert.ok(!all.includes("secret-token") && !all.includes("sas-signature"), all);
    const loop: Error & { cause?: unknown } = new Error("a");
    loop.cause = loop;
    assert.equal(describeErrorChain(loop).length, 1, "a cycle ends the chain");
  });

  it("a failed task prints the one-line message as its result and the cause chain to debug only", async () => {
    const agent = envAgent({});
    const debug: string[] = [];
    agent.debug = (m) => void debug.push(m);
    const exitCode = process.exitCode;
    try {
      await runTask(async () => {
        throw new TaskError("BatchRequestFailed", "Pool 'p' could not be read.", { cause: batchRestError() });
      }, agent);
    } finally {
      process.exitCode = exitCode;
    }
    assert.deepEqual(agent.log, ["failed: Pool 'p' could not be read."]);
    assert.match(debug.join("\n"), /Caused by: \[code PoolNotFound, HTTP 404, request id server-req-7\]/);
    assert.ok(!debug.join("\n").includes("secret-token"));
  });
});
