/**
 * Runs a pipeline's steps in order, each task step's bundled entry as the
 * agent does (test/harness/run-task.ts), stopping at the first failure (later
 * steps with the default condition are skipped, as on the agent).
 *
 * Before any step runs, every step is resolved: a step the runner cannot run
 * (script, unknown task, task not built yet, unknown input, bad condition)
 * fails the run there and then, naming the step, as Azure Pipelines refuses
 * a pipeline that names a missing task before its first step.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT, runTask } from "../harness/run-task";
import { conditionHolds, ConditionError, parseCondition, type JobStatus } from "./conditions";
import { parsePipeline, type PipelineDefinition, type PipelineStep } from "./definition";
import { expandMacros, MacroError, variableEnvName, type MacroScope } from "./macros";
import { canonicalInputs, resolveTask, type TaskResolution } from "./tasks";

export type StepResultKind = "Succeeded" | "SucceededWithIssues" | "Failed" | "Skipped" | "NotRun";

export interface StepOutput {
  /** The value; "***" for a secret output (later steps get the real value). */
  value: string;
  secret: boolean;
}

export interface StepRunResult {
  index: number;
  name?: string;
  /** displayName with macros expanded (as written when they could not be). */
  displayName: string;
  /** `Name@1` for a task step. */
  task?: string;
  result: StepResultKind;
  /** The runner's reason for Failed (before or around the task), Skipped or NotRun. */
  reason?: string;
  /** Why the runner cannot run this step at all, without the step's name (e.g. `BatchAppPackage@1 is not built yet`). */
  problem?: string;
  /** The task's own completion message. */
  message?: string;
  /** Whether a task process was started. */
  ran: boolean;
  exitCode?: number | null;
  /** Inputs the task got (after defaults and macros); secret values masked. */
  inputs: Record<string, string>;
  outputs: Record<string, StepOutput>;
  issues: { type: "error" | "warning"; message: string }[];
  durationMs: number;
  /** What the agent would show in the step's log, secrets masked. */
  output: string;
}

export interface PipelineRunResult {
  result: JobStatus;
  steps: StepRunResult[];
  /** Steps that could not run, found before the first one ran (each names its step). */
  problems: string[];
  durationMs: number;
  /** The variables the steps saw (pipeline, overrides and the runner's own), after expansion where possible. */
  variables: Record<string, string>;
}

export interface RunPipelineOptions {
  /** Pipeline file, or `yaml` text. */
  file?: string;
  yaml?: string;
  /** Service connections and job environment, e.g. the local Azure's `env` (connection `LocalAzure`); when given, connection inputs must name one of its connections. */
  env?: Record<string, string>;
  /** Queue-time variables: override the pipeline's own (e.g. serviceConnection: LocalAzure). */
  variables?: Record<string, string>;
  buildNumber?: string;
  buildId?: number;
  /** System.DefaultWorkingDirectory (and Build.SourcesDirectory); default: the repository root. */
  workingDirectory?: string;
  /** Pipeline.Workspace; default: a fresh temp folder. Agent.TempDirectory lies inside it. */
  workspace?: string;
  /** Folder holding tasks/<Name>/ (default: this repository's tasks/). */
  tasksDir?: string;
  /** Skip steps whose task is not built yet instead of refusing the run (for manual checks). */
  onlyAvailable?: boolean;
  /** Per step, unless the step sets timeoutInMinutes (default 10 minutes). */
  stepTimeoutMs?: number;
  /** Only resolve the steps (tasks, inputs, conditions): report what could not run, run nothing. */
  checkOnly?: boolean;
  onStepStart?(step: { index: number; displayName: string; task?: string }): void;
  onStepEnd?(result: StepRunResult): void;
}

interface StepPlan {
  step: PipelineStep;
  resolution?: TaskResolution;
  /** Inputs by the task's own names (only for runnable tasks). */
  inputs?: Record<string, string>;
  /** Why the step cannot run: with the step's label, and bare. */
  problem?: { text: string; bare: string };
  skipReason?: string;
}

const label = (step: PipelineStep, displayName = step.displayName) => `step ${step.index} '${displayName}'${step.task ? ` (${step.task.ref})` : ""}`;

/** The service connections a job environment holds (ENDPOINT_URL_<id> / ENDPOINT_AUTH_<id>). */
function connectionsIn(env: Record<string, string>): string[] {
  return [...new Set(Object.keys(env).flatMap((k) => /^ENDPOINT_(?:URL|AUTH)_([^_].*)$/.exec(k)?.[1] ?? []).filter((id) => !id.startsWith("PARAMETER_") && !id.startsWith("SCHEME_") && id !== "SYSTEMVSSCONNECTION"))];
}

interface PlanContext {
  tasksDir: string;
  onlyAvailable: boolean;
  shownName: (step: PipelineStep) => string;
  /** An input's value with the pipeline's variables expanded, or undefined while it depends on step outputs. */
  staticValue: (value: string) => string | undefined;
  /** The connections the job environment holds; undefined (no `env` given): not checked. */
  connections?: string[];
}

function plan(definition: PipelineDefinition, context: PlanContext): StepPlan[] {
  const { tasksDir, onlyAvailable, shownName } = context;
  return definition.steps.map((step): StepPlan => {
    const problem = (bare: string) => ({ text: `${label(step, shownName(step))}: ${bare}`, bare });
    if (step.unsupported) return { step, problem: { text: step.unsupported, bare: step.unsupported.slice(step.unsupported.indexOf(": ") + 2) } };
    try {
      if (step.condition !== undefined) parseCondition(step.condition);
    } catch (e) {
      if (e instanceof ConditionError) return { step, problem: problem(e.message) };
      throw e;
    }
    const resolution = resolveTask(step.task!, tasksDir);
    if (resolution.status === "notBuiltYet" && onlyAvailable) return { step, resolution, skipReason: `${resolution.message} (skipped: only available tasks)` };
    if (resolution.status !== "runnable") return { step, resolution, problem: problem(resolution.message) };
    const { inputs, unknown } = canonicalInputs(step.inputs, resolution.definition);
    if (unknown.length) {
      const valid = (resolution.definition.inputs ?? []).map((i) => i.name).join(", ");
      return { step, resolution, problem: problem(`${unknown.map((u) => `'${u}'`).join(", ")} ${unknown.length === 1 ? "is not an input" : "are not inputs"} of ${step.task!.ref} (its inputs: ${valid})`) };
    }
    // As Azure Pipelines refuses a run whose service connection does not exist, before any step.
    for (const input of resolution.definition.inputs ?? []) {
      if (!context.connections || !input.type?.startsWith("connectedService:") || inputs[input.name] === undefined) continue;
      const connection = context.staticValue(inputs[input.name]);
      if (connection !== undefined && !context.connections.includes(connection)) {
        const have = context.connections.length ? `this run has ${context.connections.join(", ")}` : "this run has no service connection";
        return { step, resolution, problem: problem(`input ${input.name} names the service connection '${connection}', which does not exist here (${have}); set the pipeline's variable to one of them`) };
      }
    }
    return { step, resolution, inputs };
  });
}

/** Workspaces the runner made itself, removed when the process ends (results may point into them until then). */
const workspaces: string[] = [];
process.on("exit", () => {
  for (const dir of workspaces) fs.rmSync(dir, { recursive: true, force: true });
});
function temporaryWorkspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-"));
  workspaces.push(dir);
  return dir;
}

function mask(text: string, secrets: Iterable<string>): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  for (const s of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join("***");
  return out;
}

function blank(step: PipelineStep, result: StepResultKind, reason?: string): StepRunResult {
  return { index: step.index, name: step.name, displayName: step.displayName, task: step.task?.ref, result, reason, ran: false, inputs: {}, outputs: {}, issues: [], durationMs: 0, output: "" };
}

export async function runPipeline(options: RunPipelineOptions): Promise<PipelineRunResult> {
  const started = Date.now();
  const source = options.file ?? "pipeline";
  const text = options.yaml ?? fs.readFileSync(options.file ?? "", "utf8");
  const definition = parsePipeline(text, source);
  const tasksDir = options.tasksDir ?? path.join(REPO_ROOT, "tasks");

  const workspace = options.workspace ?? temporaryWorkspace();
  const workingDirectory = options.workingDirectory ?? REPO_ROOT;
  const agentTemp = path.join(workspace, "_temp");
  fs.mkdirSync(agentTemp, { recursive: true });
  const buildId = options.buildId ?? 1;
  const builtIns: Record<string, string> = {
    "Build.BuildNumber": options.buildNumber ?? `${new Date().toISOString().slice(0, 10).replace(/-/g, "")}.${buildId}`,
    "Build.BuildId": String(buildId),
    "Build.SourcesDirectory": workingDirectory,
    "Build.Repository.LocalPath": workingDirectory,
    "Build.ArtifactStagingDirectory": path.join(workspace, "a"),
    "Build.Reason": "Manual",
    "System.DefaultWorkingDirectory": workingDirectory,
    "System.HostType": "build",
    "System.Debug": "false",
    "Pipeline.Workspace": workspace,
    "Agent.TempDirectory": agentTemp,
    "Agent.OS": os.platform() === "win32" ? "Windows_NT" : os.platform() === "darwin" ? "Darwin" : "Linux",
  };
  // The runner's own variables first, then the pipeline's, then queue-time overrides; names ignore case.
  const variables = new Map<string, { name: string; value: string }>();
  for (const layer of [builtIns, definition.variables, options.variables ?? {}]) for (const [name, value] of Object.entries(layer)) variables.set(name.toLowerCase(), { name, value });

  const stepsByName = new Map(definition.steps.filter((s) => s.name).map((s) => [s.name!.toLowerCase(), s]));
  const results: StepRunResult[] = [];
  const outputsByStep = new Map<string, Record<string, { value: string; secret: boolean }>>();
  const secrets = new Set<string>();

  const scope: MacroScope = {
    variable: (name) => variables.get(name.toLowerCase())?.value,
    stepOutput: (stepName, variable) => {
      const step = stepsByName.get(stepName.toLowerCase());
      if (!step) return undefined;
      const outputs = outputsByStep.get(step.name!.toLowerCase());
      if (!outputs) return "literal";
      const key = Object.keys(outputs).find((k) => k.toLowerCase() === variable.toLowerCase());
      return key ? { value: outputs[key].value } : undefined;
    },
    explainMissing: (name) => {
      const dot = name.indexOf(".");
      const step = dot > 0 ? stepsByName.get(name.slice(0, dot).toLowerCase()) : undefined;
      if (step) {
        const set = Object.keys(outputsByStep.get(step.name!.toLowerCase()) ?? {});
        return `step '${step.name}' set ${set.length ? `only ${set.join(", ")}` : "no output variables"}`;
      }
      return "not a variable of the pipeline, an override or the runner's (Build.BuildNumber, Build.BuildId, System.DefaultWorkingDirectory, Pipeline.Workspace, Agent.TempDirectory, ...), nor a named step's output";
    },
  };
  const expandedVariables = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const { name, value } of variables.values()) {
      try {
        out[name] = expandMacros(value, scope, `variable ${name}`);
      } catch {
        out[name] = value;
      }
    }
    return out;
  };

  // Display names are shown expanded where the pipeline's variables suffice (step outputs come later).
  const shownName = (step: PipelineStep) => {
    try {
      return expandMacros(step.displayName, { ...scope, stepOutput: () => "literal" }, "displayName");
    } catch {
      return step.displayName;
    }
  };
  const staticValue = (value: string) => {
    try {
      const expanded = expandMacros(value, { ...scope, stepOutput: () => "literal" }, "input");
      return expanded.includes("$(") ? undefined : expanded;
    } catch {
      return undefined;
    }
  };
  const plans = plan(definition, { tasksDir, onlyAvailable: options.onlyAvailable ?? false, shownName, staticValue, connections: options.env ? connectionsIn(options.env) : undefined });
  const problems = plans.filter((p) => p.problem).map((p) => p.problem!.text);
  if (problems.length) {
    for (const p of plans) {
      const r = p.problem ? { ...blank(p.step, "Failed", p.problem.text), problem: p.problem.bare } : blank(p.step, "NotRun", "the pipeline cannot run: another step cannot run here");
      r.displayName = shownName(p.step);
      results.push(r);
    }
    return { result: "Failed", steps: results, problems, durationMs: Date.now() - started, variables: expandedVariables() };
  }
  if (options.checkOnly) {
    for (const p of plans) results.push({ ...blank(p.step, p.skipReason ? "Skipped" : "NotRun", p.skipReason ?? "check only"), displayName: shownName(p.step) });
    return { result: "Succeeded", steps: results, problems, durationMs: Date.now() - started, variables: expandedVariables() };
  }

  let jobStatus: JobStatus = "Succeeded";
  for (const p of plans) {
    const step = p.step;
    let displayName = step.displayName;
    try {
      displayName = mask(expandMacros(step.displayName, scope, `${label(step)} displayName`), secrets);
    } catch {
      // A display name that cannot be expanded is shown as written.
    }
    const finish = (r: StepRunResult) => {
      r.displayName = displayName;
      results.push(r);
      options.onStepEnd?.(r);
    };
    if (!step.enabled) {
      finish(blank(step, "Skipped", "enabled: false"));
      continue;
    }
    // variables['x'] in a condition: a variable, else a named step's output (variables['deployApp.UploadedCount']).
    const current = expandedVariables();
    const conditionVariable = (n: string): string | undefined => {
      const key = Object.keys(current).find((k) => k.toLowerCase() === n.toLowerCase());
      if (key !== undefined) return current[key];
      const dot = n.indexOf(".");
      const output = dot > 0 ? scope.stepOutput(n.slice(0, dot), n.slice(dot + 1)) : undefined;
      return output && output !== "literal" ? output.value : undefined;
    };
    const holds = conditionHolds(step.condition, { jobStatus, variable: conditionVariable });
    if (!holds) {
      finish(blank(step, "Skipped", step.condition ? `condition ${step.condition} is false` : "an earlier step failed"));
      continue;
    }
    if (p.skipReason) {
      finish(blank(step, "Skipped", p.skipReason));
      continue;
    }
    options.onStepStart?.({ index: step.index, displayName, task: step.task?.ref });
    const resolution = p.resolution as Extract<TaskResolution, { status: "runnable" }>;

    // Inputs: the task's defaults for what the step leaves out, then macros, as the agent does.
    const inputs: Record<string, string> = {};
    let expandError: string | undefined;
    try {
      for (const input of resolution.definition.inputs ?? []) {
        const raw = p.inputs![input.name] ?? input.defaultValue;
        if (raw !== undefined) inputs[input.name] = expandMacros(raw, scope, `${label(step, displayName)}: input ${input.name}`);
      }
    } catch (e) {
      if (!(e instanceof MacroError)) throw e;
      expandError = e.message;
    }
    const stepEnv: Record<string, string> = {};
    if (!expandError) {
      try {
        for (const [k, v] of Object.entries(step.env)) stepEnv[k] = expandMacros(v, scope, `${label(step, displayName)}: env ${k}`);
      } catch (e) {
        if (!(e instanceof MacroError)) throw e;
        expandError = e.message;
      }
    }
    const maskedInputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, mask(v, secrets)]));
    if (expandError) {
      jobStatus = "Failed";
      finish({ ...blank(step, "Failed", expandError), inputs: maskedInputs });
      continue;
    }

    // The job's environment as the agent sets it: variables (secrets as SECRET_*), earlier steps' outputs, the step's env, the inputs.
    const env: Record<string, string> = { ...(options.env ?? {}) };
    for (const [name, value] of Object.entries(current)) env[variableEnvName(name)] = value;
    for (const [stepName, outputs] of outputsByStep) {
      for (const [name, o] of Object.entries(outputs)) env[`${o.secret ? "SECRET_" : ""}${variableEnvName(`${stepName}.${name}`)}`] = o.value;
    }
    Object.assign(env, stepEnv);
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${variableEnvName(name)}`] = value;
    const debug = /^true$/i.test(scope.variable("System.Debug") ?? "");

    const timeoutMs = step.timeoutInMinutes ? step.timeoutInMinutes * 60_000 : (options.stepTimeoutMs ?? 600_000);
    const run = await runTask({ task: path.basename(resolution.folder), taskDir: resolution.folder, inputs: {}, env, debug, timeoutMs });
    for (const s of run.secrets) secrets.add(s);
    for (const o of Object.values(run.outputs)) if (o.secret) secrets.add(o.value);

    let result: StepResultKind;
    let reason: string | undefined;
    if (run.signal) {
      result = "Failed";
      reason = `${label(step, displayName)} was stopped (${run.signal}) after ${Math.round(run.durationMs / 1000)} s${run.durationMs >= timeoutMs ? `: it timed out (${Math.round(timeoutMs / 1000)} s)` : ""}`;
    } else if (run.exitCode !== 0 || run.result === "Failed") {
      result = "Failed";
      reason = run.result === "Failed" ? undefined : `${label(step, displayName)} exited with code ${run.exitCode}`;
    } else {
      result = run.result === "SucceededWithIssues" ? "SucceededWithIssues" : "Succeeded";
    }
    if (result === "Failed" && step.continueOnError) {
      result = "SucceededWithIssues";
      reason = `${reason ?? "the task failed"}; continueOnError: true`;
    }
    if (result === "Failed") jobStatus = "Failed";
    else if (result === "SucceededWithIssues" && jobStatus === "Succeeded") jobStatus = "SucceededWithIssues";
    if (step.name) outputsByStep.set(step.name.toLowerCase(), run.outputs);

    finish({
      index: step.index,
      name: step.name,
      displayName,
      task: step.task!.ref,
      result,
      reason,
      message: run.message === undefined ? undefined : mask(run.message, secrets),
      ran: true,
      exitCode: run.exitCode,
      inputs: maskedInputs,
      outputs: Object.fromEntries(Object.entries(run.outputs).map(([k, o]) => [k, { value: o.secret ? "***" : mask(o.value, secrets), secret: o.secret }])),
      issues: run.issues.map((i) => ({ type: i.type, message: mask(i.message, secrets) })),
      durationMs: run.durationMs,
      output: mask(run.visibleOutput, secrets),
    });
  }
  // A secret registered by a later step is masked in earlier steps' logs too, as the agent masks the whole job's log.
  for (const r of results) r.output = mask(r.output, secrets);
  return { result: jobStatus, steps: results, problems: [], durationMs: Date.now() - started, variables: expandedVariables() };
}

/** What would stop the pipeline before its first step (an empty list: every step can run here); runs nothing. */
export async function checkPipeline(options: Omit<RunPipelineOptions, "checkOnly" | "onStepStart" | "onStepEnd">): Promise<PipelineRunResult> {
  return runPipeline({ ...options, checkOnly: true });
}
