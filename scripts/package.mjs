// Packages the bundled tasks into one private .vsix with tfx-cli.
//
//   npm run package [-- --version 1.2.3] [--publisher NAME] [--extension-id ID] [--dev] [--out-dir DIR] [--stage-dir DIR]
//   npm run package -- --publish --share-with org1,org2   (token in AZURE_DEVOPS_EXT_PAT)
//
// Every option can also come from the environment: EXTENSION_VERSION,
// EXTENSION_PUBLISHER, EXTENSION_ID, EXTENSION_SHARE_WITH, EXTENSION_DEV=true.
// The dev variant gets its own extension id, task names and task GUIDs, so it
// installs beside the production extension.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";

const root = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    version: { type: "string" },
    publisher: { type: "string" },
    "extension-id": { type: "string" },
    "share-with": { type: "string" },
    dev: { type: "boolean" },
    publish: { type: "boolean" },
    "out-dir": { type: "string" },
    // Where the package is laid out before tfx packs it (default dist/stage, or dist/stage-dev).
    "stage-dir": { type: "string" },
  },
});
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const manifest = JSON.parse(fs.readFileSync(path.join(root, "vss-extension.json"), "utf8"));
const dev = args.dev ?? process.env.EXTENSION_DEV === "true";
const version = args.version ?? process.env.EXTENSION_VERSION ?? pkg.version;
if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`Version '${version}' is not MAJOR.MINOR.PATCH.`);
const publisher = args.publisher ?? process.env.EXTENSION_PUBLISHER ?? manifest.publisher;
const extensionId = (args["extension-id"] ?? process.env.EXTENSION_ID ?? manifest.id) + (dev ? "-dev" : "");
const shareWith = (args["share-with"] ?? process.env.EXTENSION_SHARE_WITH ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const [major, minor, patch] = version.split(".").map(Number);

/** A stable GUID for the dev variant of a task, derived from the production one (UUID v5 layout). */
function devGuid(guid) {
  const h = createHash("sha1").update(`dev:${guid}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const tasksDir = path.join(root, "tasks");
const tasks = fs.readdirSync(tasksDir).filter((n) => fs.existsSync(path.join(tasksDir, n, "task.json"))).sort();
const stage = path.resolve(args["stage-dir"] ?? path.join(root, "dist", dev ? "stage-dev" : "stage"));
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(path.join(stage, "images"), { recursive: true });
fs.copyFileSync(path.join(root, "images", "extension-icon.png"), path.join(stage, "images", "extension-icon.png"));
fs.copyFileSync(path.join(root, "README.md"), path.join(stage, "overview.md"));

for (const name of tasks) {
  const src = path.join(tasksDir, name);
  const out = path.join(stage, "tasks", name);
  if (!fs.existsSync(path.join(src, "index.js"))) throw new Error(`${name}/index.js is missing: run 'npm run build' first.`);
  fs.mkdirSync(out, { recursive: true });
  const task = JSON.parse(fs.readFileSync(path.join(src, "task.json"), "utf8"));
  if (task.version.Major !== major) throw new Error(`${name} is version ${task.version.Major} (its YAML name is ${name}@${task.version.Major}); the extension version ${version} must have the same major.`);
  task.version = { Major: major, Minor: minor, Patch: patch };
  delete task.$schema;
  if (dev) {
    task.id = devGuid(task.id);
    task.name = `${task.name}Dev`;
    task.friendlyName = `${task.friendlyName} (dev)`;
  }
  fs.writeFileSync(path.join(out, "task.json"), `${JSON.stringify(task, null, 2)}\n`);
  for (const file of ["index.js", "icon.png", "lib.json"]) fs.copyFileSync(path.join(src, file), path.join(out, file));
  fs.cpSync(path.join(src, "Strings"), path.join(out, "Strings"), { recursive: true });
}

Object.assign(manifest, {
  id: extensionId,
  publisher,
  version,
  public: false,
  name: dev ? `${manifest.name} (dev)` : manifest.name,
  files: tasks.map((name) => ({ path: `tasks/${name}` })).concat([{ path: "images", addressable: true }]),
  contributions: tasks.map((name) => ({
    id: name,
    type: "ms.vss-distributed-task.task",
    targets: ["ms.vss-distributed-task.tasks"],
    properties: { name: `tasks/${name}` },
  })),
});
fs.writeFileSync(path.join(stage, "vss-extension.json"), `${JSON.stringify(manifest, null, 2)}\n`);

const outDir = path.resolve(args["out-dir"] ?? path.join(root, "dist"));
fs.mkdirSync(outDir, { recursive: true });
const tfx = path.join(root, "node_modules", "tfx-cli", "_build", "tfx-cli.js");
const common = ["--root", stage, "--manifest-globs", "vss-extension.json", "--no-prompt", "--no-color"];
const env = { ...process.env, TFX_TRACE: "" };
if (args.publish) {
  const token = process.env.AZURE_DEVOPS_EXT_PAT;
  if (!token) throw new Error("Set AZURE_DEVOPS_EXT_PAT to a token with Marketplace (publish) scope to publish.");
  const share = shareWith.length ? ["--share-with", ...shareWith] : [];
  execFileSync(process.execPath, [tfx, "extension", "publish", ...common, "--output-path", outDir, "--token", token, ...share], { stdio: "inherit", env });
} else {
  const run = spawnSync(process.execPath, [tfx, "extension", "create", ...common, "--output-path", outDir, "--json"], { env, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`tfx failed:\n${run.stdout}\n${run.stderr}`);
  // A warning from tfx is a packaging defect here, not noise.
  if (/warn/i.test(run.stderr) || /warn/i.test(run.stdout.slice(0, run.stdout.indexOf("{")))) throw new Error(`tfx warned:\n${run.stderr}${run.stdout}`);
  const result = JSON.parse(run.stdout.slice(run.stdout.indexOf("{")));
  const size = fs.statSync(result.path).size;
  console.log(`${path.relative(root, result.path)}: ${publisher}.${extensionId} ${version}, ${tasks.length} task(s), ${(size / 1024 / 1024).toFixed(2)} MiB`);
  if (shareWith.length) console.log(`Share with ${shareWith.join(", ")} when publishing: npm run package -- --publish --share-with ${shareWith.join(",")}`);
}
