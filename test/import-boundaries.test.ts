/**
 * scripts/check-imports.mjs on a small tree laid out like the repository:
 * each way a task or the runtime could reach what it must not is caught,
 * naming the file, the line and the import; allowed imports pass.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./harness/run-task";

const script = path.join(REPO_ROOT, "scripts", "check-imports.mjs");

function check(root: string, ...args: string[]): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, "--root", root, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
}

/** What every tree has: a runtime module, two tasks, test and bench code, an npm package. */
const base: Record<string, string> = {
  "runtime/inputs.ts": 'import * as fs from "node:fs";\nimport * as path from "path";\nexport const read = () => fs.existsSync(path.sep);\n',
  "tasks/Copy/index.ts": 'import { read } from "../../runtime/inputs";\nimport { plan } from "./plan";\nimport manifest from "./task.json";\nimport { pick } from "tiny-lib";\nexport const run = () => [read(), plan, manifest, pick];\n',
  "tasks/Copy/plan.ts": "export const plan = 1;\n",
  "tasks/Copy/task.json": '{ "name": "Copy" }\n',
  "tasks/Other/index.ts": 'import { read } from "../../runtime/inputs";\nexport const helper = read;\n',
  "test/fixture.ts": "export type Fixture = { name: string };\nexport const fixture = 1;\n",
  "bench/util.ts": "export const bench = 1;\n",
  "node_modules/tiny-lib/package.json": '{ "name": "tiny-lib", "version": "1.0.0", "main": "index.js", "types": "index.d.ts" }\n',
  "node_modules/tiny-lib/index.js": "exports.pick = 1;\n",
  "node_modules/tiny-lib/index.d.ts": "export declare const pick: number;\n",
};

describe("import boundaries (scripts/check-imports.mjs)", function () {
  this.timeout(60_000);
  let temp: string;
  before(() => {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "import-boundaries-"));
  });
  after(() => fs.rmSync(temp, { recursive: true, force: true }));

  it("passes a tree that imports only what it may", async () => {
    const root = path.join(temp, "clean");
    writeTree(root, base);
    const r = await check(root);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Import boundaries: 4 files under runtime\/ and tasks\/ import only what they may/);
  });

  it("names the file, line and import of each way a task or the runtime reaches what it must not", async () => {
    const root = path.join(temp, "broken");
    writeTree(root, {
      ...base,
      "tasks/Copy/index.ts": [
        'import { read } from "../../runtime/inputs";', // 1: allowed
        'import { helper } from "../Other/index";', // 2: another task
        'import type { Fixture } from "../../test/fixture";', // 3: test code, type-only
        'export { bench } from "../../bench/util";', // 4: re-export of bench code
        'import { fixture } from "./../../runtime/../test/fixture";', // 5: a path that passes through runtime/
        "export async function later() {",
        '  return import("../../test/fixture");', // 7: dynamic import
        "}",
        'const direct = require("../Other");', // 9: require of a folder
        'const name = "fixture";',
        "const computed = require(`../../test/${name}`);", // 11: a specifier that cannot be checked
        "const r = require;", // 12: require taken as a value
        'type Late = import("../../test/fixture").Fixture;', // 13: import type in a type
        'import sneaky = require("sneaky-lib");', // 14: an npm package that is a link to test code
        "export const all = [read, helper, fixture, direct, computed, r] as unknown as Fixture | Late;",
      ].join("\n"),
      "runtime/uses-task.ts": 'import { plan } from "../tasks/Copy/plan";\nexport const p = plan;\n',
      "runtime/uses-test.js": 'module.exports = require("../test/fixture");\n',
    });
    fs.symlinkSync(path.join(root, "test"), path.join(root, "node_modules", "sneaky-lib"), "dir");
    fs.writeFileSync(path.join(root, "test", "index.ts"), "export const sneaky = 1;\n");

    const r = await check(root);
    assert.equal(r.status, 1, r.output);
    const task = "a task may import only runtime/, its own folder \\(tasks/Copy/\\) and npm packages";
    const expected = [
      `tasks/Copy/index.ts:2:\\d+: imports '../Other/index' \\(tasks/Other/index\\.ts\\): ${task}`,
      `tasks/Copy/index.ts:3:\\d+: imports '../../test/fixture' \\(test/fixture(\\.ts)?\\): ${task}`,
      `tasks/Copy/index.ts:4:\\d+: imports '../../bench/util' \\(bench/util(\\.ts)?\\): ${task}`,
      `tasks/Copy/index.ts:5:\\d+: imports './../../runtime/../test/fixture' \\(test/fixture(\\.ts)?\\): ${task}`,
      `tasks/Copy/index.ts:7:\\d+: imports '../../test/fixture' \\(test/fixture(\\.ts)?\\): ${task}`,
      `tasks/Copy/index.ts:9:\\d+: imports '../Other' \\(tasks/Other(/index\\.ts)?\\): ${task}`,
      "tasks/Copy/index.ts:11:\\d+: imports 'require\\(`../../test/\\$\\{name\\}`\\)': a module specifier that is not a plain string cannot be checked",
      "tasks/Copy/index.ts:12:\\d+: imports 'require': `require` used other than as require\\(\"<path>\"\\) cannot be checked",
      `tasks/Copy/index.ts:13:\\d+: imports '../../test/fixture' \\(test/fixture(\\.ts)?\\): ${task}`,
      `tasks/Copy/index.ts:14:\\d+: imports 'sneaky-lib' \\(test/index\\.ts\\): ${task}`,
      "runtime/uses-task.ts:1:\\d+: imports '../tasks/Copy/plan' \\(tasks/Copy/plan(\\.ts)?\\): runtime/ may import only runtime/ and npm packages",
      "runtime/uses-test.js:1:\\d+: imports '../test/fixture' \\(test/fixture(\\.ts)?\\): runtime/ may import only runtime/ and npm packages",
    ];
    for (const line of expected) assert.match(r.output, new RegExp(`^  ${line}$`, "m"), `${line}\nin:\n${r.output}`);
    assert.match(r.output, new RegExp(`Import boundaries: ${expected.length} offending import\\(s\\)`));
  });

  it("the bundle check alone also catches what a task would ship from elsewhere", async () => {
    const root = path.join(temp, "bundled");
    writeTree(root, {
      ...base,
      "tasks/Copy/index.ts": 'import { read } from "../../runtime/inputs";\nimport { helper } from "../Other/index";\nimport { fixture } from "../../test/fixture";\nexport const all = [read, helper, fixture];\n',
    });
    const r = await check(root, "--only", "bundles");
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /^ {2}tasks\/Copy\/index\.ts: imports '\.\.\/Other\/index' \(tasks\/Other\/index\.ts\): bundled into tasks\/Copy\/index\.ts: a task may import only runtime\//m);
    assert.match(r.output, /^ {2}tasks\/Copy\/index\.ts: imports '\.\.\/\.\.\/test\/fixture' \(test\/fixture\.ts\): bundled into tasks\/Copy\/index\.ts: a task may import only runtime\//m);
    const clean = await check(path.join(temp, "clean"), "--only", "bundles");
    assert.equal(clean.status, 0, clean.output);
  });

  it("passes the repository itself", async () => {
    const r = await check(REPO_ROOT);
    assert.equal(r.status, 0, r.output);
  });
});
