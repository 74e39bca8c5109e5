/** The files a node shows through File_ListFromComputeNode: its fixed layout, installed packages and task outputs. */
import {
  type NodeRecord,
  type PoolRecord,
} from "./state";
import type { BatchSimulation } from "./simulation";

/** The node root on Linux nodes, as AZ_BATCH_NODE_ROOT_DIR shows it. */
export const NODE_ROOT_DIR = "/mnt/batch/tasks";

/** Every file and directory on a node, names relative to the node root, as File_ListFromComputeNode shows them. */
export function nodeFiles(sim: BatchSimulation, pool: PoolRecord, node: NodeRecord): { name: string; isDirectory: boolean; size: number; created: string }[] {
  const created = node.allocationTime;
  const out = new Map<string, { name: string; isDirectory: boolean; size: number; created: string }>();
  const addDir = (name: string, at = created) => {
    const parts = name.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!out.has(dir)) out.set(dir, { name: dir, isDirectory: true, size: 0, created: at });
    }
  };
  for (const d of ["applications", "fsmounts", "shared", "startup", "volatile", "workitems"]) addDir(d);
  if (node.startTaskInfo) addDir("startup/wd");
  for (const p of node.installedPackages) {
    addDir(p.directory, p.installedAt);
    for (const e of p.entries) {
      const name = `${p.directory}/${e.name.replace(/\/$/, "")}`;
      if (e.name.endsWith("/")) addDir(name, p.installedAt);
      else {
        addDir(name.slice(0, name.lastIndexOf("/")), p.installedAt);
        out.set(name, { name, isDirectory: false, size: e.size, created: p.installedAt });
      }
    }
  }
  for (const [name, f] of node.sim.files) {
    addDir(name.slice(0, name.lastIndexOf("/")), f.created);
    out.set(name, { name, isDirectory: false, size: f.content.length, created: f.created });
  }
  void pool;
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
