import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { explainFileError, selectFiles } from "../../runtime/files";

describe("runtime: selecting source files", () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "files-"));
    for (const rel of ["app.py", "lib/a.py", "lib/b.txt", ".hidden/x.cfg", "lib/__pycache__/a.pyc"]) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), rel);
    }
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("lists files in a stable order with '/' paths, dot files included, filtered by globs", async () => {
    const all = await selectFiles(root, ["**"], []);
    assert.deepEqual(all.files.map((f) => f.relativePath), [".hidden/x.cfg", "app.py", "lib/__pycache__/a.pyc", "lib/a.py", "lib/b.txt"]);
    assert.equal(all.files[1].size, "app.py".length);
    const some = await selectFiles(root, ["**/*.py", "./lib/*.txt", "**/*.jar"], ["**/__pycache__/**", "**/*.class"]);
    assert.deepEqual(some.files.map((f) => f.relativePath), ["app.py", "lib/a.py", "lib/b.txt"]);
    assert.deepEqual(some.unmatchedIncludes, ["**/*.jar"]);
    assert.deepEqual(some.unmatchedExcludes, ["**/*.class"]);
    assert.equal(some.scanned, 5);
  });

  it("follows links to files and folders but not a link back up the tree", async () => {
    fs.symlinkSync(root, path.join(root, "lib", "loop"));
    fs.symlinkSync(path.join(root, "app.py"), path.join(root, "lib", "app-link.py"));
    const all = await selectFiles(root, ["**"], []);
    assert.deepEqual(all.files.map((f) => f.relativePath), [".hidden/x.cfg", "app.py", "lib/__pycache__/a.pyc", "lib/a.py", "lib/app-link.py", "lib/b.txt"]);
  });
});

describe("runtime: source file errors a user can act on", () => {
  const file = { relativePath: "lib/secret.key", absolutePath: "/src/lib/secret.key" };
  const errno = (code: string) => Object.assign(new Error(`${code}: ${code}: something, open '/src/lib/secret.key'`), { code });

  it("EACCES and EPERM name the file and the fix", () => {
    for (const code of ["EACCES", "EPERM"]) {
      const e = explainFileError(errno(code), file) as Error & { code?: string; cause?: unknown };
      assert.equal(e.code, "SourceFileUnreadable");
      assert.equal(e.message, `Cannot read 'lib/secret.key' (/src/lib/secret.key): permission denied (${code}). Give the agent's user read access to it, or leave it out with 'exclude'.`);
      assert.equal((e.cause as Error).message.startsWith(code), true, "the original error is kept as the cause");
    }
  });

  it("ENOENT says the file went away, or that its name is not UTF-8; other errors pass through", () => {
    assert.match((explainFileError(errno("ENOENT"), file) as Error).message, /deleted or renamed after the folder was listed/);
    assert.match((explainFileError(errno("ENOENT"), { ...file, relativePath: "bad-\uFFFD.txt" }) as Error).message, /not valid UTF-8/);
    const other = new Error("boom");
    assert.equal(explainFileError(other, file), other);
  });
});
