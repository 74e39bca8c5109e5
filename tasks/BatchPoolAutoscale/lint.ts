/**
 * A client-side lint of a Batch autoscale formula: it catches the obvious
 * mistakes before anything is sent, with the line and column of each. It is
 * not an evaluator and not a full parser: the service's evaluateautoscale is
 * the authority on what a formula means, so the lint stays conservative and
 * reports an error only where the documented language leaves no doubt
 * (Microsoft's "Create a formula to automatically scale compute nodes in a
 * Batch pool", articles/batch/batch-automatic-scaling.md). Every formula
 * example of that article passes it without an error.
 *
 * Errors: unbalanced parentheses, an unterminated string, a character the
 * language does not have, two values with no operator between them (most
 * often a missing `;` between statements), a statement that is not
 * `name = expression`, an operator with nothing after it, `?` without `:`,
 * assigning a read-only system variable or a misspelt settable one, reading
 * a plain user variable before it is set, an unknown function or
 * `TimeInterval_` constant, a `$NodeDeallocationOption` that is not one of
 * its four words, a formula longer than 8192 characters or with more than 100
 * statements, and a formula that sets neither target.
 * Warnings (never stop the task): a `$` name that is neither a documented
 * system variable nor set before, a name that differs from a set one only in
 * case, a formula that sets only `$TargetLowPriorityNodes`.
 */

export type LintSeverity = "error" | "warning";

export interface LintFinding {
  severity: LintSeverity;
  /** 1-based, as the service counts in its "Line L, Col C" messages; 0 for the formula as a whole. */
  line: number;
  column: number;
  message: string;
}

export type TokenKind = "number" | "name" | "string" | "operator" | "comment";

export interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  column: number;
  /** Offsets in the formula text: [start, end). */
  start: number;
  end: number;
}

/** A statement's extent in the formula text (its `;` included when it has one). */
export interface StatementSpan {
  start: number;
  end: number;
  line: number;
  column: number;
  endLine: number;
  /** The name it assigns, when it has the `name =` shape. */
  assigns?: string;
}

export interface LintResult {
  findings: LintFinding[];
  errors: LintFinding[];
  warnings: LintFinding[];
  statements: StatementSpan[];
}

/** The variables a formula may set (A19's read-write table), with the older aliases. */
export const SETTABLE_VARIABLES = ["$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption"] as const;
const SETTABLE_ALIASES: Record<string, string> = { $targetdedicated: "$TargetDedicatedNodes", $targetlowpriority: "$TargetLowPriorityNodes" };

/** The read-only system variables of the article, plus `$CurrentDedicated` of older formulas. */
export const READ_ONLY_VARIABLES = [
  "$CPUPercent",
  "$WallClockSeconds",
  "$MemoryBytes",
  "$DiskBytes",
  "$DiskReadBytes",
  "$DiskWriteBytes",
  "$DiskReadOps",
  "$DiskWriteOps",
  "$NetworkInBytes",
  "$NetworkOutBytes",
  "$SampleNodeCount",
  "$ActiveTasks",
  "$RunningTasks",
  "$PendingTasks",
  "$SucceededTasks",
  "$FailedTasks",
  "$TaskSlotsPerNode",
  "$CurrentDedicatedNodes",
  "$CurrentLowPriorityNodes",
  "$PreemptedNodeCount",
  "$CurrentDedicated",
] as const;

export const FUNCTIONS = ["avg", "len", "lg", "ln", "log", "max", "min", "norm", "percentile", "rand", "range", "std", "stop", "sum", "time", "val"] as const;
export const TIME_INTERVALS = [
  "TimeInterval_Zero",
  "TimeInterval_100ns",
  "TimeInterval_Microsecond",
  "TimeInterval_Millisecond",
  "TimeInterval_Second",
  "TimeInterval_Minute",
  "TimeInterval_Hour",
  "TimeInterval_Day",
  "TimeInterval_Week",
  "TimeInterval_Year",
] as const;
export const DEALLOCATION_OPTIONS = ["requeue", "terminate", "taskcompletion", "retaineddata"] as const;
const SAMPLE_METHODS = ["GetSample", "GetSamplePercent", "GetSamplePeriod", "Count", "HistoryBeginTime"];
const TIMESTAMP_FIELDS = ["year", "month", "day", "weekday", "hour", "minute", "second"];

export const MAX_FORMULA_LENGTH = 8192;
export const MAX_STATEMENTS = 100;

const OPERATORS = ["&&", "||", "<=", ">=", "==", "!=", "<", ">", "=", "+", "-", "*", "/", "!", "?", ":", "(", ")", ",", ".", ";"];
const BINARY = new Set(["&&", "||", "<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "?", ":"]);

const lower = (s: string) => s.toLowerCase();

/** The canonical settable variable a name means (case-insensitively, aliases too), or undefined. */
export function settableVariable(name: string): string | undefined {
  const l = lower(name);
  return SETTABLE_VARIABLES.find((v) => lower(v) === l) ?? SETTABLE_ALIASES[l];
}

function isReadOnlyVariable(name: string): boolean {
  const l = lower(name);
  return READ_ONLY_VARIABLES.some((v) => lower(v) === l);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  const at = (j: number) => row[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    let previous = at(0);
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = at(j);
      row[j] = Math.min(at(j) + 1, at(j - 1) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return at(b.length);
}

function closest(name: string, candidates: readonly string[], maxDistance: number): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const c of candidates) {
    const d = editDistance(lower(name), lower(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Splits a formula into tokens; comments are tokens too (the comparison keeps them). */
export function tokenize(formula: string): { tokens: Token[]; findings: LintFinding[] } {
  const tokens: Token[] = [];
  const findings: LintFinding[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (offset: number) => ({ line, column: offset - lineStart + 1 });
  while (i < formula.length) {
    const c = formula.charAt(i);
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    const push = (kind: TokenKind, end: number) => {
      tokens.push({ kind, text: formula.slice(start, end), ...at(start), start, end });
      i = end;
    };
    if (c === "/" && formula[i + 1] === "/") {
      const newline = formula.indexOf("\n", i);
      push("comment", newline === -1 ? formula.length : newline);
      continue;
    }
    if (c === '"' || c === "'") {
      // The docs show double quotes (time("...")); single quotes only in a highlighter, so they are let through.
      let end = i + 1;
      while (end < formula.length && formula[end] !== c && formula[end] !== "\n") end++;
      if (formula[end] !== c) {
        findings.push({ severity: "error", ...at(start), message: `the string starting here is never closed: add the closing ${c} on the same line.` });
        i = end;
        continue;
      }
      push("string", end + 1);
      continue;
    }
    const number = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(formula.slice(i, i + 64));
    if (number) {
      push("number", i + number[0].length);
      continue;
    }
    const name = /^\$?[A-Za-z_][A-Za-z0-9_]*/.exec(formula.slice(i, i + 256));
    if (name) {
      push("name", i + name[0].length);
      continue;
    }
    const operator = OPERATORS.find((o) => formula.startsWith(o, i));
    if (operator) {
      push("operator", i + operator.length);
      continue;
    }
    const hint = c === "&" ? " Use && for 'and'." : c === "|" ? " Use || for 'or'." : c === "[" || c === "]" || c === "{" || c === "}" ? " Group with ( and )." : "";
    findings.push({ severity: "error", ...at(start), message: `'${c}' is not part of the autoscale formula language.${hint}` });
    i++;
  }
  return { tokens, findings };
}

/**
 * The formula as a comparable string: its tokens (comments included) joined
 * by single spaces, so whitespace, line endings and indentation do not count
 * as a change but anything else does.
 */
export function normalizeFormula(formula: string): string {
  const { tokens, findings } = tokenize(formula);
  if (findings.length > 0) return formula.replace(/\r\n?/g, "\n").replace(/[ \t]+/g, " ").replace(/\s*\n\s*/g, "\n").trim();
  return tokens.map((t) => (t.kind === "comment" ? `${t.text.trimEnd()}\n` : t.text)).join(" ");
}

/** Splits the tokens into statements at each `;` (comments dropped). */
function splitStatements(tokens: readonly Token[]): { tokens: Token[]; end?: Token }[] {
  const statements: { tokens: Token[]; end?: Token }[] = [];
  let current: Token[] = [];
  for (const t of tokens) {
    if (t.kind === "comment") continue;
    if (t.kind === "operator" && t.text === ";") {
      statements.push({ tokens: current, end: t });
      current = [];
    } else current.push(t);
  }
  if (current.length > 0) statements.push({ tokens: current });
  return statements;
}

const quote = (t: Token | undefined) => (t ? `'${t.text}'` : "the end of the statement");

const isOperand = (t: Token) => t.kind === "number" || t.kind === "name" || t.kind === "string";

/**
 * Checks a statement's right-hand side: values and operators alternate,
 * parentheses balance, calls and member access are well formed. Returns the
 * first syntax error, which stops the checks of that statement.
 */
function checkExpression(rhs: readonly Token[], assignToken: Token, nextLhsAssigns: (index: number) => boolean): LintFinding | undefined {
  const error = (t: Token, message: string): LintFinding => ({ severity: "error", line: t.line, column: t.column, message });
  if (rhs.length === 0) return error(assignToken, "nothing follows '=': a statement is 'name = expression;'.");
  const stack: { token: Token; call: boolean }[] = [];
  let questions = 0;
  let colons = 0;
  let expectOperand = true;
  for (let k = 0; k < rhs.length; k++) {
    const t = rhs[k];
    if (!t) break;
    const next = rhs[k + 1];
    if (expectOperand) {
      if (isOperand(t)) {
        if (t.kind === "name" && next?.text === "(") {
          stack.push({ token: next, call: true });
          k++;
          if (rhs[k + 1]?.text === ")") {
            stack.pop();
            k++;
            expectOperand = false;
          }
          continue;
        }
        expectOperand = false;
      } else if (t.text === "(") {
        stack.push({ token: t, call: false });
      } else if (t.text === "-" || t.text === "!") {
        // unary
      } else {
        const previous = rhs[k - 1] ?? assignToken;
        return error(t, `a value is missing between '${previous.text}' and '${t.text}'.`);
      }
      continue;
    }
    // A value has just ended: an operator, a member access, ',' or ')' may follow.
    if (t.kind === "operator" && BINARY.has(t.text)) {
      if (t.text === "?") questions++;
      if (t.text === ":") colons++;
      if (next === undefined) return error(t, `a value is missing after '${t.text}'.`);
      expectOperand = true;
    } else if (t.text === ".") {
      if (next?.kind !== "name" || next.text.startsWith("$")) return error(t, `'.' must be followed by a method or field name (for example .GetSample(...) or .hour), not ${quote(next)}.`);
      k++;
      const open = rhs[k + 1];
      if (open?.text === "(") {
        stack.push({ token: open, call: true });
        k++;
        if (rhs[k + 1]?.text === ")") {
          stack.pop();
          k++;
        } else expectOperand = true;
      }
    } else if (t.text === ",") {
      if (!stack.at(-1)?.call) return error(t, "',' separates the arguments of a function call; here it is outside one.");
      expectOperand = true;
    } else if (t.text === ")") {
      if (stack.length === 0) return error(t, "')' has no matching '('.");
      stack.pop();
    } else if (t.text === "=" ) {
      return error(t, "'=' assigns only at the start of a statement: compare with '==', or end the previous statement with ';'.");
    } else if (t.text === "(" || isOperand(t)) {
      if (t.kind === "name" && nextLhsAssigns(k)) {
        return error(t, `';' is missing before '${t.text}': Batch needs a ';' between statements.`);
      }
      return error(t, `an operator is missing between '${(rhs[k - 1] ?? assignToken).text}' and '${t.text}'.`);
    } else {
      return error(t, `'${t.text}' cannot follow a value here.`);
    }
  }
  if (expectOperand) {
    const last = rhs.at(-1) ?? assignToken;
    return error(last, `a value is missing after '${last.text}'.`);
  }
  const unclosed = stack.at(-1);
  if (unclosed) return error(unclosed.token, "this '(' is never closed: add ')' before the end of the statement.");
  if (questions !== colons) {
    const q = rhs.find((t) => t.text === (questions > colons ? "?" : ":")) ?? assignToken;
    return error(q, questions > colons ? "'?' needs a ':' with the value to use otherwise (condition ? a : b)." : "':' without a '?' before it (condition ? a : b).");
  }
  return undefined;
}

/** Lints a formula. The formula's own text is never echoed back except as names and operators. */
export function lintFormula(formula: string): LintResult {
  const findings: LintFinding[] = [];
  const statements: StatementSpan[] = [];
  if (formula.length > MAX_FORMULA_LENGTH) {
    findings.push({ severity: "error", line: 0, column: 0, message: `the formula is ${formula.length} characters long; Batch accepts at most ${MAX_FORMULA_LENGTH}.` });
  }
  const lexed = tokenize(formula);
  findings.push(...lexed.findings);
  if (lexed.findings.length > 0) {
    // An unclosed string or a stray character garbles what follows: report only that.
    return result(findings, statements);
  }
  const parts = splitStatements(lexed.tokens);
  const nonEmpty = parts.filter((p) => p.tokens.length > 0);
  if (nonEmpty.length === 0) {
    findings.push({ severity: "error", line: 0, column: 0, message: "the formula has no statements: set at least $TargetDedicatedNodes, for example '$TargetDedicatedNodes = 0;'." });
  }
  const beyond = nonEmpty[MAX_STATEMENTS]?.tokens[0];
  if (beyond) {
    findings.push({ severity: "error", line: beyond.line, column: beyond.column, message: `the formula has ${nonEmpty.length} statements; Batch accepts at most ${MAX_STATEMENTS}.` });
  }

  // Every name assigned anywhere, with where, to tell "set later" from "never set".
  const assignedAt = new Map<string, Token>();
  for (const p of nonEmpty) {
    const [first, second] = p.tokens;
    if (first?.kind === "name" && second?.text === "=" && !assignedAt.has(first.text)) assignedAt.set(first.text, first);
  }

  const assigned = new Set<string>();
  const assignedLower = new Map<string, string>();
  const setTargets = new Set<string>();
  for (const part of nonEmpty) {
    const tokens = part.tokens;
    const first = tokens[0];
    const last = part.end ?? tokens.at(-1);
    if (!first || !last) continue;
    const span: StatementSpan = { start: first.start, end: last.end, line: first.line, column: first.column, endLine: last.line };
    statements.push(span);
    const second = tokens[1];
    if (first.kind !== "name" || second?.text !== "=") {
      const where = first.kind === "name" ? (second ?? first) : first;
      const message =
        first.kind === "name" && second?.text === "=="
          ? `'==' compares; a statement assigns with '=': '${first.text} = ...;'.`
          : first.kind === "name"
            ? `a statement is 'name = expression;', but ${quote(second)} follows '${first.text}'.`
            : `a statement starts with the name it sets ('name = expression;'), not '${first.text}'.`;
      findings.push({ severity: "error", line: where.line, column: where.column, message });
      continue;
    }
    span.assigns = first.text;
    const rhs = tokens.slice(2);
    const syntax = checkExpression(rhs, second, (k) => rhs[k + 1]?.text === "=");
    if (syntax) {
      findings.push(syntax);
    } else if (!(settableVariable(first.text) === "$NodeDeallocationOption" && rhs.length === 1)) {
      // (A lone word for $NodeDeallocationOption is checked against its four words below.)
      checkNames(rhs, first, assigned, assignedLower, assignedAt, findings);
    }

    // The left-hand side.
    const target = first.text;
    const settable = settableVariable(target);
    if (settable) {
      setTargets.add(settable);
      if (settable === "$NodeDeallocationOption" && !syntax) {
        const words = rhs.filter((t) => t.kind === "name");
        const word = words[0];
        if (rhs.length === 1 && word && words.length === 1 && !DEALLOCATION_OPTIONS.some((o) => o === lower(word.text))) {
          findings.push({
            severity: "error",
            line: word.line,
            column: word.column,
            message: `$NodeDeallocationOption is one of ${DEALLOCATION_OPTIONS.join(", ")}; '${word.text}' is not.`,
          });
        }
      }
    } else if (target.startsWith("$")) {
      if (isReadOnlyVariable(target)) {
        findings.push({
          severity: "error",
          line: first.line,
          column: first.column,
          message: `${target} is a read-only system variable; a formula sets only ${SETTABLE_VARIABLES.join(", ")} (and its own variables).`,
        });
      } else {
        const near = closest(target, SETTABLE_VARIABLES, 2);
        if (near) findings.push({ severity: "error", line: first.line, column: first.column, message: `${target} is not a system variable: did you mean ${near}?` });
      }
    }
    assigned.add(target);
    assignedLower.set(lower(target), target);
  }

  // Once a statement is wrong, which targets it meant to set is a guess: the missing-target checks wait until the rest is right.
  const statementErrors = findings.some((f) => f.severity === "error");
  if (!statementErrors && !setTargets.has("$TargetDedicatedNodes") && !setTargets.has("$TargetLowPriorityNodes") && nonEmpty.length > 0) {
    findings.push({
      severity: "error",
      line: 0,
      column: 0,
      message: "the formula never sets $TargetDedicatedNodes (or $TargetLowPriorityNodes), so it cannot change the pool's size.",
    });
  } else if (!statementErrors && !setTargets.has("$TargetDedicatedNodes") && nonEmpty.length > 0) {
    findings.push({
      severity: "warning",
      line: 0,
      column: 0,
      message: "the formula never sets $TargetDedicatedNodes: the pool keeps its current dedicated target and only $TargetLowPriorityNodes changes.",
    });
  }

  return result(findings, statements);
}

function result(findings: LintFinding[], statements: StatementSpan[]): LintResult {
  // Formula-wide findings (line 0) after the located ones.
  const order = (f: LintFinding) => (f.line === 0 ? Number.MAX_SAFE_INTEGER : f.line);
  findings.sort((a, b) => order(a) - order(b) || a.column - b.column);
  return { findings, errors: findings.filter((f) => f.severity === "error"), warnings: findings.filter((f) => f.severity === "warning"), statements };
}

function checkNames(
  rhs: readonly Token[],
  lhs: Token,
  assigned: ReadonlySet<string>,
  assignedLower: ReadonlyMap<string, string>,
  assignedAt: ReadonlyMap<string, Token>,
  findings: LintFinding[],
): void {
  for (let k = 0; k < rhs.length; k++) {
    const t = rhs[k];
    if (t?.kind !== "name") continue;
    const previous = rhs[k - 1];
    const isCall = rhs[k + 1]?.text === "(";
    const at = { line: t.line, column: t.column };
    if (previous?.text === ".") {
      const members = isCall ? SAMPLE_METHODS : TIMESTAMP_FIELDS;
      if (!members.some((m) => lower(m) === lower(t.text))) {
        const near = closest(t.text, members, 3);
        findings.push({
          severity: isCall ? "error" : "warning",
          ...at,
          message: isCall
            ? `${t.text} is not a method of a system variable.${near ? ` Did you mean ${near}?` : ""} The methods: ${SAMPLE_METHODS.join(", ")}.`
            : `${t.text} is not a documented timestamp field (${TIMESTAMP_FIELDS.join(", ")}).`,
        });
      }
      continue;
    }
    if (isCall) {
      if (!FUNCTIONS.some((f) => f === t.text)) {
        const near = closest(t.text, FUNCTIONS, 2);
        findings.push({ severity: "error", ...at, message: `${t.text}() is not an autoscale function.${near ? ` Did you mean ${near}()?` : ""} The functions: ${FUNCTIONS.join(", ")}.` });
      }
      continue;
    }
    const name = t.text;
    if (name.startsWith("TimeInterval_")) {
      if (!TIME_INTERVALS.some((c) => c === name)) {
        const near = closest(name, TIME_INTERVALS, 3);
        findings.push({ severity: "error", ...at, message: `${name} is not a time interval constant.${near ? ` Did you mean ${near}?` : ""}` });
      }
      continue;
    }
    if (DEALLOCATION_OPTIONS.some((o) => o === lower(name))) continue;
    if (assigned.has(name)) continue;
    if (name.startsWith("$") && (settableVariable(name) || isReadOnlyVariable(name))) continue;
    const sameButCase = assignedLower.get(lower(name));
    if (sameButCase) {
      findings.push({ severity: "warning", ...at, message: `${name} differs only in case from ${sameButCase}, set earlier; use one spelling.` });
      continue;
    }
    const later = assignedAt.get(name);
    const setLater = later && (later.line > lhs.line || (later.line === lhs.line && later.column >= lhs.column));
    if (setLater) {
      findings.push({ severity: "error", ...at, message: `${name} is used before it is set (at line ${later.line}, column ${later.column}); statements run in order.` });
    } else if (name.startsWith("$")) {
      findings.push({ severity: "warning", ...at, message: `${name} is not a documented system variable and is not set before this statement.` });
    } else {
      findings.push({ severity: "error", ...at, message: `${name} is not defined: set it in an earlier statement ('${name} = ...;').` });
    }
  }
}

/** `Line L, Col C: message`, the way the service words its own messages. */
export function formatFinding(f: LintFinding): string {
  return f.line > 0 ? `Line ${f.line}, Col ${f.column}: ${f.message}` : f.message.charAt(0).toUpperCase() + f.message.slice(1);
}

/** The statement that holds line/column, for showing with an evaluation error. */
export function statementAt(formula: string, line: number, column: number): StatementSpan | undefined {
  const { statements } = lintFormula(formula);
  const lineStarts = [0];
  for (let i = 0; i < formula.length; i++) if (formula[i] === "\n") lineStarts.push(i + 1);
  if (line < 1 || line > lineStarts.length) return undefined;
  const offset = (lineStarts[line - 1] ?? 0) + Math.max(0, column - 1);
  return statements.find((s) => offset >= s.start && offset < s.end) ?? statements.find((s) => s.line <= line && line <= s.endLine);
}
