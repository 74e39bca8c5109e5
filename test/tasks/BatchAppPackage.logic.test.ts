/**
 * BatchAppPackage's plain logic on the sources: the storageUrl's blob in both
 * URL styles, the version a strategy gives over pending versions, the pool
 * reference plans, the poolIds input.
 */
import { strict as assert } from "node:assert";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { openPackageBlob } from "../../tasks/BatchAppPackage/package-blob";
import { chooseVersion } from "../../tasks/BatchAppPackage/publish";
import { describeReference, planPoolReferences } from "../../tasks/BatchAppPackage/pools";
import { parsePoolIds } from "../../tasks/BatchAppPackage/inputs";
import type { ExistingVersion } from "../../tasks/BatchAppPackage/versions";

const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: "t", expiresOnTimestamp: Date.now() + 60_000 }) };
const SAS = "sv=2024-08-04&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=rw&sig=abc%2Bdef%3D";

describe("BatchAppPackage: the package blob at a storageUrl", () => {
  const cases = [
    { style: "host-style (Azure)", url: "https://contosobatch.blob.core.windows.net/app-worker-0a1b2c/worker-1.0.0-9f8e.zip" },
    { style: "path-style (the local Azure)", url: "https://127.0.0.1:10443/contosobatch/app-worker-0a1b2c/worker-1.0.0-9f8e.zip" },
  ];
  for (const c of cases) {
    it(`${c.style}: with a SAS it signs with the SAS and masks it`, () => {
      const secrets: string[] = [];
      const blob = openPackageBlob(`${c.url}?${SAS}`, { credential, setSecret: (s) => secrets.push(s) });
      assert.equal(blob.auth, "sas");
      assert.equal(blob.accountName, "contosobatch");
      assert.equal(blob.containerName, "app-worker-0a1b2c");
      assert.equal(blob.blobName, "worker-1.0.0-9f8e.zip");
      assert.equal(blob.displayUrl, c.url, "printed without its query");
      assert.equal(blob.client.url, `${c.url}?${SAS}`);
      assert.ok(secrets.includes(SAS) && secrets.includes("abc%2Bdef%3D") && secrets.includes("abc+def="), "the SAS and its signature, encoded and not, are masked");
    });
    it(`${c.style}: without a SAS it signs with the Entra credential`, () => {
      const secrets: string[] = [];
      const blob = openPackageBlob(c.url, { credential, setSecret: (s) => secrets.push(s) });
      assert.equal(blob.auth, "entra");
      assert.equal(blob.accountName, "contosobatch");
      assert.equal(blob.containerName, "app-worker-0a1b2c");
      assert.equal(blob.blobName, "worker-1.0.0-9f8e.zip");
      assert.equal(blob.client.url, c.url);
      assert.deepEqual(secrets, []);
    });
  }
});

describe("BatchAppPackage: the version to publish", () => {
  const v = (version: string, state: ExistingVersion["state"] = "Active"): ExistingVersion => ({ version, state });
  const sha = "0123456789abcdef".repeat(4);

  it("nextPatch adds one patch to the highest semantic version, ignoring other names", () => {
    assert.equal(chooseVersion({ versionStrategy: "nextPatch" }, sha, [v("1.2.3"), v("1.10.0"), v("nightly"), v("1.9.9")]), "1.10.1");
    assert.equal(chooseVersion({ versionStrategy: "nextPatch" }, sha, []), "1.0.0");
  });

  it("nextPatch completes a pending version that is the highest (an interrupted run's) instead of skipping a number", () => {
    assert.equal(chooseVersion({ versionStrategy: "nextPatch" }, sha, [v("2.0.0"), v("2.0.1", "Pending")]), "2.0.1");
    // A pending version below the highest active one is left alone.
    assert.equal(chooseVersion({ versionStrategy: "nextPatch" }, sha, [v("2.0.0", "Pending"), v("2.1.0")]), "2.1.1");
  });

  it("contentHash is the start of the package's SHA-256; explicit and buildNumber take the version worked out from the inputs", () => {
    assert.equal(chooseVersion({ versionStrategy: "contentHash" }, sha, []), "0123456789ab");
    assert.equal(chooseVersion({ versionStrategy: "explicit", version: "4.0" }, sha, [v("4.0")]), "4.0");
    assert.throws(() => chooseVersion({ versionStrategy: "buildNumber" }, sha, []), /needs the version/);
  });
});

describe("BatchAppPackage: pool references", () => {
  const app = { name: "worker", resourceId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/b/applications/worker" };

  it("replaces this application's references with the new version and keeps the others in order", () => {
    const plan = planPoolReferences(
      { poolId: "p", applicationPackages: [{ id: "/x/applications/tools", version: "1" }, { id: "/x/applications/Worker", version: "0.9" }, { id: "runtime" }] },
      app,
      "1.0",
    );
    assert.deepEqual(plan.references, [{ id: "/x/applications/tools", version: "1" }, { id: "runtime" }, { id: app.resourceId, version: "1.0" }]);
    assert.deepEqual(plan.previous, [{ id: "/x/applications/Worker", version: "0.9" }]);
    assert.equal(plan.changed, true);
    assert.equal(plan.overLimit, undefined);
  });

  it("a pool on this version already is unchanged; one following the default is changed to the version", () => {
    assert.equal(planPoolReferences({ poolId: "p", applicationPackages: [{ id: "worker", version: "1.0" }] }, app, "1.0").changed, false);
    assert.equal(planPoolReferences({ poolId: "p", applicationPackages: [{ id: "worker" }] }, app, "1.0").changed, true);
    assert.equal(planPoolReferences({ poolId: "p" }, app, "1.0").changed, true);
  });

  it("over 10 references is flagged with the references that fill the pool; replacing one of ours at 10 is not", () => {
    const others = Array.from({ length: 10 }, (_, i) => ({ id: `app${i}`, version: "1" }));
    const full = planPoolReferences({ poolId: "p", applicationPackages: others }, app, "1.0");
    assert.equal(full.references.length, 11);
    assert.deepEqual(full.overLimit, others);
    const ours = planPoolReferences({ poolId: "p", applicationPackages: [...others.slice(0, 9), { id: "worker", version: "0.1" }] }, app, "1.0");
    assert.equal(ours.overLimit, undefined);
    assert.equal(ours.references.length, 10);
  });

  it("describes references as application:version", () => {
    assert.equal(describeReference({ id: app.resourceId, version: "2" }), "worker:2");
    assert.equal(describeReference({ id: "tools" }), "tools (default version)");
  });
});

describe("BatchAppPackage: the poolIds input", () => {
  it("takes one per line or comma-separated, drops blanks and duplicates (case-insensitive), and names bad ids", () => {
    assert.deepEqual(parsePoolIds(["pool-a, pool-b", "", "POOL-A", "pool_c"]), { poolIds: ["pool-a", "pool-b", "pool_c"], problems: [] });
    const bad = parsePoolIds(["ok", "not ok", "x".repeat(65)]);
    assert.deepEqual(bad.poolIds, ["ok"]);
    assert.equal(bad.problems.length, 2);
    assert.match(bad.problems[0], /'not ok' is not a Batch pool id/);
  });
});
