/**
 * BatchPoolAutoscale@1: reads and checks the inputs (the formula is linted
 * before anything is sent), signs in, finds the Batch account, and applies
 * the formula and start task to the pool (apply.ts) after Batch has
 * evaluated the formula on it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { taskLibAgent, type Agent } from "../../runtime/agent";
import { requireServiceConnection, signIn } from "../../runtime/session";
import { explainSignInError } from "../../runtime/sign-in-errors";
import { resolveBatchAccount, type BatchAuth } from "../../runtime/batch";
import { openBatchData } from "../../runtime/batch-data-azure";
import type { RetryInfo } from "../../runtime/retry";
import { InputError, TaskError } from "../../runtime/errors";
import { publishSummary } from "../../runtime/summary";
import { readAutoscaleInputs } from "./inputs";
import { formatFinding } from "./lint";
import { evaluationOutputs, type EvaluationValues } from "./plan";
import { formulaDescription, summaryTable } from "./summary";
import { batchPoolAccess } from "./azure";
import { applyAutoscale, formulaLines, oneLine, type ApplyResult } from "./apply";
import manifest from "./task.json";

const POOL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const ACCOUNT_NAME = /^[A-Za-z0-9]{3,24}$/;
const ACCOUNT_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Batch\/batchAccounts\/[^/]+$/i;
const RESOURCE_GROUP = /^[-\w.()]{1,90}$/;
/** A formula is at most 8192 characters; a file much larger than that is not one. */
const MAX_FORMULA_FILE_BYTES = 64 * 1024;

/**
 * The resource container may be a URL with a SAS: never debug-printed, and
 * only its SAS is masked (inputs.ts hands it over); masking a plain container
 * name would blank that word in the whole job's log.
 */
const agent = taskLibAgent({ quietInputs: ["startTaskResourceContainer"] });

void runTask(
  ({ signal }) =>
    main(signal).catch((e: unknown) => {
      throw readableFailure(agent, e);
    }),
  agent,
);

async function main(signal: AbortSignal): Promise<string> {
  const reader = new InputReader(agent, manifest);
  const connectionId = reader.string("azureSubscription");
  const poolId = reader.string("poolId");
  if (!POOL_ID.test(poolId)) reader.fail("poolId", `'${poolId}' is not a pool id: up to 64 letters, digits, hyphens and underscores.`);
  const accountInput = reader.string("batchAccountName");
  const resourceGroup = reader.optionalString("resourceGroupName");
  if (resourceGroup !== undefined && (!RESOURCE_GROUP.test(resourceGroup) || resourceGroup.endsWith("."))) {
    reader.fail("resourceGroupName", `'${resourceGroup}' is not a resource group name: 1-90 letters, digits, '-', '_', '.', '(' and ')', not ending in '.'.`);
  }
  if (!ACCOUNT_ID.test(accountInput) && !ACCOUNT_NAME.test(accountInput)) {
    reader.fail("batchAccountName", `'${accountInput}' is neither a Batch account name (3-24 letters and digits) nor a Batch account resource id.`);
  }
  const auth = reader.pick<BatchAuth>("authType", ["entra", "sharedKey"]);
  const settings = readAutoscaleInputs({
    get: (name) => (name === "formulaFile" ? formulaFileInput() : agent.getInput(name)),
    describe: (name) => reader.describe(name),
    readFile: readFormulaFile,
  });
  for (const secret of settings.secrets) {
    agent.setSecret(secret);
    const signature = new URLSearchParams(secret.includes("?") ? secret.slice(secret.indexOf("?") + 1) : secret).get("sig");
    if (signature) agent.setSecret(signature);
  }

  requireServiceConnection(agent, reader, "azureSubscription", connectionId);

  agent.info(`Formula: ${formulaDescription(settings.formulaSource)}.`);
  for (const line of formulaLines(settings.formula)) agent.info(`  ${line}`);
  for (const finding of settings.lintWarnings) agent.warning(`Autoscale formula: ${formatFinding(finding)}`);

  const session = signIn(agent, reader, "azureSubscription", connectionId);
  const explainSignIn = async (e: unknown): Promise<never> => {
    throw await explainSignInError(e, session.connection);
  };
  // With a resource group the account is read directly; without one it is looked for in the subscription.
  const accountRef =
    resourceGroup !== undefined && !ACCOUNT_ID.test(accountInput)
      ? `/subscriptions/${session.connection.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Batch/batchAccounts/${accountInput}`
      : accountInput;
  const account = await resolveBatchAccount(session, accountRef).catch(rethrowForInput(reader, "batchAccountName")).catch(explainSignIn);
  const retry = { onRetry: (r: RetryInfo) => agent.info(`Batch answered ${r.reason}${r.throttled ? " (throttled)" : ""}; trying again in ${Math.ceil(r.delayMs / 1000)} s (retry ${r.attempt}).`) };
  const batch = await openBatchData(session, account, auth, { retry }).catch(explainSignIn);
  const access = batchPoolAccess(batch, poolId, { accountName: account.name, signal, onRetry: (m) => agent.info(m) });

  const result = await applyAutoscale(
    access,
    { settings, accountName: account.name, accountResourceId: account.id, failInput: (name, message) => reader.fail(name, message), signal },
    { info: (m) => agent.info(m), warning: (m) => agent.warning(m), debug: (m) => agent.debug(m) },
  ).catch(explainSignIn);

  const evaluation = result.outcome.evaluation;
  for (const [name, value] of Object.entries(evaluation ? evaluationOutputs(evaluation) : {})) agent.setOutput(name, value);
  publishSummary(
    agent,
    agent.getVariable("Agent.TempDirectory"),
    "batch-pool-autoscale",
    summaryTable({
      poolId: result.before.id,
      formulaSource: settings.formulaSource,
      evaluationInterval: settings.evaluationInterval,
      plan: result.plan,
      evaluation,
      dryRun: settings.dryRun,
      lintWarnings: settings.lintWarnings.length,
    }),
  );
  return resultMessage(result, evaluation, settings.dryRun);
}

/**
 * The formulaFile input, or undefined when it is not set. The agent hands a
 * filePath input left empty as the default working directory (or the sources
 * folder); that is "not set", as task-lib's filePathSupplied reads it.
 */
function formulaFileInput(): string | undefined {
  const value = agent.getInput("formulaFile")?.trim();
  if (!value) return undefined;
  const roots = [agent.getVariable("System.DefaultWorkingDirectory"), agent.getVariable("Build.SourcesDirectory")].filter((r): r is string => !!r);
  const resolved = path.resolve(roots[0] ?? process.cwd(), value);
  return roots.some((r) => path.resolve(r) === resolved) ? undefined : value;
}

/** Reads the formula file, relative paths from the default working directory. */
function readFormulaFile(file: string): string {
  const resolved = path.resolve(agent.getVariable("System.DefaultWorkingDirectory") || process.cwd(), file);
  const stat = fs.statSync(resolved);
  if (stat.isDirectory()) throw new Error("it is a folder, not a file");
  if (stat.size > MAX_FORMULA_FILE_BYTES) throw new Error(`it holds ${stat.size} bytes, and a formula is at most 8192 characters`);
  return fs.readFileSync(resolved, "utf8");
}

function nodes(evaluation: EvaluationValues | undefined): string {
  if (!evaluation) return "";
  return `${evaluation.targetDedicatedNodes ?? "?"} dedicated and ${evaluation.targetLowPriorityNodes ?? "?"} Spot/low-priority nodes`;
}

function resultMessage(result: ApplyResult, evaluation: EvaluationValues | undefined, dryRun: boolean): string {
  const pool = result.before.id;
  const evaluates = evaluation ? `the formula evaluates to ${nodes(evaluation)}` : "the formula was not evaluated";
  if (dryRun) return `Dry run on pool '${pool}': ${evaluates}; nothing was applied.`;
  const done = {
    enable: "autoscale enabled",
    "update formula": "formula updated",
    "update interval": "evaluation interval updated",
    "update formula and interval": "formula and evaluation interval updated",
    none: "autoscale unchanged",
  }[result.plan.autoscale];
  const extra = [result.plan.startTask === "set" ? "start task set" : "", result.plan.applicationPackages === "set" ? "application packages set" : ""].filter(Boolean);
  return `Pool '${pool}': ${[done, ...extra].join(", ")}; ${evaluates}.`;
}

/**
 * A failure whose message has several lines (every lint error, the failing
 * statement of an evaluation) is printed line by line first, since the
 * agent shows the result message on one line; the result keeps every part.
 */
function readableFailure(log: Pick<Agent, "info">, error: unknown): unknown {
  if (!(error instanceof TaskError) || !error.message.includes("\n")) return error;
  const lines = error.message.split("\n");
  for (const line of lines) log.info(line);
  const message = oneLine(error.message);
  const replaced = error instanceof InputError ? new InputError(error.input, message) : new TaskError(error.code, message);
  return Object.assign(replaced, { cause: error });
}
