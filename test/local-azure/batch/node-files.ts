/**
 * Each node has a real directory: a temp folder per node, laid out as a Batch
 * Linux node's AZ_BATCH_NODE_ROOT_DIR (applications/, fsmounts/, shared/,
 * startup/, volatile/, workitems/<job>/job-1/<task>/wd). Tasks and start
 * tasks run there, packages are unzipped there, and File_ListFromComputeNode,
 * File_ListFromTask and the file get / properties routes read it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { NodeRecord } from "./state";
import type { BatchSimulation } from "./simulation";

/** The node root on real Linux nodes, as AZ_BATCH_NODE_ROOT_DIR shows it there (the local nodes use a temp folder). */
export const NODE_ROOT_DIR = "/mnt/batch/tasks";

const LAYOUT = ["applications", "fsmounts", "shared", "startup", "volatile", "workitems"];

export interface NodeFile {
  /** Relative to the node root (or the task directory), with "/" separators. */
  name: string;
  isDirectory: boolean;
  size: number;
  created: string;
  lastModified: string;
}

/** Creates (or, with `fresh`, recreates empty) the node's directory with Batch's layout. */
export function prepareNodeDirectory(sim: BatchSimulation, node: NodeRecord, fresh = false): void {
  if (!node.sim.rootDir) node.sim.rootDir = path.join(sim.nodesDirectory(), node.id);
  if (fresh) fs.rmSync(node.sim.rootDir, { recursive: true, force: true });
  for (const d of LAYOUT) fs.mkdirSync(path.join(node.sim.rootDir, d), { recursive: true });
}

export function removeNodeDirectory(node: NodeRecord): void {
  if (node.sim.rootDir) fs.rmSync(node.sim.rootDir, { recursive: true, force: true });
}

/** The task directory (`workitems/<job>/job-1/<task>`) relative to the node root. */
export function taskDirectoryName(jobId: string, taskId: string): string {
  return `workitems/${jobId}/job-1/${taskId}`;
}

function walk(root: string, recursive: boolean): NodeFile[] {
  const out: NodeFile[] = [];
  const visit = (dir: string, prefix: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      let st: fs.Stats;
      try {
        st = fs.statSync(full);
      } catch {
        continue;
      }
      out.push({ name, isDirectory: st.isDirectory(), size: st.isDirectory() ? 0 : st.size, created: st.birthtime.toISOString(), lastModified: st.mtime.toISOString() });
      if (recursive && st.isDirectory()) visit(full, name);
    }
  };
  visit(root, "");
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every file and directory on a node, names relative to the node root, as File_ListFromComputeNode shows them. */
export function nodeFiles(node: NodeRecord, recursive = true): NodeFile[] {
  return node.sim.rootDir ? walk(node.sim.rootDir, recursive) : [];
}

/** The files of a task's directory on its node, names relative to the task directory (stdout.txt, wd/...). */
export function taskFiles(node: NodeRecord, jobId: string, taskId: string, recursive: boolean): NodeFile[] {
  return node.sim.rootDir ? walk(path.join(node.sim.rootDir, taskDirectoryName(jobId, taskId)), recursive) : [];
}

/** One file or directory below a base (node root or task directory); undefined when absent or outside. */
export function statFile(base: string, name: string): (NodeFile & { fullPath: string }) | undefined {
  const full = path.resolve(base, name);
  if (full !== base && !full.startsWith(base + path.sep)) return undefined;
  try {
    const st = fs.statSync(full);
    return { name, fullPath: full, isDirectory: st.isDirectory(), size: st.isDirectory() ? 0 : st.size, created: st.birthtime.toISOString(), lastModified: st.mtime.toISOString() };
  } catch {
    return undefined;
  }
}

/** A fresh temp folder holding every node's directory. */
export function createNodesDirectory(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "local-batch-nodes-"));
}
