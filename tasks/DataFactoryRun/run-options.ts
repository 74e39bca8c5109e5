/**
 * The recovery options of Pipelines - Create Run (a rerun of an earlier run),
 * checked against each other and against the pipeline before the run:
 * - `isRecovery`, `startActivityName` and `startFromFailure` rerun the run
 *   named by `referencePipelineRunId`, so they need it;
 * - `startActivityName` and `startFromFailure` apply "in recovery mode" (the
 *   API's words), so they need `isRecovery: true`; the service ignores
 *   `startFromFailure` when `startActivityName` is set, so setting both is
 *   refused rather than half-ignored;
 * - `startActivityName` must be a top-level activity of the pipeline (reruns
 *   start from a top-level activity), with the closest names suggested;
 * - with `referencePipelineRunId` the service uses the reference run's
 *   parameters and ignores the ones given: that is said, not silently dropped.
 */
import type { PipelineResource, PipelinesCreateRunOptionalParams } from "@azure/arm-datafactory";
import { InputError } from "../../runtime/errors";
import { didYouMean, quoteList } from "./names";

export interface RecoveryInputs {
  referencePipelineRunId?: string;
  isRecovery: boolean;
  startActivityName?: string;
  startFromFailure: boolean;
}

export type CreateRunOptions = Pick<PipelinesCreateRunOptionalParams, "parameters" | "referencePipelineRunId" | "isRecovery" | "startActivityName" | "startFromFailure">;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The options for Create Run, and notes for the log. */
export function createRunOptions(
  recovery: RecoveryInputs,
  parameters: Record<string, unknown>,
  pipeline: { name: string; definition: PipelineResource },
): { options: CreateRunOptions; notes: string[] } {
  const notes: string[] = [];
  const reference = recovery.referencePipelineRunId?.trim() || undefined;
  const fail = (input: string, message: string): never => {
    throw new InputError(input, `Input '${input}': ${message}`);
  };
  if (!reference) {
    if (recovery.isRecovery) fail("isRecovery", "a recovery run reruns an earlier run: set referencePipelineRunId to that run's id.");
    if (recovery.startActivityName) fail("startActivityName", "starting from an activity reruns an earlier run: set referencePipelineRunId to that run's id, and isRecovery to true.");
    if (recovery.startFromFailure) fail("startFromFailure", "starting from the failed activities reruns an earlier run: set referencePipelineRunId to that run's id, and isRecovery to true.");
    return { options: { parameters }, notes };
  }
  if (!RUN_ID.test(reference)) fail("referencePipelineRunId", `'${reference}' is not a pipeline run id (a GUID such as 2f5e6c3a-0d7b-4a39-9a0e-7c1d2b3a4f5e).`);
  const startActivity = recovery.startActivityName?.trim() || undefined;
  if ((startActivity || recovery.startFromFailure) && !recovery.isRecovery) {
    fail(startActivity ? "startActivityName" : "startFromFailure", "it applies only to a recovery run: set isRecovery to true.");
  }
  if (startActivity && recovery.startFromFailure) {
    fail("startFromFailure", `set either startActivityName ('${startActivity}') or startFromFailure, not both: Data Factory ignores startFromFailure when startActivityName is set.`);
  }
  if (startActivity) {
    const names = (pipeline.definition.activities ?? []).map((a) => a.name);
    if (!names.includes(startActivity)) {
      fail(
        "startActivityName",
        `'${startActivity}' is not an activity of pipeline '${pipeline.name}'.${didYouMean(startActivity, names)} ${names.length ? `Its activities: ${quoteList(names)}.` : "It has no activities."}`,
      );
    }
  }
  if (Object.keys(parameters).length > 0) {
    notes.push(`A rerun of run ${reference} uses that run's parameters; the parameters given (${Object.keys(parameters).join(", ")}) are not sent.`);
  }
  const options: CreateRunOptions = { referencePipelineRunId: reference };
  if (recovery.isRecovery) options.isRecovery = true;
  if (startActivity) options.startActivityName = startActivity;
  if (recovery.startFromFailure) options.startFromFailure = true;
  return { options, notes };
}
