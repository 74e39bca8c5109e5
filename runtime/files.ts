/**
 * Lists the files of a source folder, filtered by include and exclude globs,
 * in a stable order. Paths are relative and use '/', whatever the agent's OS.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { minimatch } from "minimatch";
import { TaskError } from "./errors";

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
  /** Paths the patterns select that are not regular files (fifos, sockets, devices, dangling links): not uploaded. */
  skipped: SkippedPath[];
  /** Links (to files or folders) that lead outside the source folder; followed unless followSymlinks is false. */
  outsideLinks: { relativePath: string; target: string }[];
}

export interface SelectOptions {
  /** Follow symbolic links (default true). Links that lead outside the folder are followed but reported. */
  followSymlinks?: boolean;
}

/** A path that is not uploaded although the patterns select it, and why. */
export interface SkippedPath {
  relativePath: string;
  reason: "fifo" | "socket" | "device" | "dangling link" | "link (followSymlinks is false)" | "unreadable";
}

type WalkItem = { file: SourceFile } | { skipped: SkippedPath } | { outsideLink: { relativePath: string; target: string } };

function specialKind(stats: fs.Stats): SkippedPath["reason"] {
  if (stats.isFIFO()) return "fifo";
  if (stats.isSocket()) return "socket";
  return "device";
}

const isInside = (root: string, target: string) => target === root || target.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/** Walks depth-first in name order; `ancestors` holds the real paths above, so a link back up is not followed. */
async function* walk(root: string, realRoot: string, options: SelectOptions, relative = "", ancestors: Set<string> = new Set()): AsyncGenerator<WalkItem> {
  const dir = path.join(root, relative);
  const real = await fs.promises.realpath(dir);
  if (ancestors.has(real)) return;
  const below = new Set(ancestors).add(real);
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const rel = relative ? `${relative}/${entry.name}` : entry.name;
    const abs = path.join(root, rel);
    let stats: fs.Stats | undefined;
    if (entry.isSymbolicLink()) {
      if (options.followSymlinks === false) {
        yield { skipped: { relativePath: rel, reason: "link (followSymlinks is false)" } };
        continue;
      }
      stats = await fs.promises.stat(abs).catch(() => undefined);
      if (!stats) {
        yield { skipped: { relativePath: rel, reason: "dangling link" } };
        continue;
      }
      const target = await fs.promises.realpath(abs).catch(() => abs);
      if (!isInside(realRoot, target)) yield { outsideLink: { relativePath: rel, target } };
    } else if (!entry.isDirectory() && !entry.isFile()) {
      yield { skipped: { relativePath: rel, reason: specialKind(await fs.promises.lstat(abs)) } };
      continue;
    }
    if (stats ? stats.isDirectory() : entry.isDirectory()) yield* walk(root, realRoot, options, rel, below);
    else if (stats ? stats.isFile() : entry.isFile()) {
      let fileStats = stats;
      try {
        fileStats ??= await fs.promises.stat(abs);
      } catch (e) {
        throw explainFileError(e, { relativePath: rel, absolutePath: abs });
      }
      const size = fileStats.size;
      yield { file: { relativePath: rel, absolutePath: abs, size } };
    }
    else if (stats) yield { skipped: { relativePath: rel, reason: specialKind(stats) } };
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

export async function selectFiles(root: string, include: string[], exclude: string[], options: SelectOptions = {}): Promise<FileSelection> {
  const includes = compile(include);
  const excludes = compile(exclude);
  const selected = pathSelector(include, exclude);
  const files: SourceFile[] = [];
  const skipped: SkippedPath[] = [];
  const outsideLinks: FileSelection["outsideLinks"] = [];
  let scanned = 0;
  for await (const item of walk(root, await fs.promises.realpath(root), options)) {
    if ("skipped" in item) {
      if (selected(item.skipped.relativePath)) skipped.push(item.skipped);
      continue;
    }
    if ("outsideLink" in item) {
      if (selected(item.outsideLink.relativePath) || selected(`${item.outsideLink.relativePath}/x`)) outsideLinks.push(item.outsideLink);
      continue;
    }
    const { file } = item;
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
    skipped,
    outsideLinks,
  };
}

/**
 * A file system error while reading a source file, as something the user can
 * act on: which file, what happened, what to do. Other errors pass through.
 */
export function explainFileError(error: unknown, file: Pick<SourceFile, "relativePath" | "absolutePath">): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const what = `'${file.relativePath}' (${file.absolutePath})`;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new TaskError(
        "SourceFileUnreadable",
        `Cannot read ${what}: permission denied (${code}). Give the agent's user read access to it, or leave it out with 'exclude'.`,
        { cause: error },
      );
    case "ENOENT":
      return new TaskError(
        "SourceFileMissing",
        file.relativePath.includes("\uFFFD")
          ? `Cannot open ${what}: its name is not valid UTF-8 (shown with '\uFFFD'), so it cannot be opened by the name the folder listing gives. Rename the file to a UTF-8 name, or leave it out with 'exclude'.`
          : `Cannot read ${what}: it was deleted or renamed after the folder was listed (ENOENT). Make sure no other step changes the source folder while the copy runs, then run the task again.`,
        { cause: error },
      );
    case "EISDIR":
    case "ELOOP":
    case "EIO":
      return new TaskError("SourceFileUnreadable", `Cannot read ${what} (${code}: ${(error as Error).message}). Fix or exclude it, then run the task again.`, { cause: error });
    default:
      return error;
  }
}
