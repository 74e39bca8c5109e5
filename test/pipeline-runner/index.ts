/**
 * A local runner for Azure Pipelines YAML that runs this repository's bundled
 * tasks as the agent does (test code: it uses the test harness).
 */
export { parsePipeline, PipelineDefinitionError, type PipelineDefinition, type PipelineStep, type TaskReference } from "./definition";
export { expandMacros, MacroError, variableEnvName } from "./macros";
export { conditionHolds, parseCondition, ConditionError, type JobStatus } from "./conditions";
export { resolveTask, canonicalInputs, PRODUCT_TASKS, type TaskResolution, type TaskDefinition } from "./tasks";
export { runPipeline, checkPipeline, type PipelineRunResult, type RunPipelineOptions, type StepRunResult, type StepResultKind, type StepOutput } from "./run";
