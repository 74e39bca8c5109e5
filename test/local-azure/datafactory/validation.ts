/**
 * Checks ADF makes when a pipeline is saved and when a run is created. Error
 * codes are `BadRequest`, as ADF's data plane answers validation failures.
 * Wording: "Missing parameter definition for …" and "The document creation or
 * update failed because of invalid reference …" are ADF's own; the
 * parameter messages on createRun are unconfirmed (close to ADF's style).
 */
import { ServiceError } from "../http";
import { findDataset } from "./datasets";
import { referencedParameters } from "./expressions";
import { findLinkedService, findPipeline } from "./runs";
import type { FactoryEntity, Json, PipelineEntity, PipelineProperties } from "./types";

function badRequest(message: string): ServiceError {
  return new ServiceError(400, "BadRequest", message);
}

export function validatePipeline(factory: FactoryEntity, name: string, properties: PipelineProperties | undefined): PipelineProperties {
  if (!properties || typeof properties !== "object") throw badRequest(`The pipeline '${name}' has no 'properties'.`);
  const activities = properties.activities ?? [];
  if (!Array.isArray(activities)) throw badRequest(`The 'activities' of pipeline '${name}' must be an array.`);
  const names = new Set<string>();
  for (const a of activities) {
    if (!a || typeof a.name !== "string" || typeof a.type !== "string") throw badRequest(`Every activity of pipeline '${name}' needs a 'name' and a 'type'.`);
    if (names.has(a.name)) throw badRequest(`The pipeline '${name}' has more than one activity named '${a.name}'.`);
    names.add(a.name);
  }
  for (const a of activities) {
    for (const d of a.dependsOn ?? []) {
      if (!names.has(d.activity)) throw badRequest(`Activity '${a.name}' depends on activity '${d.activity}', which is not in pipeline '${name}'.`);
      for (const c of d.dependencyConditions ?? []) {
        if (!["Succeeded", "Failed", "Skipped", "Completed"].includes(c)) throw badRequest(`Activity '${a.name}' has an invalid dependency condition '${c}'.`);
      }
    }
    const refs = [a.linkedServiceName?.referenceName, (a.typeProperties?.resourceLinkedService as { referenceName?: string } | undefined)?.referenceName];
    for (const ref of refs) {
      if (ref !== undefined && !findLinkedService(factory, ref)) throw badRequest(`The document creation or update failed because of invalid reference '${ref}'.`);
    }
    for (const key of ["inputs", "outputs"] as const) {
      const list = a[key];
      for (const d of Array.isArray(list) ? (list as { referenceName?: string }[]) : []) {
        if (typeof d?.referenceName !== "string" || !findDataset(factory, d.referenceName)) throw badRequest(`The document creation or update failed because of invalid reference '${d?.referenceName ?? ""}'.`);
      }
    }
    if (a.type === "ExecutePipeline") {
      const ref = (a.typeProperties?.pipeline as { referenceName?: string } | undefined)?.referenceName;
      if (!ref || (ref.toLowerCase() !== name.toLowerCase() && !findPipeline(factory, ref))) throw badRequest(`The document creation or update failed because of invalid reference '${ref ?? ""}'.`);
    }
    if (a.type === "Custom" && a.typeProperties?.command === undefined) throw badRequest(`Activity '${a.name}': the property 'command' is required for a Custom activity.`);
  }
  if (hasCycle(activities.map((a) => ({ name: a.name, deps: (a.dependsOn ?? []).map((d) => d.activity) })))) {
    throw badRequest(`The activities of pipeline '${name}' have a circular dependency.`);
  }
  const declared = new Set(Object.keys(properties.parameters ?? {}));
  const missing = [...referencedParameters(activities)].filter((p) => !declared.has(p));
  if (missing.length) throw badRequest(`Missing parameter definition for ${missing.map((m) => `'${m}'`).join(",")}`);
  return properties;
}

function hasCycle(nodes: { name: string; deps: string[] }[]): boolean {
  const deps = new Map(nodes.map((n) => [n.name, n.deps]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string): boolean => {
    if (state.get(name) === "done") return false;
    if (state.get(name) === "visiting") return true;
    state.set(name, "visiting");
    const cyclic = (deps.get(name) ?? []).some(visit);
    state.set(name, "done");
    return cyclic;
  };
  return nodes.some((n) => visit(n.name));
}

/** createRun: every passed parameter must be declared, every parameter without a default passed. */
export function validateRunParameters(pipeline: PipelineEntity, passed: Record<string, Json>): void {
  const declared = pipeline.properties.parameters ?? {};
  const unknown = Object.keys(passed).filter((p) => !(p in declared));
  if (unknown.length) {
    throw badRequest(`The parameters ${unknown.map((u) => `'${u}'`).join(", ")} are not declared in the pipeline '${pipeline.name}'.`);
  }
  const missing = Object.entries(declared)
    .filter(([name, spec]) => !(name in passed) && spec.defaultValue === undefined)
    .map(([name]) => name);
  if (missing.length) {
    throw badRequest(`Missing value for required parameter(s) ${missing.map((m) => `'${m}'`).join(", ")} of pipeline '${pipeline.name}'.`);
  }
}
