/**
 * The private-marketplace package: one .vsix with every bundled task, one
 * version stamped everywhere, no node_modules, a dev variant that installs
 * beside production, and a task that runs straight out of the package.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import JSZip from "jszip";
import { REPO_ROOT, runTask } from "../harness/run-task";
import { localAzure } from "../fixture";

interface Packaged {
  file: string;
  zip: JSZip;
  tasks: Record<string, { id: string; name: string; version: { Major: number; Minor: number; Patch: number }; friendlyName: string }>;
  manifest: { id: string; publisher: string; version: string; public: boolean; contributions: { id: string; properties: { name: string } }[] };
}

function packageExtension(outDir: string, args: string[]): string {
  const out = execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts", "package.mjs"), "--out-dir", outDir, ...args], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const line = out.trim().split("\n").at(-1) ?? "";
  return path.resolve(REPO_ROOT, line.slice(0, line.indexOf(":")));
}

async function open(file: string, stageDir: string): Promise<Packaged> {
  const zip = await JSZip.loadAsync(fs.readFileSync(file));
  const manifest = JSON.parse(fs.readFileSync(path.join(stageDir, "vss-extension.json"), "utf8"));
  const tasks: Packaged["tasks"] = {};
  for (const name of Object.keys(zip.files)) {
    const m = /^tasks\/(\w+)\/task\.json$/.exec(name);
    if (m) tasks[m[1]] = JSON.parse(await zip.file(name)!.async("string"));
  }
  return { file, zip, tasks, manifest };
}

describe("the .vsix package", function () {
  this.timeout(120_000);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "vsix-"));
  let prod: Packaged;
  let dev: Packaged;
  const taskNames = fs.readdirSync(path.join(REPO_ROOT, "tasks")).filter((n) => fs.existsSync(path.join(REPO_ROOT, "tasks", n, "task.json")));

  before(async () => {
    // Staged in this run's own folders: the two test passes may package at the same time.
    const prodStage = path.join(outDir, "stage");
    const devStage = path.join(outDir, "stage-dev");
    const prodFile = packageExtension(outDir, ["--version", "1.4.2", "--publisher", "contoso-release", "--extension-id", "batch-tools", "--stage-dir", prodStage]);
    prod = await open(prodFile, prodStage);
    const devFile = packageExtension(outDir, ["--version", "1.4.2", "--publisher", "contoso-release", "--extension-id", "batch-tools", "--dev", "--stage-dir", devStage]);
    dev = await open(devFile, devStage);
  });
  after(() => fs.rmSync(outDir, { recursive: true, force: true }));

  it("holds every task, bundled, and no node_modules", () => {
    const names = Object.keys(prod.zip.files);
    assert.equal(names.filter((n) => n.includes("node_modules")).length, 0);
    assert.deepEqual(Object.keys(prod.tasks).sort(), taskNames.sort());
    for (const task of taskNames) {
      for (const file of ["index.js", "task.json", "icon.png", "lib.json"]) assert.ok(prod.zip.file(`tasks/${task}/${file}`), `${task}/${file}`);
      assert.equal(names.filter((n) => n.startsWith(`tasks/${task}/`) && n.endsWith(".ts")).length, 0, "no sources");
    }
  });

  it("stamps one version, publisher and id, and stays private", () => {
    assert.equal(prod.manifest.version, "1.4.2");
    assert.equal(prod.manifest.publisher, "contoso-release");
    assert.equal(prod.manifest.id, "batch-tools");
    assert.equal(prod.manifest.public, false);
    assert.match(path.basename(prod.file), /^contoso-release\.batch-tools-1\.4\.2\.vsix$/);
    for (const task of Object.values(prod.tasks)) assert.deepEqual(task.version, { Major: 1, Minor: 4, Patch: 2 });
    assert.deepEqual(prod.manifest.contributions.map((c) => c.properties.name).sort(), taskNames.map((n) => `tasks/${n}`).sort());
  });

  it("stays under 5 MiB", () => {
    assert.ok(fs.statSync(prod.file).size < 5 * 1024 * 1024, `${fs.statSync(prod.file).size} bytes`);
  });

  it("has a dev variant with its own extension id, task names and GUIDs", () => {
    assert.equal(dev.manifest.id, "batch-tools-dev");
    for (const name of taskNames) {
      const p = prod.tasks[name];
      const d = dev.tasks[name];
      assert.notEqual(d.id, p.id);
      assert.match(d.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(d.name, `${p.name}Dev`);
      assert.match(d.friendlyName, /\(dev\)$/);
    }
  });

  it("refuses a version whose major differs from the tasks' (it would change every YAML reference)", () => {
    assert.throws(() => packageExtension(outDir, ["--version", "2.0.0", "--stage-dir", path.join(outDir, "stage-refused")]), /must have the same major/);
  });

  it("runs a task straight out of the package, with no node_modules anywhere near it", async () => {
    const azure = await localAzure();
    const extracted = fs.mkdtempSync(path.join(os.tmpdir(), "vsix-run-"));
    try {
      for (const [name, entry] of Object.entries(prod.zip.files)) {
        if (!name.startsWith("tasks/BatchAppBlobCopy/") || entry.dir) continue;
        const target = path.join(extracted, name);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, await entry.async("nodebuffer"));
      }
      const source = path.join(extracted, "app");
      fs.mkdirSync(source);
      fs.writeFileSync(path.join(source, "app.py"), "print('hello')\n");
      const r = await runTask({
        task: "BatchAppBlobCopy",
        taskDir: path.join(extracted, "tasks", "BatchAppBlobCopy"),
        env: azure.info.env,
        inputs: { azureSubscription: "LocalAzure", storageAccount: azure.info.storage.accountName, containerName: "from-vsix", sourceFolder: source },
      });
      assert.equal(r.result, "Succeeded", r.stdout.slice(-2000));
      assert.equal(r.outputs.UploadedCount.value, "1");
    } finally {
      fs.rmSync(extracted, { recursive: true, force: true });
    }
  });
});
