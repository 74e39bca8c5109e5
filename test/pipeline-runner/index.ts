/**
 * A local runner for Azure Pipelines YAML that runs this repository's bundled
 * tasks as the agent does (test code: it uses the test harness; scripts/ and
 * bench/ may use it, the shipped tasks and runtime never do).
 *
 * Supports: top-level `steps:`, or one job / deployment job (runOnce) under
 * `jobs:`, or one stage with one job; `variables:` in map and list form at
 * each level; `$(...)` macros (the pipeline's variables, queue-time
 * overrides, Build.BuildNumber, Build.BuildId, Build.SourcesDirectory,
 * System.DefaultWorkingDirectory, Pipeline.Workspace, Agent.TempDirectory and
 * a named step's output variables `$(step.Var)`); `task: Name@major` mapped
 * to tasks/Name/ with the task.json's defaults and aliases; `condition:`
 * (status functions, eq/ne/and/or/not/in/notIn/contains/startsWith/endsWith,
 * variables['x']), `enabled: false`, `continueOnError`, `timeoutInMinutes`,
 * `env:`. Secrets (a task's setSecret values and secret outputs) are masked in
 * what a step shows, as the agent masks them.
 *
 * Refused, naming the step, before any step runs: script/bash/pwsh/
 * powershell/checkout/download/publish steps, templates and `${{ }}`,
 * `$[ ]` runtime expressions, variable groups, unknown tasks, tasks not built
 * yet, unknown inputs, unsupported condition functions, and (when `env` is
 * given) a connection input naming a service connection the job does not have.
 * Stricter than the agent: a macro that names nothing fails the step instead
 * of staying literal (except a skipped step's outputs, literal as on the agent).
 * Not supported: several jobs or stages, variables set by a task without
 * isOutput, cancelling a run, a task's working directory (tasks run in the
 * harness's temp folder).
 */
export { parsePipeline, PipelineDefinitionError, type PipelineDefinition, type PipelineStep, type TaskReference } from "./definition";
export { expandMacros, MacroError, variableEnvName } from "./macros";
export { conditionHolds, parseCondition, ConditionError, type JobStatus } from "./conditions";
export { resolveTask, canonicalInputs, PRODUCT_TASKS, type TaskResolution, type TaskDefinition } from "./tasks";
export { runPipeline, checkPipeline, type PipelineRunResult, type RunPipelineOptions, type StepRunResult, type StepResultKind, type StepOutput } from "./run";
