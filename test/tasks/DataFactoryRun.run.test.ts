/**
 * The run flow on fake services and a virtual clock: what the scenario tests
 * cannot make the local Azure do at will (checks failing for good, a cancel
 * request refused, a run that never ends Cancelled), and the order of the
 * live log against the activity lines.
 */
import { strict as assert } from "node:assert";
import type { ActivityRun, AzureBatchLinkedService, CustomActivity, LinkedServiceResource, PipelineResource, PipelineRun } from "@azure/arm-datafactory";
import { CancelledError, TaskError, TimeoutError } from "../../runtime/errors";
import type { DataFactoryRunInputs } from "../../tasks/DataFactoryRun/inputs";
import type { BatchTaskFiles, TaskFileName } from "../../tasks/DataFactoryRun/live-logs";
import { runPipeline, type RunAgent, type RunServices, type WaitClock } from "../../tasks/DataFactoryRun/run";

const RUN_ID = "7c0d1f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f";
const START = Date.parse("2024-05-01T10:00:00Z");
const COMMAND = "/bin/sh -c 'python3 app.py'";

const pipeline: PipelineResource = {
  name: "release",
  activities: [{ name: "RunApp", type: "Custom", command: COMMAND, linkedServiceName: { referenceName: "Batch", type: "LinkedServiceReference" } } satisfies CustomActivity],
};
const linkedServices: LinkedServiceResource[] = [
  { name: "Batch", properties: { type: "AzureBatch", accountName: "releasebatch", batchUri: "https://releasebatch.westeurope.batch.azure.com", poolName: "adf-pool", linkedServiceName: { referenceName: "Storage", type: "LinkedServiceReference" } } satisfies AzureBatchLinkedService },
];

function inputs(over: Partial<DataFactoryRunInputs> = {}): DataFactoryRunInputs {
  return {
    connectionId: "conn",
    resourceGroupName: "rg",
    factoryName: "adf",
    pipelineName: "release",
    parameters: [],
    overriddenParameters: [],
    recovery: { isRecovery: false, startFromFailure: false },
    waitForCompletion: true,
    pollIntervalSeconds: 15,
    timeoutMinutes: 60,
    cancelOnTimeout: true,
    cancelRecursive: true,
    streamActivityLogs: false,
    preflight: false,
    strictPreflight: false,
    ...over,
  };
}

/** Time that moves only when the flow waits; `onPause` lets a test act at a moment. */
class VirtualClock implements WaitClock {
  t = START;
  waits: number[] = [];
  onPause?: (elapsedMs: number) => void;
  now = () => this.t;
  pause = async (ms: number, signal?: AbortSignal) => {
    if (this.waits.length > 10_000) throw new Error("the flow never stops waiting");
    if (signal?.aborted) return;
    this.waits.push(ms);
    this.t += Math.max(0, ms);
    this.onPause?.(this.t - START);
  };
}

function recordingAgent() {
  const log: string[] = [];
  const outputs: Record<string, string> = {};
  const agent: RunAgent = {
    info: (m) => void log.push(m),
    warning: (m) => void log.push(`warning: ${m}`),
    error: (m) => void log.push(`error: ${m}`),
    debug: () => undefined,
    setOutput: (n, v) => void (outputs[n] = v),
    setSecret: () => undefined,
    uploadSummary: () => undefined,
    getVariable: () => undefined,
  };
  return { agent, log, outputs };
}

const run = (status: string, extra: Partial<PipelineRun> = {}): PipelineRun => ({ runId: RUN_ID, status, runStart: new Date(START), ...extra });

type FakeOptions = Partial<Omit<RunServices, "runs">> & { runs?: Partial<RunServices["runs"]>; getRun(call: number): PipelineRun; activityRuns?(call: number): ActivityRun[] };

function services(over: FakeOptions): RunServices & { created: number; cancels: boolean[] } {
  let gets = 0;
  const { runs: runOverrides, getRun, activityRuns, ...rest } = over;
  const s: RunServices & { created: number; cancels: boolean[] } = {
    created: 0,
    cancels: [] as boolean[],
    factory: { name: "adf", resourceGroup: "rg", id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataFactory/factories/adf", globalParameters: {} },
    pipeline: { name: "release", definition: pipeline },
    linkedServices: async () => linkedServices,
    runs: {
      createRun: async (): Promise<string> => {
        s.created++;
        return RUN_ID;
      },
      getRun: async () => getRun(++gets),
      queryActivityRuns: async () => ({ value: activityRuns?.(gets) ?? [] }),
      cancelRun: async (_id: string, recursive: boolean) => void s.cancels.push(recursive),
    },
    studioUrl: () => undefined,
    listBlobs: async () => [],
    readPool: async () => undefined,
    findBatchAccount: async (name: string) => ({ name, resourceGroup: "rg", id: `/x/${name}`, url: `https://${name}.batch` }),
    taskFiles: () => {
      throw new Error("no live log in this test");
    },
    readBlobTail: async () => ({ bytes: Buffer.alloc(0), totalBytes: 0 }),
    ...rest,
  };
  s.runs = { ...s.runs, ...runOverrides };
  return s;
}

const serverError = () => Object.assign(new Error("Something went wrong."), { statusCode: 500, code: "InternalServerError" });

describe("DataFactoryRun run flow", () => {
  it("backs off from 2 s up to pollIntervalSeconds while nothing changes, and stops at the timeout", async () => {
    const clock = new VirtualClock();
    const { agent, log, outputs } = recordingAgent();
    const s = services({ getRun: () => run("InProgress") });
    await assert.rejects(runPipeline(inputs({ timeoutMinutes: 1, cancelOnTimeout: false }), s, { agent, signal: new AbortController().signal, clock }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError, String(e));
      assert.equal(e.message, `The run did not finish within 1 min; run ${RUN_ID} is left InProgress in Data Factory (cancelOnTimeout is false).`);
      return true;
    });
    const waits = clock.waits.filter((w) => w > 0);
    assert.deepEqual(waits.slice(0, 7), [2000, 3000, 4500, 6750, 10125, 15000, 15000]);
    assert.ok(Math.max(...waits) === 15000, "never longer than pollIntervalSeconds");
    assert.equal(clock.t - START, 60_000, "the last wait ends at the deadline");
    assert.deepEqual(s.cancels, []);
    assert.equal(outputs.PipelineRunStatus, "InProgress");
    assert.ok(log.includes("Pipeline run is InProgress."));
  });

  it("stops after ten failed checks in a row, saying how the run was left", async () => {
    const clock = new VirtualClock();
    const { agent, log, outputs } = recordingAgent();
    const s = services({
      getRun: (n) => {
        if (n === 1) return run("InProgress");
        throw serverError();
      },
    });
    await assert.rejects(runPipeline(inputs(), s, { agent, signal: new AbortController().signal, clock }), (e: unknown) => {
      assert.ok(e instanceof TaskError && !(e instanceof TimeoutError), String(e));
      assert.equal(e.message, "Could not read the run 10 times in a row (last: InternalServerError (HTTP 500): Something went wrong.); it was left InProgress in Data Factory.");
      return true;
    });
    assert.equal(log.filter((l) => l.startsWith("Could not read the run (InternalServerError (HTTP 500): Something went wrong.); checking again in ")).length, 9);
    assert.equal(outputs.PipelineRunStatus, "InProgress");
  });

  it("throttled checks never count as failures: they wait as long as asked", async () => {
    const clock = new VirtualClock();
    const { agent, log } = recordingAgent();
    const throttled = () => Object.assign(new Error("Too many requests."), { statusCode: 429, code: "TooManyRequests", response: { headers: { get: (h: string) => (h === "retry-after" ? "30" : undefined) } } });
    const s = services({
      getRun: (n) => {
        if (n > 1 && n <= 15) throw throttled();
        return n === 1 ? run("InProgress") : run("Succeeded", { durationInMs: 1000 });
      },
    });
    assert.equal(await runPipeline(inputs(), s, { agent, signal: new AbortController().signal, clock }), `Pipeline run ${RUN_ID} Succeeded in 1 s.`);
    assert.equal(log.filter((l) => l.startsWith("Data Factory is throttling the status checks")).length, 14);
    assert.ok(clock.waits.filter((w) => w >= 30_000).length >= 14, "each wait at least the Retry-After");
  });

  it("ends the wait when the cancel request fails, saying the run may still be going", async () => {
    const clock = new VirtualClock();
    const { agent, log } = recordingAgent();
    const s = services({
      getRun: () => run("InProgress"),
      runs: {
        cancelRun: async () => {
          throw new TaskError("AuthorizationFailed", "The service connection may not cancel run x.");
        },
      },
    });
    await assert.rejects(runPipeline(inputs({ timeoutMinutes: 0.5 }), s, { agent, signal: new AbortController().signal, clock }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError, String(e));
      assert.equal(e.message, `The run did not finish within 0.5 min; cancelling run ${RUN_ID} in Data Factory, with the pipelines it started, but the cancel request failed (The service connection may not cancel run x.); the run may still be going in Data Factory.`);
      return true;
    });
    assert.ok(log.includes(`warning: The run did not finish within 0.5 min; cancelling run ${RUN_ID} in Data Factory, with the pipelines it started.`));
  });

  it("after SIGTERM asks Data Factory to cancel, and gives up waiting for Cancelled after the grace", async () => {
    const clock = new VirtualClock();
    const { agent, log } = recordingAgent();
    const controller = new AbortController();
    clock.onPause = (elapsed) => {
      if (elapsed >= 5000) controller.abort();
    };
    const s = services({ getRun: () => run("InProgress") });
    await assert.rejects(runPipeline(inputs({ cancelRecursive: false }), s, { agent, signal: controller.signal, clock }), (e: unknown) => {
      assert.ok(e instanceof CancelledError, String(e));
      assert.equal(e.message, `Data Factory was asked to cancel run ${RUN_ID} but it was still InProgress 5 s later; check it in Data Factory Studio.`);
      return true;
    });
    assert.deepEqual(s.cancels, [false]);
    assert.ok(log.includes(`warning: The task was cancelled; cancelling run ${RUN_ID} in Data Factory.`));
  });

  it("starts nothing when the job is cancelled before the run", async () => {
    const controller = new AbortController();
    controller.abort();
    const s = services({ getRun: () => run("InProgress") });
    await assert.rejects(runPipeline(inputs(), s, { agent: recordingAgent().agent, signal: controller.signal, clock: new VirtualClock() }), CancelledError);
    assert.equal(s.created, 0);
  });

  it("prints a Custom activity's last live lines before the line saying it ended", async () => {
    const clock = new VirtualClock();
    const { agent, log } = recordingAgent();
    const files = new Map<string, string>([["stdout.txt", "first\n"], ["stderr.txt", ""]]);
    const activity = (status: string): ActivityRun => ({
      activityRunId: "ar-1",
      activityName: "RunApp",
      activityType: "Custom",
      status,
      activityRunStart: new Date(START),
      ...(status === "Succeeded" ? { activityRunEnd: new Date(START + 5000), durationInMs: 5000 } : {}),
      input: { command: COMMAND },
    } as ActivityRun);
    const batch: BatchTaskFiles = {
      listTasks: async () => [{ id: "task-1", commandLine: COMMAND, creationTime: new Date(START + 100) }],
      fileLength: async (_j: string, _t: string, f: TaskFileName) => Buffer.byteLength(files.get(f) ?? ""),
      readRange: async (_j: string, _t: string, f: TaskFileName, a: number, b: number) => Buffer.from(files.get(f) ?? "").subarray(a, b + 1),
    };
    const s = services({
      getRun: (n) => (n < 3 ? run("InProgress") : run("Succeeded", { durationInMs: 6000 })),
      activityRuns: (n) => {
        if (n >= 3) files.set("stdout.txt", "first\nsecond\nlast without newline");
        return [activity(n < 3 ? "InProgress" : "Succeeded")];
      },
      taskFiles: (routes) => {
        assert.deepEqual(routes.map((r) => `${r.jobId} ${r.account.name}`), ["adfv2-adf-pool releasebatch"]);
        return batch;
      },
    });
    await runPipeline(inputs({ streamActivityLogs: true }), s, { agent, signal: new AbortController().signal, clock });
    const from = log.indexOf("Activity 'RunApp' (Custom) started.");
    assert.deepEqual(log.slice(from, from + 6), [
      "Activity 'RunApp' (Custom) started.",
      "[RunApp] first",
      "[RunApp] second",
      "[RunApp] last without newline",
      "Activity 'RunApp' (Custom) Succeeded after 5 s.",
      "Pipeline run is Succeeded.",
    ]);
  });
});
