import { strict as assert } from "node:assert";
import type { PipelineResource } from "@azure/arm-datafactory";
import { InputError } from "../../runtime/errors";
import { createRunOptions, type RecoveryInputs } from "../../tasks/DataFactoryRun/run-options";

const pipeline = { name: "run-app", definition: { activities: [{ name: "Stage data", type: "Copy" }, { name: "Run app", type: "Custom" }] } as PipelineResource };
const runId = "2f5e6c3a-0d7b-4a39-9a0e-7c1d2b3a4f5e";
const none: RecoveryInputs = { isRecovery: false, startFromFailure: false };

function refused(recovery: RecoveryInputs, input: string, pattern: RegExp): void {
  assert.throws(
    () => createRunOptions(recovery, {}, pipeline),
    (e: Error) => e instanceof InputError && e.input === input && pattern.test(e.message),
  );
}

describe("DataFactoryRun recovery options", () => {
  it("sends only the parameters for a new run", () => {
    assert.deepEqual(createRunOptions(none, { runDate: "x" }, pipeline), { options: { parameters: { runDate: "x" } }, notes: [] });
  });

  it("passes a rerun from an activity or from the failures through", () => {
    assert.deepEqual(createRunOptions({ referencePipelineRunId: ` ${runId} `, isRecovery: true, startActivityName: "Run app", startFromFailure: false }, {}, pipeline).options, {
      referencePipelineRunId: runId,
      isRecovery: true,
      startActivityName: "Run app",
    });
    assert.deepEqual(createRunOptions({ referencePipelineRunId: runId, isRecovery: true, startFromFailure: true }, {}, pipeline).options, { referencePipelineRunId: runId, isRecovery: true, startFromFailure: true });
    assert.deepEqual(createRunOptions({ referencePipelineRunId: runId, isRecovery: false, startFromFailure: false }, {}, pipeline).options, { referencePipelineRunId: runId });
  });

  it("says that a rerun uses the reference run's parameters", () => {
    assert.deepEqual(createRunOptions({ referencePipelineRunId: runId, isRecovery: true, startFromFailure: false }, { runDate: "x" }, pipeline).notes, [
      `A rerun of run ${runId} uses that run's parameters; the parameters given (runDate) are not sent.`,
    ]);
  });

  it("refuses recovery options that cannot work, naming the input and the fix", () => {
    refused({ ...none, isRecovery: true }, "isRecovery", /^Input 'isRecovery': a recovery run reruns an earlier run: set referencePipelineRunId/);
    refused({ ...none, startActivityName: "Run app" }, "startActivityName", /set referencePipelineRunId to that run's id, and isRecovery to true/);
    refused({ ...none, referencePipelineRunId: "last" }, "referencePipelineRunId", /'last' is not a pipeline run id/);
    refused({ referencePipelineRunId: runId, isRecovery: false, startFromFailure: true }, "startFromFailure", /applies only to a recovery run: set isRecovery to true/);
    refused({ referencePipelineRunId: runId, isRecovery: true, startActivityName: "Run app", startFromFailure: true }, "startFromFailure", /not both: Data Factory ignores startFromFailure when startActivityName is set/);
    refused(
      { referencePipelineRunId: runId, isRecovery: true, startActivityName: "Run ap", startFromFailure: false },
      "startActivityName",
      /^Input 'startActivityName': 'Run ap' is not an activity of pipeline 'run-app'\. Did you mean 'Run app'\? Its activities: 'Stage data' and 'Run app'\.$/,
    );
  });
});
