import { strict as assert } from "node:assert";
import { formatFinding, lintFormula, normalizeFormula, statementAt } from "../../tasks/BatchPoolAutoscale/lint";

/**
 * The formula examples of Microsoft's autoscale article and of the recorded
 * service exchanges gathered in the project's autoscale reference (tags as
 * there); none may give an error.
 */
const DOCUMENTED: Record<string, string> = {
  "T1 pending tasks (A19)": `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`,
  "T1 in the Data Factory article (older $TargetDedicated alias)": `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicated=min(maxNumberofVMs,pendingTaskSamples);`,
  "T2 preempted nodes (A19)": `maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);
$NodeDeallocationOption = taskcompletion;`,
  "T3 / Example 1 time of day (A19)": `$curTime = time();
$workHours = $curTime.hour >= 8 && $curTime.hour < 18;
$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
$isWorkingWeekdayHour = $workHours && $isWeekday;
$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;`,
  "T4 CPU (A19)": `$totalDedicatedNodes = (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ? ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes = (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ? ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)`,
  "T5 / Example 2 task-based (A19)": `// Get pending tasks for the past 15 minutes.
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1), avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - keep nodes active only until tasks finish
$NodeDeallocationOption = taskcompletion;`,
  "T6 / Example 3 parallel tasks (A19)": `// Determine whether 70 percent of the samples have been recorded in the past
// 15 minutes; if not, use last sample
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
// Set the number of nodes to add to one-fourth the number of active tasks (the
// MaxTasksPerComputeNode property on this pool is set to 4, adjust this number
// for your use case)
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
// Attempt to grow the number of compute nodes to match the number of active
// tasks, with a maximum of 3
$TargetDedicatedNodes = max(0,min($targetVMs,3));
// Keep the nodes active until the tasks finish
$NodeDeallocationOption = taskcompletion;`,
  "Example 3, older spelling ($TargetDedicated, capitalised names)": `// Determine whether 70% of the samples have been recorded in the past 15 minutes; if not, use last sample
$Samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$Tasks = $Samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
$Cores = $TargetDedicated * 4;
$ExtraVMs = (($Tasks - $Cores) + 3) / 4;
$TargetVMs = ($TargetDedicated+$ExtraVMs);
$TargetDedicated = max(0,min($TargetVMs,3));
$NodeDeallocationOption = taskcompletion;`,
  "Example 4 initial pool size, as the C# string.Format renders it (A19)": `
    $TargetDedicatedNodes = 4;
    lifespan         = time() - time("Thu, 13 Oct 2016 19:18:47 GMT");
    span             = TimeInterval_Minute * 60;
    startup          = TimeInterval_Minute * 10;
    ratio            = 50;

    $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);
    `,
  "Enable autoscale snippet, Mondays (A19)": "$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);",
  "T7 live recording, no trailing ';' (PYREC)": "$TargetDedicatedNodes=3",
  "T7 Test-AzBatchAutoScale example (PS)":
    "totalNodes=($CPUPercent.GetSamplePercent(TimeInterval_Minute*0,TimeInterval_Minute*10)<0.7?5:(min($CPUPercent.GetSample(TimeInterval_Minute*0, TimeInterval_Minute*10))>0.8?($CurrentDedicated*1.1):$CurrentDedicated));$TargetDedicated=min(100,totalNodes);",
  "T8 seed formula": `maxNumberofVMs = 10; samplingInterval = 5 * TimeInterval_Minute; averageProcessingTimeSeconds = 5; targetProcessingTimeSeconds = 60; minimumDesiredSampleDataPercent = 70; pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(samplingInterval); pendingTasksCount = (pendingTaskSamplePercent < 70) ? 0 : avg($PendingTasks.GetSample(samplingInterval)); estimatedProcessingTimeSeconds = pendingTasksCount * averageProcessingTimeSeconds; processorTarget = pendingTasksCount > 0 ? max(estimatedProcessingTimeSeconds / targetProcessingTimeSeconds, 1) : 0; $TargetDedicatedNodes = min(maxNumberofVMs, processorTarget); $NodeDeallocationOption = taskcompletion;`,
  "Keep-size formula of the evaluate-first approach (A19)": "$TargetDedicatedNodes = 0",
  "GetSample with a window and a percentage (A19)": "$TargetDedicatedNodes = max(0, avg($CPUPercent.GetSample(TimeInterval_Minute * 10, 80)), avg($CPUPercent.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute)));",
  "'Won't resize the pool': the current dedicated count (A19)": "$TargetDedicatedNodes = $CurrentDedicatedNodes;",
  "The data plane's example body (older alias, no ';')": "$TargetDedicated=0",
  "Recorded results with '$' user variables (DAP)": `$maxTasksPerNode = 4; $samples = 100; $tasks = 0; $targetVMs = 1; $round = 3;
$TargetDedicatedNodes = 2; $TargetLowPriorityNodes = 5; $NodeDeallocationOption = taskcompletion;`,
};

/**
 * Documented snippets that show one expression and set no target: the
 * language in them passes; the task refuses them only because, applied on
 * their own, they could never change the pool's size.
 */
const DOCUMENTED_SNIPPETS: Record<string, string> = {
  "GetSample over a window (A19)": "$runningTasksSample = $RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute);",
  "GetSample with a required percentage (A19)": "$runningTasksSample = $RunningTasks.GetSample(60 * TimeInterval_Second, 120 * TimeInterval_Second, 75);",
  "GetSample of the last 5 minutes (A19)": "v = $CPUPercent.GetSample(TimeInterval_Minute * 5)",
  "time() of W3C and RFC 1123 strings (A19)": 'a = time("2016-10-13T19:18:47Z"); b = time("Thu, 13 Oct 2016 19:18:47 GMT"); c = time("2016-10-13T21:18:47+02:00"); d = a == b && b == c',
  "Batch Shipyard's generated forms": "last = val($PendingTasks.GetSample(1), 0); both = avg(last, 3); rebalance = 0 == 1",
};
const SETS_NO_TARGET = "The formula never sets $TargetDedicatedNodes (or $TargetLowPriorityNodes), so it cannot change the pool's size.";

/** The error messages of a formula, formatted as the task prints them. */
const errors = (formula: string) => lintFormula(formula).errors.map(formatFinding);

describe("BatchPoolAutoscale formula lint", () => {
  describe("the documented examples", () => {
    for (const [name, formula] of Object.entries(DOCUMENTED)) {
      it(`passes ${name}`, () => {
        assert.deepEqual(errors(formula), []);
      });
    }

    for (const [name, formula] of Object.entries(DOCUMENTED_SNIPPETS)) {
      it(`passes the language of ${name}, refusing only that it sets no target`, () => {
        assert.deepEqual(errors(formula), [SETS_NO_TARGET]);
      });
    }

    it("warns, without an error, about a $ name it does not know", () => {
      const result = lintFormula("$TargetDedicatedNodes = $UsableNodeCount;");
      assert.deepEqual(result.errors, []);
      assert.deepEqual(result.warnings.map(formatFinding), ["Line 1, Col 25: $UsableNodeCount is not a documented system variable and is not set before this statement."]);
    });
  });

  describe("broken formulas", () => {
    const cases: [string, string, string[]][] = [
      ["a missing ';' between statements (T9)", "a = 1 b = 2", ["Line 1, Col 7: ';' is missing before 'b': Batch needs a ';' between statements."]],
      [
        "a missing ';' across lines",
        "maxNodes = 4\n$TargetDedicatedNodes = maxNodes;",
        ["Line 2, Col 1: ';' is missing before '$TargetDedicatedNodes': Batch needs a ';' between statements."],
      ],
      ["an unclosed parenthesis", "$TargetDedicatedNodes = min(1, 2", ["Line 1, Col 28: this '(' is never closed: add ')' before the end of the statement."]],
      ["a parenthesis closed across ';'", "$TargetDedicatedNodes = min(1;, 2);", ["Line 1, Col 28: this '(' is never closed: add ')' before the end of the statement.", "Line 1, Col 31: a statement starts with the name it sets ('name = expression;'), not ','."]],
      ["an extra ')'", "$TargetDedicatedNodes = (1 + 2));", ["Line 1, Col 32: ')' has no matching '('."]],
      ["an unclosed string", 't = time("Mon, 01 Jan 2024);\n$TargetDedicatedNodes = 1;', ['Line 1, Col 10: the string starting here is never closed: add the closing " on the same line.']],
      ["a single '&'", "$TargetDedicatedNodes = 1 & 0;", ["Line 1, Col 27: '&' is not part of the autoscale formula language. Use && for 'and'."]],
      [
        "a read-only system variable assigned",
        "$CurrentDedicatedNodes = 3;\n$TargetDedicatedNodes = 1;",
        ["Line 1, Col 1: $CurrentDedicatedNodes is a read-only system variable; a formula sets only $TargetDedicatedNodes, $TargetLowPriorityNodes, $NodeDeallocationOption (and its own variables)."],
      ],
      ["a misspelt target", "$TargetDedicatedNode = 3;", ["Line 1, Col 1: $TargetDedicatedNode is not a system variable: did you mean $TargetDedicatedNodes?"]],
      ["a variable that is never set", "x = y + 1;\n$TargetDedicatedNodes = x;", ["Line 1, Col 5: y is not defined: set it in an earlier statement ('y = ...;')."]],
      ["a variable used before it is set", "$TargetDedicatedNodes = cap;\ncap = 4;", ["Line 1, Col 25: cap is used before it is set (at line 2, column 1); statements run in order."]],
      ["a $ variable used before it is set", "$TargetDedicatedNodes = $tasks;\n$tasks = 4;", ["Line 1, Col 25: $tasks is used before it is set (at line 2, column 1); statements run in order."]],
      ["a variable that reads itself first", "n = n + 1;\n$TargetDedicatedNodes = n;", ["Line 1, Col 5: n is used before it is set (at line 1, column 1); statements run in order."]],
      [
        "an unknown function",
        "$TargetDedicatedNodes = average(1, 2);",
        ["Line 1, Col 25: average() is not an autoscale function. The functions: avg, len, lg, ln, log, max, min, norm, percentile, rand, range, std, stop, sum, time, val."],
      ],
      ["an unknown method", "$TargetDedicatedNodes = avg($PendingTasks.GetSamples(1));", ["Line 1, Col 43: GetSamples is not a method of a system variable. Did you mean GetSample? The methods: GetSample, GetSamplePercent, GetSamplePeriod, Count, HistoryBeginTime."]],
      ["an unknown time interval", "$TargetDedicatedNodes = 5 * TimeInterval_Minutes;", ["Line 1, Col 29: TimeInterval_Minutes is not a time interval constant. Did you mean TimeInterval_Minute?"]],
      [
        "a deallocation option that does not exist",
        "$TargetDedicatedNodes = 1;\n$NodeDeallocationOption = taskcompleted;",
        ["Line 2, Col 27: $NodeDeallocationOption is one of requeue, terminate, taskcompletion, retaineddata; 'taskcompleted' is not."],
      ],
      ["an operator with nothing after it", "$TargetDedicatedNodes = 1 +;", ["Line 1, Col 27: a value is missing after '+'."]],
      ["two operators in a row", "$TargetDedicatedNodes = 1 * / 2;", ["Line 1, Col 29: a value is missing between '*' and '/'."]],
      ["'?' without ':'", "$TargetDedicatedNodes = 1 ? 2;", ["Line 1, Col 27: '?' needs a ':' with the value to use otherwise (condition ? a : b)."]],
      ["'==' for '='", "$TargetDedicatedNodes == 1;", ["Line 1, Col 23: '==' compares; a statement assigns with '=': '$TargetDedicatedNodes = ...;'."]],
      ["a statement that is not an assignment", "max(1, 2);\n$TargetDedicatedNodes = 1;", ["Line 1, Col 4: a statement is 'name = expression;', but '(' follows 'max'."]],
      ["nothing after '='", "$TargetDedicatedNodes = ;", ["Line 1, Col 23: nothing follows '=': a statement is 'name = expression;'."]],
      ["a second '=' in a statement", "a = b = 1;\n$TargetDedicatedNodes = 1;", ["Line 1, Col 7: '=' assigns only at the start of a statement: compare with '==', or end the previous statement with ';'."]],
      ["a ',' outside a call", "$TargetDedicatedNodes = (1, 2);", ["Line 1, Col 27: ',' separates the arguments of a function call; here it is outside one."]],
      ["no target at all", "maxNodes = 3;", ["The formula never sets $TargetDedicatedNodes (or $TargetLowPriorityNodes), so it cannot change the pool's size."]],
      ["an empty formula", "  // only a comment\n", ["The formula has no statements: set at least $TargetDedicatedNodes, for example '$TargetDedicatedNodes = 0;'."]],
      ["a formula over 8192 characters (T9)", `$TargetDedicatedNodes = 1;${" ".repeat(8200)}`, ["The formula is 8226 characters long; Batch accepts at most 8192."]],
    ];
    for (const [name, formula, expected] of cases) {
      it(`refuses ${name}`, () => {
        assert.deepEqual(errors(formula), expected);
      });
    }

    it("refuses more than 100 statements (T9)", () => {
      const formula = `${Array.from({ length: 100 }, (_, i) => `v${i} = ${i};`).join("\n")}\n$TargetDedicatedNodes = 1;`;
      assert.deepEqual(errors(formula), ["Line 101, Col 1: the formula has 101 statements; Batch accepts at most 100."]);
      assert.deepEqual(errors(formula.replace("v0 = 0;\n", "")), []);
    });

    it("warns when only the low-priority target is set, and when names differ only in case", () => {
      const onlySpot = lintFormula("$TargetLowPriorityNodes = 2;");
      assert.deepEqual(onlySpot.errors, []);
      assert.deepEqual(onlySpot.warnings.map(formatFinding), [
        "The formula never sets $TargetDedicatedNodes: the pool keeps its current dedicated target and only $TargetLowPriorityNodes changes.",
      ]);
      const cased = lintFormula("maxNumberOfVMs = 3;\n$TargetDedicatedNodes = maxNumberofVMs;");
      assert.deepEqual(cased.errors, []);
      assert.deepEqual(cased.warnings.map(formatFinding), ["Line 2, Col 25: maxNumberofVMs differs only in case from maxNumberOfVMs, set earlier; use one spelling."]);
    });
  });

  describe("comparing formulas", () => {
    it("ignores whitespace, indentation and line endings, but not comments or values", () => {
      const a = "a = 1;\n$TargetDedicatedNodes = min(a, 2);\n";
      assert.equal(normalizeFormula(a), normalizeFormula("  a=1;\r\n\r\n\t$TargetDedicatedNodes   =   min( a , 2 ) ;"));
      assert.notEqual(normalizeFormula(a), normalizeFormula(a.replace("2", "3")));
      assert.notEqual(normalizeFormula(a), normalizeFormula(`// cap\n${a}`));
    });

    it("keeps what a comment would swallow apart from the next line", () => {
      assert.notEqual(normalizeFormula("// note\n$TargetDedicatedNodes = 1;"), normalizeFormula("// note $TargetDedicatedNodes = 1;"));
    });
  });

  it("finds the statement at a line and column", () => {
    const formula = "a = 1;\nb = a +\n  2;\n$TargetDedicatedNodes = b;";
    const statement = statementAt(formula, 3, 3)!;
    assert.equal(formula.slice(statement.start, statement.end), "b = a +\n  2;");
    assert.equal(statement.assigns, "b");
    assert.equal(statementAt(formula, 9, 1), undefined);
  });
});
