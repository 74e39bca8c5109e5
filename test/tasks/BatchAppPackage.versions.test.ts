import { strict as assert } from "node:assert";
import {
  compareSemver,
  decideOnExisting,
  nextPatchVersion,
  parseKeepVersions,
  parseOnExisting,
  parseSemver,
  parseVersionStrategy,
  planRetention,
  resolveVersion,
  validateApplicationName,
  validateVersion,
  versionFromBuildNumber,
  VersionInputError,
  type ExistingVersion,
} from "../../tasks/BatchAppPackage/versions";

/** Asserts a VersionInputError for `input` whose message matches every pattern. */
function rejects(fn: () => unknown, input: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VersionInputError, `a VersionInputError, got ${String(e)}`);
    assert.equal(e.input, input);
    assert.equal(e.code, "InvalidInput");
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

const at = (iso: string) => new Date(iso);
const MD5_A = "1B2M2Y8AsgTpgAmY7PhCfg==";
const MD5_B = "rL0Y20zC+Fzt72VPzMSk2A==";

describe("BatchAppPackage: names and versions", () => {
  it("accepts Batch application names and rejects others, naming the input and the rule", () => {
    assert.equal(validateApplicationName(" worker_app-2 "), "worker_app-2");
    assert.equal(validateApplicationName("a".repeat(64)), "a".repeat(64));
    rejects(() => validateApplicationName("my.app"), "applicationName", /"my\.app" is not a valid Batch application name/, /letters, digits, '_' and '-'/);
    rejects(() => validateApplicationName("my app"), "applicationName", /no spaces/);
    rejects(() => validateApplicationName("a".repeat(65)), "applicationName", /65 characters long; .* at most 64/);
    rejects(() => validateApplicationName(""), "applicationName", /applicationName is required/);
  });

  it("accepts Batch versions and rejects others", () => {
    for (const v of ["1.0.0", "2024-06-01_3", "_x", "-rc", "1", "a.b.c", "v".repeat(64)]) assert.equal(validateVersion(v), v);
    rejects(() => validateVersion(".1"), "version", /not starting with '\.'/, /for example 1\.4\.2/);
    rejects(() => validateVersion("1.0+build"), "version", /"1\.0\+build" is not a valid Batch application version/);
    rejects(() => validateVersion("1 .0"), "version", /not a valid/);
    rejects(() => validateVersion("1".repeat(65)), "version", /65 characters long/);
    rejects(() => validateVersion(""), "version", /required with versionStrategy: explicit/);
  });

  it("reads versionStrategy, onExisting and keepVersions, listing what is valid", () => {
    assert.equal(parseVersionStrategy("nextpatch"), "nextPatch");
    assert.equal(parseOnExisting("SkipIfIdentical"), "skipIfIdentical");
    rejects(() => parseVersionStrategy("latest"), "versionStrategy", /"latest" is not one of: explicit, buildNumber, contentHash, nextPatch/);
    rejects(() => parseOnExisting("ignore"), "onExisting", /skipIfIdentical, fail, overwrite/);
    assert.equal(parseKeepVersions(""), 0);
    assert.equal(parseKeepVersions(undefined), 0);
    assert.equal(parseKeepVersions(" 5 "), 5);
    rejects(() => parseKeepVersions("-1"), "keepVersions", /whole number of versions to keep/);
    rejects(() => parseKeepVersions("2.5"), "keepVersions", /0 to keep them all/);
  });

  it("makes Build.BuildNumber a valid version, and fails when nothing valid remains", () => {
    assert.equal(versionFromBuildNumber("20240601.3"), "20240601.3");
    assert.equal(versionFromBuildNumber("Release 2024/06/01 (#3)"), "Release-2024-06-01-3");
    assert.equal(versionFromBuildNumber(".hidden.1."), "hidden.1");
    assert.equal(versionFromBuildNumber("  1.2.3+sha.abc  "), "1.2.3-sha.abc");
    assert.equal(versionFromBuildNumber("ä1"), "1");
    for (const v of ["Release 2024/06/01 (#3)", "  1.2.3+sha.abc  ", "[]{}x"]) validateVersion(versionFromBuildNumber(v));
    rejects(() => versionFromBuildNumber("###"), "Build.BuildNumber", /"###" has nothing a Batch version can use/, /versionStrategy: explicit/);
    rejects(() => versionFromBuildNumber(""), "Build.BuildNumber", /empty/);
    rejects(() => versionFromBuildNumber(`build ${"9".repeat(70)}`), "Build.BuildNumber", /longer than Batch's 64 characters/);
  });

  it("orders semantic versions by precedence and finds the next patch, ignoring other versions", () => {
    assert.equal(parseSemver("1.2"), undefined);
    assert.equal(parseSemver("01.2.3"), undefined);
    assert.equal(parseSemver("v1.2.3"), undefined);
    assert.deepEqual(parseSemver("1.2.3-rc.1"), { major: 1, minor: 2, patch: 3, prerelease: ["rc", "1"] });
    const sorted = ["1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-alpha.beta", "1.0.0-rc.1", "1.0.0-beta.11", "1.0.0-beta.2"]
      .sort((a, b) => compareSemver(parseSemver(a)!, parseSemver(b)!));
    // The Semantic Versioning 2.0 example order.
    assert.deepEqual(sorted, ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]);
    assert.equal(nextPatchVersion([]), "1.0.0");
    assert.equal(nextPatchVersion(["latest", "2024-06-01", "abc123def456"]), "1.0.0");
    assert.equal(nextPatchVersion(["1.9.0", "1.10.2", "1.2.30", "nightly", "9.0"]), "1.10.3", "numeric, not string, order; 9.0 is not semver");
    assert.equal(nextPatchVersion(["1.4.2", "1.4.3-rc.1"]), "1.4.4");
  });

  it("resolves each strategy to a valid version", () => {
    assert.equal(resolveVersion({ strategy: "explicit", version: " 2.0.1 " }), "2.0.1");
    rejects(() => resolveVersion({ strategy: "explicit" }), "version", /required/);
    assert.equal(resolveVersion({ strategy: "buildNumber", buildNumber: "main_20240601.7" }), "main_20240601.7");
    const sha = "AB12cd34ef56" + "0".repeat(52);
    assert.equal(resolveVersion({ strategy: "contentHash", sha256: sha }), "ab12cd34ef56");
    assert.equal(resolveVersion({ strategy: "nextPatch", existingVersions: ["0.9.9", "1.0.0"] }), "1.0.1");
  });
});

describe("BatchAppPackage: when the version exists (onExisting)", () => {
  const versions: ExistingVersion[] = [
    { version: "1.0.0", state: "Active", lastActivationTime: at("2026-01-01T00:00:00Z"), md5: MD5_A },
    { version: "1.0.1", state: "Active", lastActivationTime: at("2026-02-01T00:00:00Z"), md5: MD5_B },
    { version: "1.0.2", state: "Pending", createdAt: at("2026-03-01T00:00:00Z") },
  ];
  const base = { applicationName: "worker", allowUpdates: false, existing: versions };

  it("skipIfIdentical publishes nothing when the newest active version has the same MD5, and outputs that version", () => {
    const d = decideOnExisting({ ...base, onExisting: "skipIfIdentical", version: "1.0.3", md5: MD5_B });
    assert.deepEqual({ action: d.action, version: d.version }, { action: "skip", version: "1.0.1" });
    assert.match(d.reason, /newest active version 1\.0\.1 has the same package/);
  });

  it("skipIfIdentical compares the newest active one only: an older identical version does not stop a new one", () => {
    const d = decideOnExisting({ ...base, onExisting: "skipIfIdentical", version: "1.0.3", md5: MD5_A });
    assert.deepEqual({ action: d.action, version: d.version }, { action: "create", version: "1.0.3" });
  });

  it("a pending version (an interrupted run) is completed, whatever onExisting says", () => {
    for (const onExisting of ["skipIfIdentical", "fail", "overwrite"] as const) {
      const d = decideOnExisting({ ...base, onExisting, version: "1.0.2", md5: "x" });
      assert.equal(d.action, "resume", onExisting);
      assert.match(d.reason, /never activated/);
    }
  });

  it("an existing version with the same package is not published again (a re-run is safe), also under fail", () => {
    const d = decideOnExisting({ ...base, onExisting: "fail", version: "1.0.0", md5: MD5_A });
    assert.deepEqual({ action: d.action, version: d.version }, { action: "skip", version: "1.0.0" });
  });

  it("an existing version with another package fails under fail and skipIfIdentical, saying what to do", () => {
    for (const onExisting of ["fail", "skipIfIdentical"] as const) {
      rejects(
        () => decideOnExisting({ ...base, onExisting, version: "1.0.0", md5: "other==" }),
        "onExisting",
        /Version 1\.0\.0 of application worker already exists and holds a different package \(MD5 1B2M2Y8AsgTpgAmY7PhCfg==, this one other==\)/,
        /onExisting: overwrite/,
      );
    }
    rejects(() => decideOnExisting({ ...base, existing: [{ version: "1.0.0", state: "Active" }], onExisting: "fail", version: "1.0.0", md5: MD5_A }), "onExisting", /MD5 is unknown/);
  });

  it("contentHash: an active version of that name is this package even when its MD5 is unknown", () => {
    const existing: ExistingVersion[] = [{ version: "ab12cd34ef56", state: "Active", lastActivationTime: at("2026-01-01T00:00:00Z") }];
    const d = decideOnExisting({ ...base, existing, onExisting: "fail", version: "ab12cd34ef56", md5: MD5_A, versionFromContent: true });
    assert.deepEqual({ action: d.action, version: d.version }, { action: "skip", version: "ab12cd34ef56" });
    assert.match(d.reason, /content hash/);
    rejects(() => decideOnExisting({ ...base, existing, onExisting: "fail", version: "ab12cd34ef56", md5: MD5_A }), "onExisting", /MD5 is unknown/);
  });

  it("overwrite replaces a differing version only when the application allows updates", () => {
    rejects(() => decideOnExisting({ ...base, onExisting: "overwrite", version: "1.0.0", md5: "other==" }), "onExisting", /does not allow updates \(allowUpdates is false\)/, /--allow-updates true/);
    const d = decideOnExisting({ ...base, allowUpdates: true, onExisting: "overwrite", version: "1.0.0", md5: "other==" });
    assert.equal(d.action, "overwrite");
    const same = decideOnExisting({ ...base, allowUpdates: true, onExisting: "overwrite", version: "1.0.0", md5: MD5_A });
    assert.equal(same.action, "skip", "nothing to overwrite when the package is the same");
  });

  it("a new version is created", () => {
    const d = decideOnExisting({ ...base, existing: [], onExisting: "skipIfIdentical", version: "1.0.0", md5: MD5_A });
    assert.deepEqual({ action: d.action, version: d.version }, { action: "create", version: "1.0.0" });
  });
});

describe("BatchAppPackage: retention (keepVersions)", () => {
  // v1 oldest ... v8 newest; v0 pending, never activated.
  const versions: ExistingVersion[] = [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ version: `1.0.${n}`, state: "Active" as const, lastActivationTime: at(`2026-01-0${n}T00:00:00Z`) })),
    { version: "stale-pending", state: "Pending" as const },
  ];

  it("keeps the N newest and deletes the older ones, but never the default or a version a pool references", () => {
    const plan = planRetention({
      applicationName: "worker",
      versions,
      keepVersions: 3,
      defaultVersion: "1.0.2",
      current: "1.0.8",
      pools: [
        { poolId: "adf-pool", applicationPackages: [{ id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/b/applications/Worker", version: "1.0.4" }, { id: "other", version: "1.0.3" }] },
        { poolId: "pool-2", applicationPackages: [{ id: "worker" }] },
        { poolId: "pool-3" },
      ],
    });
    assert.deepEqual(plan.keep, [
      { version: "1.0.8", reason: "among the 3 newest" },
      { version: "1.0.7", reason: "among the 3 newest" },
      { version: "1.0.6", reason: "among the 3 newest" },
      { version: "1.0.4", reason: "referenced by pool adf-pool" },
      { version: "1.0.2", reason: "the default version" },
    ]);
    assert.deepEqual(
      plan.delete.map((d) => d.version),
      ["1.0.5", "1.0.3", "1.0.1", "stale-pending"],
      "another application's reference to 1.0.3 does not protect ours; a version without a time counts as the oldest",
    );
    assert.match(plan.delete[0].reason, /older than the 3 newest/);
  });

  it("keeps everything with keepVersions 0, and always the version just published", () => {
    const all = planRetention({ applicationName: "worker", versions, keepVersions: 0, pools: [] });
    assert.equal(all.delete.length, 0);
    assert.equal(all.keep.length, versions.length);
    // The run skipped to an older identical version: it stays even outside the newest one.
    const one = planRetention({ applicationName: "worker", versions, keepVersions: 1, pools: [], current: "1.0.3" });
    assert.deepEqual(one.keep, [
      { version: "1.0.8", reason: "among the 1 newest" },
      { version: "1.0.3", reason: "published by this run" },
    ]);
    assert.equal(one.delete.length, versions.length - 2);
  });

  it("orders by activation time, else creation time, not by name", () => {
    const plan = planRetention({
      applicationName: "worker",
      keepVersions: 1,
      pools: [],
      versions: [
        { version: "9.0.0", state: "Active", lastActivationTime: at("2025-01-01T00:00:00Z") },
        { version: "1.0.0", state: "Active", lastActivationTime: at("2026-01-01T00:00:00Z") },
        { version: "5.0.0", state: "Pending", createdAt: at("2025-06-01T00:00:00Z") },
      ],
    });
    assert.deepEqual(plan.keep.map((k) => k.version), ["1.0.0"]);
    assert.deepEqual(plan.delete.map((d) => d.version), ["5.0.0", "9.0.0"]);
  });
});
