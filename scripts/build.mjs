// Bundles every task under tasks/ into one file beside its task.json, so the
// .vsix carries no node_modules. Type-checking is `npm run typecheck`.
import { build } from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const tasksDir = path.join(root, "tasks");
const taskNames = fs
  .readdirSync(tasksDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(tasksDir, d.name, "task.json")))
  .map((d) => d.name);

const started = Date.now();
await Promise.all(
  taskNames.map(async (name) => {
    const dir = path.join(tasksDir, name);
    await build({
      entryPoints: [path.join(dir, "index.ts")],
      outfile: path.join(dir, "index.js"),
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      minify: true,
      keepNames: true,
      sourcemap: false,
      legalComments: "none",
      // Some ESM dependencies read import.meta.url; in a CommonJS bundle it is this file.
      define: { "import.meta.url": "__bundleFileUrl" },
      banner: { js: 'const __bundleFileUrl = require("node:url").pathToFileURL(__filename).href;' },
      logLevel: "warning",
      // Optional native/peer modules some dependencies probe for at run time.
      external: ["@azure/functions-core", "applicationinsights-native-metrics"],
    });
    // azure-pipelines-task-lib loads its own messages from beside the module.
    const taskLib = path.join(root, "node_modules", "azure-pipelines-task-lib");
    fs.copyFileSync(path.join(taskLib, "lib.json"), path.join(dir, "lib.json"));
    fs.cpSync(path.join(taskLib, "Strings"), path.join(dir, "Strings"), { recursive: true });
  }),
);
console.log(`Bundled ${taskNames.length} task(s) in ${Date.now() - started} ms: ${taskNames.join(", ") || "(none)"}`);
