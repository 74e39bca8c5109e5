import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import JSZip from "jszip";
import { CancelledError } from "../../runtime/errors";
import { node24Runtime } from "../node-runtimes";
import { skipUnavailable } from "../shared-files";
import { selectFiles } from "../../runtime/files";
import { crc32, crc32Portable, inspectZip, writeZip, zipFiles, zipFolder, ZipError, type ZipProgress } from "../../runtime/zip";

/** Info-ZIP's zipinfo/unzip, when the machine has them (Debian's `zip`/`unzip` packages). */
const hasUnzip = spawnSync("unzip", ["-v"], { stdio: "ignore" }).status === 0;

function write(root: string, rel: string, content: string | Buffer, mode = 0o644): void {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  fs.chmodSync(abs, mode);
}

/** Entries of the central directory as a reader sees them: name, method, flags, version made by, mode, DOS date/time, extra length. */
function centralEntries(zip: Buffer): { name: string; method: number; flags: number; madeBy: number; mode: number; time: number; date: number; extra: number }[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  const count = zip.readUInt16LE(end + 10);
  const result = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    result.push({
      name: zip.subarray(at + 46, at + 46 + nameLength).toString("utf8"),
      madeBy: zip.readUInt16LE(at + 4),
      flags: zip.readUInt16LE(at + 8),
      method: zip.readUInt16LE(at + 10),
      time: zip.readUInt16LE(at + 12),
      date: zip.readUInt16LE(at + 14),
      mode: zip.readUInt32LE(at + 38) >>> 16,
      extra,
    });
    at += 46 + nameLength + extra + comment;
  }
  return result;
}

describe("runtime: deterministic zip", function () {
  this.timeout(60_000);
  let root: string;
  let work: string;
  let src: string;
  const random = (n: number, seed: string) => {
    const cipher = crypto.createCipheriv("aes-256-ctr", crypto.createHash("sha256").update(seed).digest(), Buffer.alloc(16));
    return cipher.update(Buffer.alloc(n));
  };
  const text = (n: number) => Buffer.from("def main():\n    print('hello, batch')\n".repeat(Math.ceil(n / 40)).slice(0, n));

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "zip-"));
    src = path.join(root, "app");
    work = path.join(root, "out");
    fs.mkdirSync(work);
    write(src, "run.sh", "#!/bin/sh\nexec python3 app.py \"$@\"\n", 0o755);
    write(src, "app.py", text(50_000));
    write(src, "empty.cfg", "");
    write(src, "lib/deep/er/module.py", text(3000), 0o600);
    write(src, "lib/tool", random(2000, "tool"), 0o700);
    write(src, "lib-extra/x.txt", "x");
    write(src, "données/résumé ✓.txt", "unicode name");
    write(src, "models/weights.bin", random(600_000, "weights"));
    write(src, "models/bundle.whl", text(40_000));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("gives byte-identical archives for the same folder, whatever the files' times and the window", async () => {
    const first = await zipFolder(src, path.join(work, "a.zip"));
    // New modification times and a different window / parallelism must not change a byte.
    for (const rel of ["app.py", "run.sh", "models/weights.bin"]) fs.utimesSync(path.join(src, rel), new Date(2030, 1, 2), new Date(2031, 3, 4));
    const second = await zipFolder(src, path.join(work, "b.zip"), { windowBytes: 1, windowEntries: 1 });
    assert.equal(second.sha256, first.sha256);
    assert.ok(fs.readFileSync(path.join(work, "a.zip")).equals(fs.readFileSync(path.join(work, "b.zip"))));
    const bytes = fs.readFileSync(path.join(work, "a.zip"));
    assert.equal(first.size, bytes.length);
    assert.equal(first.sha256, crypto.createHash("sha256").update(bytes).digest("hex"));
    assert.equal(first.md5, crypto.createHash("md5").update(bytes).digest("base64"));
    assert.equal(first.entries, 9);
    assert.ok(!fs.existsSync(path.join(work, "a.zip.partial")));
    // A selection made beforehand gives the same archive.
    const selected = await zipFiles((await selectFiles(src, ["**"], [])).files, path.join(work, "c.zip"));
    assert.equal(selected.sha256, first.sha256);
  });

  it("gives the same bytes on Node 24 (the tasks' other handler, with its own zlib)", async function () {
    const node24 = node24Runtime();
    skipUnavailable(this, node24.found ? { found: true, path: node24.path } : node24);
    assert.ok(node24.found);
    write(src, "models/big.txt", text(9 * 1024 * 1024)); // streamed, with a data descriptor
    const here = await zipFolder(src, path.join(work, "here.zip"));
    const child = path.join(root, "zip-child.js");
    await build({
      stdin: {
        contents: 'import { zipFolder } from "./runtime/zip"; zipFolder(process.argv[2], process.argv[3]).then((r) => console.log(JSON.stringify(r)));',
        resolveDir: path.join(__dirname, "..", ".."),
        loader: "ts",
      },
      outfile: child,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      logLevel: "warning",
    });
    const run = spawnSync(node24.path, [child, src, path.join(work, "there.zip")], { encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const there = JSON.parse(run.stdout) as { sha256: string; zlib: string };
    assert.notEqual(there.zlib, process.versions.zlib, "a different zlib build");
    assert.equal(there.sha256, here.sha256);
  });

  it("sorts entries bytewise by name, with fixed DOS time, Unix 'made by', no extra fields and the UTF-8 flag only where needed", async () => {
    const zip = fs.readFileSync((await zipFolder(src, path.join(work, "a.zip"))).path);
    const entries = centralEntries(zip);
    // '-' (0x2d) sorts before '/' (0x2f), and 'é' (0xc3 0xa9) after every ASCII letter.
    assert.deepEqual(entries.map((e) => e.name), [
      "app.py",
      "données/résumé ✓.txt",
      "empty.cfg",
      "lib-extra/x.txt",
      "lib/deep/er/module.py",
      "lib/tool",
      "models/bundle.whl",
      "models/weights.bin",
      "run.sh",
    ]);
    for (const e of entries) {
      assert.equal(e.madeBy >> 8, 3, `${e.name}: made by Unix`);
      assert.equal(e.date, 0x21, `${e.name}: 1980-01-01`);
      assert.equal(e.time, 0);
      assert.equal(e.extra, 0, `${e.name}: no extra fields`);
      assert.equal(Boolean(e.flags & 0x800), e.name.startsWith("données"), `${e.name}: UTF-8 flag`);
    }
  });

  it("keeps execute bits as 0755 and everything else as 0644 (jszip and zipinfo agree)", async () => {
    const result = await zipFolder(src, path.join(work, "a.zip"));
    const zip = await JSZip.loadAsync(fs.readFileSync(result.path));
    const modes = Object.fromEntries(Object.values(zip.files).map((f) => [f.name, (f.unixPermissions as number) & 0o777]));
    assert.equal(modes["run.sh"], 0o755);
    assert.equal(modes["lib/tool"], 0o755);
    assert.equal(modes["app.py"], 0o644);
    assert.equal(modes["lib/deep/er/module.py"], 0o644, "0600 is widened to 0644: owner-only bits are the agent's, not the app's");
    assert.equal((zip.files["run.sh"].unixPermissions as number) & 0o170000, 0o100000, "a regular file");
    if (hasUnzip) {
      const listing = spawnSync("zipinfo", [result.path], { encoding: "utf8" });
      assert.equal(listing.status, 0, listing.stderr);
      assert.match(listing.stdout, /^-rwxr-xr-x .* run\.sh$/m);
      assert.match(listing.stdout, /^-rwxr-xr-x .* lib\/tool$/m);
      assert.match(listing.stdout, /^-rw-r--r-- .* app\.py$/m);
      assert.match(listing.stdout, /unx/);
      const check = spawnSync("unzip", ["-tq", result.path], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      // Extracted on Linux, the script can run.
      const into = path.join(root, "extracted");
      assert.equal(spawnSync("unzip", ["-q", result.path, "-d", into]).status, 0);
      assert.equal(fs.statSync(path.join(into, "run.sh")).mode & 0o111, 0o111);
      assert.equal(fs.readFileSync(path.join(into, "données/résumé ✓.txt"), "utf8"), "unicode name");
    }
  });

  it("round-trips every file's content, empty files and nested folders included", async () => {
    const result = await zipFolder(src, path.join(work, "a.zip"));
    const zip = await JSZip.loadAsync(fs.readFileSync(result.path));
    const files = Object.values(zip.files).filter((f) => !f.dir);
    assert.equal(files.length, 9);
    for (const f of files) {
      const content = await f.async("nodebuffer");
      assert.ok(content.equals(fs.readFileSync(path.join(src, f.name))), `${f.name} round-trips`);
    }
    assert.equal((await zip.files["empty.cfg"].async("nodebuffer")).length, 0);
  });

  it("deflates what shrinks and stores empty files, compressed formats and incompressible bytes", async () => {
    const result = await zipFolder(src, path.join(work, "a.zip"));
    const methods = Object.fromEntries(centralEntries(fs.readFileSync(result.path)).map((e) => [e.name, e.method]));
    assert.equal(methods["app.py"], 8, "text deflates");
    assert.equal(methods["lib/deep/er/module.py"], 8);
    assert.equal(methods["empty.cfg"], 0, "empty: stored");
    assert.equal(methods["models/bundle.whl"], 0, "a wheel is a zip already: stored by its extension");
    assert.equal(methods["models/weights.bin"], 0, "random bytes (sampled): stored");
    assert.equal(methods["lib/tool"], 0, "small random file: deflated, did not shrink, stored");
    assert.equal(methods["run.sh"], 0, "35 bytes do not shrink: stored");
    // Stored: empty.cfg, bundle.whl, weights.bin, tool, and three files too small to shrink.
    assert.equal(result.stored, 7);
    assert.equal(result.deflated, 2);
    assert.ok(result.size < result.sourceBytes, "the archive is smaller than its files");
  });

  it("streams files above the threshold with data descriptors, and can write ZIP64 records that readers accept", async () => {
    write(src, "models/big.txt", text(3 * 1024 * 1024));
    const inMemory = await zipFolder(src, path.join(work, "a.zip"));
    const streamed = await zipFolder(src, path.join(work, "b.zip"), { streamAbove: 1024 });
    const zip64 = await zipFolder(src, path.join(work, "c.zip"), { streamAbove: 1024, zip64: "always" });
    const entries = centralEntries(fs.readFileSync(streamed.path));
    assert.ok(entries.find((e) => e.name === "models/big.txt")!.flags & 0x8, "streamed entry has a data descriptor");
    assert.equal(entries.find((e) => e.name === "models/big.txt")!.method, 8, "streamed text still deflates");
    assert.equal(entries.find((e) => e.name === "models/weights.bin")!.method, 0, "streamed random bytes: stored (sampled)");
    assert.ok(!(centralEntries(fs.readFileSync(inMemory.path)).find((e) => e.name === "app.py")!.flags & 0x8));
    for (const result of [streamed, zip64]) {
      const zip = await JSZip.loadAsync(fs.readFileSync(result.path));
      for (const rel of ["models/big.txt", "models/weights.bin", "run.sh", "empty.cfg"]) {
        assert.ok((await zip.files[rel].async("nodebuffer")).equals(fs.readFileSync(path.join(src, rel))), `${rel} in ${path.basename(result.path)}`);
      }
      if (hasUnzip) {
        const check = spawnSync("unzip", ["-tq", result.path], { encoding: "utf8" });
        assert.equal(check.status, 0, check.stdout + check.stderr);
      }
      assert.equal((await inspectZip(result.path)).entries, 10);
    }
    const buffer = fs.readFileSync(zip64.path);
    assert.ok(buffer.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])), "ZIP64 end record");
    assert.ok(buffer.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07])), "ZIP64 locator");
  });

  it("switches to ZIP64 by itself past 65,535 entries", async function () {
    this.timeout(120_000);
    // 65,537 names for one small file: the writer reads each as its own entry.
    const file = path.join(src, "lib-extra/x.txt");
    const inputs = Array.from({ length: 65_537 }, (_, i) => ({ name: `d${i % 64}/f${i}.txt`, absolutePath: file, size: 1 }));
    const result = await writeZip(inputs, path.join(work, "many.zip"));
    assert.equal(result.entries, 65_537);
    const buffer = fs.readFileSync(result.path);
    const end = buffer.subarray(buffer.length - 22);
    assert.equal(end.readUInt16LE(10), 0xffff, "classic end record says: see ZIP64");
    assert.equal((await inspectZip(result.path)).entries, 65_537);
    if (hasUnzip) {
      const listing = spawnSync("unzip", ["-l", result.path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      assert.equal(listing.status, 0, listing.stderr);
      assert.match(listing.stdout, /65537 files\s*$/);
    }
  });

  it("reports progress in entries and bytes", async () => {
    const events: ZipProgress[] = [];
    const result = await zipFolder(src, path.join(work, "a.zip"), { streamAbove: 100_000, onProgress: (p) => events.push(p) });
    const last = events[events.length - 1];
    assert.deepEqual({ entries: last.entries, totalEntries: last.totalEntries, bytes: last.bytes }, { entries: 9, totalEntries: 9, bytes: result.sourceBytes });
    assert.ok(events.every((e) => e.totalBytes === result.sourceBytes), "the total is known from the start");
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i].bytes >= events[i - 1].bytes && events[i].entries >= events[i - 1].entries, "progress only grows");
    }
    assert.ok(events.length > 9, "the streamed file reports as it goes");
  });

  it("stops when cancelled and leaves no file behind", async () => {
    write(src, "models/big.txt", text(20 * 1024 * 1024));
    const controller = new AbortController();
    const output = path.join(work, "a.zip");
    const run = zipFolder(src, output, {
      streamAbove: 1024 * 1024,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytes > 2 * 1024 * 1024) controller.abort(new Error("Received SIGINT"));
      },
    });
    await assert.rejects(run, (e: unknown) => e instanceof CancelledError && /cancelled \(Received SIGINT\)/.test(e.message));
    assert.deepEqual(fs.readdirSync(work), []);
    const already = new AbortController();
    already.abort();
    await assert.rejects(zipFolder(src, output, { signal: already.signal }), CancelledError);
  });

  it("computes the same CRC-32 with zlib and, for a Node without zlib.crc32, in JavaScript", () => {
    const data = random(300_001, "crc");
    const whole = crc32Portable(data);
    assert.equal(crc32Portable(data.subarray(100_000), crc32Portable(data.subarray(0, 100_000))), whole, "continues from a previous value");
    assert.equal(crc32Portable(Buffer.from("123456789")), 0xcbf43926, "the CRC-32 check value");
    assert.equal(crc32(data), whole);
    assert.equal(crc32(data.subarray(7), crc32(data.subarray(0, 7))), whole);
  });

  it("fails clearly on an empty selection and on names that would collide", async () => {
    await assert.rejects(zipFolder(src, path.join(work, "a.zip"), { include: ["**/*.jar"] }), (e: unknown) => e instanceof ZipError && /no files to zip/.test(e.message));
    const file = path.join(src, "app.py");
    await assert.rejects(
      writeZip([{ name: "a", absolutePath: file, size: 1 }, { name: "a", absolutePath: file, size: 1 }], path.join(work, "b.zip")),
      /same name in the zip: 'a'/,
    );
    // A file that goes between listing and zipping.
    await assert.rejects(
      writeZip([{ name: "app.py", absolutePath: file, size: 50_000 }, { name: "gone.py", absolutePath: path.join(src, "gone.py"), size: 10 }], path.join(work, "c.zip")),
      (e: unknown) => e instanceof ZipError && /'gone\.py' changed or went away while it was being zipped/.test(e.message),
    );
    assert.deepEqual(fs.readdirSync(work), [], "no partial archive is left");
  });

  it("accepts a real zip (ours or Info-ZIP's) with its hashes and rejects what is not one", async () => {
    const ours = await zipFolder(src, path.join(work, "a.zip"));
    const inspected = await inspectZip(ours.path);
    assert.deepEqual(inspected, { path: ours.path, size: ours.size, entries: 9, sha256: ours.sha256, md5: ours.md5 });
    if (hasUnzip && spawnSync("zip", ["-v"], { stdio: "ignore" }).status === 0) {
      const theirs = path.join(work, "iz.zip");
      assert.equal(spawnSync("zip", ["-r", "-X", "-q", theirs, "."], { cwd: src }).status, 0);
      assert.ok((await inspectZip(theirs)).entries >= 9);
    }
    const fake = path.join(work, "app.zip");
    fs.writeFileSync(fake, "PK\u0003\u0004 this is a text file renamed to .zip, long enough to look at");
    await assert.rejects(inspectZip(fake), (e: unknown) => e instanceof ZipError && /^zipFile: '.*app\.zip' is not a usable zip archive: it has no end-of-central-directory record\./.test(e.message));
    const tiny = path.join(work, "tiny.zip");
    fs.writeFileSync(tiny, "PK");
    await assert.rejects(inspectZip(tiny, "zipFile"), /only 2 bytes/);
    const truncated = path.join(work, "truncated.zip");
    const whole = fs.readFileSync(ours.path);
    fs.writeFileSync(truncated, Buffer.concat([whole.subarray(0, 1000), whole.subarray(whole.length - 22)]));
    await assert.rejects(inspectZip(truncated), /central directory lies outside the file/);
    await assert.rejects(inspectZip(path.join(work, "missing.zip")), /does not exist/);
    await assert.rejects(inspectZip(src), /not a file/);
  });
});
