/**
 * The local Batch service's autoscale formula engine: parses, checks and
 * evaluates `autoScaleFormula` as Microsoft documents the language, and
 * answers in Batch's AutoScaleRun shape. Self-contained: the data plane and
 * the pool simulation call `validateFormula` and `evaluatePoolFormula` and feed
 * a `SampleHistory`.
 */
export { evaluatePoolFormula, validateFormula, parseDateTime, type AutoScaleEnvironment, type AutoScaleEvaluation, type AutoScaleRun } from "./evaluate";
export { AutoScaleErrorCode, AUTOSCALE_FORMULA_TOO_LONG_ALIASES, FormulaError, asBatchError, type AutoScaleRunError, type AutoScaleErrorCodeName, type SourcePosition } from "./errors";
export { SampleHistory, SAMPLE_PERIOD_SECONDS, type Sample, type SampleSource, type SampleHistoryOptions, type PoolCounts } from "./samples";
export { SAMPLED_VARIABLES, DEALLOCATION_OPTIONS, TIME_INTERVAL_CONSTANTS, type SampledVariable, type DeallocationOption } from "./names";
export { parseFormula, MAX_FORMULA_LENGTH, MAX_STATEMENTS, type Formula, type Statement, type Expr } from "./parser";
export { formatDouble, formatTimeInterval } from "./format";
export { PoolAutoScaler, type PoolAutoScaleState, type PoolAutoScalerOptions } from "./autoscaler";
