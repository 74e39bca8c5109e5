/**
 * Reads an Azure Pipelines YAML file into the one job the local runner runs:
 * its variables and its steps. What the runner cannot run is kept, with the
 * reason, so the run can fail naming the step rather than at parse time.
 */
import { parse as parseYaml, YAMLParseError } from "yaml";

export type StepKind = "task" | "script" | "bash" | "pwsh" | "powershell" | "checkout" | "download" | "downloadBuild" | "publish" | "getPackage" | "template" | "reviewApp" | "unknown";

const STEP_KINDS: StepKind[] = ["task", "script", "bash", "pwsh", "powershell", "checkout", "download", "downloadBuild", "publish", "getPackage", "template", "reviewApp"];

export interface TaskReference {
  /** As written, e.g. `BatchAppBlobCopy@1`. */
  ref: string;
  name: string;
  major: number;
}

export interface PipelineStep {
  /** 1-based position in the job. */
  index: number;
  kind: StepKind;
  task?: TaskReference;
  /** The step's `name:`, the prefix of its output variables. */
  name?: string;
  /** `displayName:` as written (macros not yet expanded), else the task reference or kind. */
  displayName: string;
  /** `inputs:` as strings, names as written. */
  inputs: Record<string, string>;
  env: Record<string, string>;
  condition?: string;
  enabled: boolean;
  continueOnError: boolean;
  timeoutInMinutes?: number;
  /** Why the runner cannot run this step, when known from the YAML alone. */
  unsupported?: string;
}

export interface PipelineDefinition {
  /** Pipeline, stage and job variables merged (inner wins), values as written. */
  variables: Record<string, string>;
  steps: PipelineStep[];
  /** Where the steps came from, e.g. `steps`, `jobs[0] (job deploy)`. */
  origin: string;
}

export class PipelineDefinitionError extends Error {
  override name = "PipelineDefinitionError";
}

type YamlMap = Record<string, unknown>;
const isMap = (v: unknown): v is YamlMap => typeof v === "object" && v !== null && !Array.isArray(v);

/** A scalar as the agent would see it: YAML booleans and numbers become their text. */
function scalar(value: unknown, where: string): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new PipelineDefinitionError(`${where} must be a single value (text, number or boolean), not ${Array.isArray(value) ? "a list" : "a mapping"}`);
}

function boolean(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === "true";
  throw new PipelineDefinitionError(`${where} must be true or false, not ${JSON.stringify(value)}`);
}

/** The first place a template expression `${{ }}` appears, as a path, else undefined. */
function findTemplateExpression(node: unknown, path: string): string | undefined {
  if (typeof node === "string") return node.includes("${{") ? path : undefined;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = findTemplateExpression(node[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isMap(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key.includes("${{")) return `${path}.${key}`;
      const found = findTemplateExpression(value, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

export function parseVariables(node: unknown, where: string): Record<string, string> {
  const variables: Record<string, string> = {};
  if (node === undefined || node === null) return variables;
  const set = (name: string, value: unknown, at: string) => {
    const text = scalar(value, at);
    if (text.includes("$[")) throw new PipelineDefinitionError(`${at}: runtime expressions ($[ ... ]) are not supported by the local runner`);
    variables[name] = text;
  };
  if (isMap(node)) {
    for (const [name, value] of Object.entries(node)) set(name, value, `${where}.${name}`);
    return variables;
  }
  if (!Array.isArray(node)) throw new PipelineDefinitionError(`${where} must be a mapping or a list of { name, value }`);
  node.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (!isMap(entry)) throw new PipelineDefinitionError(`${at} must be { name, value }`);
    if ("group" in entry) throw new PipelineDefinitionError(`${at}: variable groups (group: ${scalar(entry.group, at)}) are not supported by the local runner; set the values under variables instead`);
    if ("template" in entry) throw new PipelineDefinitionError(`${at}: variable templates are not supported by the local runner`);
    if (typeof entry.name !== "string" || !entry.name) throw new PipelineDefinitionError(`${at} has no name`);
    set(entry.name, entry.value, `${at} (${entry.name})`);
  });
  return variables;
}

const TASK_REF = /^([A-Za-z0-9_.-]+)@(\d+)$/;
/** Step names prefix output variables, so Azure Pipelines allows only identifiers. */
const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseStep(node: unknown, index: number, where: string): PipelineStep {
  if (!isMap(node)) throw new PipelineDefinitionError(`${where} must be a mapping (for example { task: Name@1, inputs: ... })`);
  const kind = STEP_KINDS.find((k) => k in node) ?? "unknown";
  const label = (displayName: string) => `step ${index} '${displayName}'`;
  const step: PipelineStep = {
    index,
    kind,
    displayName: "",
    inputs: {},
    env: {},
    enabled: boolean(node.enabled, `${where}.enabled`, true),
    continueOnError: boolean(node.continueOnError, `${where}.continueOnError`, false),
  };
  if (node.name !== undefined) {
    const name = scalar(node.name, `${where}.name`);
    if (!STEP_NAME.test(name)) throw new PipelineDefinitionError(`${where}.name '${name}' is not valid: a step name starts with a letter or _ and holds only letters, digits and _`);
    step.name = name;
  }
  if (node.condition !== undefined) step.condition = scalar(node.condition, `${where}.condition`);
  if (node.timeoutInMinutes !== undefined) {
    const minutes = Number(node.timeoutInMinutes);
    if (!Number.isFinite(minutes) || minutes < 0) throw new PipelineDefinitionError(`${where}.timeoutInMinutes must be a number of minutes`);
    step.timeoutInMinutes = minutes;
  }
  if (isMap(node.env)) for (const [k, v] of Object.entries(node.env)) step.env[k] = scalar(v, `${where}.env.${k}`);

  if (kind === "task") {
    const ref = scalar(node.task, `${where}.task`).trim();
    const m = TASK_REF.exec(ref);
    step.displayName = node.displayName !== undefined ? scalar(node.displayName, `${where}.displayName`) : ref;
    if (!m) {
      step.unsupported = `${label(step.displayName)}: 'task: ${ref}' is not a task reference; write Name@major, for example BatchAppBlobCopy@1`;
    } else {
      // A fully qualified reference (publisher.extension.Name@1) names the task by its last part.
      step.task = { ref, name: m[1].split(".").at(-1)!, major: Number(m[2]) };
    }
    if (node.inputs !== undefined && !isMap(node.inputs)) throw new PipelineDefinitionError(`${where}.inputs must be a mapping of input names to values`);
    for (const [k, v] of Object.entries(node.inputs ?? {})) step.inputs[k] = scalar(v, `${where}.inputs.${k}`);
    return step;
  }
  const body = typeof node[kind] === "string" ? (node[kind] as string).trim().split("\n")[0] : "";
  const summary = body.length > 40 ? `${body.slice(0, 40)}...` : body;
  step.displayName = node.displayName !== undefined ? scalar(node.displayName, `${where}.displayName`) : kind === "unknown" ? `step ${index}` : summary ? `${kind}: ${summary}` : kind;
  step.unsupported =
    kind === "unknown"
      ? `${label(step.displayName)}: not a step the local runner knows (keys: ${Object.keys(node).join(", ")})`
      : kind === "template"
        ? `${label(step.displayName)}: step templates are not supported by the local runner`
        : `${label(step.displayName)}: ${kind} steps cannot run in the local runner, which runs only this repository's tasks (task: Name@1)`;
  return step;
}

function parseSteps(node: unknown, where: string): PipelineStep[] {
  if (!Array.isArray(node) || node.length === 0) throw new PipelineDefinitionError(`${where} must be a non-empty list of steps`);
  const steps = node.map((s, i) => parseStep(s, i + 1, `${where}[${i}]`));
  const seen = new Map<string, number>();
  for (const step of steps) {
    if (!step.name) continue;
    const key = step.name.toLowerCase();
    if (seen.has(key)) throw new PipelineDefinitionError(`${where}: steps ${seen.get(key)} and ${step.index} are both named '${step.name}'; step names must be unique in a job`);
    seen.set(key, step.index);
  }
  return steps;
}

function jobSteps(job: unknown, where: string): { steps: PipelineStep[]; variables: Record<string, string>; origin: string } {
  if (!isMap(job)) throw new PipelineDefinitionError(`${where} must be a job mapping`);
  if ("template" in job) throw new PipelineDefinitionError(`${where}: job templates are not supported by the local runner`);
  const variables = parseVariables(job.variables, `${where}.variables`);
  if ("job" in job) return { steps: parseSteps(job.steps, `${where}.steps`), variables, origin: `${where} (job ${scalar(job.job, where)})` };
  if ("deployment" in job) {
    const strategy = job.strategy;
    const deploy = isMap(strategy) && isMap(strategy.runOnce) && isMap(strategy.runOnce.deploy) ? strategy.runOnce.deploy : undefined;
    if (!deploy) throw new PipelineDefinitionError(`${where}: a deployment job runs here only with strategy.runOnce.deploy.steps (rolling and canary strategies are not supported)`);
    return { steps: parseSteps(deploy.steps, `${where}.strategy.runOnce.deploy.steps`), variables, origin: `${where} (deployment ${scalar(job.deployment, where)})` };
  }
  throw new PipelineDefinitionError(`${where} is neither a job nor a deployment`);
}

function single(list: unknown, where: string, what: string): unknown {
  if (!Array.isArray(list) || list.length === 0) throw new PipelineDefinitionError(`${where} must be a non-empty list of ${what}s`);
  if (list.length > 1) throw new PipelineDefinitionError(`${where} has ${list.length} ${what}s; the local runner runs a pipeline with a single ${what}`);
  return list[0];
}

/** Parses pipeline YAML text; throws PipelineDefinitionError with the place and the reason. */
export function parsePipeline(text: string, source = "pipeline"): PipelineDefinition {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    if (e instanceof YAMLParseError) throw new PipelineDefinitionError(`${source} is not valid YAML: ${e.message}`);
    throw e;
  }
  if (!isMap(doc)) throw new PipelineDefinitionError(`${source} must be a YAML mapping with steps, jobs or stages`);
  const template = findTemplateExpression(doc, "");
  if (template) throw new PipelineDefinitionError(`${source}: template expressions (\${{ ... }}) are not supported by the local runner (at ${template.slice(1)})`);
  for (const key of ["extends", "parameters"]) {
    if (key in doc) throw new PipelineDefinitionError(`${source}: '${key}:' (templates) is not supported by the local runner`);
  }
  const variables = parseVariables(doc.variables, "variables");
  const shapes = ["steps", "jobs", "stages"].filter((k) => k in doc);
  if (shapes.length !== 1) throw new PipelineDefinitionError(`${source} must have exactly one of steps, jobs or stages${shapes.length ? ` (it has ${shapes.join(", ")})` : ""}`);
  if ("steps" in doc) return { variables, steps: parseSteps(doc.steps, "steps"), origin: "steps" };
  if ("jobs" in doc) {
    const job = jobSteps(single(doc.jobs, "jobs", "job"), "jobs[0]");
    return { variables: { ...variables, ...job.variables }, steps: job.steps, origin: job.origin };
  }
  const stage = single(doc.stages, "stages", "stage");
  if (!isMap(stage) || "template" in stage) throw new PipelineDefinitionError(`stages[0] must be a stage mapping (stage templates are not supported)`);
  const stageVariables = parseVariables(stage.variables, "stages[0].variables");
  const job = jobSteps(single(stage.jobs, "stages[0].jobs", "job"), "stages[0].jobs[0]");
  return { variables: { ...variables, ...stageVariables, ...job.variables }, steps: job.steps, origin: `stages[0] (stage ${scalar(stage.stage, "stages[0].stage")}), ${job.origin}` };
}
