/**
 * BatchAppBlobCopy@1, run as the agent runs it (the bundled task in a child
 * process) against the local Azure. One scenario per test.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { generate } from "selfsigned";
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import { findLeakedSecrets, runTask, type TaskRunOptions, type TaskRunResult } from "../harness/run-task";
import { connectionEnv, type Scheme } from "../harness/connections";
import type { LocalAzure } from "../local-azure";

const md5 = (data: Buffer) => crypto.createHash("md5").update(data).digest("base64");

/** A small application tree: nested folders, text and binary, one file larger than a block. */
function makeAppTree(root: string, options: { bigFileBytes?: number } = {}): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    "app.py": Buffer.from('import sys\nprint("run", sys.argv[1])\n'),
    "requirements.txt": Buffer.from("numpy==2.1.0\n"),
    "lib/util.py": Buffer.from("def add(a, b):\n    return a + b\n"),
    "lib/data/model.bin": crypto.randomBytes(70_000),
    "config/settings.json": Buffer.from('{"threads": 4}\n'),
    ".env.example": Buffer.from("MODE=batch\n"),
    "lib/__pycache__/util.cpython-311.pyc": crypto.randomBytes(500),
  };
  if (options.bigFileBytes) files["lib/data/weights.bin"] = crypto.randomBytes(options.bigFileBytes);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return files;
}

async function blobsUnder(container: ContainerClient, prefix: string): Promise<Map<string, { md5?: string; size: number; etag?: string; contentType?: string }>> {
  const result = new Map<string, { md5?: string; size: number; etag?: string; contentType?: string }>();
  if (!(await container.exists())) return result;
  for await (const b of container.listBlobsFlat({ prefix })) {
    // The run's lock blob sits beside the prefix; the lock tests look at it on their own.
    if (b.name.endsWith(".blobcopy-lock")) continue;
    const m = b.properties.contentMD5;
    result.set(b.name.slice(prefix.length), {
      md5: m && m.length ? Buffer.from(m).toString("base64") : undefined,
      size: b.properties.contentLength ?? -1,
      etag: b.properties.etag,
      contentType: b.properties.contentType,
    });
  }
  return result;
}

describe("BatchAppBlobCopy@1", function () {
  this.timeout(120_000);
  let azure: LocalAzure;
  let keyed: BlobServiceClient;
  let workRoot: string;

  before(async () => {
    azure = await localAzure();
    keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
    workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "blobcopy-test-"));
  });
  after(() => fs.rmSync(workRoot, { recursive: true, force: true }));
  afterEach(resetLocalAzure);

  let counter = 0;
  /** A fresh container name and source folder per scenario. */
  function scenario(options: { bigFileBytes?: number } = {}): { container: string; source: string; files: Record<string, Buffer> } {
    counter++;
    const container = `app-${counter}-${crypto.randomBytes(3).toString("hex")}`;
    const source = path.join(workRoot, `src-${counter}`);
    fs.mkdirSync(source, { recursive: true });
    return { container, source, files: makeAppTree(source, options) };
  }

  function run(inputs: TaskRunOptions["inputs"], extra: Partial<TaskRunOptions> = {}): Promise<TaskRunResult> {
    return runTask({
      task: "BatchAppBlobCopy",
      env: azure.info.env,
      inputs: { azureSubscription: "LocalAzure", storageAccount: azure.info.storage.accountName, ...inputs },
      ...extra,
    });
  }

  const explain = (r: TaskRunResult) => `result ${r.result}: ${r.message}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`;

  it("uploads a whole tree with Content-MD5 on every blob (also multi-block ones) and publishes the outputs", async () => {
    const { container, source, files } = scenario({ bigFileBytes: 2_500_000 });
    const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/1.0.0", blockSizeMB: 1 });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.exitCode, 0);
    assert.equal(r.outputs.UploadedCount.value, String(Object.keys(files).length));
    assert.equal(r.outputs.SkippedCount.value, "0");
    assert.equal(r.outputs.DeletedCount.value, "0");
    assert.equal(r.outputs.ContainerUrl.value, `${azure.info.storage.blobUrl}/${container}`);
    assert.equal(r.outputs.BlobPrefixUrl.value, `${azure.info.storage.blobUrl}/${container}/app/1.0.0/`);
    const blobs = await blobsUnder(keyed.getContainerClient(container), "app/1.0.0/");
    assert.deepEqual([...blobs.keys()].sort(), Object.keys(files).sort());
    for (const [name, content] of Object.entries(files)) {
      assert.equal(blobs.get(name)?.md5, md5(content), `Content-MD5 of ${name}`);
      assert.equal(blobs.get(name)?.size, content.length);
    }
    assert.equal(blobs.get("config/settings.json")?.contentType, "application/json");
    const big = await keyed.getContainerClient(container).getBlobClient("app/1.0.0/lib/data/weights.bin").downloadToBuffer();
    assert.ok(big.equals(files["lib/data/weights.bin"]), "the multi-block blob has the file's bytes");
    // The container was created private.
    const access = await keyed.getContainerClient(container).getAccessPolicy();
    assert.equal(access.blobPublicAccess, undefined);
    // Progress and the summary tab.
    assert.ok(r.progress.length > 0, "reports progress");
    assert.equal(r.summaryFiles.length, 1);
    const summary = fs.readFileSync(r.summaryFiles[0], "utf8");
    assert.match(summary, /\| Uploaded \| 8 files/);
  });

  it("sync uploads only new and changed files, and treats a blob without MD5 as changed", async () => {
    const { container, source, files } = scenario();
    const first = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/current/" });
    assert.equal(first.result, "Succeeded", explain(first));
    const client = keyed.getContainerClient(container);
    const before = await blobsUnder(client, "app/current/");

    fs.writeFileSync(path.join(source, "app.py"), 'print("v2")\n');
    fs.writeFileSync(path.join(source, "lib/new_module.py"), "X = 1\n");
    // Same size and bytes as the source, but committed from blocks, so the blob has no Content-MD5.
    const noMd5 = client.getBlockBlobClient("app/current/requirements.txt");
    const blockId = Buffer.from("block-0").toString("base64");
    await noMd5.stageBlock(blockId, files["requirements.txt"], files["requirements.txt"].length);
    await noMd5.commitBlockList([blockId]);
    assert.equal((await noMd5.getProperties()).contentMD5, undefined);
    const second = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/current/" });
    assert.equal(second.result, "Succeeded", explain(second));
    assert.equal(second.outputs.UploadedCount.value, "3");
    assert.equal(second.outputs.SkippedCount.value, String(Object.keys(files).length - 2));
    const after = await blobsUnder(client, "app/current/");
    assert.equal(after.get("app.py")?.md5, md5(Buffer.from('print("v2")\n')));
    assert.equal(after.get("requirements.txt")?.md5, md5(files["requirements.txt"]));
    assert.equal(after.get("lib/util.py")?.etag, before.get("lib/util.py")?.etag, "an unchanged blob is not rewritten");

    const third = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/current/" });
    assert.equal(third.outputs.UploadedCount.value, "0");
  });

  it("copy mode uploads everything again", async () => {
    const { container, source, files } = scenario();
    await run({ sourceFolder: source, containerName: container });
    const r = await run({ sourceFolder: source, containerName: container, mode: "copy" });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.outputs.UploadedCount.value, String(Object.keys(files).length));
  });

  it("include and exclude patterns choose the files", async () => {
    const { container, source } = scenario();
    const r = await run({ sourceFolder: source, containerName: container, include: "**/*.py\nconfig/**", exclude: "**/__pycache__/**" });
    assert.equal(r.result, "Succeeded", explain(r));
    const names = [...(await blobsUnder(keyed.getContainerClient(container), "")).keys()].sort();
    assert.deepEqual(names, ["app.py", "config/settings.json", "lib/util.py"]);
  });

  it("deletes stale blobs under the prefix only, and stops before changing anything when more than maxDeletes would go", async () => {
    const { container, source } = scenario();
    await run({ sourceFolder: source, containerName: container, blobPrefix: "app/v1/" });
    const client = keyed.getContainerClient(container);
    for (const name of ["app/v1/old1.py", "app/v1/old2.py", "app/v1/lib/old3.py", "app/v10/keep.py", "other/keep.txt"]) {
      await client.getBlockBlobClient(name).upload("old", 3);
    }
    fs.writeFileSync(path.join(source, "app.py"), "changed\n");

    const capped = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/v1/", deleteStale: true, maxDeletes: 2 });
    assert.equal(capped.result, "Failed");
    assert.match(capped.message ?? "", /3 blobs .* would be deleted, more than maxDeletes \(2\)\. Nothing was changed/);
    const untouched = await blobsUnder(client, "app/v1/");
    assert.ok(untouched.has("old1.py") && untouched.has("lib/old3.py"));
    assert.notEqual(untouched.get("app.py")?.md5, md5(Buffer.from("changed\n")), "no upload happened either");

    const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/v1/", deleteStale: true, maxDeletes: 3 });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.outputs.DeletedCount.value, "3");
    assert.equal(r.outputs.UploadedCount.value, "1");
    const all = [...(await blobsUnder(client, "")).keys()];
    assert.ok(!all.includes("app/v1/old1.py") && !all.includes("app/v1/lib/old3.py"));
    assert.ok(all.includes("app/v10/keep.py"), "a sibling prefix that merely starts the same is kept");
    assert.ok(all.includes("other/keep.txt"));
  });

  it("dry run prints the plan and changes nothing (not even the container)", async () => {
    const { container, source, files } = scenario();
    const r = await run({ sourceFolder: source, containerName: container, dryRun: true, deleteStale: true, allowContainerWideDelete: true });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.outputs.UploadedCount.value, String(Object.keys(files).length));
    assert.ok(r.lines.some((l) => l.startsWith("Would upload app.py")), "lists what would be uploaded");
    assert.equal(await keyed.getContainerClient(container).exists(), false);

    await run({ sourceFolder: source, containerName: container });
    await keyed.getContainerClient(container).getBlockBlobClient("stale.txt").upload("x", 1);
    fs.writeFileSync(path.join(source, "app.py"), "changed\n");
    const plan = await run({ sourceFolder: source, containerName: container, dryRun: true, deleteStale: true, allowContainerWideDelete: true });
    assert.ok(plan.lines.includes("Would delete stale.txt"));
    assert.ok(plan.lines.some((l) => l.startsWith("Would upload app.py") && l.includes("changed")));
    assert.equal(plan.outputs.UploadedCount.value, "1");
    const blobs = await blobsUnder(keyed.getContainerClient(container), "");
    assert.ok(blobs.has("stale.txt"));
    assert.notEqual(blobs.get("app.py")?.md5, md5(Buffer.from("changed\n")));
  });

  for (const authType of ["accessKey", "sas"] as const) {
    it(`writes with authType ${authType}`, async () => {
      const { container, source, files } = scenario();
      let sasToken: string | undefined;
      if (authType === "sas") {
        await keyed.getContainerClient(container).create();
        sasToken = generateBlobSASQueryParameters(
          { containerName: container, permissions: ContainerSASPermissions.parse("racwdl"), expiresOn: new Date(Date.now() + 3600_000) },
          new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey),
        ).toString();
      }
      const r = await run({ sourceFolder: source, containerName: container, authType, sasToken }, { debug: true });
      assert.equal(r.result, "Succeeded", explain(r));
      const blobs = await blobsUnder(keyed.getContainerClient(container), "");
      assert.equal(blobs.size, Object.keys(files).length);
      const leaked = findLeakedSecrets(r, [azure.info.storage.accountKey, azure.info.clientSecret, sasToken ?? "", new URLSearchParams(sasToken ?? "").get("sig") ?? ""]);
      assert.deepEqual(leaked, [], "no secret in the output with system.debug=true");
      assert.ok(!/eyJ[\w-]{10,}\.eyJ[\w-]{10,}\./.test(r.visibleOutput), "no JWT in the output");
    });
  }

  for (const authType of ["entra", "accessKey"] as const) {
    it(`publishes a read SAS URL for the prefix (authType ${authType}) that reads and lists the blobs`, async () => {
      const { container, source, files } = scenario();
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/2.0/", authType, readSasHours: 2 }, { debug: true });
      assert.equal(r.result, "Succeeded", explain(r));
      const sas = r.outputs.ReadSasUrl;
      assert.ok(sas?.secret, "ReadSasUrl is a secret output");
      const url = new URL(sas.value);
      assert.equal(`${url.origin}${url.pathname}`, `${azure.info.storage.blobUrl}/${container}/app/2.0/`);
      assert.equal(url.searchParams.get("sp"), "rl");
      if (authType === "entra") assert.ok(url.searchParams.get("skoid"), "a user delegation SAS");
      const expiry = new Date(url.searchParams.get("se")!).getTime();
      assert.ok(Math.abs(expiry - (Date.now() + 2 * 3600_000)) < 5 * 60_000);
      // Usable for a read by someone who has nothing but the URL.
      const reader = new ContainerClient(`${azure.info.storage.blobUrl}/${container}?${url.search.slice(1)}`, new AnonymousCredential());
      const names: string[] = [];
      for await (const b of reader.listBlobsFlat({ prefix: "app/2.0/" })) names.push(b.name);
      assert.equal(names.length, Object.keys(files).length);
      const text = await reader.getBlobClient("app/2.0/app.py").downloadToBuffer();
      assert.ok(text.equals(files["app.py"]));
      await assert.rejects(reader.getBlockBlobClient("app/2.0/evil.py").upload("x", 1), /not authorized|AuthorizationPermissionMismatch|403/i);
      assert.deepEqual(findLeakedSecrets(r, [url.searchParams.get("sig")!, url.search.slice(1)]), []);
    });
  }

  const schemes: Scheme[] = ["secret", "certificate", "federated", "managedIdentity"];
  for (const scheme of schemes) {
    it(`signs in with a ${scheme} service connection and leaks no secret with system.debug=true`, async () => {
      const { container, source, files } = scenario();
      let env: Record<string, string>;
      const secrets = [azure.info.clientSecret, azure.info.devops.accessToken, azure.info.managedIdentity.header];
      if (scheme === "certificate") {
        const pems = await generate([{ name: "commonName", value: "release-pipeline" }], { keySize: 2048, algorithm: "sha256" });
        const app = azure.addApp({ certificates: [pems.cert], secrets: [] });
        const certificatePem = `${pems.private}\n${pems.cert}`;
        env = connectionEnv(azure, scheme, { app, certificatePem });
        secrets.push(pems.private.split("\n").slice(1, 3).join("\n"));
      } else {
        env = connectionEnv(azure, scheme);
      }
      const issuedBefore = azure.state.entra.issued.length;
      const r = await runTask({
        task: "BatchAppBlobCopy",
        env,
        debug: true,
        inputs: { azureSubscription: "LocalAzure", storageAccount: azure.info.storage.accountName, sourceFolder: source, containerName: container },
      });
      assert.equal(r.result, "Succeeded", explain(r));
      assert.equal((await blobsUnder(keyed.getContainerClient(container), "")).size, Object.keys(files).length);
      const grants = azure.state.entra.issued.slice(issuedBefore).map((i) => i.grant);
      const expected = { secret: "client_secret", certificate: "certificate", federated: "federated", managedIdentity: "managed_identity" }[scheme];
      assert.ok(grants.includes(expected as (typeof grants)[number]), `signed in with ${expected} (saw ${grants.join(", ")})`);
      assert.deepEqual(findLeakedSecrets(r, secrets), []);
      assert.ok(!/eyJ[\w-]{10,}\.eyJ[\w-]{10,}\./.test(r.visibleOutput), "no JWT (access or OIDC token) in the output");
    });
  }

  it("completes every blob with the right MD5 although 10% of blob requests fail (503, resets, 429 with Retry-After)", async () => {
    const { container, source, files } = scenario({ bigFileBytes: 3_000_000 });
    fs.mkdirSync(path.join(source, "many"));
    for (let i = 0; i < 40; i++) {
      files[`many/f${i}.txt`] = Buffer.from(`file ${i} ${"x".repeat(i * 50)}`);
      fs.writeFileSync(path.join(source, `many/f${i}.txt`), files[`many/f${i}.txt`]);
    }
    azure.faults.add({ service: "blob", kind: "503", rate: 0.04, retryAfterSeconds: 0 });
    azure.faults.add({ service: "blob", kind: "reset", rate: 0.03 });
    azure.faults.add({ service: "blob", kind: "429", rate: 0.03, retryAfterSeconds: 1 });
    const r = await run({ sourceFolder: source, containerName: container, blockSizeMB: 1 });
    const faulted = azure.log.entries.filter((e) => e.service === "blob" && e.fault).length;
    azure.faults.reset();
    assert.equal(r.result, "Succeeded", explain(r));
    assert.ok(faulted >= 3, `faults were injected (${faulted})`);
    const blobs = await blobsUnder(keyed.getContainerClient(container), "");
    assert.equal(blobs.size, Object.keys(files).length);
    for (const [name, content] of Object.entries(files)) assert.equal(blobs.get(name)?.md5, md5(content), name);
  });

  it("a run killed mid-way, run again, completes the job", async () => {
    const { container, source, files } = scenario();
    fs.mkdirSync(path.join(source, "bulk"));
    for (let i = 0; i < 150; i++) {
      files[`bulk/part${i}.dat`] = crypto.randomBytes(20_000 + i);
      fs.writeFileSync(path.join(source, `bulk/part${i}.dat`), files[`bulk/part${i}.dat`]);
    }
    // Slow every upload a little so the kill lands mid-way.
    azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 40, path: new RegExp(`/${container}/.+`) });
    const logStart = azure.log.entries.length;
    const puts = () => azure.log.entries.slice(logStart).filter((e) => e.service === "blob" && e.method === "PUT" && e.path.includes("/bulk/")).length;
    const killed = await run({ sourceFolder: source, containerName: container, concurrency: 4 }, { killWhenPolled: () => puts() >= 30 });
    azure.faults.reset();
    assert.equal(killed.result, undefined, "the first run never completed");
    const partial = await blobsUnder(keyed.getContainerClient(container), "");
    assert.ok(partial.size > 0 && partial.size < Object.keys(files).length, `partially uploaded (${partial.size})`);
    for (const [name, blob] of partial) assert.equal(blob.md5, md5(files[name]), `no half-written blob: ${name}`);

    // The killed run's lock is still leased: a run now is refused at once, naming the lock; the lease runs out within a minute.
    const refused = await run({ sourceFolder: source, containerName: container });
    assert.equal(refused.result, "Failed");
    assert.match(refused.message ?? "", new RegExp(`holds the lock '${container}/\\.blobcopy-lock'.*releases the lock within 20 s`));
    assert.ok(refused.durationMs < 15_000, `refused at once (${refused.durationMs} ms)`);
    const lockBlob = keyed.getContainerClient(container).getBlobClient(".blobcopy-lock");
    const heldProps = await lockBlob.getProperties();
    assert.equal(heldProps.leaseState, "leased");
    assert.equal(heldProps.leaseDuration, "fixed", "a lease that expires, not an infinite one");
    const waitedFrom = Date.now();
    while ((await lockBlob.getProperties()).leaseState === "leased") {
      assert.ok(Date.now() - waitedFrom < 60_000, "the crashed run's lease expired within a minute");
      await new Promise((r) => setTimeout(r, 1000));
    }

    const r = await run({ sourceFolder: source, containerName: container });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(Number(r.outputs.UploadedCount.value) + Number(r.outputs.SkippedCount.value), Object.keys(files).length);
    assert.ok(Number(r.outputs.SkippedCount.value) >= partial.size - 4);
    const blobs = await blobsUnder(keyed.getContainerClient(container), "");
    for (const [name, content] of Object.entries(files)) assert.equal(blobs.get(name)?.md5, md5(content), name);
  });

  it("stops promptly when the agent cancels it (SIGINT), and a re-run completes", async () => {
    const { container, source, files } = scenario();
    fs.mkdirSync(path.join(source, "bulk"));
    for (let i = 0; i < 80; i++) {
      files[`bulk/part${i}.dat`] = crypto.randomBytes(10_000);
      fs.writeFileSync(path.join(source, `bulk/part${i}.dat`), files[`bulk/part${i}.dat`]);
    }
    azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 300, path: new RegExp(`/${container}/.+`) });
    const cancelled = await run({ sourceFolder: source, containerName: container, concurrency: 2 }, { cancelWhen: (line) => line.startsWith("Syncing:") });
    azure.faults.reset();
    assert.equal(cancelled.result, "Failed");
    assert.match(cancelled.message ?? "", /cancelled/i);
    assert.ok(cancelled.durationMs < 10_000, `stopped in ${cancelled.durationMs} ms`);
    const r = await run({ sourceFolder: source, containerName: container });
    assert.equal(r.result, "Succeeded", explain(r));
    const blobs = await blobsUnder(keyed.getContainerClient(container), "");
    for (const [name, content] of Object.entries(files)) assert.equal(blobs.get(name)?.md5, md5(content), name);
  });

  describe("no data loss", () => {
    const writesSince = (logStart: number) => azure.log.entries.slice(logStart).filter((e) => e.service === "blob" && e.method !== "GET" && e.method !== "HEAD");

    it("names Blob storage would refuse or rewrite are refused before any change, listing every offending file", async () => {
      const { container, source } = scenario();
      await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" });
      // What the service would store 'back\slash.txt' as: a sync that uploaded it would then delete it as stale.
      await keyed.getContainerClient(container).getBlockBlobClient("app/back/slash.txt").upload("keep", 4);
      const bad = ["back\\slash.txt", "trailing.", "lib/space ", "ctl\u0001char.txt", "dots./inner.txt"];
      for (const name of bad) {
        fs.mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
        fs.writeFileSync(path.join(source, name), "x");
      }
      fs.writeFileSync(path.join(source, "app.py"), "changed\n");
      const logStart = azure.log.entries.length;
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", deleteStale: true });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /5 file\(s\) .* have names Blob storage would refuse or store under another name .*Nothing was changed/);
      assert.match(r.message ?? "", /'back\\slash\.txt': it holds a backslash/);
      assert.match(r.message ?? "", /'trailing\.': a folder or file name ends with a dot or a space/);
      assert.match(r.message ?? "", /'lib\/space ': a folder/);
      assert.match(r.message ?? "", /'dots\.\/inner\.txt'/);
      assert.match(r.message ?? "", /control character/);
      assert.deepEqual(writesSince(logStart), [], "nothing was written or deleted");
      assert.ok((await blobsUnder(keyed.getContainerClient(container), "app/")).has("back/slash.txt"));
    });

    it("an excluded path is not managed: its blob is neither uploaded over nor deleted as stale", async () => {
      const { container, source } = scenario();
      await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" });
      const client = keyed.getContainerClient(container);
      await client.getBlockBlobClient("app/app.log").upload("server log", 10);
      await client.getBlockBlobClient("app/logs/today.log").upload("more log", 8);
      await client.getBlockBlobClient("app/old.py").upload("stale", 5);
      fs.writeFileSync(path.join(source, "app.log"), "local log, not to be shipped");
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", exclude: "**/*.log", deleteStale: true });
      assert.equal(r.result, "Succeeded", explain(r));
      assert.equal(r.outputs.DeletedCount.value, "1");
      const blobs = await blobsUnder(client, "app/");
      assert.ok(!blobs.has("old.py"), "a stale blob the patterns select is deleted");
      assert.equal(blobs.get("app.log")?.size, 10, "the excluded blob is left as it was");
      assert.ok(blobs.has("logs/today.log"));
    });

    it("an empty blobPrefix with deleteStale is refused unless allowContainerWideDelete is true", async () => {
      const { container, source } = scenario();
      await keyed.getContainerClient(container).create();
      await keyed.getContainerClient(container).getBlockBlobClient("other-app/main.py").upload("x", 1);
      const refused = await run({ sourceFolder: source, containerName: container, deleteStale: true });
      assert.equal(refused.result, "Failed");
      assert.match(refused.message ?? "", /Input 'blobPrefix' \(Blob prefix\): it is empty while deleteStale is true.*allowContainerWideDelete: true/);
      assert.ok((await blobsUnder(keyed.getContainerClient(container), "")).has("other-app/main.py"));
      const allowed = await run({ sourceFolder: source, containerName: container, deleteStale: true, allowContainerWideDelete: true });
      assert.equal(allowed.result, "Succeeded", explain(allowed));
      assert.equal(allowed.outputs.DeletedCount.value, "1");
      assert.ok(!(await blobsUnder(keyed.getContainerClient(container), "")).has("other-app/main.py"));
    });

    it("a second run on the same prefix fails at once, naming the lock and the run holding it; the first completes and releases it", async () => {
      const { container, source, files } = scenario();
      fs.mkdirSync(path.join(source, "bulk"));
      for (let i = 0; i < 40; i++) {
        files[`bulk/part${i}.dat`] = crypto.randomBytes(5_000);
        fs.writeFileSync(path.join(source, `bulk/part${i}.dat`), files[`bulk/part${i}.dat`]);
      }
      azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 150, path: new RegExp(`/${container}/app/v2/bulk/`) });
      const logStart = azure.log.entries.length;
      const first = run(
        { sourceFolder: source, containerName: container, blobPrefix: "app/v2/", concurrency: 2 },
        { env: { ...azure.info.env, BUILD_BUILDNUMBER: "20261203.7", BUILD_DEFINITIONNAME: "app-release", AGENT_NAME: "agent-one" } },
      );
      const deadline = Date.now() + 60_000;
      while (!azure.log.entries.slice(logStart).some((e) => e.method === "PUT" && e.path.includes("/app/v2/bulk/"))) {
        assert.ok(Date.now() < deadline, "the first run started uploading");
        await new Promise((r) => setTimeout(r, 50));
      }
      const otherSource = path.join(workRoot, `other-${counter}`);
      fs.mkdirSync(otherSource);
      fs.writeFileSync(path.join(otherSource, "app.py"), "another source\n");
      const second = await run({ sourceFolder: otherSource, containerName: container, blobPrefix: "app/v2/", deleteStale: true });
      assert.equal(second.result, "Failed");
      assert.match(second.message ?? "", new RegExp(`Another run is syncing to '${container}/app/v2/': it holds the lock '${container}/app/v2\\.blobcopy-lock' \\(build '20261203\\.7', pipeline 'app-release', agent 'agent-one', since `));
      const r = await first;
      azure.faults.reset();
      assert.equal(r.result, "Succeeded", explain(r));
      const blobs = await blobsUnder(keyed.getContainerClient(container), "app/v2/");
      assert.equal(blobs.size, Object.keys(files).length);
      for (const [name, content] of Object.entries(files)) assert.equal(blobs.get(name)?.md5, md5(content), name);
      const lock = await keyed.getContainerClient(container).getBlobClient("app/v2.blobcopy-lock").getProperties();
      assert.equal(lock.leaseState, "available", "released when the run ended");
    });

    it("a file that changes during its upload gets a blob whose Content-MD5 matches its content", async () => {
      const { container, source } = scenario();
      const big = path.join(source, "lib/data/big.bin");
      fs.writeFileSync(big, crypto.randomBytes(3 * 1024 * 1024));
      azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 300, path: new RegExp(`/${container}/lib/data/big\\.bin`) });
      const logStart = azure.log.entries.length;
      const pending = run({ sourceFolder: source, containerName: container, blockSizeMB: 1, mode: "copy" });
      const deadline = Date.now() + 60_000;
      while (!azure.log.entries.slice(logStart).some((e) => e.method === "PUT" && e.path.endsWith("/lib/data/big.bin"))) {
        assert.ok(Date.now() < deadline, "the upload of big.bin started");
        await new Promise((r) => setTimeout(r, 20));
      }
      fs.writeFileSync(big, crypto.randomBytes(3 * 1024 * 1024 + 4096)); // rewritten mid-upload
      const r = await pending;
      azure.faults.reset();
      assert.equal(r.result, "Succeeded", explain(r));
      const blob = keyed.getContainerClient(container).getBlobClient("lib/data/big.bin");
      const content = await blob.downloadToBuffer();
      const props = await blob.getProperties();
      assert.equal(props.contentMD5 && Buffer.from(props.contentMD5).toString("base64"), md5(content), "the blob's MD5 is that of its content");
      // The next sync sees the file as it is now and brings the blob up to date.
      const again = await run({ sourceFolder: source, containerName: container, blockSizeMB: 1 });
      assert.equal(again.result, "Succeeded", explain(again));
      const final = await blob.downloadToBuffer();
      assert.ok(final.equals(fs.readFileSync(big)));
    });
  });

  describe("text from files or Azure is data, never a command", () => {
    const INTENDED = new Set(["task.debug", "task.setsecret", "task.setprogress", "task.setvariable", "task.uploadsummary", "task.complete", "task.issue"]);
    /** The commands the agent would run are exactly those the task meant: its own outputs, one result, no formatting lines. */
    function assertOnlyIntendedCommands(r: TaskRunResult, outputs: string[]): void {
      for (const c of r.commands) assert.ok(INTENDED.has(c.name.toLowerCase()), `unexpected command ${c.name} ${JSON.stringify(c.props)}`);
      const variables = r.commands.filter((c) => c.name.toLowerCase() === "task.setvariable").map((c) => c.props.variable);
      assert.deepEqual(variables.sort(), [...outputs].sort());
      assert.equal(r.commands.filter((c) => c.name.toLowerCase() === "task.complete").length, 1);
      assert.deepEqual(r.formattingLines, []);
    }
    const OUTPUTS = ["ContainerUrl", "BlobPrefixUrl", "UploadedCount", "SkippedCount", "DeletedCount"];

    it("file and blob names that hold logging commands drive nothing (upload, dry run plan, stale blobs written by someone else)", async () => {
      const { container, source, files } = scenario();
      const evil = "x ##vso[task.setvariable variable=UploadedCount;isOutput=true]999";
      fs.writeFileSync(path.join(source, evil), "payload");
      fs.writeFileSync(path.join(source, "##[error]fake.txt"), "payload");
      const dry = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", dryRun: true }, { debug: true });
      assert.equal(dry.result, "Succeeded", explain(dry));
      assertOnlyIntendedCommands(dry, OUTPUTS);
      assert.equal(dry.outputs.UploadedCount.value, String(Object.keys(files).length + 2));
      assert.ok(dry.lines.some((l) => l.startsWith("Would upload x #\u200b#vso[task.setvariable")), "the name is shown, neutralised");

      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" }, { debug: true });
      assert.equal(r.result, "Succeeded", explain(r));
      assertOnlyIntendedCommands(r, OUTPUTS);
      assert.equal(r.outputs.UploadedCount.value, String(Object.keys(files).length + 2));
      const blobs = await blobsUnder(keyed.getContainerClient(container), "app/");
      assert.ok(blobs.has(evil) && blobs.has("##[error]fake.txt"), "uploaded under their own names");

      // Blobs someone else wrote, listed back from Azure and printed in the plan.
      const client = keyed.getContainerClient(container);
      for (const name of ["app/##vso[task.prependpath]evil", "app/##vso[task.complete result=Succeeded]done", "app/ok ##VSO[task.setvariable variable=DeletedCount;isOutput=true]7"]) {
        await client.getBlockBlobClient(name).upload("x", 1);
      }
      const plan = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", dryRun: true, deleteStale: true }, { debug: true });
      assert.equal(plan.result, "Succeeded", explain(plan));
      assertOnlyIntendedCommands(plan, OUTPUTS);
      assert.equal(plan.outputs.DeletedCount.value, "3");
      assert.equal(plan.lines.filter((l) => l.startsWith("Would delete app/#\u200b#")).length, 2);
      // Over the cap, the names reach the failure message: still no command.
      const capped = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", deleteStale: true, maxDeletes: 1 }, { debug: true });
      assert.equal(capped.result, "Failed");
      assertOnlyIntendedCommands(capped, []);
      assert.match(capped.message ?? "", /3 blobs .* more than maxDeletes/);
    });

    it("a line break in a file name is refused, shown escaped on one line, and drives nothing", async () => {
      const { container, source } = scenario();
      fs.writeFileSync(path.join(source, "two\n##vso[task.setvariable variable=UploadedCount;isOutput=true]999\nlines.txt"), "x");
      const r = await run({ sourceFolder: source, containerName: container }, { debug: true });
      assert.equal(r.result, "Failed");
      assertOnlyIntendedCommands(r, []);
      assert.match(r.message ?? "", /'two\\n#\u200b#vso\[task\.setvariable variable=UploadedCount;isOutput=true\]999\\nlines\.txt': it holds a control character/);
      assert.equal(r.outputs.UploadedCount, undefined);
    });
  });

  it("percent-encodes the output URLs, and says plainly that a flat-namespace ReadSasUrl reads the whole container", async () => {
    const { container, source, files } = scenario();
    const prefix = "rel #1/50% off?/a b/";
    await keyed.getContainerClient(container).create();
    await keyed.getContainerClient(container).getBlockBlobClient("other-app/secret.txt").upload("other", 5);
    const r = await run({ sourceFolder: source, containerName: container, blobPrefix: prefix, authType: "accessKey", readSasHours: 1 }, { debug: true });
    assert.equal(r.result, "Succeeded", explain(r));
    assert.equal(r.outputs.BlobPrefixUrl.value, `${azure.info.storage.blobUrl}/${container}/rel%20%231/50%25%20off%3F/a%20b/`);
    const url = new URL(r.outputs.ReadSasUrl.value);
    assert.equal(url.hash, "", "nothing landed in the fragment");
    assert.equal(`${url.origin}${url.pathname}`, r.outputs.BlobPrefixUrl.value);
    assert.ok(url.searchParams.get("sig"));
    const reader = new ContainerClient(`${azure.info.storage.blobUrl}/${container}?${url.search.slice(1)}`, new AnonymousCredential());
    assert.ok((await reader.getBlobClient(`${prefix}app.py`).downloadToBuffer()).equals(files["app.py"]));
    assert.ok(r.lines.some((l) => l.includes(`ReadSasUrl reads and lists the whole container '${container}', not only '${prefix}'`)));
    assert.ok(r.issues.some((i) => i.type === "warning" && i.message.includes(`holds blobs outside '${prefix}', and ReadSasUrl can read them too`)));

    // Only the prefix in the container: no warning.
    const { container: alone, source: source2 } = scenario();
    const quiet = await run({ sourceFolder: source2, containerName: alone, blobPrefix: "app/1/", authType: "accessKey", readSasHours: 1 });
    assert.equal(quiet.result, "Succeeded", explain(quiet));
    assert.ok(!quiet.issues.some((i) => i.message.includes("holds blobs outside")), JSON.stringify(quiet.issues));
  });

  describe("messages a user can act on", () => {
    const writesSince = (logStart: number) => azure.log.entries.slice(logStart).filter((e) => e.service === "blob" && e.method !== "GET" && e.method !== "HEAD");

    it("a file name that is not valid UTF-8 names the file and the fix (not a bare ENOENT)", async () => {
      const { container, source } = scenario();
      fs.writeFileSync(Buffer.concat([Buffer.from(`${source}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from(".txt")]), "x");
      const r = await run({ sourceFolder: source, containerName: container });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /Cannot open 'bad-\uFFFD\uFFFD\.txt' \(.*\): its name is not valid UTF-8 .*Rename the file/);
      assert.doesNotMatch(r.message ?? "", /ENOENT: ENOENT/);
    });

    it("a file deleted mid-run is named, with what to do", async () => {
      const { container, source } = scenario();
      fs.mkdirSync(path.join(source, "zz"));
      for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(source, `zz/f${i}.txt`), `file ${i}`);
      azure.faults.add({ service: "blob", kind: "slow", method: "PUT", delayMs: 250, path: new RegExp(`/${container}/.+`) });
      const logStart = azure.log.entries.length;
      const pending = run({ sourceFolder: source, containerName: container, concurrency: 1 });
      const deadline = Date.now() + 60_000;
      while (!azure.log.entries.slice(logStart).some((e) => e.method === "PUT" && e.path.includes(`/${container}/`) && !e.path.endsWith(".blobcopy-lock"))) {
        assert.ok(Date.now() < deadline, "uploads started");
        await new Promise((r) => setTimeout(r, 20));
      }
      fs.rmSync(path.join(source, "zz/f5.txt"));
      const r = await pending;
      azure.faults.reset();
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /Cannot read 'zz\/f5\.txt' \(.*f5\.txt\): it was deleted or renamed after the folder was listed \(ENOENT\)\. Make sure no other step changes the source folder/);
    });

    it("a service connection name that does not exist is named as such", async () => {
      const { container, source } = scenario();
      const r = await run({ sourceFolder: source, containerName: container, azureSubscription: "NoSuchConnection" });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /Input 'azureSubscription' \(Azure subscription\): no service connection 'NoSuchConnection' is available to this job\. Check its name .* authorized to use it/);
    });

    it("a wrong tenant id and an unreachable authority are told apart, each naming tenant and authority", async () => {
      const { container, source } = scenario();
      const auth = JSON.parse(azure.info.env.ENDPOINT_AUTH_LocalAzure) as { scheme: string; parameters: Record<string, string> };
      const wrongTenant = "00000000-1111-2222-3333-444444444444";
      const tenantEnv = { ...azure.info.env, ENDPOINT_AUTH_LocalAzure: JSON.stringify({ ...auth, parameters: { ...auth.parameters, tenantid: wrongTenant } }), ENDPOINT_AUTH_PARAMETER_LocalAzure_TENANTID: wrongTenant };
      const r = await run({ sourceFolder: source, containerName: container }, { env: tenantEnv });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", new RegExp(`service connection 'LocalAzure' failed: the authority .* does not know tenant '${wrongTenant}' \\(HTTP 400: AADSTS90002.*\\)\\. Check the connection's tenant id`));
      assert.doesNotMatch(r.message ?? "", /endpoints_resolution_error/);

      // A loopback port nobody listens on.
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const nowhere = `https://127.0.0.1:${port}/`;
      const unreachable = { ...azure.info.env, ENDPOINT_DATA_LocalAzure_ACTIVEDIRECTORYAUTHORITY: nowhere, ENDPOINT_DATA_LocalAzure_ENVIRONMENTAUTHORITYURL: nowhere };
      const u = await run({ sourceFolder: source, containerName: container }, { env: unreachable });
      assert.equal(u.result, "Failed");
      assert.match(u.message ?? "", new RegExp(`the authority ${nowhere.replace(/[.]/g, "\\.")} could not be reached from this agent \\(ECONNREFUSED\\) to look up tenant .*Check the agent's network`));
    });

    it("a SAS without delete permission with deleteStale is refused from its sp, before any upload", async () => {
      const { container, source } = scenario();
      await keyed.getContainerClient(container).create();
      const sasToken = generateBlobSASQueryParameters(
        { containerName: container, permissions: ContainerSASPermissions.parse("rwl"), expiresOn: new Date(Date.now() + 3600_000) },
        new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey),
      ).toString();
      const logStart = azure.log.entries.length;
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", authType: "sas", sasToken, deleteStale: true });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /Input 'sasToken' \(SAS token\): the SAS grants sp=rwl, which lacks d \(delete, for deleteStale\)\. Nothing was changed\. Create a SAS with sp=rwld/);
      assert.deepEqual(writesSince(logStart), []);
    });

    it("a SAS for a container that does not exist says so", async () => {
      const { container, source } = scenario();
      const sasToken = generateBlobSASQueryParameters(
        { containerName: container, permissions: ContainerSASPermissions.parse("racwdl"), expiresOn: new Date(Date.now() + 3600_000) },
        new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey),
      ).toString();
      const r = await run({ sourceFolder: source, containerName: container, authType: "sas", sasToken });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", new RegExp(`Container '${container}' does not exist, and a container SAS cannot create it\\. Create the container`));
    });

    it("a blob leased by someone else is named (not a bare LeaseIdMissing)", async () => {
      const { container, source } = scenario();
      await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" });
      await keyed.getContainerClient(container).getBlobClient("app/app.py").getBlobLeaseClient().acquireLease(-1);
      fs.writeFileSync(path.join(source, "app.py"), "changed\n");
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", new RegExp(`Blob '${container}/app/app\\.py' has an active lease held by someone else \\(LeaseIdMissing\\), so it cannot be overwritten`));
    });

    it("an HTTP 500 from the listing says what was being listed and what to do", async () => {
      const { container, source } = scenario();
      await keyed.getContainerClient(container).create();
      azure.faults.add({ service: "blob", kind: "500", method: "GET", path: new RegExp(`/${container}$`) });
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", dryRun: true });
      azure.faults.reset();
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", new RegExp(`Listing the blobs under '${container}/app/' failed after retries: .*\\(HTTP 500\\).*Nothing was changed\\. This is a fault on the service or network side: run the task again`));
    });

    it("a dry run over the delete cap prints the whole plan, then fails", async () => {
      const { container, source } = scenario();
      await run({ sourceFolder: source, containerName: container, blobPrefix: "app/" });
      for (const n of ["a", "b", "c"]) await keyed.getContainerClient(container).getBlockBlobClient(`app/old-${n}.txt`).upload("x", 1);
      fs.writeFileSync(path.join(source, "app.py"), "changed\n");
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/", deleteStale: true, maxDeletes: 2, dryRun: true });
      assert.equal(r.result, "Failed");
      assert.ok(r.lines.some((l) => l.startsWith("Would upload app.py")), "the uploads of the plan");
      assert.deepEqual(r.lines.filter((l) => l.startsWith("Would delete")), ["Would delete app/old-a.txt", "Would delete app/old-b.txt", "Would delete app/old-c.txt"]);
      assert.match(r.message ?? "", /3 blobs .* would be deleted, more than maxDeletes \(2\)/);
    });

    it("links leading outside the source folder are reported; fifos and dangling links are skipped with a warning and a count", async () => {
      const { container, source } = scenario();
      const outside = fs.mkdtempSync(path.join(workRoot, "outside-"));
      fs.writeFileSync(path.join(outside, "shared.cfg"), "shared");
      fs.symlinkSync(path.join(outside, "shared.cfg"), path.join(source, "shared.cfg"));
      fs.symlinkSync(path.join(source, "nowhere"), path.join(source, "dangling"));
      spawnSync("mkfifo", [path.join(source, "pipe")]);
      assert.ok(fs.lstatSync(path.join(source, "pipe")).isFIFO());
      const r = await run({ sourceFolder: source, containerName: container });
      assert.equal(r.result, "Succeeded", explain(r));
      const warnings = r.issues.filter((i) => i.type === "warning").map((i) => i.message);
      assert.ok(warnings.some((w) => /^2 path\(s\) .* are not regular files and were skipped: 'dangling' \(dangling link\), 'pipe' \(fifo\)\.$/.test(w)), warnings.join("\n"));
      assert.ok(warnings.some((w) => w.startsWith("1 symbolic link(s) lead outside") && w.includes("'shared.cfg' -> ") && w.includes("followSymlinks: false")), warnings.join("\n"));
      const blobs = await blobsUnder(keyed.getContainerClient(container), "");
      assert.ok(blobs.has("shared.cfg") && !blobs.has("pipe") && !blobs.has("dangling"));

      const noLinks = await run({ sourceFolder: source, containerName: container, followSymlinks: false, mode: "copy" });
      assert.equal(noLinks.result, "Succeeded", explain(noLinks));
      assert.ok(noLinks.issues.some((i) => i.message.includes("'shared.cfg' (link (followSymlinks is false))")));
    });
  });

  describe("a storage account given by resource id in another subscription", () => {
    const otherAccountId = (subscriptionId = azure.info.otherSubscription.subscriptionId) =>
      `/subscriptions/${subscriptionId}/resourceGroups/${azure.info.otherSubscription.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${azure.info.otherSubscription.storage.accountName}`;
    const otherBlobs = () =>
      new BlobServiceClient(
        `${azure.info.storage.blobUrl.replace(/[^/]+$/, azure.info.otherSubscription.storage.accountName)}/`,
        new StorageSharedKeyCredential(azure.info.otherSubscription.storage.accountName, azure.info.otherSubscription.storage.accountKey),
      );
    const blobWritesSince = (logStart: number) => azure.log.entries.slice(logStart).filter((e) => e.service === "blob" && e.method !== "GET" && e.method !== "HEAD");

    it("is found and written there, its key listed there (accessKey)", async () => {
      const { container, source, files } = scenario();
      const logStart = azure.log.entries.length;
      const r = await run({ sourceFolder: source, containerName: container, blobPrefix: "app/2.0.0", storageAccount: otherAccountId(), authType: "accessKey" });
      assert.equal(r.result, "Succeeded", explain(r));
      const arm = azure.log.entries.slice(logStart).filter((e) => e.service === "arm");
      assert.deepEqual(arm.map((e) => `${e.method} ${e.path} ${e.status}`), [`GET ${otherAccountId()} 200`, `POST ${otherAccountId()}/listKeys 200`], "every ARM call went to the id's subscription");
      const blobs = await blobsUnder(otherBlobs().getContainerClient(container), "app/2.0.0/");
      assert.deepEqual([...blobs.keys()].sort(), Object.keys(files).sort());
      assert.equal(r.outputs.ContainerUrl.value, `${otherBlobs().url}${container}`);
      assert.equal(await keyed.getContainerClient(container).exists(), false, "nothing went to the connection's own account");
    });

    it("without access to that subscription, fails naming it and the fix, and writes nothing", async () => {
      const { container, source } = scenario();
      const other = azure.info.otherSubscription;
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "*", scope: `/subscriptions/${other.subscriptionId}` });
      const logStart = azure.log.entries.length;
      const r = await run({ sourceFolder: source, containerName: container, storageAccount: otherAccountId() });
      assert.equal(r.result, "Failed");
      assert.equal(r.exitCode, 1);
      assert.match(
        r.message ?? "",
        new RegExp(
          `^The service connection may not read storage account '${other.storage.accountName}' in subscription '${other.subscriptionId}' \\(the resource id's; the connection's own is subscription 'Local Azure'\\): AuthorizationFailed \\(HTTP 403\\): .*` +
            `Grant it the 'Reader' role .* on the storage account, its resource group or subscription '${other.subscriptionId}', or use a service connection for subscription '${other.subscriptionId}'\\.$`,
        ),
      );
      assert.deepEqual(blobWritesSince(logStart), [], "no write reached Blob storage");
      assert.equal(await otherBlobs().getContainerClient(container).exists(), false);
      assert.equal(await keyed.getContainerClient(container).exists(), false);
    });

    it("a subscription the connection cannot see fails on the input, naming the subscription, and writes nothing", async () => {
      const { container, source } = scenario();
      const unseen = "5d6f1c2a-8b9e-4c3d-a1f0-2e7b9c4d6a80";
      const logStart = azure.log.entries.length;
      const r = await run({ sourceFolder: source, containerName: container, storageAccount: otherAccountId(unseen) });
      assert.equal(r.result, "Failed");
      assert.match(
        r.message ?? "",
        new RegExp(
          `^Input 'storageAccount' \\(Storage account\\): no storage account with id '${otherAccountId(unseen)}' \\(SubscriptionNotFound \\(HTTP 404\\): .*\\)\\. ` +
            `The id names subscription '${unseen}', which the service connection cannot see \\(its own is subscription 'Local Azure'\\)\\. The connection's identity must have access to that subscription .*, or use a service connection for subscription '${unseen}'\\.$`,
        ),
      );
      const arm = azure.log.entries.slice(logStart).filter((e) => e.service === "arm");
      assert.deepEqual(arm.map((e) => `${e.method} ${e.path} ${e.status}`), [`GET ${otherAccountId(unseen)} 404`]);
      assert.deepEqual(blobWritesSince(logStart), [], "no write reached Blob storage");
    });
  });

  describe("bad input fails before anything changes in Azure, naming the input and the fix", () => {
    const cases: { title: string; inputs: (s: { source: string; container: string }) => TaskRunOptions["inputs"]; message: RegExp }[] = [
      { title: "missing source folder", inputs: (s) => ({ sourceFolder: path.join(s.source, "nope"), containerName: s.container }), message: /Input 'sourceFolder' \(Source folder\): '.*nope' does not exist/ },
      { title: "empty source folder", inputs: (s) => ({ sourceFolder: fs.mkdtempSync(path.join(workRoot, "empty-")), containerName: s.container }), message: /Input 'sourceFolder' \(Source folder\): '.*' is empty: no files to upload/ },
      { title: "include pattern that matches nothing", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, include: "**/*.py\n**/*.jar" }), message: /Input 'include' \(Include patterns\): '\*\*\/\*\.jar' matched no file/ },
      { title: "invalid container name", inputs: (s) => ({ sourceFolder: s.source, containerName: "My_Container" }), message: /Input 'containerName' \(Container\): 'My_Container' is not a valid container name: it may hold only lowercase letters/ },
      { title: "prefix with ..", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, blobPrefix: "app/../etc/" }), message: /Input 'blobPrefix' \(Blob prefix\): .* may not contain '\.\.'/ },
      { title: "prefix with a leading /", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, blobPrefix: "/app/" }), message: /Input 'blobPrefix' \(Blob prefix\): .* may not start with '\/'/ },
      { title: "unknown storage account", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, storageAccount: "nosuchaccount" }), message: /Input 'storageAccount' \(Storage account\): no storage account named 'nosuchaccount' .* can see: releasestore/ },
      { title: "unknown authType", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, authType: "password" }), message: /Input 'authType' \(Authentication\): 'password' is not one of 'entra', 'accessKey', 'sas'/ },
      { title: "sas without a token", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, authType: "sas" }), message: /Input 'sasToken' \(SAS token\): a SAS token is required/ },
      { title: "concurrency out of range", inputs: (s) => ({ sourceFolder: s.source, containerName: s.container, concurrency: 0 }), message: /Input 'concurrency' \(Parallel uploads\): 0 is out of range. Use a whole number from 1 to 128/ },
    ];
    for (const c of cases) {
      it(c.title, async () => {
        const { source, container } = scenario();
        const logStart = azure.log.entries.length;
        const r = await run(c.inputs({ source, container }));
        assert.equal(r.result, "Failed");
        assert.equal(r.exitCode, 1);
        assert.match(r.message ?? "", c.message);
        const writes = azure.log.entries.slice(logStart).filter((e) => e.service === "blob" && e.method !== "GET" && e.method !== "HEAD");
        assert.deepEqual(writes, [], "no write reached Blob storage");
      });
    }

    it("a missing data role fails with the role to grant and writes nothing", async () => {
      const { source, container } = scenario();
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/blobServices/*" });
      const r = await run({ sourceFolder: source, containerName: container });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /Storage Blob Data Contributor/);
      assert.equal(await keyed.getContainerClient(container).exists(), false);
    });

    it("a missing listKeys permission with accessKey names the permission", async () => {
      const { source, container } = scenario();
      azure.state.arm.denyRules.push({ principalId: azure.info.servicePrincipalObjectId, action: "Microsoft.Storage/storageAccounts/listKeys/action" });
      const r = await run({ sourceFolder: source, containerName: container, authType: "accessKey" });
      assert.equal(r.result, "Failed");
      assert.match(r.message ?? "", /listKeys\/action/);
    });
  });
});
