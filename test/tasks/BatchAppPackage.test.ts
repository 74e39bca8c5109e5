/**
 * BatchAppPackage@1, run as the agent runs it (the bundled task in a child
 * process) against the local Azure, and what it did read back through ARM
 * (@azure/arm-batch) and Blob storage. One scenario per test.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import JSZip from "jszip";
import { BatchManagementClient, type ApplicationPackage } from "@azure/arm-batch";
import { BlobServiceClient, BlockBlobClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import { runTask, type TaskRunOptions, type TaskRunResult } from "../harness/run-task";
import { localCredential } from "../harness/azure-test";
import type { LocalAzure } from "../local-azure";
import { createAccount, type BatchAccountRecord, type PackageRecord } from "../local-azure/batch/state";

const sha256 = (data: Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const md5 = (data: Buffer) => crypto.createHash("md5").update(data).digest("base64");

/** A small application: nested folders, two executables, text and binary. */
function makeAppTree(root: string, seed = "v1"): Record<string, { content: Buffer; mode: number }> {
  const files: Record<string, { content: Buffer; mode: number }> = {
    "app.py": { content: Buffer.from(`import sys\nprint("${seed}", sys.argv[1])\n`), mode: 0o644 },
    "run.sh": { content: Buffer.from('#!/bin/sh\nexec python3 "$(dirname "$0")/app.py" "$@"\n'), mode: 0o755 },
    "bin/tool": { content: Buffer.from("#!/bin/sh\necho tool\n"), mode: 0o750 },
    "lib/util.py": { content: Buffer.from("def add(a, b):\n    return a + b\n"), mode: 0o600 },
    "lib/data/model.bin": { content: crypto.createHash("sha512").update(seed).digest(), mode: 0o644 },
    "config/settings.json": { content: Buffer.from('{"threads": 4}\n'), mode: 0o644 },
  };
  for (const [rel, { content, mode }] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
    fs.chmodSync(path.join(root, rel), mode);
  }
  return files;
}

describe("BatchAppPackage@1", function () {
  this.timeout(180_000);
  let azure: LocalAzure;
  let arm: BatchManagementClient;
  let keyed: BlobServiceClient;
  let workRoot: string;
  const rg = "rg-app-packages";
  // Accounts of their own, so that nothing here shows in other suites' listings: auto-storage with keys (SAS storageUrl),
  // with the account's managed identity (plain storageUrl), and none.
  const keysAccount = `pkgkeys${crypto.randomBytes(3).toString("hex")}`;
  const identityAccount = `pkgmi${crypto.randomBytes(3).toString("hex")}`;
  const bareAccount = `pkgbare${crypto.randomBytes(3).toString("hex")}`;
  const accounts: BatchAccountRecord[] = [];

  before(async () => {
    azure = await localAzure();
    azure.state.arm.resourceGroups.set(rg, { name: rg, location: "westeurope" });
    const storageAccountName = azure.info.storage.accountName;
    accounts.push(
      createAccount({ name: keysAccount, resourceGroup: rg, location: "westeurope", autoStorage: { storageAccountName, authenticationMode: "StorageKeys" } }),
      Object.assign(createAccount({ name: identityAccount, resourceGroup: rg, location: "westeurope", autoStorage: { storageAccountName, authenticationMode: "BatchAccountManagedIdentity" } }), {
        identity: { type: "SystemAssigned" as const, principalId: crypto.randomUUID(), tenantId: azure.info.tenantId },
      }),
      createAccount({ name: bareAccount, resourceGroup: rg, location: "westeurope" }),
    );
    for (const a of accounts) azure.state.batch.accounts.set(a.name, a);
    arm = new BatchManagementClient(localCredential(azure), azure.info.subscriptionId, { endpoint: azure.info.armUrl, credentialScopes: ["https://management.azure.com/.default"] });
    keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
    workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "app-package-test-"));
  });
  after(() => {
    for (const a of accounts) azure.state.batch.accounts.delete(a.name);
    azure.state.arm.resourceGroups.delete(rg);
    fs.rmSync(workRoot, { recursive: true, force: true });
  });
  afterEach(resetLocalAzure);

  let counter = 0;
  /** A fresh application name and source folder per scenario. */
  function scenario(seed?: string): { app: string; source: string; files: ReturnType<typeof makeAppTree> } {
    counter++;
    const app = `app-${counter}-${crypto.randomBytes(2).toString("hex")}`;
    const source = path.join(workRoot, `src-${counter}`);
    fs.mkdirSync(source, { recursive: true });
    return { app, source, files: makeAppTree(source, seed ?? app) };
  }

  function run(inputs: TaskRunOptions["inputs"], extra: Partial<TaskRunOptions> & { vars?: Record<string, string> } = {}): Promise<TaskRunResult> {
    return runTask({
      task: "BatchAppPackage",
      env: { ...azure.info.env, ...(extra.vars ?? {}) },
      inputs: { azureSubscription: "LocalAzure", batchAccountName: keysAccount, packageSource: "folder", versionStrategy: "explicit", ...inputs },
      ...extra,
    });
  }

  const explain = (r: TaskRunResult) => `result ${r.result}: ${r.message}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`;
  const succeeded = (r: TaskRunResult) => assert.equal(r.result, "Succeeded", explain(r));
  const failed = (r: TaskRunResult, ...patterns: RegExp[]) => {
    assert.equal(r.result, "Failed", explain(r));
    assert.equal(r.exitCode, 1);
    for (const p of patterns) assert.match(r.message ?? "", p);
  };

  const record = (account: string, app: string, version: string): PackageRecord => {
    const pkg = azure.state.batch.accounts.get(account)?.applications.get(app.toLowerCase())?.versions.get(version.toLowerCase());
    assert.ok(pkg, `version ${version} of ${app} exists in ${account}`);
    return pkg;
  };
  /** The package blob of a version, read with the storage key (as an administrator would). */
  const packageBlob = (account: string, app: string, version: string) => {
    const pkg = record(account, app, version);
    return keyed.getContainerClient(pkg.container).getBlockBlobClient(pkg.blobName);
  };
  const versionsOf = async (account: string, app: string): Promise<Map<string, ApplicationPackage>> => {
    const all = new Map<string, ApplicationPackage>();
    for await (const v of arm.applicationPackageOperations.list(rg, account, app)) all.set(v.name!, v);
    return all;
  };
  const applicationExists = async (account: string, app: string) => {
    try {
      await arm.applicationOperations.get(rg, account, app);
      return true;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return false;
      throw e;
    }
  };
  const blobPuts = (since: number, container: string) => azure.log.entries.filter((e) => e.service === "blob" && e.method === "PUT" && Date.parse(e.time) >= since && e.path.includes(`/${container}/`)).length;

  /** Publishes a version directly through ARM (as another pipeline or the portal would). */
  async function seedVersion(account: string, app: string, version: string, content: Buffer, options: { activate?: boolean } = {}): Promise<void> {
    if (!(await applicationExists(account, app))) await arm.applicationOperations.create(rg, account, app);
    const pkg = await arm.applicationPackageOperations.create(rg, account, app, version);
    const blob = account === identityAccount ? new BlockBlobClient(pkg.storageUrl!, localCredential(azure)) : new BlockBlobClient(pkg.storageUrl!);
    await blob.uploadData(content, { blobHTTPHeaders: { blobContentMD5: Buffer.from(md5(content), "base64") } });
    if (options.activate !== false) await arm.applicationPackageOperations.activate(rg, account, app, version, { format: "zip" });
  }
  const zipOf = async (files: Record<string, string>) => {
    const zip = new JSZip();
    for (const [name, text] of Object.entries(files)) zip.file(name, text);
    return zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
  };
  function addPool(account: string, id: string, references: { applicationId: string; version?: string }[] = []): void {
    azure.batch.addPool(azure.state.batch.accounts.get(account)!, {
      id,
      vmSize: "STANDARD_D2S_V3",
      virtualMachineConfiguration: { imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-focal", sku: "20_04-lts" }, nodeAgentSKUId: "batch.node.ubuntu 20.04" },
      targetDedicatedNodes: 0,
      applicationPackageReferences: references,
    });
  }
  /** Package blobs in auto-storage (not their containers, which Batch itself creates). */
  const packageBlobPath = () => new RegExp(`^/${azure.info.storage.accountName}/app-[^/]+/[^/]+\\.zip$`);
  const appResourceId = (account: string, app: string) => `/subscriptions/${azure.info.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Batch/batchAccounts/${account}/applications/${app}`;

  describe("publishing", () => {
    it("zips the folder, creates the application and the version, uploads with the storageUrl's SAS, activates, sets the default, and publishes the outputs", async () => {
      const { app, source, files } = scenario();
      assert.equal(await applicationExists(keysAccount, app), false);
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0.0" }, { debug: true });
      succeeded(r);
      assert.equal(r.outputs.ApplicationId.value, app);
      assert.equal(r.outputs.ApplicationVersion.value, "1.0.0");
      assert.equal(r.outputs.PackageSkipped.value, "false");

      // Read back through ARM: the application, its default, the version active as a zip.
      const application = await arm.applicationOperations.get(rg, keysAccount, app);
      assert.equal(application.defaultVersion, "1.0.0");
      const version = await arm.applicationPackageOperations.get(rg, keysAccount, app, "1.0.0");
      assert.equal(version.state, "Active");
      assert.equal(version.format, "zip");
      assert.ok(version.lastActivationTime instanceof Date);

      // The blob is the package the outputs describe, with its MD5, and holds the folder's files.
      const blob = packageBlob(keysAccount, app, "1.0.0");
      const bytes = await blob.downloadToBuffer();
      assert.equal(r.outputs.PackageSha256.value, sha256(bytes));
      assert.equal(Buffer.from((await blob.getProperties()).contentMD5!).toString("base64"), md5(bytes));
      const zip = await JSZip.loadAsync(bytes);
      const names = Object.values(zip.files).filter((f) => !f.dir).map((f) => f.name);
      assert.deepEqual(names, Object.keys(files).sort(), "every file, sorted by name");
      for (const [name, { content }] of Object.entries(files)) assert.ok((await zip.file(name)!.async("nodebuffer")).equals(content), name);
      // Activation read the zip as a node would unzip it.
      assert.deepEqual(record(keysAccount, app, "1.0.0").entries?.map((e) => e.name).sort(), Object.keys(files).sort());

      // The SAS never reaches the log, system.debug=true included.
      assert.match(r.stdout, /Uploading .* \(with the storageUrl's SAS\)/);
      assert.doesNotMatch(r.visibleOutput, /sig=/);
      assert.ok(r.secrets.some((s) => /sig=/.test(s)), "the storageUrl's SAS is registered as a secret");
      assert.match(r.stdout, /Created application/);
      assert.ok(r.progress.some((p) => p.operation === "Zipping") && r.progress.some((p) => p.operation === "Uploading"), "reports progress while zipping and uploading");
      assert.equal(r.summaryFiles.length, 1);
      const summary = fs.readFileSync(r.summaryFiles[0], "utf8");
      assert.match(summary, new RegExp(`\\| Application \\| ${app} \\(created\\) in Batch account ${keysAccount} \\|`));
      assert.match(summary, /\| Version \| 1\.0\.0: published \(new version\) \|/);
      assert.match(summary, new RegExp(`\\| SHA-256 \\| ${r.outputs.PackageSha256.value} \\|`));
      assert.match(summary, /\| Default version \| 1\.0\.0 \(was none\) \|/);
      assert.match(summary, /\| Pools updated \| none \|/);
      assert.match(summary, /\| Versions pruned \| none \|/);
    });

    it("uploads with the service connection's Entra identity when the storageUrl has no SAS (auto-storage through the account's managed identity)", async () => {
      const { app, source } = scenario();
      const since = Date.now();
      const r = await run({ batchAccountName: identityAccount, applicationName: app, sourceFolder: source, version: "2.1" });
      succeeded(r);
      assert.match(r.stdout, /Uploading .* \(with the service connection's Entra identity\)/);
      const puts = azure.log.entries.filter((e) => e.service === "blob" && e.method === "PUT" && Date.parse(e.time) >= since && e.path.includes(`/${record(identityAccount, app, "2.1").container}/`));
      assert.ok(puts.length >= 1);
      for (const put of puts) assert.equal(put.principal, azure.info.servicePrincipalObjectId, "written as the service connection, not with a SAS");
      const bytes = await packageBlob(identityAccount, app, "2.1").downloadToBuffer();
      assert.equal(sha256(bytes), r.outputs.PackageSha256.value);
      assert.equal((await arm.applicationPackageOperations.get(rg, identityAccount, app, "2.1")).state, "Active");
    });

    it("versionStrategy buildNumber makes Build.BuildNumber a valid Batch version", async () => {
      const { app, source } = scenario();
      const r = await run({ applicationName: app, sourceFolder: source, versionStrategy: "buildNumber" }, { vars: { BUILD_BUILDNUMBER: "Release 2024.06.01 #3" } });
      succeeded(r);
      assert.equal(r.outputs.ApplicationVersion.value, "Release-2024.06.01-3");
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "Release-2024.06.01-3")).state, "Active");
    });

    it("versionStrategy contentHash names the version after the package; the same folder again publishes nothing", async () => {
      const { app, source } = scenario();
      const first = await run({ applicationName: app, sourceFolder: source, versionStrategy: "contentHash" });
      succeeded(first);
      assert.equal(first.outputs.ApplicationVersion.value, first.outputs.PackageSha256.value.slice(0, 12));
      const container = record(keysAccount, app, first.outputs.ApplicationVersion.value).container;
      const since = Date.now();
      const again = await run({ applicationName: app, sourceFolder: source, versionStrategy: "contentHash" });
      succeeded(again);
      assert.equal(again.outputs.PackageSkipped.value, "true");
      assert.equal(again.outputs.ApplicationVersion.value, first.outputs.ApplicationVersion.value);
      assert.equal(blobPuts(since, container), 0, "nothing uploaded");
      assert.equal((await versionsOf(keysAccount, app)).size, 1);
      assert.match(again.message ?? "", /Published nothing/);
    });

    it("versionStrategy nextPatch takes one above the highest semantic version present", async () => {
      const { app, source } = scenario();
      const zip = await zipOf({ "a.txt": "a" });
      for (const v of ["1.2.3", "1.10.0", "1.9.9", "legacy-build", "1.10.0-rc.1"]) await seedVersion(keysAccount, app, v, zip);
      const r = await run({ applicationName: app, sourceFolder: source, versionStrategy: "nextPatch" });
      succeeded(r);
      assert.equal(r.outputs.ApplicationVersion.value, "1.10.1");
      assert.equal((await arm.applicationOperations.get(rg, keysAccount, app)).defaultVersion, "1.10.1");
    });

    it("publishes an existing zip as it is (packageSource zip)", async () => {
      const { app } = scenario();
      const zipFile = path.join(workRoot, `${app}.zip`);
      const given = await zipOf({ "main.py": "print(1)\n", "lib/x.py": "X = 1\n" });
      fs.writeFileSync(zipFile, given);
      const r = await run({ applicationName: app, packageSource: "zip", zipFile, version: "3.0" });
      succeeded(r);
      assert.ok((await packageBlob(keysAccount, app, "3.0").downloadToBuffer()).equals(given), "the blob holds the given zip's bytes");
      assert.equal(r.outputs.PackageSha256.value, sha256(given));
    });
  });

  describe("onExisting", () => {
    it("skipIfIdentical publishes nothing when the newest active version has the same package, and publishes a changed one", async () => {
      const { app, source } = scenario();
      succeeded(await run({ applicationName: app, sourceFolder: source, version: "1.0.0" }));
      const same = await run({ applicationName: app, sourceFolder: source, version: "1.0.1" });
      succeeded(same);
      assert.equal(same.outputs.PackageSkipped.value, "true");
      assert.equal(same.outputs.ApplicationVersion.value, "1.0.0", "the identical version is the output");
      assert.deepEqual([...(await versionsOf(keysAccount, app)).keys()], ["1.0.0"], "no version 1.0.1");
      assert.match(same.stdout, /newest active version 1\.0\.0 has the same package/);

      fs.writeFileSync(path.join(source, "app.py"), 'print("changed")\n');
      const changed = await run({ applicationName: app, sourceFolder: source, version: "1.0.1" });
      succeeded(changed);
      assert.equal(changed.outputs.PackageSkipped.value, "false");
      assert.equal(changed.outputs.ApplicationVersion.value, "1.0.1");
      assert.equal((await arm.applicationOperations.get(rg, keysAccount, app)).defaultVersion, "1.0.1");
    });

    it("fail refuses a version that exists with another package before changing anything, and skips one with the same package", async () => {
      const { app, source } = scenario();
      succeeded(await run({ applicationName: app, sourceFolder: source, version: "4.2" }));
      const blob = packageBlob(keysAccount, app, "4.2");
      const before = await blob.getProperties();
      const sameContent = await run({ applicationName: app, sourceFolder: source, version: "4.2", onExisting: "fail" });
      succeeded(sameContent);
      assert.equal(sameContent.outputs.PackageSkipped.value, "true");

      fs.writeFileSync(path.join(source, "app.py"), 'print("other")\n');
      const r = await run({ applicationName: app, sourceFolder: source, version: "4.2", onExisting: "fail" });
      failed(r, /Version 4\.2 of application .* already exists and holds a different package/, /onExisting: overwrite/, /Nothing was changed/);
      const after = await blob.getProperties();
      assert.equal(after.etag, before.etag, "the package blob was not touched");
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "4.2")).lastActivationTime?.getTime(), (await versionsOf(keysAccount, app)).get("4.2")?.lastActivationTime?.getTime());
    });

    it("overwrite replaces the package when the application allows updates, and fails with the fix when it does not", async () => {
      const { app, source } = scenario();
      succeeded(await run({ applicationName: app, sourceFolder: source, version: "5.0" }));
      const firstActivation = (await arm.applicationPackageOperations.get(rg, keysAccount, app, "5.0")).lastActivationTime!;
      fs.writeFileSync(path.join(source, "app.py"), 'print("v2")\n');
      const r = await run({ applicationName: app, sourceFolder: source, version: "5.0", onExisting: "overwrite" });
      succeeded(r);
      assert.equal(r.outputs.PackageSkipped.value, "false");
      const bytes = await packageBlob(keysAccount, app, "5.0").downloadToBuffer();
      assert.equal(sha256(bytes), r.outputs.PackageSha256.value, "the version holds the new package");
      assert.ok((await arm.applicationPackageOperations.get(rg, keysAccount, app, "5.0")).lastActivationTime! > firstActivation, "activated again");
      assert.match(fs.readFileSync(r.summaryFiles[0], "utf8"), /\| Version \| 5\.0: published \(package replaced\) \|/);

      await arm.applicationOperations.update(rg, keysAccount, app, { allowUpdates: false });
      fs.writeFileSync(path.join(source, "app.py"), 'print("v3")\n');
      const refused = await run({ applicationName: app, sourceFolder: source, version: "5.0", onExisting: "overwrite" });
      failed(refused, /does not allow updates \(allowUpdates is false\)/, /--allow-updates true/, /Nothing was changed/);
      assert.ok((await packageBlob(keysAccount, app, "5.0").downloadToBuffer()).equals(bytes), "the package is unchanged");
    });
  });

  describe("default version, pools and retention", () => {
    it("points each pool at the new version, keeping other applications' references, as read back through ARM", async () => {
      const { app, source } = scenario();
      const shared = `shared-${crypto.randomBytes(2).toString("hex")}`;
      await seedVersion(keysAccount, shared, "7.1", await zipOf({ "lib.py": "" }));
      await seedVersion(keysAccount, app, "0.9", await zipOf({ "old.py": "" }));
      const [poolA, poolB] = [`pool-a-${counter}`, `pool-b-${counter}`];
      addPool(keysAccount, poolA, [{ applicationId: shared, version: "7.1" }, { applicationId: app, version: "0.9" }]);
      addPool(keysAccount, poolB);
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0", poolIds: `${poolA}\n${poolB}\n` });
      succeeded(r);
      const a = await arm.poolOperations.get(rg, keysAccount, poolA);
      assert.deepEqual(a.applicationPackages, [
        { id: appResourceId(keysAccount, shared), version: "7.1" },
        { id: appResourceId(keysAccount, app), version: "1.0" },
      ]);
      assert.deepEqual((await arm.poolOperations.get(rg, keysAccount, poolB)).applicationPackages, [{ id: appResourceId(keysAccount, app), version: "1.0" }]);
      assert.equal((await arm.applicationOperations.get(rg, keysAccount, app)).defaultVersion, "1.0");
      assert.match(fs.readFileSync(r.summaryFiles[0], "utf8"), new RegExp(`\\| Pools updated \\| ${poolA}, ${poolB} \\|`));
      assert.match(r.stdout, new RegExp(`Pool '${poolA}': ${app}:0\\.9 -> ${app}:1\\.0 \\(kept: ${shared}:7\\.1\\)`));

      // setDefaultVersion false leaves the default alone; the pools still move.
      fs.writeFileSync(path.join(source, "app.py"), 'print("1.1")\n');
      const r2 = await run({ applicationName: app, sourceFolder: source, version: "1.1", poolIds: poolA, setDefaultVersion: false });
      succeeded(r2);
      assert.equal((await arm.applicationOperations.get(rg, keysAccount, app)).defaultVersion, "1.0");
      assert.deepEqual((await arm.poolOperations.get(rg, keysAccount, poolA)).applicationPackages?.map((p) => p.version), ["7.1", "1.1"]);
    });

    it("a pool that would pass 10 references fails before anything changes, naming the pool and its references", async () => {
      const { app, source } = scenario();
      const pool = `full-pool-${counter}`;
      addPool(keysAccount, pool, Array.from({ length: 10 }, (_, i) => ({ applicationId: `other-${i}`, version: "1" })));
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0", poolIds: pool });
      failed(r, /Input 'poolIds' \(Pools\)/, new RegExp(`pool '${pool}' .* would have 11 application package references`), /at most 10/, /Nothing was changed/, /other-0:1/);
      assert.equal(await applicationExists(keysAccount, app), false, "the application was not created");
    });

    it("a pool that does not exist fails before anything changes, listing the account's pools", async () => {
      const { app, source } = scenario();
      const pool = `known-pool-${counter}`;
      addPool(keysAccount, pool);
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0", poolIds: `${pool}\nno-such-pool` });
      failed(r, /Input 'poolIds' \(Pools\): 'no-such-pool' is not a pool of Batch account/, new RegExp(`Its pools: .*${pool}`), /Nothing was changed/);
      assert.equal(await applicationExists(keysAccount, app), false);
    });

    it("keepVersions deletes the oldest versions but spares the default and any version a pool references", async () => {
      const { app, source } = scenario();
      for (const v of ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"]) {
        await seedVersion(keysAccount, app, v, await zipOf({ "v.txt": v }));
        await new Promise((r) => setTimeout(r, 5)); // distinct activation times
      }
      await arm.applicationOperations.update(rg, keysAccount, app, { defaultVersion: "1.0.2" });
      const pool = `pinned-pool-${counter}`;
      addPool(keysAccount, pool, [{ applicationId: app, version: "1.0.1" }]);
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0.6", setDefaultVersion: false, keepVersions: 2 });
      succeeded(r);
      assert.deepEqual([...(await versionsOf(keysAccount, app)).keys()].sort(), ["1.0.1", "1.0.2", "1.0.5", "1.0.6"]);
      assert.match(r.stdout, /Deleted version 1\.0\.0 \(older than the 2 newest\)/);
      assert.match(r.stdout, new RegExp(`Kept version 1\\.0\\.1: referenced by pool ${pool}`));
      assert.match(r.stdout, /Kept version 1\.0\.2: the default version/);
      const summary = fs.readFileSync(r.summaryFiles[0], "utf8");
      assert.match(summary, /\| Versions pruned \| 1\.0\.4, 1\.0\.3, 1\.0\.0 \|/);
    });
  });

  describe("re-runs", () => {
    it("a run killed during the upload leaves the version pending; run again, it completes that version (nextPatch does not skip a number)", async () => {
      const { app, source } = scenario();
      await seedVersion(keysAccount, app, "2.0.0", await zipOf({ "a.txt": "a" }));
      const container = record(keysAccount, app, "2.0.0").container;
      azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 5000, path: new RegExp(`/${container}/`) });
      const killed = await run({ applicationName: app, sourceFolder: source, versionStrategy: "nextPatch" }, { killWhen: (line) => /^Uploading /.test(line) });
      assert.equal(killed.signal, "SIGKILL", explain(killed));
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "2.0.1")).state, "Pending");
      azure.faults.reset();

      const again = await run({ applicationName: app, sourceFolder: source, versionStrategy: "nextPatch" });
      succeeded(again);
      assert.equal(again.outputs.ApplicationVersion.value, "2.0.1");
      assert.match(again.stdout, /Version 2\.0\.1: version 2\.0\.1 was created but never activated/);
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "2.0.1")).state, "Active");
      assert.equal(sha256(await packageBlob(keysAccount, app, "2.0.1").downloadToBuffer()), again.outputs.PackageSha256.value);
      assert.match(fs.readFileSync(again.summaryFiles[0], "utf8"), /\| Version \| 2\.0\.1: published \(a pending version completed\) \|/);
    });

    it("a run killed after the upload and before activation: run again, it activates the uploaded package without sending it again", async () => {
      const { app, source } = scenario();
      azure.faults.add({ service: "arm", kind: "slow", method: "POST", delayMs: 5000, path: /\/activate$/ });
      const killed = await run({ applicationName: app, sourceFolder: source, version: "3.1" }, { killWhen: (line) => /^Uploading: 1\/1 files/.test(line) });
      assert.equal(killed.signal, "SIGKILL", explain(killed));
      await new Promise((r) => setTimeout(r, 200));
      azure.faults.reset();
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "3.1")).state, "Pending");
      const container = record(keysAccount, app, "3.1").container;
      const since = Date.now();
      const again = await run({ applicationName: app, sourceFolder: source, version: "3.1" });
      succeeded(again);
      assert.match(again.stdout, /The pending version's blob holds this package already/);
      assert.equal(blobPuts(since, container), 0, "the package is not uploaded again");
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "3.1")).state, "Active");
    });

    it("stops promptly when the agent cancels it during the upload, and a re-run completes the version", async () => {
      const { app, source } = scenario();
      azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 20_000, path: packageBlobPath() });
      const cancelled = await run({ applicationName: app, sourceFolder: source, version: "6.0" }, { cancelWhen: (line) => /^Uploading /.test(line) });
      assert.equal(cancelled.result, "Failed", explain(cancelled));
      assert.match(cancelled.message ?? "", /cancelled/i);
      assert.ok(cancelled.durationMs < 15_000, `stopped without waiting for the slow upload (${cancelled.durationMs} ms)`);
      azure.faults.reset();
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "6.0")).state, "Pending");
      const again = await run({ applicationName: app, sourceFolder: source, version: "6.0" });
      succeeded(again);
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "6.0")).state, "Active");
    });

    it("a pool the connection may not write fails after publishing, saying so; granted the role, a re-run sets the pool without publishing again", async () => {
      const { app, source } = scenario();
      const pool = `locked-pool-${counter}`;
      addPool(keysAccount, pool);
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/pools/write" });
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0", poolIds: pool });
      failed(r, /may not update pools in Batch account/, /it includes Microsoft\.Batch\/batchAccounts\/pools\/write/, /Version 1\.0 is published; once the role is granted, running the task again sets the pool references/);
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "1.0")).state, "Active");
      azure.state.arm.denyRules.length = 0;
      const again = await run({ applicationName: app, sourceFolder: source, version: "1.0", poolIds: pool });
      succeeded(again);
      assert.equal(again.outputs.PackageSkipped.value, "true");
      assert.deepEqual((await arm.poolOperations.get(rg, keysAccount, pool)).applicationPackages, [{ id: appResourceId(keysAccount, app), version: "1.0" }]);
    });

    it("completes the upload, MD5 intact, through faults injected on it (500s, a reset, 503 with Retry-After, 429)", async () => {
      const { app, source } = scenario();
      // Larger than a block (8 MiB) and incompressible, so the package goes up in several blocks.
      fs.writeFileSync(path.join(source, "lib/data/weights.bin"), crypto.randomBytes(9 * 1024 * 1024));
      azure.faults.add({ service: "blob", kind: "500", method: "PUT", path: packageBlobPath(), count: 2 });
      azure.faults.add({ service: "blob", kind: "reset", method: "PUT", path: packageBlobPath(), count: 1 });
      azure.faults.add({ service: "blob", kind: "503", method: "PUT", path: packageBlobPath(), count: 1, retryAfterSeconds: 1 });
      azure.faults.add({ service: "blob", kind: "429", method: "PUT", path: packageBlobPath(), count: 1, retryAfterSeconds: 1 });
      const r = await run({ applicationName: app, sourceFolder: source, version: "1.0" });
      succeeded(r);
      assert.deepEqual(azure.faults.counts(), [2, 1, 1, 1], "every fault was injected");
      const blob = packageBlob(keysAccount, app, "1.0");
      const bytes = await blob.downloadToBuffer();
      assert.equal(sha256(bytes), r.outputs.PackageSha256.value);
      assert.equal(Buffer.from((await blob.getProperties()).contentMD5!).toString("base64"), md5(bytes));
      assert.ok((await blob.getBlockList("committed")).committedBlocks!.length >= 2, "uploaded in blocks");
      assert.equal((await arm.applicationPackageOperations.get(rg, keysAccount, app, "1.0")).state, "Active");
    });
  });

  describe("the zip", () => {
    it("the same folder zipped twice gives byte-identical packages, with each file's mode kept", async () => {
      const { app, source, files } = scenario();
      const other = `${app}-again`;
      const first = await run({ applicationName: app, sourceFolder: source, version: "1.0" });
      succeeded(first);
      // A later run of a fresh process, with the files' times changed: only content and the x bit count.
      for (const rel of Object.keys(files)) fs.utimesSync(path.join(source, rel), new Date(2001, 1, 1), new Date(2001, 1, 1));
      const second = await run({ applicationName: other, sourceFolder: source, version: "1.0" });
      succeeded(second);
      const a = await packageBlob(keysAccount, app, "1.0").downloadToBuffer();
      const b = await packageBlob(keysAccount, other, "1.0").downloadToBuffer();
      assert.ok(a.equals(b), "byte-identical");
      assert.equal(first.outputs.PackageSha256.value, second.outputs.PackageSha256.value);

      const zip = await JSZip.loadAsync(a);
      for (const [name, { mode }] of Object.entries(files)) {
        const entry = zip.file(name)!;
        assert.equal((entry.unixPermissions as number) & 0o170000, 0o100000, `${name} is a regular file`);
        assert.equal((entry.unixPermissions as number) & 0o777, mode & 0o111 ? 0o755 : 0o644, `${name}: executable stays executable`);
        assert.equal(entry.date.getUTCFullYear() === 1980 || entry.date.getFullYear() === 1980, true, `${name} has the fixed date`);
      }
    });
  });

  describe("bad input", () => {
    const cases: { title: string; inputs: (s: ReturnType<typeof scenario>) => TaskRunOptions["inputs"]; vars?: Record<string, string>; expect: RegExp[] }[] = [
      { title: "an application name with a space", inputs: (s) => ({ applicationName: "my app", sourceFolder: s.source, version: "1" }), expect: [/applicationName "my app" is not a valid Batch application name/, /letters, digits, '_' and '-'/] },
      { title: "an application name over 64 characters", inputs: (s) => ({ applicationName: "a".repeat(65), sourceFolder: s.source, version: "1" }), expect: [/is 65 characters long; a Batch application name has at most 64/] },
      { title: "an explicit version Batch refuses", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, version: "1.0 beta" }), expect: [/version "1\.0 beta" is not a valid Batch application version/, /for example 1\.4\.2/] },
      { title: "explicit without a version", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source }), expect: [/version is required with versionStrategy: explicit/] },
      { title: "a version strategy that does not exist", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, versionStrategy: "latest" }), expect: [/versionStrategy "latest" is not one of: explicit, buildNumber, contentHash, nextPatch/] },
      {
        title: "a build number with nothing Batch can use",
        inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, versionStrategy: "buildNumber" }),
        vars: { BUILD_BUILDNUMBER: "###" },
        expect: [/Build\.BuildNumber "###" has nothing a Batch version can use/, /versionStrategy: explicit/],
      },
      { title: "an onExisting that does not exist", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, version: "1", onExisting: "replace" }), expect: [/onExisting "replace" is not one of: skipIfIdentical, fail, overwrite/] },
      { title: "a source folder that does not exist", inputs: (s) => ({ applicationName: s.app, sourceFolder: path.join(s.source, "missing"), version: "1" }), expect: [/Input 'sourceFolder' \(Source folder\): '.*missing' does not exist/] },
      {
        title: "an empty source folder",
        inputs: (s) => {
          const empty = path.join(s.source, "..", `empty-${s.app}`);
          fs.mkdirSync(empty);
          return { applicationName: s.app, sourceFolder: empty, version: "1" };
        },
        expect: [/Input 'sourceFolder' \(Source folder\): '.*' is empty: there is nothing to package/, /artifact download step/],
      },
      { title: "an include pattern that matches nothing", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, version: "1", include: "**/*.jar" }), expect: [/Input 'include' \(Include patterns\): '\*\*\/\*\.jar' matched no file/] },
      {
        title: "a zip file that is not a zip",
        inputs: (s) => {
          const bogus = path.join(s.source, "..", `${s.app}.zip`);
          fs.writeFileSync(bogus, "PK this is a text file, not an archive; it is long enough to be looked at");
          return { applicationName: s.app, packageSource: "zip", zipFile: bogus, version: "1" };
        },
        expect: [/zipFile: '.*\.zip' is not a usable zip archive: it has no end-of-central-directory record/, /packageSource: folder/],
      },
      { title: "a pool id Batch refuses", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, version: "1", poolIds: "good-pool\npool one" }), expect: [/Input 'poolIds' \(Pools\): 'pool one' is not a Batch pool id/] },
      { title: "a keepVersions that is not a count", inputs: (s) => ({ applicationName: s.app, sourceFolder: s.source, version: "1", keepVersions: "-1" }), expect: [/keepVersions "-1" is not valid/] },
      { title: "a Batch account name that cannot be one", inputs: (s) => ({ batchAccountName: "My_Batch", applicationName: s.app, sourceFolder: s.source, version: "1" }), expect: [/Input 'batchAccountName' \(Batch account\): 'My_Batch' is not a Batch account name/] },
    ];
    for (const c of cases) {
      it(`${c.title}: fails before any call to Azure, naming the input and what is valid`, async () => {
        const s = scenario();
        const since = Date.now();
        const r = await run(c.inputs(s), { vars: c.vars });
        failed(r, ...c.expect);
        const calls = azure.log.entries.filter((e) => Date.parse(e.time) >= since && (e.service === "arm" || e.service === "blob") && !/\/batchAccounts$|\/batchAccounts\/[^/]+$/.test(e.path));
        assert.deepEqual(calls.map((e) => `${e.method} ${e.path}`), [], "nothing but the account lookup reached Azure");
        assert.equal(await applicationExists(keysAccount, s.app), false);
      });
    }

    it("a Batch account without auto-storage fails before anything changes, saying how to link one", async () => {
      const { app, source } = scenario();
      const r = await run({ batchAccountName: bareAccount, applicationName: app, sourceFolder: source, version: "1" });
      failed(r, new RegExp(`Batch account '${bareAccount}' has no auto-storage account`), /Nothing was changed/, /Storage account > Select a storage account/, new RegExp(`az batch account set --name ${bareAccount} --resource-group ${rg} --storage-account`));
      assert.equal(await applicationExists(bareAccount, app), false);
    });

    it("a resource group that is not the account's says the account was not found there", async () => {
      const { app, source } = scenario();
      const r = await run({ batchAccountName: keysAccount, resourceGroupName: "rg-batch-release", applicationName: app, sourceFolder: source, version: "1" });
      failed(r, /Input 'batchAccountName' \(Batch account\)/, /not found/);
    });

    it("a missing Batch role fails before anything changes, naming the action and the role", async () => {
      const { app, source } = scenario();
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Batch/batchAccounts/applications/write" });
      const r = await run({ applicationName: app, sourceFolder: source, version: "1" });
      failed(r, /may not create applications in Batch account/, /AuthorizationFailed/, /Grant it the 'Contributor' role \(it includes Microsoft\.Batch\/batchAccounts\/applications\/write\) on the Batch account/, /Nothing was changed/);
      azure.state.arm.denyRules.length = 0;
      assert.equal(await applicationExists(keysAccount, app), false);
    });

    it("a missing storage data role (Entra upload) fails naming the role, and leaves nothing behind", async () => {
      const { app, source } = scenario();
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*" });
      const r = await run({ batchAccountName: identityAccount, applicationName: app, sourceFolder: source, version: "1" });
      failed(r, /may not write the package blob in storage account/, /'Storage Blob Data Contributor' on storage account/, /Nothing was changed/);
      azure.state.arm.denyRules.length = 0;
      assert.match(r.stdout, /Removed what this run had created: version 1 and application/);
      assert.equal(await applicationExists(identityAccount, app), false, "the application this run created is gone");
    });

    it("with versions present, a missing storage data role fails before anything changes (their packages cannot be read)", async () => {
      const { app, source } = scenario();
      await seedVersion(identityAccount, app, "1.0", await zipOf({ "a.txt": "a" }));
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*" });
      const since = Date.now();
      const r = await run({ batchAccountName: identityAccount, applicationName: app, sourceFolder: source, version: "1.1" });
      failed(r, /may not read the package blob/, /Storage Blob Data Contributor/, /Nothing was changed/);
      azure.state.arm.denyRules.length = 0;
      assert.deepEqual([...(await versionsOf(identityAccount, app)).keys()], ["1.0"]);
      assert.equal(azure.log.entries.filter((e) => Date.parse(e.time) >= since && e.service === "arm" && e.method !== "GET").length, 0, "no change was asked of ARM");
    });
  });
});
