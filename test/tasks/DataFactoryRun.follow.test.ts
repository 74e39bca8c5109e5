import { strict as assert } from "node:assert";
import type { ActivityRun, ActivityRunsQueryResponse, PipelineRun } from "@azure/arm-datafactory";
import { activityRunsWindow, collectActivityRuns, describeOutcome, formatEvent, RunFollower, type FollowOptions } from "../../tasks/DataFactoryRun/follow";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000);
const run = (status: string, extra: Record<string, unknown> = {}): PipelineRun => ({ runId: "run-1", pipelineName: "run-app", status, runStart: at(0), ...extra });
const activity = (id: string, name: string, type: string, status: string, start: number, end?: number, extra: Record<string, unknown> = {}): ActivityRun => ({
  activityRunId: id,
  activityName: name,
  activityType: type,
  status,
  activityRunStart: at(start),
  ...(end !== undefined ? { activityRunEnd: at(end), durationInMs: (end - start) * 1000 } : {}),
  ...extra,
});

const options: FollowOptions = { pollIntervalSeconds: 15, timeoutMinutes: 10, cancelOnTimeout: true, cancelRecursive: true };

describe("DataFactoryRun following a run", () => {
  it("prints each activity once as it starts and ends, and succeeds with the run", () => {
    const f = new RunFollower(options, T0);
    const log: string[] = [];
    const step = (r: PipelineRun, a: ActivityRun[], s: number) => {
      const result = f.observe(r, a, T0 + s * 1000);
      log.push(...result.events.map(formatEvent));
      return result.decision;
    };
    assert.deepEqual(step(run("Queued"), [], 1), { kind: "wait", delayMs: 2000 });
    step(run("InProgress"), [activity("a1", "Stage data", "Copy", "InProgress", 2)], 3);
    step(run("InProgress"), [activity("a1", "Stage data", "Copy", "Succeeded", 2, 12), activity("a2", "Run app", "Custom", "InProgress", 13)], 14);
    step(run("InProgress"), [activity("a1", "Stage data", "Copy", "Succeeded", 2, 12), activity("a2", "Run app", "Custom", "InProgress", 13)], 20);
    const done = step(run("Succeeded", { durationInMs: 95_000 }), [activity("a1", "Stage data", "Copy", "Succeeded", 2, 12), activity("a2", "Run app", "Custom", "Succeeded", 13, 44)], 96);
    assert.deepEqual(log, [
      "Pipeline run is Queued.",
      "Pipeline run is InProgress.",
      "Activity 'Stage data' (Copy) started.",
      "Activity 'Stage data' (Copy) Succeeded after 10 s.",
      "Activity 'Run app' (Custom) started.",
      "Activity 'Run app' (Custom) Succeeded after 31 s.",
      "Pipeline run is Succeeded.",
    ]);
    assert.equal(done.kind, "done");
    if (done.kind !== "done") return;
    assert.equal(done.outcome.succeeded, true);
    assert.deepEqual(describeOutcome(done.outcome, "run-1"), ["Pipeline run run-1 Succeeded."]);
    assert.deepEqual(f.activityRuns().map((a) => a.activityName), ["Stage data", "Run app"]);
  });

  it("shows an activity that started and ended between two polls, and numbers repeats of a name", () => {
    const f = new RunFollower(options, T0);
    const events = f.observe(run("InProgress"), [activity("w1", "Wait", "Wait", "Succeeded", 1, 2), activity("w2", "Wait", "Wait", "InProgress", 3)], T0 + 4000).events.map(formatEvent);
    assert.deepEqual(events, ["Pipeline run is InProgress.", "Activity 'Wait' (Wait) started.", "Activity 'Wait' (Wait) Succeeded after 1 s.", "Activity 'Wait' #2 (Wait) started."]);
  });

  it("fails with the run's message and each failed activity's error", () => {
    const f = new RunFollower(options, T0);
    f.observe(run("InProgress"), [activity("a2", "Run app", "Custom", "InProgress", 1)], T0 + 2000);
    const failed = activity("a2", "Run app", "Custom", "Failed", 1, 30, {
      error: { errorCode: "2500", message: "Hit unexpected exception and execution failed.", failureType: "UserError", target: "Run app" },
    });
    const step = f.observe(run("Failed", { message: "Operation on target Run app failed: Hit unexpected exception and execution failed." }), [failed], T0 + 31_000);
    assert.deepEqual(step.events.map(formatEvent), [
      "Activity 'Run app' (Custom) Failed after 29 s: 2500 Hit unexpected exception and execution failed.",
      "Pipeline run is Failed: Operation on target Run app failed: Hit unexpected exception and execution failed.",
    ]);
    assert.equal(step.decision.kind, "done");
    if (step.decision.kind !== "done") return;
    assert.equal(step.decision.outcome.succeeded, false);
    assert.deepEqual(describeOutcome(step.decision.outcome, "run-1"), [
      "Pipeline run run-1 Failed: Operation on target Run app failed: Hit unexpected exception and execution failed.",
      "Activity 'Run app' (Custom) failed with error 2500: Hit unexpected exception and execution failed.",
    ]);
  });

  it("fails a Cancelled run", () => {
    const f = new RunFollower(options, T0);
    const step = f.observe(run("Cancelled", { message: "" }), [], T0 + 1000);
    assert.equal(step.decision.kind === "done" && step.decision.outcome.succeeded, false);
    assert.deepEqual(step.decision.kind === "done" && describeOutcome(step.decision.outcome, "run-1"), ["Pipeline run run-1 Cancelled."]);
  });

  it("backs off while nothing changes, up to the poll interval, and comes back when something does", () => {
    const f = new RunFollower({ ...options, pollIntervalSeconds: 10 }, T0);
    const delays: number[] = [];
    const a = [activity("a2", "Run app", "Custom", "InProgress", 1)];
    for (let i = 0; i < 8; i++) {
      const d = f.observe(run("InProgress"), a, T0 + 1000 + i * 1000).decision;
      assert.equal(d.kind, "wait");
      if (d.kind === "wait") delays.push(d.delayMs);
    }
    assert.deepEqual(delays, [2000, 3000, 4500, 6750, 10000, 10000, 10000, 10000]);
    const d = f.observe(run("InProgress"), [...a, activity("a3", "Next", "Wait", "InProgress", 9)], T0 + 9000).decision;
    assert.deepEqual(d, { kind: "wait", delayMs: 2000 });
  });

  it("never waits past the deadline, then cancels (recursively) and reports the timeout", () => {
    const f = new RunFollower({ ...options, timeoutMinutes: 1 }, T0);
    const inProgress = run("InProgress");
    assert.deepEqual(f.observe(inProgress, [], T0 + 59_000).decision, { kind: "wait", delayMs: 1000 });
    const cancel = f.observe(inProgress, [], T0 + 60_000).decision;
    assert.deepEqual(cancel, { kind: "cancel", reason: "timeout", recursive: true, message: "The run did not finish within 1 min; cancelling run run-1 in Data Factory, with the pipelines it started.", delayMs: 2000 });
    assert.equal(f.observe(run("Canceling"), [], T0 + 62_000).decision.kind, "wait");
    const end = f.observe(run("Cancelled"), [], T0 + 70_000).decision;
    assert.equal(end.kind, "done");
    if (end.kind !== "done") return;
    assert.equal(end.outcome.timedOut, true);
    assert.deepEqual(describeOutcome(end.outcome, "run-1"), ["Pipeline run run-1 Cancelled after the wait timed out."]);
  });

  it("gives up on a cancel that is not confirmed within the grace period", () => {
    const f = new RunFollower({ ...options, timeoutMinutes: 1, cancelGraceSecondsAfterTimeout: 30 }, T0);
    f.observe(run("InProgress"), [], T0 + 61_000);
    const stop = f.observe(run("Canceling"), [], T0 + 91_000).decision;
    assert.deepEqual(stop, { kind: "stop", reason: "cancelNotConfirmed", lastStatus: "Canceling", message: "Data Factory was asked to cancel run run-1 but it was still Canceling 30 s later; check it in Data Factory Studio." });
  });

  it("leaves the run going when cancelOnTimeout is false, and says so", () => {
    const f = new RunFollower({ ...options, timeoutMinutes: 1, cancelOnTimeout: false }, T0);
    assert.deepEqual(f.observe(run("InProgress"), [], T0 + 60_000).decision, {
      kind: "stop",
      reason: "timeout",
      lastStatus: "InProgress",
      message: "The run did not finish within 1 min; run run-1 is left InProgress in Data Factory (cancelOnTimeout is false).",
    });
  });

  it("cancels the run on SIGINT/SIGTERM with a short grace, not recursively unless asked", () => {
    const f = new RunFollower({ ...options, cancelRecursive: false }, T0);
    f.observe(run("InProgress"), [], T0 + 1000);
    const d = f.interrupted(T0 + 2000);
    assert.deepEqual(d, { kind: "cancel", reason: "signal", recursive: false, message: "The task was cancelled; cancelling run run-1 in Data Factory.", delayMs: 2000 });
    assert.equal(f.observe(run("Canceling"), [], T0 + 4000).decision.kind, "wait");
    assert.equal(f.observe(run("Canceling"), [], T0 + 7000).decision.kind, "stop");
    const g = new RunFollower(options, T0);
    g.observe(run("InProgress"), [], T0 + 1000);
    g.interrupted(T0 + 2000);
    const done = g.observe(run("Cancelled"), [], T0 + 3000).decision;
    assert.ok(done.kind === "done" && done.outcome.interrupted && describeOutcome(done.outcome, "run-1")[0] === "Pipeline run run-1 Cancelled after the task was cancelled.");
  });

  it("rides out throttling and a few failed polls, and stops after too many", () => {
    const f = new RunFollower({ ...options, maxConsecutivePollFailures: 3 }, T0);
    f.observe(run("InProgress"), [], T0 + 1000);
    for (let i = 0; i < 5; i++) assert.equal(f.pollFailed(T0 + 2000 + i, { throttled: true, retryAfterMs: 7000, description: "429" }).kind, "wait");
    assert.deepEqual(f.pollFailed(T0 + 3000, { throttled: true, retryAfterMs: 7000, description: "429" }), { kind: "wait", delayMs: 15000 });
    assert.equal(f.pollFailed(T0 + 4000, { throttled: false, description: "503" }).kind, "wait");
    f.observe(run("InProgress"), [], T0 + 5000); // a good poll resets the count
    assert.equal(f.pollFailed(T0 + 6000, { throttled: false, description: "503" }).kind, "wait");
    assert.equal(f.pollFailed(T0 + 7000, { throttled: false, description: "503" }).kind, "wait");
    assert.deepEqual(f.pollFailed(T0 + 8000, { throttled: false, description: "ServiceUnavailable (HTTP 503)" }), {
      kind: "stop",
      reason: "pollFailures",
      lastStatus: "InProgress",
      message: "Could not read the run 3 times in a row (last: ServiceUnavailable (HTTP 503)); it was left InProgress in Data Factory.",
    });
  });

  it("reads every page of activity runs and stops on a repeated token", async () => {
    const pages: Record<string, ActivityRunsQueryResponse> = {
      start: { value: [activity("1", "a", "Wait", "Succeeded", 1, 2)], continuationToken: "t1" },
      t1: { value: [activity("2", "b", "Wait", "Succeeded", 1, 2)], continuationToken: "t2" },
      t2: { value: [activity("3", "c", "Wait", "Succeeded", 1, 2)] },
    };
    const asked: (string | undefined)[] = [];
    const runs = await collectActivityRuns(async (token) => {
      asked.push(token);
      return pages[token ?? "start"];
    });
    assert.deepEqual(runs.map((r) => r.activityName), ["a", "b", "c"]);
    assert.deepEqual(asked, [undefined, "t1", "t2"]);
    let calls = 0;
    const looped = await collectActivityRuns(async () => {
      calls++;
      return { value: [], continuationToken: "same" };
    });
    assert.deepEqual(looped, []);
    assert.equal(calls, 2);
    assert.deepEqual(activityRunsWindow(run("InProgress"), T0 + 10_000), { lastUpdatedAfter: at(-60), lastUpdatedBefore: at(70) });
  });
});
