/**
 * The formula language itself: lexing, comments, statements, precedence,
 * the documented operator table (each row, and rows it does not have), the
 * functions, the sampling methods, and every error code the engine emits.
 */
import { strict as assert } from "node:assert";
import { AutoScaleErrorCode, asBatchError, evaluatePoolFormula, formatDouble, formatTimeInterval, validateFormula } from "..";
import { DOC_RUN, evaluateError, evaluateOk, history, repeat, resultOf } from "./helpers";

const now = DOC_RUN;
/** The value `x` gets in `x = <expression>`. */
const value = (expression: string, env = {}) => resultOf(evaluateOk(`x = ${expression}`, { now, ...env }).run.results, "x");
const errorOf = (formula: string, env = {}) => evaluateError(formula, env);

describe("autoscale engine: lexing and statements", () => {
  it("accepts line breaks, tabs and CRLF anywhere between tokens", () => {
    assert.equal(evaluateOk("$TargetDedicatedNodes\r\n=\t\r\n  2\r\n;\r\n", { now }).targetDedicatedNodes, 2);
  });

  it("skips // comments to the end of the line, also after code and on the last line", () => {
    const r = evaluateOk("// first\n$TargetDedicatedNodes = 3; // three\n// last line, no newline", { now });
    assert.equal(r.targetDedicatedNodes, 3);
  });

  it("skips /* */ block comments, across lines and inside expressions ([UNCONFIRMED]: not in Microsoft's docs)", () => {
    assert.equal(evaluateOk("/* a\n  block */ $TargetDedicatedNodes = 1 + /* inline */ 2;", { now }).targetDedicatedNodes, 3);
    const e = errorOf("$TargetDedicatedNodes = 1; /* never closed");
    assert.equal(e.code, "AutoScalingFormulaSyntaxError");
    assert.equal(e.values[0].value, "Line 1, Col 28: Unterminated comment: '/*' has no closing '*/'");
  });

  it("counts lines and columns after comments and line breaks for error positions", () => {
    const e = errorOf("a = 1;\n/* two\nlines */\n  b = a +* 2;");
    assert.equal(e.values[0].value, "Line 4, Col 10: Unexpected '*': expected a value");
  });

  it("reads decimals (0.7, .5, 180) and exponents (1e3, [UNCONFIRMED])", () => {
    assert.equal(value("0.7 + .5 + 180"), "181.2");
    assert.equal(value("1e3 + 2.5E-1"), "1000.25");
  });

  it("allows a missing ';' after the last statement, and several statements on one line", () => {
    const r = evaluateOk("a = 1; b = a + 1; $TargetDedicatedNodes = b", { now });
    assert.equal(r.run.results, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1;b=2");
  });

  it("lets later statements see and reassign earlier variables", () => {
    assert.equal(resultOf(evaluateOk("t = 1; t = t * 10; t = t + 1", { now }).run.results, "t"), "11");
  });

  it("keeps user variables with and without '$' apart, prints them as written, case-sensitive ([UNCONFIRMED])", () => {
    const r = evaluateOk("n = 1; $n = 2; N = 3", { now });
    assert.equal(r.run.results, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$n=2;N=3;n=1");
  });

  it("matches system variables case-insensitively (the 2014 REST example writes $targetDedicatedNodes)", () => {
    const r = evaluateOk("$targetDedicatedNodes = 5; $nodedeallocationoption = retaineddata", { now });
    assert.equal(r.run.results, "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=retaineddata");
  });

  it("takes the aliases $TargetDedicated and $TargetLowPriority; the full name wins when both are set", () => {
    assert.equal(evaluateOk("$TargetDedicated = 4; $TargetLowPriority = 6", { now }).run.results, "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=6;$NodeDeallocationOption=requeue");
    const both = evaluateOk("$TargetDedicatedNodes = 2; $TargetDedicated = 9; seen = $TargetDedicated", { now });
    assert.equal(both.targetDedicatedNodes, 2);
    assert.equal(resultOf(both.run.results, "seen"), "9");
  });

  it("accepts every $NodeDeallocationOption keyword, also through ?:", () => {
    for (const option of ["requeue", "terminate", "taskcompletion", "retaineddata"] as const) {
      assert.equal(evaluateOk(`$NodeDeallocationOption = ${option}`, { now }).nodeDeallocationOption, option);
    }
    assert.equal(evaluateOk("$NodeDeallocationOption = 1 > 2 ? requeue : taskcompletion", { now }).nodeDeallocationOption, "taskcompletion");
  });

  it("reads $TaskSlotsPerNode from the pool and node counts bare as their current values", () => {
    const r = evaluateOk("$TargetDedicatedNodes = $PendingTasks / $TaskSlotsPerNode + $CurrentLowPriorityNodes", {
      now,
      taskSlotsPerNode: 4,
      samples: history(now, { $PendingTasks: [1, 12] }),
      current: { $CurrentLowPriorityNodes: 2 },
    });
    // $PendingTasks bare reads its newest sample (12); whether Batch allows task variables bare is [UNCONFIRMED].
    assert.equal(r.targetDedicatedNodes, 5);
  });

  it("stop() ends the evaluation: later statements do not run, earlier assignments stand ([UNCONFIRMED] effect)", () => {
    const r = evaluatePoolFormula("$TargetDedicatedNodes = 2; a = 1; stop(); $TargetDedicatedNodes = 9; b = 2", { now });
    assert.equal(r.stopped, true);
    assert.equal(r.run.error, undefined);
    assert.equal(r.run.results, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1");
    const inBranch = evaluatePoolFormula("$TargetDedicatedNodes = 3; $TargetDedicatedNodes = 1 < 2 ? stop() : 8", { now });
    assert.equal(inBranch.targetDedicatedNodes, 3);
    assert.equal(evaluatePoolFormula("$TargetDedicatedNodes = 1 > 2 ? stop() : 8", { now }).targetDedicatedNodes, 8);
  });
});

describe("autoscale engine: precedence (lgolding/auto-scale's parser; the docs give none) [UNCONFIRMED against the service]", () => {
  it("* and / bind tighter than + and -, left to right", () => {
    assert.equal(value("1 + 2 * 3"), "7");
    assert.equal(value("8 - 2 - 1"), "5");
    assert.equal(value("8 / 2 / 2"), "2");
    assert.equal(value("(1 + 2) * 3"), "9");
  });

  it("unary - and ! bind tightest", () => {
    assert.equal(value("-2 * 3"), "-6");
    assert.equal(value("- -2"), "2");
    assert.equal(value("!0 + 1"), "2");
    assert.equal(value("!(0 + 1)"), "0");
  });

  it("comparisons are below arithmetic and one left-associative level", () => {
    assert.equal(value("1 + 1 == 2"), "1");
    assert.equal(value("3 > 2 > 1"), "0"); // (3 > 2) > 1 → 1 > 1
    assert.equal(value("1 < 2 == 1"), "1");
  });

  it("&& binds tighter than ||, both below comparisons", () => {
    assert.equal(value("1 || 0 && 0"), "1");
    assert.equal(value("(1 || 0) && 0"), "0");
    assert.equal(value("2 > 1 && 3 > 2"), "1");
  });

  it("?: is lowest, its condition a full || expression, nonzero true", () => {
    assert.equal(value("0 || 1 ? 10 : 20"), "10");
    assert.equal(value("2 - 2 ? 10 : 20"), "20");
    assert.equal(value("0.5 ? 1 + 1 : 0"), "2");
    assert.equal(value("1 ? 2 : (0 ? 3 : 4)"), "2");
  });

  it("a nested ?: needs parentheses", () => {
    const e = errorOf("x = 1 ? 2 : 0 ? 3 : 4");
    assert.equal(e.code, "AutoScalingFormulaSyntaxError");
    assert.equal(e.values[0].value, "Line 1, Col 15: Nested conditional: put the inner 'condition ? value : value' in parentheses");
  });

  it("?:, && and || evaluate lazily: an untaken GetSample cannot fail the formula", () => {
    // With no samples, GetSample(..., 70) would throw InsufficientSampleData.
    assert.equal(value("1 ? 5 : avg($PendingTasks.GetSample(TimeInterval_Minute, 70))"), "5");
    assert.equal(value("0 && avg($PendingTasks.GetSample(TimeInterval_Minute, 70))"), "0");
    assert.equal(value("1 || avg($PendingTasks.GetSample(TimeInterval_Minute, 70))"), "1");
    assert.equal(errorOf("x = 1 && avg($PendingTasks.GetSample(TimeInterval_Minute, 70))").code, "InsufficientSampleData");
  });
});

describe("autoscale engine: the documented operator table", () => {
  const t = "TimeInterval_Minute";
  const vec = (name: string) => ({ samples: history(now, { [name]: [1, 2, 3] }) });
  const v = "$CPUPercent.GetSample(3)";

  it("double op double: + - * / → double", () => {
    assert.deepEqual(["7 + 2", "7 - 2", "7 * 2", "7 / 2"].map((x) => value(x)), ["9", "5", "14", "3.5"]);
  });

  it("doubleVec op double and doubleVec op doubleVec: + - * / component-wise → doubleVec", () => {
    const env = vec("$CPUPercent");
    assert.equal(value(`${v} + 1`, env), "[2,3,4]");
    assert.equal(value(`${v} - 1`, env), "[0,1,2]");
    assert.equal(value(`${v} * 2`, env), "[2,4,6]");
    assert.equal(value(`${v} / 2`, env), "[0.5,1,1.5]");
    assert.equal(value(`${v} + ${v}`, env), "[2,4,6]");
    assert.equal(value(`${v} * ${v} - ${v}`, env), "[0,2,6]");
  });

  it("double * timeinterval, timeinterval * double, timeinterval / double → timeinterval", () => {
    assert.equal(value(`5 * ${t}`), "00:05:00");
    assert.equal(value(`${t} * 90`), "01:30:00");
    assert.equal(value(`TimeInterval_Hour / 4`), "00:15:00");
  });

  it("timeinterval ± timeinterval → timeinterval; unary - on timeinterval", () => {
    assert.equal(value(`TimeInterval_Day + TimeInterval_Hour`), "1.01:00:00");
    assert.equal(value(`TimeInterval_Second - ${t}`), "-00:00:59");
    assert.equal(value(`-TimeInterval_Week`), "-7.00:00:00");
  });

  it("timestamp + timeinterval and timeinterval + timestamp → timestamp; timestamp - timestamp → timeinterval", () => {
    assert.equal(value("time() + TimeInterval_Hour"), "2016-10-13T20:18:47.805Z");
    assert.equal(value("TimeInterval_Day + time()"), "2016-10-14T19:18:47.805Z");
    assert.equal(value('time() - time("2016-10-13T19:00:00Z")'), "00:18:47.8050000");
  });

  it("comparisons on double, string, timestamp and timeinterval (same type both sides) → 1 or 0", () => {
    assert.deepEqual(["1 < 2", "2 <= 2", "2 == 2", "3 >= 4", "3 > 4", "3 != 4"].map((x) => value(x)), ["1", "1", "1", "0", "0", "1"]);
    assert.equal(value('"abc" < "abd"'), "1");
    assert.equal(value('"abc" == "abc"'), "1");
    assert.equal(value(`time() > time("2016-01-01")`), "1");
    assert.equal(value(`${t} * 2 == 120 * TimeInterval_Second`), "1");
    assert.equal(value(`TimeInterval_Hour < ${t}`), "0");
  });

  it("&& and || on doubles → 1 or 0; ! on double", () => {
    assert.deepEqual(["2 && 3", "2 && 0", "0 || 0", "0 || -1", "!5", "!0"].map((x) => value(x)), ["1", "0", "0", "1", "0", "1"]);
  });

  it("rejects every combination the table does not list with TypeMismatch at validation", () => {
    const cases: [string, string][] = [
      [`time() + time()`, "Line 1, Col 12: Operator '+' does not apply to timestamp + timestamp"],
      [`1 + ${t}`, "Line 1, Col 7: Operator '+' does not apply to double + timeinterval"],
      [`time() - ${t}`, "Line 1, Col 12: Operator '-' does not apply to timestamp - timeinterval"],
      [`1 / ${t}`, "Line 1, Col 7: Operator '/' does not apply to double / timeinterval"],
      [`${t} * ${t}`, "Line 1, Col 25: Operator '*' does not apply to timeinterval * timeinterval"],
      [`2 * ${v}`, "Line 1, Col 7: Operator '*' does not apply to double * doubleVec"],
      [`${v} > 0`, "Line 1, Col 30: Operator '>' does not apply to doubleVec > double"],
      [`1 < "a"`, "Line 1, Col 7: Operator '<' does not apply to double < string"],
      [`"a" + "b"`, "Line 1, Col 9: Operator '+' does not apply to string + string"],
      [`${t} && 1`, "Line 1, Col 25: Operator '&&' does not apply to timeinterval && double"],
      [`!${t}`, "Line 1, Col 5: Operator '!' does not apply to a timeinterval"],
      [`-"a"`, "Line 1, Col 5: Operator '-' does not apply to a string"],
      [`-time()`, "Line 1, Col 5: Operator '-' does not apply to a timestamp"],
      [`requeue == requeue`, "Line 1, Col 13: Operator '==' does not apply to keyword == keyword"],
      [`${t} ? 1 : 2`, "Line 1, Col 5: The condition of '?:' must be a double; got a timeinterval"],
      [`1 ? 1 : ${t}`, "Line 1, Col 7: The branches of '?:' have different types: double and timeinterval"],
    ];
    for (const [expression, message] of cases) {
      const e = errorOf(`x = ${expression}`, vec("$CPUPercent"));
      assert.equal(e.code, "TypeMismatch", expression);
      assert.equal(e.values[0].value, message, expression);
      assert.equal(e.phase, "validation", expression);
      assert.equal(validateFormula(`x = ${expression}`)?.code, "TypeMismatch", expression);
    }
  });

  it("doubleVecs of different lengths are a TypeMismatch when evaluated", () => {
    const e = errorOf("x = $CPUPercent.GetSample(3) + $CPUPercent.GetSample(2)", vec("$CPUPercent"));
    assert.equal(e.code, "TypeMismatch");
    assert.equal(e.phase, "evaluation");
    assert.equal(e.values[0].value, "Line 1, Col 30: Operator '+' on doubleVecs of different lengths (3 and 2)");
  });
});

describe("autoscale engine: functions", () => {
  const env = { samples: history(now, { $CPUPercent: [2, 4, 4, 4, 5, 5, 7, 9] }) };
  const all = "$CPUPercent.GetSample(8)";

  it("avg, len, max, min, range, sum, norm over a doubleVecList (doubles and doubleVecs mixed, flattened)", () => {
    assert.equal(value(`avg(${all})`, env), "5");
    assert.equal(value(`avg(${all}, 14)`, env), "6");
    assert.equal(value("avg(1, 2, 3)"), "2");
    assert.equal(value(`len(${all}, 1, ${all})`, env), "17");
    assert.equal(value("len()"), "0");
    assert.equal(value(`max(${all}, 3)`, env), "9");
    assert.equal(value(`min(3, ${all})`, env), "2");
    assert.equal(value(`range(${all})`, env), "7");
    assert.equal(value(`sum(${all})`, env), "40");
    assert.equal(value("norm(3, 4)"), "5");
  });

  it("std is the sample standard deviation (n - 1)", () => {
    assert.equal(value(`std(${all})`, env), formatDouble(Math.sqrt(32 / 7)));
    assert.equal(value("std(1, 3)"), formatDouble(Math.SQRT2));
  });

  it("lg, ln, log: of a double a double, of a vector or list component-wise", () => {
    assert.equal(value("lg(8)"), "3");
    assert.equal(value("ln(1)"), "0");
    assert.equal(value("log(1000)"), "3");
    assert.equal(value("lg(1, 2, 4)"), "[0,1,2]");
    assert.equal(value(`log(${all} * 10)`, env), `[${[2, 4, 4, 4, 5, 5, 7, 9].map((x) => formatDouble(Math.log10(x * 10))).join(",")}]`);
  });

  it("ceil, floor, round: of a double or component-wise (named in the brief, not in the 2019/2021 docs; round is to-even like .NET [UNCONFIRMED])", () => {
    assert.equal(value("ceil(2.1)"), "3");
    assert.equal(value("floor(-2.1)"), "-3");
    assert.equal(value("round(2.5) + round(3.5) * 10 + round(2.6) * 100"), "342");
    assert.equal(value("floor(1.5, 2.5)"), "[1,2]");
  });

  it("percentile(v, p) with p from 0 to 100, interpolated between ranks [UNCONFIRMED scale and interpolation]", () => {
    assert.equal(value(`percentile(${all}, 0)`, env), "2");
    assert.equal(value(`percentile(${all}, 100)`, env), "9");
    assert.equal(value(`percentile(${all}, 50)`, env), "4.5");
  });

  it("val(v, i) is zero-based", () => {
    assert.equal(value(`val(${all}, 0)`, env), "2");
    assert.equal(value(`val(${all}, 7)`, env), "9");
  });

  it("rand() is in [0, 1) and comes from the environment's source", () => {
    assert.equal(value("rand()", { random: () => 0.25 }), "0.25");
    const r = Number(value("rand()"));
    assert.ok(r >= 0 && r < 1);
  });

  it("time() is now (UTC); time(\"\") too; time(W3C-DTF | RFC 1123) parses; members year..second", () => {
    assert.equal(value('time("")'), "2016-10-13T19:18:47.805Z");
    const members = evaluateOk("t = time(); y = t.year; mo = t.month; d = t.day; w = t.weekday; h = t.hour; mi = t.minute; s = t.second", { now });
    assert.deepEqual(["y", "mo", "d", "w", "h", "mi", "s"].map((n) => resultOf(members.run.results, n)), ["2016", "10", "13", "4", "19", "18", "47"]);
    // Sunday: the docs only say 1 is Monday; 7 for Sunday is [UNCONFIRMED].
    assert.equal(value('time("2016-10-16T12:00Z").weekday'), "7");
    assert.equal(value('time("2016").month'), "1");
    assert.equal(value('time("2016-10-13T19:18:47.25-05:00").hour'), "0");
    assert.equal(value('time("Sun, 16 Oct 2016 08:00:00 GMT").weekday'), "7");
  });
});

describe("autoscale engine: sampling methods", () => {
  it("GetSample(count) returns the newest `count` samples however old, oldest first ([UNCONFIRMED] order)", () => {
    const samples = history(now - 3600_000, { $PendingTasks: [1, 2, 3, 4] });
    assert.equal(value("$PendingTasks.GetSample(2)", { samples }), "[3,4]");
    assert.equal(value("$PendingTasks.GetSample(10)", { samples }), "[1,2,3,4]");
    assert.equal(value("$PendingTasks.GetSample(0)", { samples }), "[]");
  });

  it("GetSample(timeinterval) looks back from now; GetSample(start, end) takes the window between", () => {
    const samples = history(now, { $PendingTasks: [1, 2, 3, 4, 5, 6] });
    assert.equal(value("$PendingTasks.GetSample(TimeInterval_Minute)", { samples }), "[5,6]");
    assert.equal(value("$PendingTasks.GetSample(TimeInterval_Minute, 2 * TimeInterval_Minute)", { samples }), "[3,4]");
    assert.equal(value("$PendingTasks.GetSample(2 * TimeInterval_Minute, TimeInterval_Minute)", { samples }), "[3,4]");
  });

  it("GetSample(timestamp [, timestamp]) takes absolute windows", () => {
    const samples = history(now, { $PendingTasks: [1, 2, 3, 4, 5, 6] });
    assert.equal(value("$PendingTasks.GetSample(time() + -90 * TimeInterval_Second)", { samples }), "[4,5,6]");
    assert.equal(value("$PendingTasks.GetSample(time() + -150 * TimeInterval_Second, time() + -60 * TimeInterval_Second)", { samples }), "[2,3,4]");
  });

  it("GetSamplePercent compares present samples with one per 30 s over the window, capped at 100", () => {
    const samples = history(now, { $PendingTasks: repeat(1, 9) });
    assert.equal(value("$PendingTasks.GetSamplePercent(TimeInterval_Minute * 10)", { samples }), "45");
    assert.equal(value("$PendingTasks.GetSamplePercent(TimeInterval_Minute * 2)", { samples }), "100");
    assert.equal(value("$PendingTasks.GetSamplePercent(TimeInterval_Minute * 0, TimeInterval_Minute * 10)", { samples }), "45");
    assert.equal(value("$CPUPercent.GetSamplePercent(TimeInterval_Minute * 10)", { samples }), "0");
  });

  it("the 'ignore when under 70 %' pattern scales only on enough data", () => {
    const formula = "p = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5); $TargetDedicatedNodes = p < 70 ? 0 : max($PendingTasks.GetSample(TimeInterval_Minute * 5, 70))";
    assert.equal(evaluateOk(formula, { now, samples: history(now, { $PendingTasks: repeat(4, 6) }) }).targetDedicatedNodes, 0);
    assert.equal(evaluateOk(formula, { now, samples: history(now, { $PendingTasks: repeat(4, 7) }) }).targetDedicatedNodes, 4);
  });

  it("Count(), HistoryBeginTime() and GetSamplePeriod()", () => {
    const samples = history(now, { $RunningTasks: repeat(1, 5) });
    const r = evaluateOk("c = $RunningTasks.Count(); b = $RunningTasks.HistoryBeginTime(); p = $RunningTasks.GetSamplePeriod(); age = time() - b", { now, samples });
    assert.equal(resultOf(r.run.results, "c"), "5");
    assert.equal(resultOf(r.run.results, "b"), "2016-10-13T19:16:47.805Z");
    assert.equal(resultOf(r.run.results, "p"), "00:00:30");
    assert.equal(resultOf(r.run.results, "age"), "00:02:00");
  });

  it("every read-only system variable is sampled and readable through its methods", () => {
    const names = [
      "$CPUPercent", "$WallClockSeconds", "$MemoryBytes", "$DiskBytes", "$DiskReadBytes", "$DiskWriteBytes", "$DiskReadOps", "$DiskWriteOps",
      "$NetworkInBytes", "$NetworkOutBytes", "$SampleNodeCount", "$ActiveTasks", "$RunningTasks", "$PendingTasks", "$SucceededTasks",
      "$FailedTasks", "$CurrentDedicatedNodes", "$CurrentLowPriorityNodes", "$PreemptedNodeCount",
    ];
    const samples = history(now, Object.fromEntries(names.map((n, i) => [n, [i, i + 1]])));
    const formula = names.map((n, i) => `v${i} = sum(${n}.GetSample(2))`).join(";");
    const r = evaluateOk(formula, { now, samples });
    names.forEach((n, i) => assert.equal(resultOf(r.run.results, `v${i}`), String(2 * i + 1), n));
  });
});

describe("autoscale engine: every error code", () => {
  it("AutoScalingFormulaSyntaxError: grammar, characters, strings, unknown functions and methods, arity", () => {
    const cases: [string, string][] = [
      ["$TargetDedicatedNodes = ;", "Line 1, Col 25: Expected an expression after '$TargetDedicatedNodes ='"],
      ["$TargetDedicatedNodes 2", "Line 1, Col 1: Expected '=' after '$TargetDedicatedNodes': a statement is 'name = expression'"],
      ["x = (1 + 2", "Line 1, Col 11: Expected ')' to close '(', found the end of the formula"],
      ["x = 1 & 2", "Line 1, Col 7: Unexpected character '&' (logical and is '&&')"],
      ["x = 1 | 2", "Line 1, Col 7: Unexpected character '|' (logical or is '||')"],
      ["x = 'a'", "Line 1, Col 5: Unexpected character ''' (strings are double-quoted)"],
      ['x = time("2016', "Line 1, Col 10: Unterminated string: a '\"' has no closing '\"' on its line"],
      ["x = 1;;", "Line 1, Col 7: Empty statement: unexpected ';'"],
      ["", "Line 1, Col 1: The formula has no statements"],
      ["// only a comment", "Line 1, Col 18: The formula has no statements"],
      ["x = avgg(1)", "Line 1, Col 5: Unknown function 'avgg'"],
      ["x = percentile(1)", "Line 1, Col 5: Function 'percentile' takes 2 arguments; got 1"],
      ["x = time(1, 2)", "Line 1, Col 5: Function 'time' takes 0 to 1 arguments; got 2"],
      ["x = lg()", "Line 1, Col 5: Function 'lg' takes at least 1 argument; got 0"],
      ["x = $PendingTasks.GetSamples(1)", "Line 1, Col 19: Unknown method 'GetSamples'; sampled variables have GetSample, GetSamplePercent, GetSamplePeriod, Count, HistoryBeginTime"],
      ["x = $PendingTasks.GetSample()", "Line 1, Col 19: Method 'GetSample' takes 1 to 3 arguments; got 0"],
      ["x = $PendingTasks.Count", "Line 1, Col 19: Count is a method: write $PendingTasks.Count(...)"],
      ["x = 12abc", "Line 1, Col 5: Invalid number '12a'"],
      ["x = $PendingTasks(1)", "Line 1, Col 5: '$PendingTasks' is a variable, not a function"],
      ["x = 1 y", "Line 1, Col 7: Expected ';' before 'y': statements are separated by ';'"],
    ];
    for (const [formula, message] of cases) {
      const e = errorOf(formula);
      assert.equal(e.code, "AutoScalingFormulaSyntaxError", formula);
      assert.equal(e.message, "The specified auto-scaling formula has a syntax error.", formula);
      assert.deepEqual(e.values, [{ name: "Message", value: message }], formula);
    }
  });

  it("AutoScalingFormulaTooLong: over 8192 characters (see T9 for the statement limit)", () => {
    assert.equal(errorOf(`x = 1;${"/".repeat(8190)}`).code, AutoScaleErrorCode.TooLong);
  });

  it("UndefinedVariable: a user variable read before assignment, an unknown $ name ([UNCONFIRMED] code)", () => {
    const e = errorOf("a = b + 1");
    assert.equal(e.code, "UndefinedVariable");
    assert.equal(e.message, "Autoscale evaluation failed due to an undefined variable");
    assert.equal(e.values[0].value, "Line 1, Col 5: 'b' is not assigned before it is used");
    assert.equal(errorOf("$TargetDedicatedNodes = $PendingTask.GetSample(1)").values[0].value, "Line 1, Col 25: '$PendingTask' is neither a system variable nor assigned before it is used");
    assert.equal(errorOf("a = a").code, "UndefinedVariable");
    // $UsableNodeCount appears only in third-party notes: not a system variable here.
    assert.equal(errorOf("x = $UsableNodeCount").code, "UndefinedVariable");
  });

  it("TypeMismatch: function and method arguments, targets assigned a non-double, members ([UNCONFIRMED] code)", () => {
    const cases: [string, string][] = [
      ["x = avg(TimeInterval_Minute)", "Line 1, Col 9: Argument 1 of avg() must be a double or a doubleVec; got a timeinterval"],
      ["x = val(3, 0)", "Line 1, Col 9: Argument 1 of val() must be a doubleVec; got a double"],
      ["x = time(5)", "Line 1, Col 10: Argument 1 of time() must be a string (W3C-DTF or RFC 1123 date); got a double"],
      ['x = $CPUPercent.GetSample("5")', "Line 1, Col 17: $CPUPercent.GetSample: the argument must be a sample count (double), a timeinterval or a timestamp; got a string"],
      ["x = $CPUPercent.GetSample(5, 10)", "Line 1, Col 17: $CPUPercent.GetSample: the start of the window must be a timeinterval or a timestamp; got a double"],
      ["x = $CPUPercent.GetSamplePercent(5)", "Line 1, Col 17: $CPUPercent.GetSamplePercent: the start of the window must be a timeinterval or a timestamp; got a double"],
      ["y = 2; x = y.GetSample(1)", "Line 1, Col 14: '.GetSample()' applies to sampled system variables such as $PendingTasks, not to a double"],
      ["$TargetDedicatedNodes = TimeInterval_Hour", "Line 1, Col 25: $TargetDedicatedNodes must be assigned a double; got a timeinterval"],
      ["x = time().hours", "Line 1, Col 12: A timestamp has no member 'hours'; its members are year, month, day, weekday, hour, minute, second"],
      ["x = TimeInterval_Hour.hour", "Line 1, Col 23: A timeinterval has no member 'hour'"],
    ];
    for (const [formula, message] of cases) {
      const e = errorOf(formula);
      assert.equal(e.code, "TypeMismatch", formula);
      assert.equal(e.message, "Autoscale evaluation failed due to a type mismatch", formula);
      assert.equal(e.values[0].value, message, formula);
    }
  });

  it("InvalidAssignment: read-only variables, constants, keywords, a bad $NodeDeallocationOption ([UNCONFIRMED] code)", () => {
    const cases: [string, string][] = [
      ["$PendingTasks = 3", "Line 1, Col 1: $PendingTasks is a read-only system variable and cannot be assigned"],
      ["$currentdedicatednodes = 3", "Line 1, Col 1: $CurrentDedicatedNodes is a read-only system variable and cannot be assigned"],
      ["TimeInterval_Minute = 3", "Line 1, Col 1: 'TimeInterval_Minute' is a constant and cannot be assigned"],
      ["requeue = 1", "Line 1, Col 1: 'requeue' is a constant and cannot be assigned"],
      ["$NodeDeallocationOption = 2", "Line 1, Col 27: $NodeDeallocationOption must be one of requeue, terminate, taskcompletion, retaineddata; got a double"],
      ['$NodeDeallocationOption = "requeue"', "Line 1, Col 27: $NodeDeallocationOption must be one of requeue, terminate, taskcompletion, retaineddata; got a string"],
    ];
    for (const [formula, message] of cases) {
      const e = errorOf(formula);
      assert.equal(e.code, "InvalidAssignment", formula);
      assert.equal(e.values[0].value, message, formula);
    }
    // LG's lexer spells it "retaindata"; the docs say retaineddata.
    assert.equal(errorOf("$NodeDeallocationOption = retaindata").code, "UndefinedVariable");
  });

  it("InsufficientSampleData: GetSample with a percent, a sampled variable with no sample at all", () => {
    const e = errorOf("\n\n  x = $RunningTasks.GetSample(TimeInterval_Minute * 2, 70)", { samples: history(now, { $RunningTasks: [1, 1] }) });
    assert.deepEqual(
      { code: e.code, message: e.message, values: e.values },
      {
        code: "InsufficientSampleData",
        message: "Autoscale evaluation failed due to insufficient sample data",
        values: [{ name: "Message", value: "Line 3, Col 7: Insufficient data from data set: $RunningTasks wanted 70%, received 50%" }],
      },
    );
    assert.equal(errorOf("x = $ActiveTasks + 1").values[0].value, "Line 1, Col 5: Insufficient data from data set: $ActiveTasks has no samples");
    assert.equal(errorOf("x = $ActiveTasks.HistoryBeginTime()").code, "InsufficientSampleData");
  });

  it("InvalidFunctionArgument: empty vectors, indexes out of range, bad dates and percentiles ([UNCONFIRMED] code)", () => {
    const cases: [string, string][] = [
      ["x = avg($PendingTasks.GetSample(TimeInterval_Minute))", "Line 1, Col 5: avg(): the list of values is empty"],
      ["x = max()", "Line 1, Col 5: max(): the list of values is empty"],
      ["x = std(1)", "Line 1, Col 5: std(): the sample standard deviation needs at least 2 values; got 1"],
      ["x = val($PendingTasks.GetSample(1), 0)", "Line 1, Col 37: val(): index 0 is outside the vector (length 0, first index 0)"],
      ['x = time("13/10/2016")', "Line 1, Col 10: time(): '13/10/2016' is not a W3C-DTF or RFC 1123 date"],
      ['x = time("2016-02-30")', "Line 1, Col 10: time(): '2016-02-30' is not a W3C-DTF or RFC 1123 date"],
      ["x = $PendingTasks.GetSample(1.5)", "Line 1, Col 19: $PendingTasks.GetSample: the sample count must be a whole number >= 0; got 1.5"],
    ];
    for (const [formula, message] of cases) {
      const e = errorOf(formula);
      assert.equal(e.code, "InvalidFunctionArgument", formula);
      assert.equal(e.values[0].value, message, formula);
      assert.equal(e.phase, "evaluation", formula);
    }
    const p = errorOf("x = percentile($CPUPercent.GetSample(2), 101)", { samples: history(now, { $CPUPercent: [1, 2] }) });
    assert.equal(p.values[0].value, "Line 1, Col 42: percentile(): the percentile must be between 0 and 100; got 101");
  });

  it("ArithmeticError: division by zero, logarithms of 0, overflow ([UNCONFIRMED]: .NET would yield Infinity)", () => {
    assert.equal(errorOf("x = 1 / 0").values[0].value, "Line 1, Col 7: Division by zero");
    assert.equal(errorOf("x = ln(0)").values[0].value, "Line 1, Col 5: The result is not a finite number (-Infinity)");
    assert.equal(errorOf("x = 1e308 * 10").code, "ArithmeticError");
    assert.equal(errorOf("x = TimeInterval_Minute / 0").code, "ArithmeticError");
  });

  it("validation errors carry no results; evaluation errors carry what the statements before assigned", () => {
    assert.equal(errorOf("a = 1; b = c").run.results, undefined);
    assert.equal(errorOf("a = 1; $TargetDedicatedNodes = 4; b = 1 / 0; c = 2").run.results, "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1");
  });

  it("validateFormula returns validation failures only; data-dependent ones pass", () => {
    assert.equal(validateFormula("$TargetDedicatedNodes = avg($PendingTasks.GetSample(TimeInterval_Minute * 5, 70))"), undefined);
    assert.equal(validateFormula("x = 1 / 0"), undefined);
    assert.equal(validateFormula("$TargetDedicatedNodes = y")?.code, "UndefinedVariable");
  });

  it("asBatchError turns an AutoScaleRun error into Batch's REST error body", () => {
    const e = errorOf("a = 1 b = 2");
    assert.deepEqual(asBatchError(e), {
      code: "AutoScalingFormulaSyntaxError",
      message: { lang: "en-US", value: "The specified auto-scaling formula has a syntax error." },
      values: [{ key: "Message", value: "Line 1, Col 7: Expected ';' before 'b': statements are separated by ';'" }],
    });
  });
});

describe("autoscale engine: printing values in results [UNCONFIRMED beyond the docs' examples]", () => {
  it("doubles as .NET's Double.ToString (15 significant digits, E notation outside 1e-5..1e15)", () => {
    assert.deepEqual(
      [0, -0, 3, -2.5, 1 / 3, 10 * 1.1, 0.0001, 0.00001, 1.5e-6, 123456789012345, 1e15, 2.5e20].map(formatDouble),
      ["0", "0", "3", "-2.5", "0.333333333333333", "11", "0.0001", "1E-05", "1.5E-06", "123456789012345", "1E+15", "2.5E+20"],
    );
  });

  it("time intervals as .NET's TimeSpan", () => {
    assert.deepEqual([0, 30, 300, 3600 * 25 + 1, -90, 1e-7, 0.5].map(formatTimeInterval), ["00:00:00", "00:00:30", "00:05:00", "1.01:00:01", "-00:01:30", "00:00:00.0000001", "00:00:00.5000000"]);
    assert.equal(value("TimeInterval_100ns + TimeInterval_Microsecond + TimeInterval_Millisecond"), "00:00:00.0010011");
    assert.equal(value("TimeInterval_Year"), "365.00:00:00");
  });

  it("strings and keywords bare, vectors in brackets", () => {
    const r = evaluateOk('s = "hello"; k = taskcompletion; v = $PendingTasks.GetSample(2)', { now, samples: history(now, { $PendingTasks: [0.5, 2] }) });
    assert.equal(r.run.results, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;k=taskcompletion;s=hello;v=[0.5,2]");
  });
});
