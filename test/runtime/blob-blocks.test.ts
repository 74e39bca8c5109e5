/**
 * The runtime's Blob building blocks: bounded concurrency, naming rules, MD5,
 * the MD5-carrying upload (on any BlockBlobClient) and SAS construction.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlobServiceClient, BlockBlobClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../fixture";
import { localCredential } from "../harness/azure-test";
import { forEachLimited } from "../../runtime/concurrency";
import { blobNameProblem, containerNameProblem, nameFiles, normaliseBlobPrefix } from "../../runtime/blob-naming";
import { contentMd5Base64, md5Of, md5OfFile } from "../../runtime/blob-md5";
import { uploadWithMd5 } from "../../runtime/blob-upload";
import { createReadSas, missingSasPermissions, parseSasToken } from "../../runtime/blob-sas";
import { blobPipeline, blockBlobClientFromUrl } from "../../runtime/blob-retry";
import { CancelledError } from "../../runtime/errors";
import type { LocalAzure } from "../local-azure";

const md5 = (b: Buffer) => crypto.createHash("md5").update(b).digest("base64");

describe("runtime: bounded concurrency", () => {
  it("keeps at most `limit` in flight, runs every item once, and stops scheduling after a failure", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([...Array(20).keys()], 3, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      seen.push(i);
      running--;
    });
    assert.equal(peak, 3);
    assert.deepEqual(seen.sort((a, b) => a - b), [...Array(20).keys()]);

    const started: number[] = [];
    await assert.rejects(
      forEachLimited([...Array(50).keys()], 2, async (i) => {
        started.push(i);
        if (i === 3) throw new Error("boom 3");
        await new Promise((r) => setTimeout(r, 1));
      }),
      /boom 3/,
    );
    assert.ok(started.length < 10, `stopped scheduling (${started.length} started)`);
  });

  it("a cancelled signal stops it with CancelledError", async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(forEachLimited([1, 2], 2, async () => undefined, controller.signal), CancelledError);
  });
});

describe("runtime: Blob naming rules", () => {
  it("container names", () => {
    assert.equal(containerNameProblem("apps"), undefined);
    assert.match(containerNameProblem("ab") ?? "", /3 to 63/);
    assert.match(containerNameProblem("My_Apps") ?? "", /lowercase/);
    assert.match(containerNameProblem("a--b") ?? "", /two hyphens/);
  });

  it("prefixes are normalised to end in one '/', and refused with a reason", () => {
    assert.deepEqual(normaliseBlobPrefix(" app/1.0 "), { prefix: "app/1.0/" });
    assert.deepEqual(normaliseBlobPrefix(""), { prefix: "" });
    for (const bad of ["/app", "a\\b", "a/../b", "a//b", "a./b", "a /b", "a\nb"]) assert.ok("problem" in normaliseBlobPrefix(bad), bad);
  });

  it("blob names the service refuses or rewrites are refused, each with its reason", () => {
    assert.equal(blobNameProblem("app/lib/util.py"), undefined);
    assert.match(blobNameProblem("back\\slash.txt") ?? "", /backslash/);
    assert.match(blobNameProblem("dir./x") ?? "", /dot or a space/);
    assert.match(blobNameProblem("x/name ") ?? "", /dot or a space/);
    assert.match(blobNameProblem("line\nbreak") ?? "", /control character/);
    assert.match(blobNameProblem("tab\there") ?? "", /control character/);
    assert.match(blobNameProblem("a".repeat(1025)) ?? "", /1025 characters/);
    assert.equal(blobNameProblem("a".repeat(1024)), undefined);
    assert.match(blobNameProblem(Array(255).fill("d").join("/")) ?? "", /255 path segments/);
    assert.equal(blobNameProblem(Array(254).fill("d").join("/")), undefined);
    const checked = nameFiles("app/", [{ relativePath: "ok.txt" }, { relativePath: "bad\\x" }, { relativePath: "end." }]);
    assert.deepEqual(checked.named.map((n) => n.name), ["ok.txt"]);
    assert.deepEqual(checked.refused.map((r) => r.relativePath), ["bad\\x", "end."]);
    // The prefix counts towards the length.
    assert.equal(nameFiles("p".repeat(1000) + "/", [{ relativePath: "x".repeat(30) }]).refused.length, 1);
  });
});

describe("runtime: MD5 and the MD5-carrying upload", function () {
  this.timeout(60_000);
  let azure: LocalAzure;
  let keyed: BlobServiceClient;
  let sharedKey: StorageSharedKeyCredential;
  let dir: string;
  const container = `blocks-${crypto.randomBytes(3).toString("hex")}`;
  before(async () => {
    azure = await localAzure();
    sharedKey = new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey);
    keyed = new BlobServiceClient(`${azure.info.storage.blobUrl}/`, blobPipeline(sharedKey));
    await keyed.getContainerClient(container).create();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "blob-blocks-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(resetLocalAzure);

  it("hashes buffers and files alike, and reads a listing's MD5", async () => {
    const data = crypto.randomBytes(3 * 1024 * 1024 + 7);
    const file = path.join(dir, "hash.bin");
    fs.writeFileSync(file, data);
    let counted = 0;
    assert.equal((await md5OfFile(file, (n) => (counted += n))).toString("base64"), md5(data));
    assert.equal(counted, data.length);
    assert.equal(md5Of(data).toString("base64"), md5(data));
    assert.equal(contentMd5Base64(new Uint8Array()), undefined);
  });

  const clients: Record<string, () => BlockBlobClient> = {
    "a client opened from a bare URL with a SAS": () => {
      const sas = generateBlobSASQueryParameters({ containerName: container, permissions: ContainerSASPermissions.parse("rcw"), expiresOn: new Date(Date.now() + 3600_000) }, sharedKey).toString();
      return blockBlobClientFromUrl(`${azure.info.storage.blobUrl}/${container}/bare/${crypto.randomBytes(4).toString("hex")}.bin?${sas}`);
    },
    "a client with a token credential": () => new BlockBlobClient(`${azure.info.storage.blobUrl}/${container}/entra/${crypto.randomBytes(4).toString("hex")}.bin`, blobPipeline(localCredential(azure))),
    "a client the caller built without the runtime's pipeline": () => new BlockBlobClient(`${azure.info.storage.blobUrl}/${container}/plain/${crypto.randomBytes(4).toString("hex")}.bin`, sharedKey),
  };
  for (const [title, open] of Object.entries(clients)) {
    it(`uploads a single-shot and a multi-block body with the right Content-MD5 through ${title}`, async () => {
      for (const size of [1000, 2 * 1024 * 1024 + 123]) {
        const blob = open();
        const data = crypto.randomBytes(size);
        const file = path.join(dir, `up-${size}.bin`);
        fs.writeFileSync(file, data);
        let sent = 0;
        const result = await uploadWithMd5(blob, { file }, { blockSizeBytes: 1024 * 1024, contentType: "application/x-test", onBytes: (n) => (sent += n) });
        assert.equal(result.md5.toString("base64"), md5(data));
        assert.equal(sent, size);
        const props = await keyed.getContainerClient(container).getBlobClient(blob.name).getProperties();
        assert.equal(contentMd5Base64(props.contentMD5), md5(data), `Content-MD5 of a ${size}-byte blob`);
        assert.equal(props.contentType, "application/x-test");
        const back = await keyed.getContainerClient(container).getBlobClient(blob.name).downloadToBuffer();
        assert.ok(back.equals(data));
      }
    });
  }

  it("a single-shot file changed after it was hashed is sent again, so its Content-MD5 matches", async () => {
    const file = path.join(dir, "changed.bin");
    const before = crypto.randomBytes(200_000);
    fs.writeFileSync(file, before);
    const staleMd5 = md5Of(before);
    const after = crypto.randomBytes(200_000);
    fs.writeFileSync(file, after); // same size, new bytes, after the caller hashed it
    const blob = keyed.getContainerClient(container).getBlockBlobClient("changed.bin");
    const result = await uploadWithMd5(blob, { file, md5: staleMd5 }, { blockSizeBytes: 1024 * 1024 });
    assert.equal(result.md5.toString("base64"), md5(after), "the MD5 returned is that of what the blob holds");
    assert.equal(contentMd5Base64((await blob.getProperties()).contentMD5), md5(after));
    assert.ok((await blob.downloadToBuffer()).equals(after));
  });

  it("a file that grows while it is read gets the MD5 of what was sent", async () => {
    const file = path.join(dir, "growing.bin");
    fs.writeFileSync(file, crypto.randomBytes(3 * 1024 * 1024));
    const blob = keyed.getContainerClient(container).getBlockBlobClient("growing.bin");
    let appended = false;
    await uploadWithMd5(blob, { file }, {
      blockSizeBytes: 1024 * 1024,
      blockConcurrency: 1,
      onBytes: () => {
        if (!appended) {
          appended = true;
          fs.appendFileSync(file, crypto.randomBytes(500_000));
        }
      },
    });
    const props = await blob.getProperties();
    const content = await blob.downloadToBuffer();
    assert.equal(contentMd5Base64(props.contentMD5), md5(content), "the blob's MD5 matches its content");
    assert.equal(content.length, fs.statSync(file).size);
  });
});

describe("runtime: SAS construction", () => {
  const sharedKey = new StorageSharedKeyCredential("acct", Buffer.from("k".repeat(32)).toString("base64"));
  const signer = { accountName: "acct", sharedKey, service: { getUserDelegationKey: () => Promise.reject(new Error("not with a key")) } };
  const now = new Date("2026-01-01T00:00:00Z");

  it("flat namespace: a container SAS (it reads the whole container)", async () => {
    const sas = await createReadSas(signer, { containerName: "apps", prefix: "app/1.0/", hours: 2, hierarchicalNamespace: false, now });
    const q = new URLSearchParams(sas.query);
    assert.equal(sas.scope, "container");
    assert.equal(q.get("sr"), "c");
    assert.equal(q.get("sp"), "rl");
    assert.equal(q.get("spr"), "https");
    assert.equal(q.get("se"), "2026-01-01T02:00:00Z");
    assert.equal(q.get("sdd"), null);
  });

  it("hierarchical namespace: a directory SAS scoped to the prefix, with its depth", async () => {
    const sas = await createReadSas(signer, { containerName: "apps", prefix: "app/1.0/", hours: 2, hierarchicalNamespace: true, now });
    const q = new URLSearchParams(sas.query);
    assert.equal(sas.scope, "directory");
    assert.equal(q.get("sr"), "d");
    assert.equal(q.get("sdd"), "2");
    assert.equal(q.get("sp"), "rl");
    assert.ok(q.get("sig"));
    // An empty prefix is the whole container either way.
    assert.equal((await createReadSas(signer, { containerName: "apps", prefix: "", hours: 1, hierarchicalNamespace: true, now })).scope, "container");
  });

  it("user delegation: signed with the key Entra hands out", async () => {
    const key = { signedObjectId: "oid-1", signedTenantId: "tid-1", signedStartsOn: now, signedExpiresOn: new Date(now.getTime() + 3600_000), signedService: "b", signedVersion: "2025-05-05", value: Buffer.from("v".repeat(32)).toString("base64") };
    const sas = await createReadSas({ accountName: "acct", service: { getUserDelegationKey: async () => key } }, { containerName: "apps", prefix: "a/", hours: 1, hierarchicalNamespace: true, now });
    const q = new URLSearchParams(sas.query);
    assert.equal(q.get("skoid"), "oid-1");
    assert.equal(q.get("sr"), "d");
  });

  it("reads a token's permissions", () => {
    const info = parseSasToken("?sv=2025-05-05&sr=c&sp=rwl&se=2026-01-01T00:00:00Z&sig=abc");
    assert.equal(info.permissions, "rwl");
    assert.equal(info.resource, "c");
    assert.deepEqual(missingSasPermissions(info, "rwld"), ["d"]);
    assert.equal(info.expiresOn?.toISOString(), "2026-01-01T00:00:00.000Z");
  });
});
