/**
 * DataFactoryRun's inputs, read and checked into one typed object before
 * anything is sent to Azure. What needs the pipeline's definition (the
 * parameters against its declaration, the start activity) is checked once it
 * is read, still before the run starts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { InputReader } from "../../runtime/inputs";
import { combineParameters, parseParameters, type ParsedParameters } from "./parameters";
import type { RecoveryInputs } from "./run-options";

export interface DataFactoryRunInputs {
  connectionId: string;
  resourceGroupName: string;
  factoryName: string;
  pipelineName: string;
  /** The parameters file's, then the inline ones (later ones win). */
  parameters: ParsedParameters[];
  /** Names given both in the file and inline (the inline value is used). */
  overriddenParameters: string[];
  recovery: RecoveryInputs;
  waitForCompletion: boolean;
  pollIntervalSeconds: number;
  timeoutMinutes: number;
  cancelOnTimeout: boolean;
  cancelRecursive: boolean;
  streamActivityLogs: boolean;
  preflight: boolean;
  strictPreflight: boolean;
}

export interface ReadOptions {
  /** System.DefaultWorkingDirectory: the agent hands an empty filePath input over as this folder. */
  defaultWorkingDirectory?: string;
}

/** The fewest seconds between two checks of a run: Data Factory throttles callers that poll faster. */
export const MIN_POLL_INTERVAL_SECONDS = 5;
export const MAX_POLL_INTERVAL_SECONDS = 600;
export const MAX_TIMEOUT_MINUTES = 43_200;

// Microsoft.Resources and Microsoft.DataFactory naming rules.
const RESOURCE_GROUP = /^[-\w._()]{1,90}$/u;
const FACTORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{1,61}[A-Za-z0-9])$/;
const PIPELINE_FORBIDDEN = /[.+?/<>*%&:\\]/;

export function readDataFactoryRunInputs(reader: InputReader, options: ReadOptions = {}): DataFactoryRunInputs {
  const connectionId = reader.string("azureSubscription");

  const resourceGroupName = reader.string("resourceGroupName");
  if (!RESOURCE_GROUP.test(resourceGroupName) || resourceGroupName.endsWith(".")) {
    reader.fail("resourceGroupName", `'${resourceGroupName}' is not a resource group name: use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'.`);
  }
  const factoryName = reader.string("factoryName");
  if (!FACTORY.test(factoryName) || factoryName.includes("--")) {
    reader.fail("factoryName", `'${factoryName}' is not a data factory name: use 3-63 letters, digits and single hyphens, starting and ending with a letter or digit.`);
  }
  const pipelineName = reader.string("pipelineName");
  if (pipelineName.length > 260 || PIPELINE_FORBIDDEN.test(pipelineName)) {
    reader.fail("pipelineName", `'${pipelineName}' is not a pipeline name: at most 260 characters, none of . + ? / < > * % & : \\.`);
  }

  const file = readParametersFile(reader, options);
  const inlineText = reader.optionalString("parameters");
  const inline = inlineText === undefined ? undefined : parseParameters(inlineText, { input: "parameters" });
  const combined = combineParameters(file, inline);

  const waitForCompletion = reader.bool("waitForCompletion");
  const pollText = reader.string("pollIntervalSeconds");
  if (/^\d+$/.test(pollText) && Number(pollText) < MIN_POLL_INTERVAL_SECONDS) {
    reader.fail(
      "pollIntervalSeconds",
      `${pollText} s is too short: the run is checked at most every ${MIN_POLL_INTERVAL_SECONDS} s (faster polling only gets throttled by Data Factory). Use a whole number from ${MIN_POLL_INTERVAL_SECONDS} to ${MAX_POLL_INTERVAL_SECONDS}.`,
    );
  }
  const pollIntervalSeconds = reader.int("pollIntervalSeconds", { min: MIN_POLL_INTERVAL_SECONDS, max: MAX_POLL_INTERVAL_SECONDS });

  const timeoutText = reader.string("timeoutMinutes");
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(timeoutText)) reader.fail("timeoutMinutes", `'${timeoutText}' is not a number of minutes. Use a positive number, for example 60 or 0.5.`);
  const timeoutMinutes = Number(timeoutText);
  if (!(timeoutMinutes > 0)) reader.fail("timeoutMinutes", `${timeoutText} is not positive: the run needs some time. Use a positive number of minutes, for example 60 or 0.5.`);
  if (timeoutMinutes > MAX_TIMEOUT_MINUTES) reader.fail("timeoutMinutes", `${timeoutText} is more than ${MAX_TIMEOUT_MINUTES} minutes (30 days). Use a smaller number.`);

  const preflight = reader.bool("preflight");
  return {
    connectionId,
    resourceGroupName,
    factoryName,
    pipelineName,
    parameters: combined.parsed,
    overriddenParameters: combined.overridden,
    recovery: {
      referencePipelineRunId: reader.optionalString("referencePipelineRunId"),
      isRecovery: reader.bool("isRecovery"),
      startActivityName: reader.optionalString("startActivityName"),
      startFromFailure: reader.bool("startFromFailure"),
    },
    waitForCompletion,
    pollIntervalSeconds,
    timeoutMinutes,
    cancelOnTimeout: reader.bool("cancelOnTimeout"),
    cancelRecursive: reader.bool("cancelRecursive"),
    streamActivityLogs: waitForCompletion && reader.bool("streamActivityLogs"),
    preflight,
    strictPreflight: preflight && reader.bool("strictPreflight"),
  };
}

function readParametersFile(reader: InputReader, options: ReadOptions): ParsedParameters | undefined {
  const value = reader.optionalString("parametersFile");
  if (value === undefined) return undefined;
  const file = path.resolve(value);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return reader.fail("parametersFile", `'${file}' does not exist. Point it at a JSON or YAML file, e.g. $(Pipeline.Workspace)/drop/adf-parameters.json, or leave it empty.`);
  }
  if (stat.isDirectory()) {
    // An empty filePath input reaches the task as the default working directory.
    const defaultDir = options.defaultWorkingDirectory ? path.resolve(options.defaultWorkingDirectory) : undefined;
    if (defaultDir !== undefined && file === defaultDir) return undefined;
    return reader.fail("parametersFile", `'${file}' is a folder, not a file.`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return reader.fail("parametersFile", `'${file}' could not be read (${(e as Error).message}).`);
  }
  return parseParameters(text, { input: "parametersFile", file });
}
