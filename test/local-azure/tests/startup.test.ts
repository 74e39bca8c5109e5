import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { startLocalAzure } from "..";
import { startLocalAzureCli } from "./cli-process";

describe("local Azure: start-up and the command line", function () {
  this.timeout(60_000);

  it("starts in under 3 seconds and stops cleanly", async () => {
    // Best of two: one start on a busy two-core machine can be slowed by the other work on it.
    const timings: number[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const started = Date.now();
      const azure = await startLocalAzure();
      timings.push(Date.now() - started);
      await azure.close();
      if (timings[attempt] < 3000) break;
    }
    assert.ok(Math.min(...timings) < 3000, `started in ${timings.join(" ms, then ")} ms`);
    const azure = await startLocalAzure();
    try {
      const res = await fetch(`${azure.info.authorityHost}/${azure.info.tenantId}/v2.0/.well-known/openid-configuration`);
      assert.equal(res.status, 200);
    } finally {
      await azure.close();
    }
  });

  it("`npm run local-azure` prints one JSON line with endpoints, names, credentials and the task environment", async () => {
    const cli = await startLocalAzureCli();
    const line = cli.readyLine;
    const info = JSON.parse(line) as Record<string, unknown> & { env: Record<string, string>; storage: { blobUrl: string }; caCertPath: string };
    try {
      assert.equal(info.ready, true);
      for (const key of ["authorityHost", "armUrl", "tenantId", "clientId", "clientSecret", "subscriptionId", "resourceGroup"]) assert.ok(info[key], key);
      assert.match(info.storage.blobUrl, /^https:\/\/127\.0\.0\.1:\d+\/releasestore$/);
      assert.ok(fs.existsSync(info.caCertPath));
      assert.equal(info.env.NODE_EXTRA_CA_CERTS, info.caCertPath);
      assert.match(info.env.ENDPOINT_URL_LocalAzure, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      assert.ok(info.env.ENDPOINT_AUTH_LocalAzure);
      assert.ok(info.env.ENDPOINT_DATA_LocalAzure_SUBSCRIPTIONID);
      assert.ok(info.env.SYSTEM_OIDCREQUESTURI);
    } finally {
      await cli.stop();
    }
    assert.equal(fs.existsSync(info.caCertPath), false, "the temp folder is removed on exit");
  });
});
