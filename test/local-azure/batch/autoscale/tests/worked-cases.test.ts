/**
 * The worked cases of the shared autoscale reference (T1-T9) and the formula
 * examples of Microsoft's "automatic scaling" article, with the values they
 * expect. Where the expected text is a guess the reference marks
 * [UNCONFIRMED], the test says so; one applies throughout: fractional doubles
 * in results print with 15 significant digits (.NET's Double.ToString), so
 * 2/3 of 100 % reads "66.6666666666667".
 */
import { strict as assert } from "node:assert";
import { AUTOSCALE_FORMULA_TOO_LONG_ALIASES, evaluatePoolFormula, validateFormula } from "..";
import { DOC_RUN, evaluateError, evaluateOk, history, repeat, resultOf } from "./helpers";

const MONDAY_10 = Date.parse("2016-10-10T10:00:00Z");
const MONDAY_18 = Date.parse("2016-10-10T18:00:00Z");
const SATURDAY_10 = Date.parse("2016-10-15T10:00:00Z");
const now = DOC_RUN;

describe("autoscale engine: the reference's worked cases", () => {
  describe("T1 pending tasks (docs, 180 s window, 70 % rule)", () => {
    const T1 = `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`;

    it("no samples → 1 (the starting size)", () => {
      const r = evaluateOk(T1, { now });
      assert.equal(r.targetDedicatedNodes, 1);
      assert.equal(resultOf(r.run.results, "pendingTaskSamplePercent"), "0");
      assert.equal(r.nodeDeallocationOption, "taskcompletion");
    });

    it("4 of 6 samples (66.7 %) → 1", () => {
      const r = evaluateOk(T1, { now, samples: history(now, { $PendingTasks: repeat(10, 4) }) });
      assert.equal(r.targetDedicatedNodes, 1);
      assert.equal(resultOf(r.run.results, "pendingTaskSamplePercent"), "66.6666666666667");
    });

    it("6 samples averaging 10 → 10; averaging 40 → 25 (the cap); averaging 0 → 0", () => {
      assert.equal(evaluateOk(T1, { now, samples: history(now, { $PendingTasks: [5, 15, 5, 15, 5, 15] }) }).targetDedicatedNodes, 10);
      assert.equal(evaluateOk(T1, { now, samples: history(now, { $PendingTasks: repeat(40, 6) }) }).targetDedicatedNodes, 25);
      assert.equal(evaluateOk(T1, { now, samples: history(now, { $PendingTasks: repeat(0, 6) }) }).targetDedicatedNodes, 0);
    });
  });

  it("T2 preempted nodes: samples [3,3,3,3,3,3] → 3 dedicated, 22 low-priority", () => {
    const formula = `maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);`;
    const r = evaluateOk(formula, { now, samples: history(now, { $PreemptedNodeCount: repeat(3, 6) }) });
    assert.equal(r.targetDedicatedNodes, 3);
    assert.equal(r.targetLowPriorityNodes, 22);
    assert.equal(r.run.results, "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=22;$NodeDeallocationOption=requeue;maxNumberofVMs=25");
  });

  describe("T3 time of day (docs' Example 1 and the evaluate snippet)", () => {
    const T3 = `$curTime = time();
$workHours = $curTime.hour >= 8 && $curTime.hour < 18;
$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
$isWorkingWeekdayHour = $workHours && $isWeekday;
$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;`;

    it("Monday 10:00 UTC → 20; Monday 18:00 → 10; Saturday 10:00 → 10", () => {
      assert.equal(evaluateOk(T3, { now: MONDAY_10 }).targetDedicatedNodes, 20);
      assert.equal(evaluateOk(T3, { now: MONDAY_18 }).targetDedicatedNodes, 10);
      assert.equal(evaluateOk(T3, { now: SATURDAY_10 }).targetDedicatedNodes, 10);
    });

    it("reproduces the docs' sample run on Thursday 2016-10-13 19:18:47.805Z", () => {
      // The 2016 sample output predates low-priority nodes; today's service lists
      // $TargetLowPriorityNodes=0 after $TargetDedicatedNodes (recorded run, PYREC).
      const r = evaluateOk(T3, { now: DOC_RUN });
      assert.equal(
        r.run.results,
        "$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$curTime=2016-10-13T19:18:47.805Z;$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0",
      );
      assert.equal(r.run.timestamp, "2016-10-13T19:18:47.805Z");
    });

    it("Example 1 with taskcompletion and the docs' Mountain time shift (time() + (-6 * TimeInterval_Hour))", () => {
      const formula = `${T3}\n$NodeDeallocationOption = taskcompletion;`;
      assert.equal(evaluateOk(formula, { now: MONDAY_10 }).nodeDeallocationOption, "taskcompletion");
      const shifted = formula.replace("$curTime = time();", "$curTime = time() + (-6 * TimeInterval_Hour);");
      // 10:00 UTC is 04:00 MDT: outside working hours.
      assert.equal(evaluateOk(shifted, { now: MONDAY_10 }).targetDedicatedNodes, 10);
      assert.equal(evaluateOk(shifted, { now: Date.parse("2016-10-10T15:00:00Z") }).targetDedicatedNodes, 20);
    });
  });

  describe("T4 CPU (docs' 'Write an autoscale formula')", () => {
    const T4 = `$totalDedicatedNodes =
    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?
    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes =
    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?
    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)`;
    /** 120 samples over 60 min: the last 20 (10 min) at `last`, the first 100 at `early`. */
    const cpu = (early: number, last: number) => history(now, { $CPUPercent: [...repeat(early, 100), ...repeat(last, 20)] });

    it("current 10, 10-min min 0.8, 60-min avg 0.5 → 11", () => {
      const r = evaluateOk(T4, { now, samples: cpu(0.44, 0.8), current: { $CurrentDedicatedNodes: 10 } });
      // 10 * 1.1 is 11.000000000000002 in binary floating point; results print it
      // with 15 significant digits as .NET's Double.ToString does [UNCONFIRMED format].
      assert.equal(resultOf(r.run.results, "$TargetDedicatedNodes"), "11");
      assert.equal(r.nodes?.dedicated, 11);
    });

    it("current 10, min 0.5, avg 0.1 → 9", () => {
      const r = evaluateOk(T4, { now, samples: cpu(0.02, 0.5), current: { $CurrentDedicatedNodes: 10 } });
      assert.equal(r.targetDedicatedNodes, 9);
      assert.equal(r.run.results, "$TargetDedicatedNodes=9;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$totalDedicatedNodes=9");
    });

    it("current 400, min 0.9, avg 0.5 → 400 (the cap)", () => {
      assert.equal(evaluateOk(T4, { now, samples: cpu(0.42, 0.9), current: { $CurrentDedicatedNodes: 400 } }).targetDedicatedNodes, 400);
    });
  });

  describe("T5 task-based (docs' Example 2, with its comments and line breaks)", () => {
    const T5 = `// Get pending tasks for the past 15 minutes.
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - let running tasks finish before removing a node
$NodeDeallocationOption = taskcompletion;`;

    it("100 % samples, last 8, average 5 → 8", () => {
      const samples = history(now, { $PendingTasks: Array.from({ length: 30 }, (_, i) => (i % 2 ? 8 : 2)) });
      const r = evaluateOk(T5, { now, samples });
      assert.equal(r.targetDedicatedNodes, 8);
      assert.equal(r.run.results, "$TargetDedicatedNodes=8;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;$samples=100;$targetVMs=8;$tasks=8");
    });

    it("all zeros with the pool's target at 6 → 3 (half the current target)", () => {
      const r = evaluateOk(T5, { now, samples: history(now, { $PendingTasks: repeat(0, 30) }), targetDedicatedNodes: 6 });
      assert.equal(r.targetDedicatedNodes, 3);
    });

    it("last sample 50 → 20 (the cap)", () => {
      assert.equal(evaluateOk(T5, { now, samples: history(now, { $PendingTasks: [...repeat(10, 29), 50] }) }).targetDedicatedNodes, 20);
    });

    it("a fresh pool without samples: GetSample(1) is empty, max(0, []) is 0 → half the target [UNCONFIRMED: the service may fail GetSample(1) instead]", () => {
      const r = evaluateOk(T5, { now, targetDedicatedNodes: 4 });
      assert.equal(r.run.results, "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;$samples=0;$targetVMs=2;$tasks=0");
    });

    it("fewer than 70 % of samples: the last sample alone decides (GetSample(1) returns whatever is newest)", () => {
      const r = evaluateOk(T5, { now, samples: history(now, { $PendingTasks: [4, 6] }) });
      assert.equal(resultOf(r.run.results, "$samples"), "6.66666666666667");
      assert.equal(r.targetDedicatedNodes, 6);
    });
  });

  it("T6 parallel tasks (docs' Example 3): 10 active tasks, target 1 → extra 2.25 → 3.25 → capped at 3", () => {
    const T6 = `// Determine whether 70 percent of the samples have been recorded in the past
// 15 minutes; if not, use last sample
$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
// Set the number of nodes to add to one-fourth the number of active tasks
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
// Attempt to grow the number of compute nodes to match the number of active
// tasks, with a maximum of 3
$TargetDedicatedNodes = max(0,min($targetVMs,3));
// Keep the nodes active until the tasks finish
$NodeDeallocationOption = taskcompletion;`;
    const r = evaluateOk(T6, { now, samples: history(now, { $ActiveTasks: repeat(10, 30) }), targetDedicatedNodes: 1 });
    assert.equal(resultOf(r.run.results, "$extraVMs"), "2.25");
    assert.equal(resultOf(r.run.results, "$targetVMs"), "3.25");
    assert.equal(r.targetDedicatedNodes, 3);
  });

  describe("T7 live recordings", () => {
    it("$TargetDedicatedNodes=3 (no trailing ';') → the recorded results string exactly", () => {
      assert.equal(evaluateOk("$TargetDedicatedNodes=3", { now }).run.results, "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    });

    it("the Az.Batch Test-AzBatchAutoScale example on a pool without CPU history → 5, totalNodes=5", () => {
      const formula =
        "totalNodes=($CPUPercent.GetSamplePercent(TimeInterval_Minute*0,TimeInterval_Minute*10)<0.7?5:(min($CPUPercent.GetSample(TimeInterval_Minute*0, TimeInterval_Minute*10))>0.8?($CurrentDedicated*1.1):$CurrentDedicated));$TargetDedicated=min(100,totalNodes);";
      const r = evaluateOk(formula, { now });
      assert.equal(r.targetDedicatedNodes, 5);
      // PowerShell printed "$TargetDedicated=5;$NodeDeallocationOption=requeue;totalNodes=5" (2017, alias as
      // written, before low-priority nodes). Deviation: the engine prints today's three full names.
      assert.equal(r.run.results, "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;totalNodes=5");
    });

    it("DAP's recorded results list user variables with '$' in ordinal order", () => {
      const formula = `$maxTasksPerNode = 4; $samples = 100; $tasks = 0; $targetVMs = 1; $round = 3;
$TargetDedicatedNodes = 2; $TargetLowPriorityNodes = 5; $NodeDeallocationOption = taskcompletion;`;
      assert.equal(
        evaluateOk(formula, { now }).run.results,
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=5;$NodeDeallocationOption=taskcompletion;$maxTasksPerNode=4;$round=3;$samples=100;$targetVMs=1;$tasks=0",
      );
    });
  });

  describe("T8 the seed formula (the pipeline's scale-from-zero template)", () => {
    const T8 = `maxNumberofVMs = 10; samplingInterval = 5 * TimeInterval_Minute; averageProcessingTimeSeconds = 5; targetProcessingTimeSeconds = 60; minimumDesiredSampleDataPercent = 70; pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(samplingInterval); pendingTasksCount = (pendingTaskSamplePercent < 70) ? 0 : avg($PendingTasks.GetSample(samplingInterval)); estimatedProcessingTimeSeconds = pendingTasksCount * averageProcessingTimeSeconds; processorTarget = pendingTasksCount > 0 ? max(estimatedProcessingTimeSeconds / targetProcessingTimeSeconds, 1) : 0; $TargetDedicatedNodes = min(maxNumberofVMs, processorTarget); $NodeDeallocationOption = taskcompletion;`;

    it("no samples → 0, the else-branch never evaluated (lazy ternary), with the reference's expected results string", () => {
      const r = evaluateOk(T8, { now });
      assert.equal(r.targetDedicatedNodes, 0);
      // samplingInterval's printed form is [UNCONFIRMED]; .NET TimeSpan style here.
      assert.equal(
        r.run.results,
        "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;averageProcessingTimeSeconds=5;estimatedProcessingTimeSeconds=0;maxNumberofVMs=10;minimumDesiredSampleDataPercent=70;pendingTaskSamplePercent=0;pendingTasksCount=0;processorTarget=0;samplingInterval=00:05:00;targetProcessingTimeSeconds=60",
      );
    });

    it("100 %, average 0 → 0", () => {
      assert.equal(evaluateOk(T8, { now, samples: history(now, { $PendingTasks: repeat(0, 10) }) }).targetDedicatedNodes, 0);
    });

    it("100 %, average 30 → 2.5 (a resize aims for 2 nodes: truncation [UNCONFIRMED])", () => {
      const r = evaluateOk(T8, { now, samples: history(now, { $PendingTasks: repeat(30, 10) }) });
      assert.equal(r.targetDedicatedNodes, 2.5);
      assert.equal(resultOf(r.run.results, "estimatedProcessingTimeSeconds"), "150");
      assert.equal(resultOf(r.run.results, "$TargetDedicatedNodes"), "2.5");
      assert.deepEqual(r.nodes, { dedicated: 2, lowPriority: 0 });
    });

    it("100 %, average 500 → 10 (processorTarget 41.67)", () => {
      const r = evaluateOk(T8, { now, samples: history(now, { $PendingTasks: repeat(500, 10) }) });
      assert.equal(r.targetDedicatedNodes, 10);
      assert.equal(resultOf(r.run.results, "processorTarget"), "41.6666666666667");
      assert.equal(r.nodeDeallocationOption, "taskcompletion");
    });
  });

  describe("T9 negative cases", () => {
    it("an 8193-character formula → AutoScalingFormulaTooLong (8192 is accepted)", () => {
      const pad = (n: number) => `$TargetDedicatedNodes = 1;${" ".repeat(n - 26)}`;
      assert.equal(pad(8192).length, 8192);
      assert.equal(validateFormula(pad(8192)), undefined);
      const e = evaluateError(pad(8193));
      // ERR spells it AutoScalingFormulaTooLong, the .NET constants AutoScaleFormulaTooLong; which the live service sends is [UNCONFIRMED].
      assert.ok((AUTOSCALE_FORMULA_TOO_LONG_ALIASES as readonly string[]).includes(e.code));
      assert.equal(e.code, "AutoScalingFormulaTooLong");
      assert.equal(e.message, "The specified auto-scaling formula exceeds lengths limit.");
      assert.match(e.values[0].value, /8193 characters long; at most 8192/);
    });

    it("101 statements → refused (100 accepted); the code for this is [UNCONFIRMED]", () => {
      const statements = (n: number) => Array.from({ length: n }, (_, i) => `v${i} = ${i}`).join(";");
      assert.equal(validateFormula(statements(100)), undefined);
      const e = evaluateError(statements(101));
      assert.equal(e.code, "AutoScalingFormulaTooLong");
      // "v0 = 0;" ... "v9 = 9;" are 7 characters each, "v10 = 10;" ... "v99 = 99;" 9: the 101st starts at column 881.
      assert.equal(e.values[0].value, "Line 1, Col 881: The formula has 101 statements; at most 100 are allowed");
    });

    it("'a = 1 b = 2' (missing ';') → AutoScalingFormulaSyntaxError at the second statement", () => {
      const e = evaluateError("a = 1 b = 2");
      assert.equal(e.code, "AutoScalingFormulaSyntaxError");
      assert.equal(e.message, "The specified auto-scaling formula has a syntax error.");
      assert.deepEqual(e.values, [{ name: "Message", value: "Line 1, Col 7: Expected ';' before 'b': statements are separated by ';'" }]);
      assert.equal(e.phase, "validation");
      assert.equal(e.run.results, undefined);
    });

    it("$CPUPercent.GetSample(TimeInterval_Minute * 10, 95) with 90 % of the data → InsufficientSampleData; 80 succeeds", () => {
      // The docs' example: 20 samples possible in 10 minutes, the last minute not yet available → 18.
      const samples = history(now, { $CPUPercent: repeat(50, 20) }, { visibilityDelaySeconds: 60 });
      const formula = (percent: number) => `cpu = avg($CPUPercent.GetSample(TimeInterval_Minute * 10, ${percent}));\n$TargetDedicatedNodes = 1;`;
      const e = evaluateError(formula(95), { now, samples });
      assert.equal(e.code, "InsufficientSampleData");
      assert.equal(e.message, "Autoscale evaluation failed due to insufficient sample data");
      assert.deepEqual(e.values, [{ name: "Message", value: "Line 1, Col 11: Insufficient data from data set: $CPUPercent wanted 95%, received 90%" }]);
      assert.equal(e.phase, "evaluation");
      const ok = evaluateOk(formula(80), { now, samples });
      assert.equal(resultOf(ok.run.results, "cpu"), "50");
      assert.equal(evaluateOk("n = len($CPUPercent.GetSample(TimeInterval_Minute * 10))", { now, samples }).run.results?.endsWith("n=18"), true);
    });
  });
});

describe("autoscale engine: formula examples of Microsoft's autoscale article", () => {
  it("'$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);' → 5 on Mondays, 1 otherwise", () => {
    const formula = "$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);";
    assert.equal(evaluateOk(formula, { now: MONDAY_10 }).targetDedicatedNodes, 5);
    assert.equal(evaluateOk(formula, { now: DOC_RUN }).targetDedicatedNodes, 1);
    assert.equal(evaluateOk(formula, { now: SATURDAY_10 }).targetDedicatedNodes, 1);
  });

  it("the 'won't resize the pool' formulas keep the current size: '$TargetDedicatedNodes = $CurrentDedicatedNodes;' and '= 0'", () => {
    assert.equal(evaluateOk("$TargetDedicatedNodes = $CurrentDedicatedNodes;", { now, current: { $CurrentDedicatedNodes: 7 } }).targetDedicatedNodes, 7);
    assert.equal(evaluateOk("$TargetDedicatedNodes = 0", { now }).run.results, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue");
    // The data plane's own example body.
    assert.equal(evaluateOk("$TargetDedicated=0", { now, targetDedicatedNodes: 3 }).targetDedicatedNodes, 0);
  });

  it("'$runningTasksSample = $RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute);' → a 10-sample vector like [1,1,1,1,1,1,1,1,1,1]", () => {
    const samples = history(now, { $RunningTasks: repeat(1, 40) });
    const r = evaluateOk("$runningTasksSample = $RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute);", { now, samples });
    assert.equal(resultOf(r.run.results, "$runningTasksSample"), "[1,1,1,1,1,1,1,1,1,1]");
  });

  it("'$RunningTasks.GetSample(60 * TimeInterval_Second, 120 * TimeInterval_Second, 75)' demands 75 % of the window", () => {
    const formula = "$runningTasksSample = $RunningTasks.GetSample(60 * TimeInterval_Second, 120 * TimeInterval_Second, 75);";
    // 2 samples possible between 2 and 1 minutes ago.
    assert.equal(resultOf(evaluateOk(formula, { now, samples: history(now, { $RunningTasks: [3, 4, 1, 1] }) }).run.results, "$runningTasksSample"), "[3,4]");
    const e = evaluateError(formula, { samples: history(now - 90_000, { $RunningTasks: [3] }) });
    assert.equal(e.values[0].value, "Line 1, Col 23: Insufficient data from data set: $RunningTasks wanted 75%, received 50%");
  });

  describe("Example 4: setting an initial pool size (time() of an RFC 1123 string)", () => {
    const started = Date.parse("2016-10-13T19:00:00Z");
    // C#'s DateTime.UtcNow.ToString("r") gives RFC 1123, as the example builds it.
    const formula = `
    $TargetDedicatedNodes = 4;
    lifespan         = time() - time("${new Date(started).toUTCString()}");
    span             = TimeInterval_Minute * 60;
    startup          = TimeInterval_Minute * 10;
    ratio            = 50;

    $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);
    `;

    it("within the first 10 minutes → 4, without touching samples", () => {
      const r = evaluateOk(formula, { now: started + 5 * 60_000 });
      assert.equal(r.targetDedicatedNodes, 4);
      assert.equal(resultOf(r.run.results, "lifespan"), "00:05:00");
    });

    it("after 10 minutes with no running or active task in the last hour → 0", () => {
      const at = started + 70 * 60_000;
      const samples = history(at, { $RunningTasks: repeat(0, 120), $ActiveTasks: repeat(0, 120) });
      assert.equal(evaluateOk(formula, { now: at, samples }).targetDedicatedNodes, 0);
    });

    it("after 10 minutes with tasks → no change (the 4 the first statement set)", () => {
      const at = started + 70 * 60_000;
      const samples = history(at, { $RunningTasks: [...repeat(0, 119), 2], $ActiveTasks: repeat(0, 120) });
      assert.equal(evaluateOk(formula, { now: at, samples }).targetDedicatedNodes, 4);
    });

    it("after 10 minutes with under 50 % of the hour's samples → InsufficientSampleData, and the pool keeps its size", () => {
      const at = started + 70 * 60_000;
      const e = evaluateError(formula, { now: at, samples: history(at, { $RunningTasks: repeat(0, 40), $ActiveTasks: repeat(0, 120) }) });
      assert.equal(e.code, "InsufficientSampleData");
      assert.match(e.values[0].value, /^Line 8, Col 56: Insufficient data from data set: \$RunningTasks wanted 50%, received 33%$/);
      // Column 56 is where "$RunningTasks" starts on that line. Partial results: what the statements before the failing one assigned.
      assert.equal(resultOf(e.run.results, "ratio"), "50");
    });
  });

  it("the docs' other GetSample forms evaluate: 'GetSample(TimeInterval_Minute * 5)' (10 samples) and the RFC/W3C time() formats", () => {
    const samples = history(now, { $CPUPercent: Array.from({ length: 12 }, (_, i) => i) });
    assert.equal(resultOf(evaluateOk("v = $CPUPercent.GetSample(TimeInterval_Minute * 5)", { now, samples }).run.results, "v"), "[2,3,4,5,6,7,8,9,10,11]");
    const t = evaluateOk('a = time("2016-10-13T19:18:47Z"); b = time("Thu, 13 Oct 2016 19:18:47 GMT"); c = time("2016-10-13T21:18:47+02:00"); d = a == b && b == c', { now });
    assert.equal(resultOf(t.run.results, "a"), "2016-10-13T19:18:47.000Z");
    assert.equal(resultOf(t.run.results, "d"), "1");
  });

  it("the Batch Shipyard generator's forms: val(x.GetSample(1), 0), avg(a, b), rebalance = 0 == 1", () => {
    const samples = history(now, { $PendingTasks: [1, 2, 9] });
    const r = evaluateOk("last = val($PendingTasks.GetSample(1), 0); both = avg(last, 3); rebalance = 0 == 1", { now, samples });
    assert.equal(r.run.results, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;both=6;last=9;rebalance=0");
  });

  it("a formula that sets nothing reports the pool's current targets", () => {
    const r = evaluatePoolFormula("x = 1", { now, targetDedicatedNodes: 3, targetLowPriorityNodes: 2, nodeDeallocationOption: "terminate" });
    assert.equal(r.run.results, "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=2;$NodeDeallocationOption=terminate;x=1");
  });
});
