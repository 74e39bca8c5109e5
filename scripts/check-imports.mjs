/**
 * The import boundaries of the code that ships:
 *   - tasks/<Name>/ imports only runtime/, its own folder and npm packages
 *     (never another task, never test/, bench/ or scripts/);
 *   - runtime/ imports only runtime/ and npm packages (never tasks/, test/,
 *     bench/ or scripts/).
 * Test code may import anything.
 *
 * Two independent checks, both on every file under runtime/ and tasks/:
 *   1. The TypeScript parser finds every module reference: import and export
 *      declarations (type-only too), `import x = require()`, `import("...")`,
 *      `import("...").Type`, `require()`, `require.resolve()`, and
 *      `/// <reference path>`; each is resolved as the compiler does
 *      (symlinks followed). A specifier that is not a plain string, and any
 *      other use of `require` or `createRequire`, cannot be checked and is an
 *      error.
 *   2. esbuild bundles each task entry and its metafile lists every source
 *      file that would ship in it; each must lie in runtime/ or that task.
 *
 *   node scripts/check-imports.mjs [--root <folder>] [--only sources|bundles]   exit 1 and one line per offending import
 */
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ts from "typescript";

const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js|jsx)$/;

/** @typedef {{ file: string, line: number, column: number, specifier: string, target?: string, rule: string }} Violation */

/** Relative, forward-slashed path from the root. */
const rel = (/** @type {string} */ root, /** @type {string} */ p) => path.relative(root, p).split(path.sep).join("/");

/** The area a path is in: `tasks/<Name>`, `runtime`, another top-level folder, or "outside". */
function areaOf(/** @type {string} */ root, /** @type {string} */ p) {
  const r = rel(root, p);
  if (r.startsWith("../") || path.isAbsolute(r)) return "outside";
  const [top, second] = r.split("/");
  if (top === "node_modules" || r.includes("/node_modules/")) return "node_modules";
  if (top === "tasks" && second !== undefined && r !== "tasks/" + second) return `tasks/${second}`;
  return top;
}

/** Why `from` may not reach `to`, or undefined when it may. */
function ruleBroken(/** @type {string} */ root, /** @type {string} */ from, /** @type {string} */ to) {
  const source = areaOf(root, from);
  const target = areaOf(root, to);
  if (target === "node_modules") return undefined;
  if (source === "runtime") return target === "runtime" ? undefined : "runtime/ may import only runtime/ and npm packages";
  if (source.startsWith("tasks/")) {
    return target === "runtime" || target === source ? undefined : `a task may import only runtime/, its own folder (${source}/) and npm packages`;
  }
  return undefined;
}

/** Every source file under runtime/ and tasks/, less the bundles the build writes (tasks/<Name>/index.js). */
export function productFiles(/** @type {string} */ root) {
  /** @type {string[]} */
  const files = [];
  const walk = (/** @type {string} */ dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "Strings") walk(p);
      } else if (SOURCE.test(entry.name) && !/^tasks\/[^/]+\/index\.js$/.test(rel(root, p))) files.push(p);
    }
  };
  walk(path.join(root, "runtime"));
  walk(path.join(root, "tasks"));
  return files.sort();
}

function compilerOptions(/** @type {string} */ root) {
  const configPath = path.join(root, "tsconfig.json");
  if (!fs.existsSync(configPath)) return { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, resolveJsonModule: true, allowJs: true };
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config ?? {}, ts.sys, root);
  return { ...parsed.options, allowJs: true, resolveJsonModule: true };
}

/**
 * Check 1: every module reference in the product's sources, as the compiler sees it.
 * @returns {Violation[]}
 */
export function checkSources(/** @type {string} */ root) {
  const options = compilerOptions(root);
  /** @type {Violation[]} */
  const violations = [];
  for (const file of productFiles(root)) {
    const text = fs.readFileSync(file, "utf8");
    const kind = /\.[cm]?tsx?$/.test(file) ? (file.endsWith("x") ? ts.ScriptKind.TSX : ts.ScriptKind.TS) : ts.ScriptKind.JS;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
    const at = (/** @type {ts.Node | number} */ node) => {
      const pos = typeof node === "number" ? node : node.getStart(source);
      const { line, character } = source.getLineAndCharacterOfPosition(pos);
      return { line: line + 1, column: character + 1 };
    };
    const report = (/** @type {ts.Node | number} */ node, /** @type {string} */ specifier, /** @type {string} */ rule, /** @type {string | undefined} */ target) =>
      violations.push({ file: rel(root, file), ...at(node), specifier, target, rule });

    const checkSpecifier = (/** @type {ts.Node | number} */ node, /** @type {string} */ specifier) => {
      if (specifier.startsWith("node:") || isBuiltin(specifier)) return;
      /** @type {string[]} */
      const targets = [];
      // The file the compiler resolves (symlinks followed), and the path as written (for what does not resolve).
      const resolved = ts.resolveModuleName(specifier, file, options, ts.sys).resolvedModule?.resolvedFileName;
      if (resolved) targets.push(realpath(resolved));
      if (ts.isExternalModuleNameRelative(specifier) || path.isAbsolute(specifier)) targets.push(path.resolve(path.dirname(file), specifier));
      for (const target of targets) {
        const rule = ruleBroken(root, file, target);
        if (rule) return report(node, specifier, rule, rel(root, target));
      }
    };

    for (const ref of source.referencedFiles) checkSpecifier(ref.pos, ref.fileName);

    /** Module references the parser cannot resolve statically are errors in the product. */
    const visit = (/** @type {ts.Node} */ node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        checkSpecifier(node.moduleSpecifier, node.moduleSpecifier.text);
      } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
        const expr = node.moduleReference.expression;
        if (ts.isStringLiteralLike(expr)) checkSpecifier(expr, expr.text);
        else report(expr, expr.getText(source), "a require with a specifier that is not a plain string cannot be checked", undefined);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        checkSpecifier(node.argument.literal, node.argument.literal.text);
      } else if (ts.isCallExpression(node) && isModuleCall(node.expression)) {
        const [arg] = node.arguments;
        if (arg && ts.isStringLiteralLike(arg)) checkSpecifier(arg, arg.text);
        else report(node, node.getText(source).slice(0, 80), "a module specifier that is not a plain string cannot be checked", undefined);
        for (const a of node.arguments.slice(1)) visit(a);
        return;
      } else if (ts.isIdentifier(node) && (node.text === "require" || node.text === "createRequire") && !isCheckedRequire(node)) {
        report(node, node.text, `\`${node.text}\` used other than as require("<path>") cannot be checked`, undefined);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return violations;
}

// Built-in modules without the node: prefix (fs, path, ...).
const builtins = new Set(builtinModules);
const isBuiltin = (/** @type {string} */ s) => builtins.has(s) || builtins.has(s.split("/")[0]);

function realpath(/** @type {string} */ p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** `require(...)`, `require.resolve(...)`, `import(...)`. */
function isModuleCall(/** @type {ts.Expression} */ callee) {
  if (callee.kind === ts.SyntaxKind.ImportKeyword) return true;
  if (ts.isIdentifier(callee) && callee.text === "require") return true;
  return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "require" && callee.name.text === "resolve";
}

/** An identifier `require` that is the callee of a checked call, or a name in a declaration or property (not a use). */
function isCheckedRequire(/** @type {ts.Identifier} */ node) {
  const parent = node.parent;
  if (ts.isCallExpression(parent) && parent.expression === node) return true;
  if (ts.isPropertyAccessExpression(parent) && parent.expression === node && ts.isCallExpression(parent.parent) && parent.parent.expression === parent && parent.name.text === "resolve") return true;
  // `x.require` / `{ require: ... }` / a type's member named require: a property name, not the function.
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return true;
  if ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isMethodSignature(parent) || ts.isPropertyDeclaration(parent)) && parent.name === node) return true;
  return false;
}

/**
 * Check 2: every source file esbuild would bundle into each task.
 * @returns {Promise<Violation[]>}
 */
export async function checkBundles(/** @type {string} */ root) {
  const tasksDir = path.join(root, "tasks");
  if (!fs.existsSync(tasksDir)) return [];
  const entries = fs
    .readdirSync(tasksDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(tasksDir, d.name, "index.ts")))
    .map((d) => path.join(tasksDir, d.name, "index.ts"));
  /** @type {Violation[]} */
  const violations = [];
  await Promise.all(
    entries.map(async (entry) => {
      const result = await build({
        absWorkingDir: root,
        entryPoints: [entry],
        bundle: true,
        write: false,
        metafile: true,
        platform: "node",
        format: "cjs",
        logLevel: "silent",
        // npm packages are not followed: they are allowed, and only the project's own files are in question.
        packages: "external",
        loader: { ".png": "empty" },
      }).catch((/** @type {{ errors?: { text: string }[] }} */ e) => {
        violations.push({ file: rel(root, entry), line: 1, column: 1, specifier: "", rule: `esbuild could not bundle it: ${e.errors?.map((x) => x.text).join("; ") ?? e}` });
        return undefined;
      });
      if (!result?.metafile) return;
      for (const [input, info] of Object.entries(result.metafile.inputs)) {
        for (const imported of info.imports) {
          if (imported.external) continue;
          const target = path.resolve(root, imported.path);
          const rule = ruleBroken(root, entry, target);
          if (rule) violations.push({ file: rel(root, path.resolve(root, input)), line: 0, column: 0, specifier: imported.original ?? imported.path, target: rel(root, target), rule: `bundled into ${rel(root, entry)}: ${rule}` });
        }
      }
    }),
  );
  return violations;
}

export function formatViolation(/** @type {Violation} */ v) {
  const where = v.line > 0 ? `${v.file}:${v.line}:${v.column}` : v.file;
  const what = v.specifier ? `imports '${v.specifier}'${v.target ? ` (${v.target})` : ""}` : "";
  return `${where}: ${what}${what ? ": " : ""}${v.rule}`;
}

async function main() {
  const args = process.argv.slice(2);
  const rootArg = args.indexOf("--root");
  const root = rootArg >= 0 && args[rootArg + 1] ? path.resolve(args[rootArg + 1]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  // --only sources|bundles runs one of the two checks (to show each catches on its own).
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
  const started = Date.now();
  const files = productFiles(root);
  const fromSources = only === "bundles" ? [] : checkSources(root);
  const fromBundles = only === "sources" ? [] : await checkBundles(root);
  // The parser's findings carry a line; the bundle check adds what it alone found.
  const found = new Set(fromSources.map((v) => `${v.file}\u0000${v.specifier}`));
  const lines = [...new Set([...fromSources, ...fromBundles.filter((v) => !found.has(`${v.file}\u0000${v.specifier}`))].map(formatViolation))];
  if (lines.length > 0) {
    console.error(`Import boundaries: ${lines.length} offending import(s)\n${lines.map((l) => `  ${l}`).join("\n")}`);
    return 1;
  }
  console.log(`Import boundaries: ${files.length} files under runtime/ and tasks/ import only what they may (${Date.now() - started} ms)`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
