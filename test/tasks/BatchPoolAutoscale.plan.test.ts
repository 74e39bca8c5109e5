import { strict as assert } from "node:assert";
import type { StartTask } from "../../runtime/batch-data";
import { renderText } from "../../runtime/summary";
import {
  describeDuration,
  describeEvaluationError,
  durationSeconds,
  ENABLE_INTERVAL_MS,
  evaluationLines,
  evaluationOutputs,
  FormulaEvaluationError,
  keepSizeFormula,
  parseEvaluationResults,
  planAutoscale,
  runPlan,
  sameStartTask,
  type AutoscaleActor,
  type AutoscaleRunResult,
  type DesiredPool,
  type PoolState,
} from "../../tasks/BatchPoolAutoscale/plan";
import { redactUrl, summaryTable } from "../../tasks/BatchPoolAutoscale/summary";

const FORMULA = "$TargetDedicatedNodes = min(4, avg($PendingTasks.GetSample(1)));\n$NodeDeallocationOption = taskcompletion;\n";
const ACCOUNT = "/subscriptions/0000/resourceGroups/rg-batch-release/providers/Microsoft.Batch/batchAccounts/releasebatch";

const fixedPool: PoolState = { id: "adf-pool", enableAutoScale: false, allocationState: "steady", currentDedicatedNodes: 2, targetDedicatedNodes: 3, currentLowPriorityNodes: 0, targetLowPriorityNodes: 1 };
const autoPool: PoolState = {
  id: "adf-pool",
  enableAutoScale: true,
  autoScaleFormula: FORMULA,
  autoScaleEvaluationInterval: "PT5M",
  allocationState: "steady",
  currentDedicatedNodes: 0,
  targetDedicatedNodes: 0,
};
const ok: AutoscaleRunResult = { results: "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion" };
const desired: DesiredPool = { formula: FORMULA, evaluationInterval: "PT5M", dryRun: false };

const startTask: StartTask = {
  commandLine: '/bin/bash -c "apt-get update && apt-get install -y python3"',
  userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } },
  maxTaskRetryCount: 1,
  waitForSuccess: true,
};

describe("BatchPoolAutoscale plan", () => {
  describe("evaluating first", () => {
    it("on a pool without autoscale: enables it keeping the targets, evaluates, then enables the formula 31 s later", () => {
      const plan = planAutoscale(fixedPool, desired);
      assert.deepEqual(plan.steps, [
        { kind: "enableKeepingSize", autoScaleFormula: "$TargetDedicatedNodes = 3;\n$TargetLowPriorityNodes = 1;\n", autoScaleEvaluationInterval: "PT5M" },
        { kind: "evaluate", autoScaleFormula: FORMULA },
        { kind: "enableAutoScale", change: "enable", autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT5M", waitAfterKeepingSizeMs: 31_000 },
      ]);
      assert.equal(plan.restoreOnFailure?.kind, "disableAutoScale");
      assert.equal(plan.requiresSteadyPool, true);
      assert.equal(plan.autoscale, "enable");
      assert.deepEqual(plan.notes, [
        "Pool 'adf-pool' has no autoscale, and Batch evaluates a formula only on a pool with autoscale: autoscale is enabled first with a formula that keeps its targets (3 dedicated, 1 low-priority), so its size does not change.",
      ]);
    });

    it("the size-keeping formula is itself a valid formula with both targets", () => {
      assert.equal(keepSizeFormula({ targetDedicatedNodes: 0 }), "$TargetDedicatedNodes = 0;\n$TargetLowPriorityNodes = 0;\n");
    });

    it("dry run on a pool without autoscale: enables it keeping the targets, evaluates, disables it again", () => {
      const plan = planAutoscale(fixedPool, { ...desired, dryRun: true, startTask });
      assert.deepEqual(
        plan.steps.map((s) => s.kind),
        ["enableKeepingSize", "evaluate", "disableAutoScale"],
      );
      assert.equal(plan.startTask, "set");
      assert.ok(plan.notes.includes("Dry run: the formula is evaluated only; nothing is applied."));
    });

    it("dry run on an autoscale pool: evaluates only, even when the formula changed", () => {
      const plan = planAutoscale(autoPool, { ...desired, formula: "$TargetDedicatedNodes = 1;", dryRun: true, startTask });
      assert.deepEqual(plan.steps, [{ kind: "evaluate", autoScaleFormula: "$TargetDedicatedNodes = 1;" }]);
      assert.equal(plan.autoscale, "update formula");
      assert.equal(plan.requiresSteadyPool, false);
      assert.equal(plan.restoreOnFailure, undefined);
    });
  });

  describe("applying", () => {
    it("makes no call but the evaluation when formula and interval are unchanged (whitespace, line endings, duration spelling aside)", () => {
      const pool = { ...autoPool, autoScaleFormula: FORMULA.replace(/\n/g, "\r\n").replace(" = ", "   =   "), autoScaleEvaluationInterval: "PT05M00S" };
      const plan = planAutoscale(pool, desired);
      assert.deepEqual(plan.steps, [{ kind: "evaluate", autoScaleFormula: FORMULA }]);
      assert.equal(plan.autoscale, "none");
      assert.deepEqual(plan.notes, []);
    });

    it("updates only the interval when only the interval changed", () => {
      const plan = planAutoscale(autoPool, { ...desired, evaluationInterval: "PT10M" });
      assert.deepEqual(plan.steps.at(-1), { kind: "enableAutoScale", change: "update", autoScaleEvaluationInterval: "PT10M" });
      assert.equal(plan.autoscale, "update interval");
      assert.deepEqual(plan.notes, ["A new evaluation interval restarts the pool's evaluation schedule from now."]);
    });

    it("updates only the formula when only the formula changed", () => {
      const plan = planAutoscale(autoPool, { ...desired, formula: "$TargetDedicatedNodes = 2;" });
      assert.deepEqual(plan.steps.at(-1), { kind: "enableAutoScale", change: "update", autoScaleFormula: "$TargetDedicatedNodes = 2;" });
      assert.equal(plan.autoscale, "update formula");
    });

    it("updates both when both changed, and counts a pool without an interval as Batch's default 15 minutes", () => {
      const plan = planAutoscale({ ...autoPool, autoScaleEvaluationInterval: undefined }, { ...desired, formula: "$TargetDedicatedNodes = 2;" });
      assert.deepEqual(plan.steps.at(-1), { kind: "enableAutoScale", change: "update", autoScaleFormula: "$TargetDedicatedNodes = 2;", autoScaleEvaluationInterval: "PT5M" });
      assert.equal(planAutoscale({ ...autoPool, autoScaleEvaluationInterval: undefined }, { ...desired, evaluationInterval: "PT15M" }).autoscale, "none");
    });
  });

  describe("start task and application packages", () => {
    it("leaves an unchanged start task alone (Batch's defaults and spelling count as the same)", () => {
      const fromPool: StartTask = { ...startTask, userIdentity: { autoUser: { elevationLevel: "Admin" as "admin" } }, resourceFiles: [] };
      const plan = planAutoscale({ ...autoPool, startTask: fromPool }, { ...desired, startTask });
      assert.equal(plan.startTask, "unchanged");
      assert.deepEqual(plan.steps.map((s) => s.kind), ["evaluate"]);
    });

    it("patches a changed start task before autoscale can add nodes, keeping the pool's environment settings, and says when it runs", () => {
      const environmentSettings = [{ name: "PIP_INDEX_URL", value: "https://pypi.internal/simple" }];
      const plan = planAutoscale({ ...fixedPool, startTask: { commandLine: "echo old", environmentSettings } }, { ...desired, startTask });
      assert.deepEqual(plan.steps.map((s) => s.kind), ["enableKeepingSize", "evaluate", "patchPool", "enableAutoScale"]);
      assert.deepEqual(plan.steps[2], { kind: "patchPool", startTask: { ...startTask, environmentSettings } });
      assert.ok(plan.notes.includes("The pool's start task environment settings are kept."));
      assert.ok(plan.notes.includes("The start task reaches nodes when they next join the pool or reboot (BatchPoolCycle@1 reboots nodes safely); nodes already running keep what they have."));
    });

    it("compares start tasks on what they do", () => {
      assert.ok(sameStartTask({ commandLine: "a" }, { commandLine: "a", waitForSuccess: true, maxTaskRetryCount: 0, userIdentity: { autoUser: { scope: "pool", elevationLevel: "nonadmin" } } }));
      assert.ok(!sameStartTask({ commandLine: "a" }, { commandLine: "a", waitForSuccess: false }));
      assert.ok(!sameStartTask({ commandLine: "a" }, { commandLine: "a", resourceFiles: [{ autoStorageContainerName: "setup" }] }));
      assert.ok(!sameStartTask({ commandLine: "a" }, undefined));
    });

    it("sends fully qualified application ids, and compares them by application name", () => {
      const plan = planAutoscale(
        { ...autoPool, applicationPackageReferences: [{ applicationId: `${ACCOUNT}/applications/app`, version: "1.0" }] },
        { ...desired, applicationPackages: [{ application: "app", version: "1.1" }, { application: "tools" }], accountResourceId: ACCOUNT },
      );
      assert.deepEqual(plan.steps.at(-1), {
        kind: "patchPool",
        applicationPackageReferences: [{ applicationId: `${ACCOUNT}/applications/app`, version: "1.1" }, { applicationId: `${ACCOUNT}/applications/tools` }],
      });
      assert.equal(plan.applicationPackages, "set");
      const same = planAutoscale({ ...autoPool, applicationPackageReferences: [{ applicationId: "APP", version: "1.0" }] }, { ...desired, applicationPackages: [{ application: "app", version: "1.0" }], accountResourceId: ACCOUNT });
      assert.equal(same.applicationPackages, "unchanged");
      assert.deepEqual(same.steps.map((s) => s.kind), ["evaluate"]);
    });
  });

  describe("durations", () => {
    it("reads ISO 8601 durations as seconds", () => {
      assert.equal(durationSeconds("PT5M"), 300);
      assert.equal(durationSeconds("PT06M00S"), 360);
      assert.equal(durationSeconds("PT1H30M"), 5400);
      assert.equal(durationSeconds("P7D"), 604800);
      assert.equal(durationSeconds("P1W"), 604800);
      assert.equal(durationSeconds("PT0.5S"), 0.5);
      assert.equal(durationSeconds("5 minutes"), undefined);
      assert.equal(durationSeconds("P"), undefined);
      assert.equal(durationSeconds("PT"), undefined);
      assert.equal(describeDuration("PT90M"), "1 hour 30 minutes");
      assert.equal(describeDuration("PT5M"), "5 minutes");
    });
  });

  describe("evaluation results", () => {
    it("parses the recorded results (PYREC, DAP)", () => {
      assert.deepEqual(parseEvaluationResults("$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"), {
        variables: [
          { name: "$TargetDedicatedNodes", value: "3" },
          { name: "$TargetLowPriorityNodes", value: "0" },
          { name: "$NodeDeallocationOption", value: "requeue" },
        ],
        targetDedicatedNodes: 3,
        targetLowPriorityNodes: 0,
        nodeDeallocationOption: "requeue",
      });
      const dap = parseEvaluationResults("$TargetDedicatedNodes=2;$TargetLowPriorityNodes=5;$NodeDeallocationOption=taskcompletion;$maxTasksPerNode=4;$round=3;$samples=100;$targetVMs=1;$tasks=0");
      assert.equal(dap.targetDedicatedNodes, 2);
      assert.equal(dap.targetLowPriorityNodes, 5);
      assert.equal(dap.nodeDeallocationOption, "taskcompletion");
      assert.equal(dap.variables.length, 8);
      assert.deepEqual(evaluationOutputs(dap), { TargetDedicatedNodes: "2", TargetLowPriorityNodes: "5" });
    });

    it("reads aliases, other cases, timestamps and fractions; a full name wins over its alias", () => {
      const ps = parseEvaluationResults("$TargetDedicated=5;$NodeDeallocationOption=requeue;totalNodes=5");
      assert.equal(ps.targetDedicatedNodes, 5);
      assert.equal(ps.targetLowPriorityNodes, undefined);
      assert.deepEqual(evaluationOutputs(ps), { TargetDedicatedNodes: "5" });
      assert.equal(parseEvaluationResults("$targetDedicatedNodes=5;$NodeDeallocationOption=requeue").targetDedicatedNodes, 5);
      const a19 = parseEvaluationResults("$TargetDedicatedNodes=10;$NodeDeallocationOption=requeue;$curTime=2016-10-13T19:18:47.805Z;$isWeekday=1");
      assert.deepEqual(a19.variables[2], { name: "$curTime", value: "2016-10-13T19:18:47.805Z" });
      assert.equal(parseEvaluationResults("$TargetDedicatedNodes=2.5").targetDedicatedNodes, 2.5);
      assert.deepEqual(evaluationLines(parseEvaluationResults("$TargetDedicatedNodes=2.5;$TargetLowPriorityNodes=0")), [
        "$TargetDedicatedNodes = 2.5",
        "$TargetLowPriorityNodes = 0",
        "(A fractional target is Batch's to round: it allocates whole nodes.)",
      ]);
      assert.deepEqual(evaluationLines(ps), ["$TargetDedicated = 5", "$NodeDeallocationOption = requeue", "totalNodes = 5"]);
      assert.equal(parseEvaluationResults("$TargetDedicated=1;$TargetDedicatedNodes=4").targetDedicatedNodes, 4);
      assert.deepEqual(parseEvaluationResults(undefined), { variables: [] });
    });
  });

  describe("evaluation errors", () => {
    const formula = ["// wait for data", "$samples = $RunningTasks.GetSamplePercent(TimeInterval_Minute * 15);", "$tasks = max($RunningTasks.GetSample(TimeInterval_Minute * 15, 70));", "$TargetDedicatedNodes = $tasks;"].join("\n");

    it("names the failing statement from the service's line and column", () => {
      const message = describeEvaluationError(
        {
          code: "InsufficientSampleData",
          message: "Autoscale evaluation failed due to insufficient sample data",
          values: [{ name: "Message", value: "Line 3, Col 14: Insufficient data from data set: $RunningTasks wanted 70%, received 50%" }],
        },
        formula,
        "$samples=50",
      );
      assert.equal(
        message,
        [
          "The autoscale formula does not evaluate: InsufficientSampleData: Autoscale evaluation failed due to insufficient sample data",
          "  Line 3, Col 14: Insufficient data from data set: $RunningTasks wanted 70%, received 50%",
          "  Failing statement (line 3, column 14): $tasks = max($RunningTasks.GetSample(TimeInterval_Minute * 15, 70));",
          "  Values before the failure: $samples=50",
        ].join("\n"),
      );
    });

    it("renders other values and ARM-style details, without a statement when no position is given", () => {
      assert.equal(
        describeEvaluationError({ code: "InvalidAutoScalingSettings", message: "The specified auto-scaling settings are not valid.", details: [{ code: "Reason", message: "Line 4, Col 1: bad" }] }, formula),
        [
          "The autoscale formula does not evaluate: InvalidAutoScalingSettings: The specified auto-scaling settings are not valid.",
          "  Reason: Line 4, Col 1: bad",
          "  Failing statement (line 4, column 1): $TargetDedicatedNodes = $tasks;",
        ].join("\n"),
      );
      assert.equal(describeEvaluationError({ values: [{ name: "Detail", value: "x" }] }, formula), "The autoscale formula does not evaluate: no reason given\n  Detail: x");
    });
  });

  describe("running a plan", () => {
    function fakeActor(evaluation: AutoscaleRunResult, failing: string[] = []): AutoscaleActor & { calls: string[]; clock: number } {
      const actor = {
        calls: [] as string[],
        clock: 1_000,
        async enableAutoScale(poolId: string, p: { autoScaleFormula?: string; autoScaleEvaluationInterval?: string }) {
          actor.calls.push(`enable ${poolId} ${JSON.stringify(p)}`);
          if (failing.includes("enable")) throw new Error("TooManyEnableAutoScaleRequests");
        },
        async evaluateAutoScale(poolId: string, formula: string) {
          actor.calls.push(`evaluate ${poolId} ${formula.length}`);
          return evaluation;
        },
        async disableAutoScale(poolId: string) {
          actor.calls.push(`disable ${poolId}`);
          if (failing.includes("disable")) throw new Error("PoolBeingDeleted");
        },
        async patchPool(poolId: string, patch: object) {
          actor.calls.push(`patch ${poolId} ${Object.keys(patch).join(",")}`);
        },
        async sleep(ms: number) {
          actor.calls.push(`sleep ${ms}`);
          actor.clock += ms;
        },
        now: () => actor.clock,
        log: (m: string) => void actor.calls.push(`log ${m}`),
      };
      return actor;
    }

    it("carries out the pool-without-autoscale path, waiting out Batch's 30-second limit", async () => {
      const actor = fakeActor(ok);
      const outcome = await runPlan(planAutoscale(fixedPool, { ...desired, startTask }), actor);
      assert.deepEqual(actor.calls, [
        `enable adf-pool ${JSON.stringify({ autoScaleFormula: keepSizeFormula(fixedPool), autoScaleEvaluationInterval: "PT5M" })}`,
        `evaluate adf-pool ${FORMULA.length}`,
        "patch adf-pool startTask",
        `log Waiting 31 s: Batch accepts one Enable Auto Scale call per pool every 30 seconds.`,
        `sleep ${ENABLE_INTERVAL_MS}`,
        `enable adf-pool ${JSON.stringify({ autoScaleFormula: FORMULA, autoScaleEvaluationInterval: "PT5M" })}`,
      ]);
      assert.equal(outcome.evaluation?.targetDedicatedNodes, 4);
      assert.deepEqual(outcome.done, ["enableKeepingSize", "evaluate", "patchPool", "enableAutoScale"]);
      assert.equal(outcome.restored, false);
    });

    it("disables the size-keeping autoscale again when the evaluation fails, and throws the rendered error", async () => {
      const actor = fakeActor({ results: "", error: { code: "InsufficientSampleData", message: "insufficient", values: [{ name: "Message", value: "Line 1, Col 37: wanted 70%" }] } });
      await assert.rejects(
        runPlan(planAutoscale(fixedPool, desired), actor),
        (e: unknown) => e instanceof FormulaEvaluationError && e.code === "FormulaEvaluationFailed" && e.error.code === "InsufficientSampleData" && /Failing statement \(line 1, column 37\): \$TargetDedicatedNodes = min\(4/.test(e.message),
      );
      assert.deepEqual(actor.calls.slice(1), [`evaluate adf-pool ${FORMULA.length}`, "disable adf-pool", `log ${planAutoscale(fixedPool, desired).restoreOnFailure!.reason}`]);
    });

    it("restores when the final enable fails, and reports a failed restore without hiding the first error", async () => {
      const actor = fakeActor(ok, ["disable"]);
      let enables = 0;
      const enable = actor.enableAutoScale;
      actor.enableAutoScale = async (id, p) => {
        await enable(id, p);
        if (++enables === 2) throw new Error("TooManyEnableAutoScaleRequests");
      };
      await assert.rejects(runPlan(planAutoscale(fixedPool, desired), actor), /TooManyEnableAutoScaleRequests/);
      assert.equal(actor.calls.at(-2), "disable adf-pool");
      assert.match(actor.calls.at(-1)!, /^log Could not disable autoscale on pool 'adf-pool' again: PoolBeingDeleted\. Disable it by hand/);
    });

    it("never disables autoscale on a pool that had it", async () => {
      const actor = fakeActor({ error: { code: "InvalidFormula", message: "bad" } });
      await assert.rejects(runPlan(planAutoscale(autoPool, { ...desired, formula: "$TargetDedicatedNodes = 2;" }), actor), FormulaEvaluationError);
      assert.deepEqual(actor.calls, ["evaluate adf-pool 26"]);
    });

    it("a dry run on a pool without autoscale ends with autoscale disabled again", async () => {
      const actor = fakeActor(ok);
      const outcome = await runPlan(planAutoscale(fixedPool, { ...desired, dryRun: true }), actor);
      assert.deepEqual(actor.calls.map((c) => c.split(" ")[0]), ["enable", "evaluate", "disable"]);
      assert.equal(outcome.restored, true);
    });
  });

  describe("summary", () => {
    it("shows the formula, the evaluated targets and what changed", () => {
      const plan = planAutoscale(fixedPool, { ...desired, startTask });
      const table = summaryTable({
        poolId: "adf-pool",
        formulaSource: { kind: "template", template: "scaleFromZero", settings: { maxNodes: 10, samplingMinutes: 5, averageTaskSeconds: 60, targetSeconds: 600, lowPriority: "none" } },
        evaluationInterval: "PT5M",
        plan,
        evaluation: parseEvaluationResults(ok.results),
        dryRun: false,
      });
      assert.deepEqual(table.rows, [
        ["Pool", "adf-pool"],
        ["Formula", "template scaleFromZero: up to 10 nodes (dedicated), 5 min of samples, 60 s per task, done within 600 s"],
        ["Evaluation interval", "5 minutes"],
        ["TargetDedicatedNodes", "4"],
        ["TargetLowPriorityNodes", "0"],
        ["NodeDeallocationOption", "taskcompletion"],
        ["Autoscale", "enabled"],
        ["Start task", "set"],
        ["Application packages", "not managed"],
      ]);
      assert.deepEqual(table.notes, plan.notes);
      assert.match(renderText(table), /^BatchPoolAutoscale: pool adf-pool\n {2}Pool {20}adf-pool/);
    });

    it("says what a dry run would do, and an unchanged pool", () => {
      const dry = summaryTable({ poolId: "p", formulaSource: { kind: "inline" }, evaluationInterval: "PT5M", plan: planAutoscale(fixedPool, { ...desired, dryRun: true }), dryRun: true });
      assert.deepEqual(dry.rows.slice(3), [
        ["Evaluation", "not evaluated"],
        ["Autoscale", "dry run: would be enabled"],
        ["Start task", "not managed"],
        ["Application packages", "not managed"],
      ]);
      const same = summaryTable({ poolId: "p", formulaSource: { kind: "file", path: "autoscale.txt" }, evaluationInterval: "PT5M", plan: planAutoscale(autoPool, desired), dryRun: false, lintWarnings: 2 });
      assert.deepEqual(same.rows[1], ["Formula", "file autoscale.txt"]);
      assert.deepEqual(same.rows.find(([k]) => k === "Autoscale"), ["Autoscale", "unchanged (no call)"]);
      assert.deepEqual(same.rows.at(-1), ["Formula warnings", "2"]);
    });

    it("never shows a SAS", () => {
      assert.equal(redactUrl("https://store.blob.core.windows.net/setup?sv=1&sig=secret"), "https://store.blob.core.windows.net/setup?…");
      assert.equal(redactUrl("https://store.blob.core.windows.net/setup"), "https://store.blob.core.windows.net/setup");
    });
  });
});
