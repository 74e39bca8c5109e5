/**
 * Sample histories (what the simulation feeds) and the per-pool schedule that
 * samples every 30 s and evaluates every interval on simulated time.
 */
import { strict as assert } from "node:assert";
import { PoolAutoScaler, SampleHistory, type PoolAutoScaleState } from "..";
import { DOC_RUN, evaluateOk, repeat, resultOf } from "./helpers";

const now = DOC_RUN;
const s = (seconds: number) => seconds * 1000;

describe("autoscale engine: sample histories", () => {
  it("records samples per variable, oldest first, and refuses out-of-order or non-finite samples", () => {
    const h = new SampleHistory();
    h.record(now - s(60), { $ActiveTasks: 1 });
    h.record(now - s(30), { $ActiveTasks: 2, $RunningTasks: 5 });
    assert.deepEqual(h.samples("$ActiveTasks", now).map((x) => x.value), [1, 2]);
    assert.deepEqual(h.samples("$RunningTasks", now).map((x) => x.value), [5]);
    assert.throws(() => h.record(now - s(90), { $ActiveTasks: 3 }), /time order/);
    assert.throws(() => h.record(now, { $ActiveTasks: NaN }), /finite/);
  });

  it("recordPool derives $PendingTasks = active + running and $SampleNodeCount = all nodes", () => {
    const h = new SampleHistory();
    h.recordPool(now, { activeTasks: 3, runningTasks: 4, succeededTasks: 9, failedTasks: 1, currentDedicatedNodes: 2, currentLowPriorityNodes: 1, preemptedNodes: 1 });
    const r = evaluateOk(
      "p = val($PendingTasks.GetSample(1), 0); n = val($SampleNodeCount.GetSample(1), 0); ok = val($SucceededTasks.GetSample(1), 0); bad = val($FailedTasks.GetSample(1), 0); pre = val($PreemptedNodeCount.GetSample(1), 0)",
      { now, samples: h },
    );
    assert.equal(r.run.results, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;bad=1;n=3;ok=9;p=7;pre=1");
  });

  it("drops samples older than the retention and hides those younger than the visibility delay", () => {
    const h = new SampleHistory({ retentionSeconds: 120, visibilityDelaySeconds: 60 });
    h.recordSeries("$CPUPercent", now, [1, 2, 3, 4, 5, 6]); // at -150 s ... 0 s
    assert.deepEqual(h.samples("$CPUPercent", now).map((x) => x.value), [3, 4]); // -90 s and -60 s
    assert.equal(resultOf(evaluateOk("c = $CPUPercent.Count()", { now, samples: h }).run.results, "c"), "2");
    h.clear();
    assert.equal(h.samples("$CPUPercent", now).length, 0);
  });

  it("missing samples lower GetSamplePercent: every other sample gone over 10 minutes reads 50 %", () => {
    const h = new SampleHistory();
    for (let i = 18; i >= 0; i -= 2) h.record(now - s(30 * i), { $PendingTasks: 1 });
    assert.equal(resultOf(evaluateOk("p = $PendingTasks.GetSamplePercent(10 * TimeInterval_Minute)", { now, samples: h }).run.results, "p"), "50");
  });
});

describe("autoscale engine: a pool's schedule on simulated time", () => {
  const SEED = `maxNumberofVMs = 10; samplingInterval = 5 * TimeInterval_Minute; averageProcessingTimeSeconds = 5; targetProcessingTimeSeconds = 60;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(samplingInterval);
pendingTasksCount = (pendingTaskSamplePercent < 70) ? 0 : avg($PendingTasks.GetSample(samplingInterval));
estimatedProcessingTimeSeconds = pendingTasksCount * averageProcessingTimeSeconds;
processorTarget = pendingTasksCount > 0 ? max(estimatedProcessingTimeSeconds / targetProcessingTimeSeconds, 1) : 0;
$TargetDedicatedNodes = min(maxNumberofVMs, processorTarget);
$NodeDeallocationOption = taskcompletion;`;

  /**
   * A toy pool: nodes join at once when the target rises, each node finishes
   * 2 tasks per 30 s; `submitAt` adds tasks at a given second.
   */
  function simulate(minutes: number, submit: Record<number, number>) {
    const t0 = now;
    const scaler = new PoolAutoScaler({ formula: SEED, intervalSeconds: 300, enabledAt: t0 });
    const state: PoolAutoScaleState = { activeTasks: 0, runningTasks: 0, currentDedicatedNodes: 0, currentLowPriorityNodes: 0, targetDedicatedNodes: 0, targetLowPriorityNodes: 0, taskSlotsPerNode: 1 };
    const evaluations: { at: number; nodes: number; results?: string }[] = [];
    for (let t = 0; t <= minutes * 60; t += 30) {
      state.activeTasks += submit[t] ?? 0;
      const done = Math.min(state.activeTasks, 2 * state.currentDedicatedNodes);
      state.activeTasks -= done;
      const run = scaler.tick(t0 + s(t), state);
      if (run) {
        assert.equal(run.run.error, undefined, JSON.stringify(run.run.error));
        state.targetDedicatedNodes = run.targetDedicatedNodes!;
        state.currentDedicatedNodes = run.nodes!.dedicated;
        evaluations.push({ at: t, nodes: run.nodes!.dedicated, results: run.run.results });
      }
    }
    return evaluations;
  }

  it("evaluates at enable time and then every interval, scaling from 0 to the pending load and back to 0", () => {
    const evaluations = simulate(20, { 60: 30 });
    assert.deepEqual(evaluations.map((e) => e.at), [0, 300, 600, 900, 1200]);
    // At 5 min the window (0, 300] holds 10 samples: one with 0 pending, nine with 30 → avg 27 → 135 s / 60 s → 2.25 → 2 nodes.
    assert.equal(resultOf(evaluations[1].results, "pendingTasksCount"), "27");
    // Then 4 tasks finish per 30 s: the window (300, 600] averages 9.8 pending → 49 s → at least 1 node; after that, all zero → 0.
    assert.deepEqual(evaluations.map((e) => e.nodes), [0, 2, 1, 0, 0]);
    assert.equal(resultOf(evaluations[2].results, "$NodeDeallocationOption"), "taskcompletion");
  });

  it("never exceeds the formula's cap under a large load", () => {
    const evaluations = simulate(10, { 0: 2000 });
    assert.equal(Math.max(...evaluations.map((e) => e.nodes)), 10);
  });

  it("a new interval restarts the schedule from the request; a new formula alone keeps it", () => {
    const scaler = new PoolAutoScaler({ formula: "$TargetDedicatedNodes = 1", intervalSeconds: 300, enabledAt: now });
    const state: PoolAutoScaleState = { activeTasks: 0, runningTasks: 0, currentDedicatedNodes: 0, currentLowPriorityNodes: 0, targetDedicatedNodes: 0, targetLowPriorityNodes: 0, taskSlotsPerNode: 1 };
    assert.equal(scaler.tick(now, state)?.targetDedicatedNodes, 1);
    assert.equal(scaler.dueAt, now + s(300));
    scaler.update(now + s(100), "$TargetDedicatedNodes = 2");
    assert.equal(scaler.dueAt, now + s(300));
    assert.equal(scaler.tick(now + s(299), state), undefined);
    assert.equal(scaler.tick(now + s(300), state)?.targetDedicatedNodes, 2);
    scaler.update(now + s(400), undefined, 600);
    assert.equal(scaler.dueAt, now + s(400));
    assert.equal(scaler.tick(now + s(400), state)?.targetDedicatedNodes, 2);
    assert.equal(scaler.dueAt, now + s(1000));
  });

  it("keeps a pool's existing history when autoscale is enabled (or enabled again)", () => {
    const history = new SampleHistory();
    history.recordSeries("$PendingTasks", now - s(30), repeat(12, 9));
    const scaler = new PoolAutoScaler({ formula: "$TargetDedicatedNodes = avg($PendingTasks.GetSample(5 * TimeInterval_Minute, 100))", intervalSeconds: 300, enabledAt: now, history });
    const state: PoolAutoScaleState = { activeTasks: 2, runningTasks: 10, currentDedicatedNodes: 0, currentLowPriorityNodes: 0, targetDedicatedNodes: 0, targetLowPriorityNodes: 0, taskSlotsPerNode: 1 };
    // Nine old samples plus the one taken at enable time fill the 5-minute window.
    assert.equal(scaler.tick(now, state)?.targetDedicatedNodes, 12);
  });

  it("evaluate() runs another formula on the pool's history without touching the schedule (evaluateautoscale)", () => {
    const scaler = new PoolAutoScaler({ formula: "$TargetDedicatedNodes = 0", intervalSeconds: 300, enabledAt: now });
    const state: PoolAutoScaleState = { activeTasks: 6, runningTasks: 2, currentDedicatedNodes: 1, currentLowPriorityNodes: 0, targetDedicatedNodes: 1, targetLowPriorityNodes: 0, taskSlotsPerNode: 4 };
    scaler.tick(now, state);
    const r = scaler.evaluate(now + s(10), state, "$TargetDedicatedNodes = max($PendingTasks.GetSample(1)) / $TaskSlotsPerNode + $CurrentDedicatedNodes");
    assert.equal(r.targetDedicatedNodes, 3);
    assert.equal(scaler.dueAt, now + s(300));
  });
});
