/**
 * Finds the task a `task: Name@major` step names among this repository's
 * tasks (tasks/<Name>/task.json and its bundled index.js).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TaskReference } from "./definition";

/** The extension's tasks (README); one that has no task.json yet is "not built yet". */
export const PRODUCT_TASKS = ["BatchAppBlobCopy", "BatchAppPackage", "BatchPoolCycle", "DataFactoryRun", "BatchPoolAutoscale"] as const;

export interface TaskInputDefinition {
  name: string;
  /** e.g. `string`, `boolean`, `connectedService:AzureRM`. */
  type?: string;
  aliases?: string[];
  defaultValue?: string;
  required?: boolean;
}

export interface TaskDefinition {
  name: string;
  version: { Major: number; Minor: number; Patch: number };
  inputs?: TaskInputDefinition[];
  outputVariables?: { name: string }[];
}

export type TaskResolution =
  | { status: "runnable"; ref: string; folder: string; definition: TaskDefinition }
  | { status: "notBuiltYet" | "notBundled" | "wrongVersion" | "unknown"; ref: string; message: string };

export function resolveTask(task: TaskReference, tasksDir: string): TaskResolution {
  const known = fs.existsSync(tasksDir) ? fs.readdirSync(tasksDir).filter((n) => fs.existsSync(path.join(tasksDir, n, "task.json"))) : [];
  const folderName = known.find((n) => n.toLowerCase() === task.name.toLowerCase());
  if (!folderName) {
    const planned = PRODUCT_TASKS.find((n) => n.toLowerCase() === task.name.toLowerCase());
    if (planned) return { status: "notBuiltYet", ref: task.ref, message: `${planned}@${task.major} is not built yet` };
    return { status: "unknown", ref: task.ref, message: `unknown task ${task.ref}: the local runner runs only this repository's tasks (${[...new Set([...known, ...PRODUCT_TASKS])].join(", ")})` };
  }
  const folder = path.join(tasksDir, folderName);
  const definition = JSON.parse(fs.readFileSync(path.join(folder, "task.json"), "utf8")) as TaskDefinition;
  if (definition.version?.Major !== task.major) {
    return { status: "wrongVersion", ref: task.ref, message: `${task.ref}: tasks/${folderName} is version ${definition.version?.Major}.${definition.version?.Minor}.${definition.version?.Patch}` };
  }
  if (!fs.existsSync(path.join(folder, "index.js"))) return { status: "notBundled", ref: task.ref, message: `${task.ref} is not bundled (tasks/${folderName}/index.js is missing): run 'npm run build'` };
  return { status: "runnable", ref: task.ref, folder, definition };
}

/** Maps inputs as written (any case, or an alias) to the task's input names; lists the names it does not know. */
export function canonicalInputs(inputs: Record<string, string>, definition: TaskDefinition): { inputs: Record<string, string>; unknown: string[] } {
  const byName = new Map<string, string>();
  for (const input of definition.inputs ?? []) {
    byName.set(input.name.toLowerCase(), input.name);
    for (const alias of input.aliases ?? []) byName.set(alias.toLowerCase(), input.name);
  }
  const result: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(inputs)) {
    const canonical = byName.get(name.toLowerCase());
    if (canonical) result[canonical] = value;
    else unknown.push(name);
  }
  return { inputs: result, unknown };
}
