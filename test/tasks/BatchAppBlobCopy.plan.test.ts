/**
 * BatchAppBlobCopy's sync plan, in-process on its sources: which blobs are
 * stale, and what a run never deletes.
 */
import { strict as assert } from "node:assert";
import { staleBlobNames, type ExistingBlob } from "../../tasks/BatchAppBlobCopy/sync";
import { pathSelector } from "../../runtime/files";
import { lockBlobName } from "../../runtime/blob-lock";

describe("BatchAppBlobCopy@1: the stale plan", () => {
  const existing = (names: string[]) => new Map<string, ExistingBlob>(names.map((n) => [n, { size: 1 }]));

  it("a blob is stale only if no source file maps to it, the patterns select it, and it is not a lock blob", () => {
    const blobs = existing(["app.py", "old.py", "logs/app.log", "lib/old.pyc", "sub.blobcopy-lock", "keep/me.txt"]);
    const wanted = new Set(["app.py", "keep/me.txt"]);
    assert.deepEqual(staleBlobNames(wanted, blobs), ["lib/old.pyc", "logs/app.log", "old.py"]);
    const managed = pathSelector(["**"], ["**/*.log", "**/*.pyc"]);
    assert.deepEqual(staleBlobNames(wanted, blobs, managed), ["old.py"], "excluded paths are not managed");
    assert.deepEqual(staleBlobNames(wanted, blobs, pathSelector(["**/*.py"], [])), ["old.py"], "nor paths no include selects");
  });

  it("lock blobs sit beside their prefix, never under it", () => {
    assert.equal(lockBlobName("app/1.0/"), "app/1.0.blobcopy-lock");
    assert.equal(lockBlobName(""), ".blobcopy-lock");
    assert.ok(!lockBlobName("app/1/").startsWith("app/1/") && !lockBlobName("app/1/").startsWith("app/10/"));
  });
});
