/**
 * Lists the files of a source folder, filtered by include and exclude globs,
 * in a stable order. Paths are relative and use '/', whatever the agent's OS.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { minimatch } from "minimatch";

export interface SourceFile {
  /** Relative to the source folder, '/'-separated. */
  relativePath: string;
  absolutePath: string;
  size: number;
}

export interface FileSelection {
  files: SourceFile[];
  /** Files found in the folder before filtering. */
  scanned: number;
  /** Include patterns that matched no file. */
  unmatchedIncludes: string[];
  /** Exclude patterns that matched no file. */
  unmatchedExcludes: string[];
}

/** Walks depth-first in name order; `ancestors` holds the real paths above, so a link back up is not followed. */
async function* walk(root: string, relative = "", ancestors: Set<string> = new Set()): AsyncGenerator<SourceFile> {
  const dir = path.join(root, relative);
  const real = await fs.promises.realpath(dir);
  if (ancestors.has(real)) return;
  const below = new Set(ancestors).add(real);
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const rel = relative ? `${relative}/${entry.name}` : entry.name;
    const abs = path.join(root, rel);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await fs.promises.stat(abs).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) yield* walk(root, rel, below);
    else if (isFile) yield { relativePath: rel, absolutePath: abs, size: (await fs.promises.stat(abs)).size };
  }
}

const GLOB_OPTIONS = { dot: true, nocomment: true };
const compile = (patterns: string[]) => patterns.map((p) => ({ pattern: p, hits: 0, match: minimatch.filter(p.replace(/^\.\//, ""), GLOB_OPTIONS) }));

/**
 * Whether a relative path is selected by the patterns: matched by an include
 * and by no exclude. What a run does not select it does not manage, on disk
 * or in the target (a blob under an excluded path is never deleted).
 */
export function pathSelector(include: string[], exclude: string[]): (relativePath: string) => boolean {
  const includes = compile(include);
  const excludes = compile(exclude);
  return (relativePath) => includes.some((i) => i.match(relativePath)) && !excludes.some((e) => e.match(relativePath));
}

export async function selectFiles(root: string, include: string[], exclude: string[]): Promise<FileSelection> {
  const includes = compile(include);
  const excludes = compile(exclude);
  const files: SourceFile[] = [];
  let scanned = 0;
  for await (const file of walk(root)) {
    scanned++;
    // Every pattern is tried on every file, so "matched nothing" means what it says.
    let included = false;
    for (const inc of includes) {
      if (inc.match(file.relativePath)) {
        inc.hits++;
        included = true;
      }
    }
    let excluded = false;
    for (const exc of excludes) {
      if (exc.match(file.relativePath)) {
        exc.hits++;
        excluded = true;
      }
    }
    if (!included) continue;
    if (!excluded) files.push(file);
  }
  return {
    files,
    scanned,
    unmatchedIncludes: includes.filter((i) => i.hits === 0).map((i) => i.pattern),
    unmatchedExcludes: excludes.filter((e) => e.hits === 0).map((e) => e.pattern),
  };
}
