/**
 * Errors of the autoscale formula engine, in the shape Batch puts in
 * `AutoScaleRun.error` (AutoScaleRunError: code, message, values of
 * `{name, value}`), with the failing position as Batch writes it:
 * `{"name": "Message", "value": "Line 1, Col 37: Insufficient data from data set: ..."}`.
 */

/** The body of `AutoScaleRun.error`. */
export interface AutoScaleRunError {
  code: string;
  message: string;
  values: { name: string; value: string }[];
}

/**
 * Error codes. Documented by Microsoft: `AutoScalingFormulaSyntaxError`,
 * `AutoScalingFormulaTooLong` (the 2017 REST error table; the .NET constant
 * spells it `AutoScaleFormulaTooLong`, see `AUTOSCALE_FORMULA_TOO_LONG_ALIASES`)
 * and `InsufficientSampleData` (a recorded pool autoscale event). No source
 * gives a code for the other failures; those below marked "emulator's own"
 * are this engine's names, kept stable so tests and the task can rely on them.
 */
export const AutoScaleErrorCode = {
  /** Lexical or grammar error, unknown function or method, wrong number of arguments. */
  SyntaxError: "AutoScalingFormulaSyntaxError",
  /** More than 8192 characters (documented) or more than 100 statements (code for the latter unconfirmed). */
  TooLong: "AutoScalingFormulaTooLong",
  /** A sample window holds fewer samples than the formula demands, or a sampled variable has no sample at all. */
  InsufficientSampleData: "InsufficientSampleData",
  /** Emulator's own: a variable read before it is assigned, or an unknown system variable. */
  UndefinedVariable: "UndefinedVariable",
  /** Emulator's own: an operator, function or method applied to types the docs' tables do not list. */
  TypeMismatch: "TypeMismatch",
  /** Emulator's own: assignment to a read-only system variable or constant, or a bad `$NodeDeallocationOption`. */
  InvalidAssignment: "InvalidAssignment",
  /** Emulator's own: a function argument out of its domain (empty vector, index out of range, unparsable time). */
  InvalidFunctionArgument: "InvalidFunctionArgument",
  /** Emulator's own: a result that is not a finite number (division by zero, log of 0). */
  ArithmeticError: "ArithmeticError",
} as const;

export type AutoScaleErrorCodeName = (typeof AutoScaleErrorCode)[keyof typeof AutoScaleErrorCode];

/** Both spellings the sources give for the too-long code (ERR vs NETC); the engine emits the first. */
export const AUTOSCALE_FORMULA_TOO_LONG_ALIASES = ["AutoScalingFormulaTooLong", "AutoScaleFormulaTooLong"] as const;

/** The error's `message`: ERR's texts for the documented codes, the EVT pattern for the rest. */
const MESSAGES: Record<AutoScaleErrorCodeName, string> = {
  AutoScalingFormulaSyntaxError: "The specified auto-scaling formula has a syntax error.",
  AutoScalingFormulaTooLong: "The specified auto-scaling formula exceeds lengths limit.",
  InsufficientSampleData: "Autoscale evaluation failed due to insufficient sample data",
  UndefinedVariable: "Autoscale evaluation failed due to an undefined variable",
  TypeMismatch: "Autoscale evaluation failed due to a type mismatch",
  InvalidAssignment: "Autoscale evaluation failed due to an invalid assignment",
  InvalidFunctionArgument: "Autoscale evaluation failed due to an invalid function argument",
  ArithmeticError: "Autoscale evaluation failed due to an arithmetic error",
};

/** Where in the formula: 1-based line and column, as in "Line 15, Col 44". */
export interface SourcePosition {
  line: number;
  col: number;
}

/**
 * A failure while validating or evaluating a formula. `phase` says which:
 * "validation" failures (syntax, length, undefined variables, type errors)
 * make Batch refuse the formula outright; "evaluation" failures depend on the
 * pool's data (samples) and end up in the pool's `autoScaleRun.error`.
 */
export class FormulaError extends Error {
  constructor(
    readonly code: AutoScaleErrorCodeName,
    readonly detail: string,
    readonly position: SourcePosition,
    readonly phase: "validation" | "evaluation",
  ) {
    super(`Line ${position.line}, Col ${position.col}: ${detail}`);
    this.name = "FormulaError";
  }

  /** The `AutoScaleRun.error` body. */
  toRunError(): AutoScaleRunError {
    return { code: this.code, message: MESSAGES[this.code], values: [{ name: "Message", value: this.message }] };
  }
}

/**
 * The same failure as a Batch REST error body (`BatchError`: code, message
 * `{lang, value}`, values of `{key, value}`), for the routes that refuse a
 * formula (pool add, enable autoscale) instead of returning an AutoScaleRun.
 */
export function asBatchError(error: AutoScaleRunError): { code: string; message: { lang: string; value: string }; values: { key: string; value: string }[] } {
  return { code: error.code, message: { lang: "en-US", value: error.message }, values: error.values.map((v) => ({ key: v.name, value: v.value })) };
}
