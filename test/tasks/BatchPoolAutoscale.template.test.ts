import { strict as assert } from "node:assert";
import { lintFormula } from "../../tasks/BatchPoolAutoscale/lint";
import { formulaNumber, scaleFromZeroFormula, type ScaleFromZeroSettings } from "../../tasks/BatchPoolAutoscale/template";

const defaults: ScaleFromZeroSettings = { maxNodes: 10, samplingMinutes: 5, averageTaskSeconds: 60, targetSeconds: 600, lowPriority: "none" };

/** The lines every option shares, after the header line. */
const common = [
  "// Pending-tasks formula after Microsoft's Batch autoscale article (batch-automatic-scaling).",
  "maxNodes = 10;",
  "samplingInterval = 5 * TimeInterval_Minute;",
  "averageTaskSeconds = 60;",
  "targetSeconds = 600;",
  "// Use the pending-task samples only when at least 70% of them are available.",
  "pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(samplingInterval);",
  "enoughSamples = pendingTaskSamplePercent >= 70;",
  "pendingTasks = enoughSamples ? avg($PendingTasks.GetSample(samplingInterval)) : 0;",
  "// Nodes to finish the pending tasks within targetSeconds; at least 1 while any task is pending.",
  "estimatedNodes = pendingTasks > 0 ? max(pendingTasks * averageTaskSeconds / targetSeconds, 1) : 0;",
  "totalNodes = min(maxNodes, estimatedNodes);",
];
const tail = [
  "// Without enough samples, keep the current targets (within maxNodes).",
  "$TargetDedicatedNodes = enoughSamples ? dedicatedNodes : min(maxNodes, $TargetDedicatedNodes);",
  "$TargetLowPriorityNodes = enoughSamples ? lowPriorityNodes : min(maxNodes - $TargetDedicatedNodes, $TargetLowPriorityNodes);",
  "// Let running tasks finish before a node is removed.",
  "$NodeDeallocationOption = taskcompletion;",
];
const text = (lines: string[]) => `${lines.join("\n")}\n`;

describe("BatchPoolAutoscale scaleFromZero template", () => {
  it("writes the dedicated-only formula exactly", () => {
    assert.equal(
      scaleFromZeroFormula(defaults),
      text([
        "// BatchPoolAutoscale@1 scaleFromZero: up to 10 nodes (all dedicated).",
        ...common,
        "dedicatedNodes = totalNodes;",
        "lowPriorityNodes = 0;",
        ...tail,
      ]),
    );
  });

  it("writes the all-Spot formula exactly", () => {
    assert.equal(
      scaleFromZeroFormula({ ...defaults, lowPriority: "all" }),
      text([
        "// BatchPoolAutoscale@1 scaleFromZero: up to 10 nodes (all Spot/low-priority).",
        ...common,
        "dedicatedNodes = 0;",
        "lowPriorityNodes = totalNodes;",
        ...tail,
      ]),
    );
  });

  it("writes the mix formula exactly: a dedicated core, Spot above it", () => {
    assert.equal(
      scaleFromZeroFormula({ ...defaults, lowPriority: "mix", mixDedicatedNodes: 2 }),
      text([
        "// BatchPoolAutoscale@1 scaleFromZero: up to 10 nodes (mix: at most 2 dedicated, the rest Spot).",
        ...common,
        "// A dedicated core, Spot/low-priority above it.",
        "mixDedicatedNodes = 2;",
        "dedicatedNodes = min(mixDedicatedNodes, totalNodes);",
        "lowPriorityNodes = totalNodes - dedicatedNodes;",
        ...tail,
      ]),
    );
  });

  it("puts every setting into the text, and the same settings give the same bytes", () => {
    const settings: ScaleFromZeroSettings = { maxNodes: 40, samplingMinutes: 15, averageTaskSeconds: 2.5, targetSeconds: 1800, lowPriority: "mix", mixDedicatedNodes: 3 };
    const formula = scaleFromZeroFormula(settings);
    assert.equal(formula, scaleFromZeroFormula({ ...settings }));
    for (const line of ["maxNodes = 40;", "samplingInterval = 15 * TimeInterval_Minute;", "averageTaskSeconds = 2.5;", "targetSeconds = 1800;", "mixDedicatedNodes = 3;"]) {
      assert.ok(formula.split("\n").includes(line), `missing line: ${line}`);
    }
    assert.notEqual(formula, scaleFromZeroFormula({ ...settings, maxNodes: 41 }));
  });

  it("is valid for the lint, with only // comments and every statement ended by ';'", () => {
    for (const lowPriority of ["none", "all", "mix"] as const) {
      const formula = scaleFromZeroFormula({ ...defaults, lowPriority, mixDedicatedNodes: 1 });
      assert.deepEqual(lintFormula(formula).findings, [], lowPriority);
      for (const line of formula.trimEnd().split("\n")) assert.ok(line.startsWith("//") || line.endsWith(";"), line);
      assert.ok(!formula.includes("/*") && !formula.includes("\r"));
    }
  });

  it("keeps the documented shape: 70% sample rule, cap, taskcompletion, both targets set", () => {
    const formula = scaleFromZeroFormula(defaults);
    assert.match(formula, /GetSamplePercent\(samplingInterval\);\nenoughSamples = pendingTaskSamplePercent >= 70;/);
    assert.match(formula, /min\(maxNodes, /);
    assert.match(formula, /\$NodeDeallocationOption = taskcompletion;\n$/);
    for (const lowPriority of ["none", "all", "mix"] as const) {
      const assigned = lintFormula(scaleFromZeroFormula({ ...defaults, lowPriority })).statements.map((s) => s.assigns);
      assert.ok(assigned.includes("$TargetDedicatedNodes") && assigned.includes("$TargetLowPriorityNodes"), lowPriority);
    }
  });

  it("writes numbers as plain decimals, never with an exponent", () => {
    assert.equal(formulaNumber(60), "60");
    assert.equal(formulaNumber(2.5), "2.5");
    assert.equal(formulaNumber(0.0000005), "0.0000005");
    assert.throws(() => formulaNumber(Number.NaN), RangeError);
  });
});
