/**
 * A clone with nothing beside it: the REST specs and the task.json schema are
 * found, or fetched at their pinned commits and checked against their pinned
 * SHA-256, and when they cannot be had the tests that need them are pending
 * with the reason while everything else runs and passes.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./harness/run-task";
import { azureSpecsDir, skipUnavailable, taskSchemaFile, type Located } from "./shared-files";

interface PinnedFile {
  path: string;
  source: string;
  commit: string;
  bytes: number;
  sha256: string;
}
interface Manifest {
  sets: Record<string, { description: string; env: string; repository: string; files: PinnedFile[] }>;
}
interface SetResult {
  set: string;
  found: boolean;
  dir?: string;
  from?: string;
  reason?: string;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "scripts", "shared-files.json"), "utf8")) as Manifest;

/** The environment of a clone that has nothing beside it: none of the variables that point at shared files. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["AZURE_SPECS_DIR", "TASK_SCHEMA_FILE", "SHARED_DIR", "AZURE_SPECS_UNAVAILABLE", "TASK_SCHEMA_UNAVAILABLE", "TEST_PENDING_LOG", "TASK_NODE_BINARY", "SHARED_FETCH_BASE_URL"]) delete env[name];
  return { ...env, ...extra };
}

function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(file, args, { ...options, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe("a fresh clone", function () {
  this.timeout(120_000);
  const temp: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    temp.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of temp) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("without the specs and the schema: their tests are pending with the reason, the rest passes, the summary says why", async () => {
    // A copy of the working tree with no shared/ beside it and no cache (node_modules linked, not copied).
    const clone = path.join(tempDir("fresh-clone-"), "batch-adf-release");
    const skip = new Set(["node_modules", ".git", "dist", ".shared-cache", ".local-azure"]);
    fs.cpSync(REPO_ROOT, clone, { recursive: true, filter: (src) => !skip.has(path.basename(src)) || path.dirname(src) !== REPO_ROOT });
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(clone, "node_modules"), "dir");
    assert.ok(!fs.existsSync(path.join(clone, "..", "shared")));

    const r = await run(
      process.execPath,
      [require.resolve("tsx/cli"), "test/run-tests.ts", "--no-config", "--require", "tsx/cjs", "--require", "test/fixture.ts", "--extension", "ts", "--timeout", "60000", "test/local-azure/tests/spec-validate.test.ts", "test/extension/task-manifests.test.ts"],
      { cwd: clone, env: bareEnv({ SHARED_FETCH: "off" }), timeout: 90_000 },
    );
    const out = r.stdout;
    assert.equal(r.status, 0, `${out.slice(-3000)}\n${r.stderr.slice(-2000)}`);
    // mocha lists the tests that need the specs as pending, and runs the others.
    assert.match(out, /^\s+- loads the three specs with every referenced file in well under a second$/m);
    assert.match(out, /^\s+- validates against it$/m);
    assert.match(out, /^\s+✔ finds the tasks$/m);
    assert.match(out, /^\s+✔ declares in task.json every input the entry reads$/m);
    assert.match(out, /^\s+\d+ passing/m);
    assert.match(out, /^\s+\d+ pending/m);
    assert.doesNotMatch(out, /failing/);
    // The end-of-run spec check says it was skipped, and why.
    assert.match(out, /REST spec check \(strict\): skipped: the Azure REST specs not in AZURE_SPECS_DIR \(not set\), \.\.\/shared\/azure-specs or the cache \(not cached\); fetching is off \(SHARED_FETCH=off\)/);
    // The summary: each reason once, with what it skipped.
    const summary = out.slice(out.lastIndexOf("\nSummary\n"));
    assert.match(summary, /passed: the given tests/);
    assert.match(summary, /- the Azure REST specs not in AZURE_SPECS_DIR .*fetching is off \(SHARED_FETCH=off\)\n\s+skipped: REST spec validation \(\d+ tests pending\); REST spec check after the last test/);
    assert.match(summary, /- the task.json schema not in TASK_SCHEMA_FILE .*fetching is off \(SHARED_FETCH=off\)\n\s+skipped: task manifests BatchAppBlobCopy the official task.json schema \(1 test pending\)/);
  });

  describe("scripts/fetch-shared.mjs", () => {
    it("pins every file to a commit and a SHA-256", () => {
      assert.equal(manifest.sets["azure-specs"].repository, "Azure/azure-rest-api-specs");
      assert.equal(manifest.sets["azure-specs"].files.length, 50);
      assert.equal(manifest.sets.schemas.repository, "microsoft/azure-pipelines-task-lib");
      for (const set of Object.values(manifest.sets)) {
        for (const f of set.files) {
          assert.match(f.commit, /^[0-9a-f]{40}$/, f.path);
          assert.match(f.sha256, /^[0-9a-f]{64}$/, f.path);
          assert.ok(!path.isAbsolute(f.path) && !f.path.split("/").includes(".."), f.path);
        }
      }
    });

    for (const [name, locate] of [["azure-specs", azureSpecsDir], ["schemas", taskSchemaFile]] as const) {
      describe(`the pins of ${name}`, () => {
        let located: Located;
        before(function () {
          located = locate();
          skipUnavailable(this, located);
        });
        it("match the copies this run reads", () => {
          assert.ok(located.found);
          const where: string = located.path;
          for (const f of manifest.sets[name].files) {
            const file: string = name === "schemas" ? where : path.join(where, f.path);
            assert.equal(sha256(fs.readFileSync(file)), f.sha256, f.path);
          }
        });
      });
    }

    describe("fetching (from a loopback server laid out like the repositories)", () => {
      // A copy of the script with a small manifest of its own, so nothing is fetched from outside.
      let root: string;
      let served: Map<string, Buffer>;
      let requests: string[];
      let server: http.Server;
      let baseUrl: string;
      const files = { "a/one.json": '{ "one": 1 }\n', "a/b/two.json": '{ "two": [2] }\n' };
      before(async () => {
        root = tempDir("fetch-shared-");
        fs.mkdirSync(path.join(root, "scripts"));
        fs.copyFileSync(path.join(REPO_ROOT, "scripts", "fetch-shared.mjs"), path.join(root, "scripts", "fetch-shared.mjs"));
        const pinned = Object.entries(files).map(([p, text]) => ({ path: p, source: `specification/${p}`, commit: "0123456789abcdef0123456789abcdef01234567", bytes: text.length, sha256: sha256(text) }));
        const small: Manifest = { sets: { "azure-specs": { description: "the test specs", env: "AZURE_SPECS_DIR", repository: "Owner/specs", files: pinned } } };
        fs.writeFileSync(path.join(root, "scripts", "shared-files.json"), JSON.stringify(small));
        server = http.createServer((req, res) => {
          requests.push(req.url ?? "");
          const body = served.get(req.url ?? "");
          res.writeHead(body ? 200 : 404).end(body);
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      beforeEach(() => {
        served = new Map(Object.entries(files).map(([p, text]) => [`/Owner/specs/0123456789abcdef0123456789abcdef01234567/specification/${p}`, Buffer.from(text)]));
        requests = [];
      });

      const fetchShared = async (extra: Record<string, string> = {}) => {
        const r = await run(process.execPath, [path.join(root, "scripts", "fetch-shared.mjs"), "--json"], {
          cwd: root,
          env: bareEnv({ SHARED_DIR: path.join(root, "no-shared"), SHARED_FETCH_BASE_URL: baseUrl, SHARED_FETCH_TIMEOUT_MS: "3000", ...extra }),
          timeout: 30_000,
        });
        assert.equal(r.status, 0, r.stderr);
        const results = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "") as SetResult[];
        return { result: results[0], ms: r.ms };
      };

      it("fetches each file at its commit, checks it and caches the set; the next run uses the cache", async () => {
        const first = (await fetchShared()).result;
        assert.deepEqual([first.found, first.from], [true, "fetched"], first.reason);
        assert.equal(first.dir, path.join(root, ".shared-cache", "azure-specs"));
        assert.equal(requests.length, 2);
        for (const [p, text] of Object.entries(files)) assert.equal(fs.readFileSync(path.join(first.dir!, p), "utf8"), text);
        assert.match(fs.readFileSync(path.join(first.dir!, "README.md"), "utf8"), /Owner\/specs.*\n[\s\S]*`a\/b\/two.json` \| `specification\/a\/b\/two.json` \| `0123456789abcdef0123456789abcdef01234567`/);

        requests = [];
        const second = (await fetchShared()).result;
        assert.deepEqual([second.found, second.from, requests.length], [true, "cache", 0]);

        // A cached file that no longer matches its pin is not used: the set is fetched again.
        fs.writeFileSync(path.join(first.dir!, "a", "one.json"), '{ "one": 2 }\n');
        const third = (await fetchShared()).result;
        assert.deepEqual([third.found, third.from, requests.length], [true, "fetched", 2]);
        assert.equal(fs.readFileSync(path.join(first.dir!, "a", "one.json"), "utf8"), files["a/one.json"]);
      });

      it("refuses a file whose SHA-256 differs from its pin, and caches nothing", async () => {
        fs.rmSync(path.join(root, ".shared-cache"), { recursive: true, force: true });
        served.set("/Owner/specs/0123456789abcdef0123456789abcdef01234567/specification/a/b/two.json", Buffer.from('{ "two": [3] }\n'));
        const { result } = await fetchShared();
        assert.equal(result.found, false);
        assert.match(result.reason ?? "", /specification\/a\/b\/two\.json has SHA-256 [0-9a-f]{64}, pinned [0-9a-f]{64}; not used/);
        assert.ok(!fs.existsSync(path.join(root, ".shared-cache", "azure-specs")));
        assert.deepEqual(fs.readdirSync(path.join(root, ".shared-cache")), [], "no staging folder is left behind");
      });

      it("fails fast and says why when the files cannot be reached, or when fetching is off", async () => {
        fs.rmSync(path.join(root, ".shared-cache"), { recursive: true, force: true });
        const closed = http.createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as AddressInfo).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        const unreachable = await fetchShared({ SHARED_FETCH_BASE_URL: `http://127.0.0.1:${port}` });
        assert.equal(unreachable.result.found, false);
        assert.match(unreachable.result.reason ?? "", /the test specs not in AZURE_SPECS_DIR \(not set\), SHARED_DIR=.*no-shared\/azure-specs or the cache \(not cached\); could not fetch http:\/\/127\.0\.0\.1:\d+\/Owner\/specs\/0123456789abcdef0123456789abcdef01234567\/specification\/a\/one\.json: .*ECONNREFUSED/);
        assert.ok(unreachable.ms < 10_000, `took ${unreachable.ms} ms`);

        const off = (await fetchShared({ SHARED_FETCH: "off" })).result;
        assert.equal(off.found, false);
        assert.match(off.reason ?? "", /fetching is off \(SHARED_FETCH=off\)$/);
        assert.equal(requests.length, 0);
      });

      it("prefers the set's variable, then a folder laid out like shared/", async () => {
        const shared = path.join(root, "shared-like");
        for (const [p, text] of Object.entries(files)) {
          fs.mkdirSync(path.dirname(path.join(shared, "azure-specs", p)), { recursive: true });
          fs.writeFileSync(path.join(shared, "azure-specs", p), text);
        }
        const beside = (await fetchShared({ SHARED_DIR: shared })).result;
        assert.deepEqual([beside.found, beside.dir, beside.from], [true, path.join(shared, "azure-specs"), `SHARED_DIR=${shared}`]);
        const given = (await fetchShared({ SHARED_DIR: shared, AZURE_SPECS_DIR: path.join(root, "nowhere") })).result;
        assert.equal(given.found, false);
        assert.match(given.reason ?? "", /^AZURE_SPECS_DIR=.*nowhere has no a\/one\.json$/);
        assert.equal(requests.length, 0);
      });
    });
  });
});
