import { strict as assert } from "node:assert";
import * as net from "node:net";

describe("the test run's loopback-only guard", () => {
  it("is loaded, and refuses Azure hosts and the instance metadata address before any packet leaves", async () => {
    assert.match(process.env.NODE_OPTIONS ?? "", /loopback-guard\.cjs/, "the test runner loads the guard");
    const log = process.env.LOOPBACK_GUARD_LOG;
    // These attempts are deliberate: keep them out of the run's record of violations.
    delete process.env.LOOPBACK_GUARD_LOG;
    try {
      for (const url of ["https://management.azure.com/", "http://169.254.169.254/metadata/identity/oauth2/token"]) {
        await assert.rejects(fetch(url, { signal: AbortSignal.timeout(5000) }), (e: Error & { cause?: Error }) => /loopback only/.test(String(e.cause?.message ?? e.message)));
      }
      // Loopback is let through: a port nobody listens on answers ECONNREFUSED from the OS, not from the guard.
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      await new Promise((resolve) => server.close(resolve));
      const local: { code?: string; message?: string } | undefined = await fetch(`http://127.0.0.1:${port}/`).then(
        () => undefined,
        (e: Error & { cause?: { code?: string; message?: string } }) => e.cause,
      );
      assert.equal(local?.code, "ECONNREFUSED");
      assert.doesNotMatch(String(local?.message), /loopback only/);
    } finally {
      process.env.LOOPBACK_GUARD_LOG = log;
    }
  });
});
