/**
 * BatchPoolCycle@1: reads and checks the inputs, signs in, finds the Batch
 * account and checks every pool before anything changes, then cycles the
 * pools one after another and reports each (log, summary tab, outputs).
 */
import { InputReader, rethrowForInput } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { taskLibAgent, type Agent } from "../../runtime/agent";
import { signIn } from "../../runtime/session";
import { explainSignInError } from "../../runtime/sign-in-errors";
import { resolveBatchAccount } from "../../runtime/batch";
import { openBatchData } from "../../runtime/batch-data-azure";
import { CancelledError, NotAuthorizedError, NotFoundError } from "../../runtime/errors";
import type { RetryInfo } from "../../runtime/retry";
import { sleep } from "../../runtime/poll";
import { formatDuration } from "../../runtime/progress";
import { publishSummary } from "../../runtime/summary";
import { checkMethodForPool, parsePoolCycleInputs, type PoolConfiguration } from "./inputs";
import { batchAccountNames, defaultVersionLookup, isPoolNotFound, poolCycleBatch, type PoolCycleBatch } from "./batch-ops";
import { CycleProgress } from "./progress";
import { cyclePools, PoolCycleError, type PoolCycleResult } from "./roll";
import { poolCycleOutputs, poolCycleSummary } from "./summary";
import manifest from "./task.json";

void runTask(async ({ agent, signal }) => {
  const reader = new InputReader(agent, manifest);
  const connectionId = reader.string("azureSubscription");
  const resourceGroupName = reader.optionalString("resourceGroupName");
  const accountName = reader.string("batchAccountName");
  const { poolIds, options } = parsePoolCycleInputs({
    poolIds: reader.optionalString("poolIds"),
    method: reader.optionalString("method"),
    whenTasksRunning: reader.optionalString("whenTasksRunning"),
    maxUnavailable: reader.optionalString("maxUnavailable"),
    maxSurge: reader.optionalString("maxSurge"),
    drain: reader.optionalString("drain"),
    onlyOutdated: reader.optionalString("onlyOutdated"),
    batchTimeoutMinutes: reader.optionalString("batchTimeoutMinutes"),
    timeoutMinutes: reader.optionalString("timeoutMinutes"),
    pollIntervalSeconds: reader.optionalString("pollIntervalSeconds"),
  });

  const session = signIn(agent, reader, "azureSubscription", connectionId);
  const explainSignIn = async (e: unknown): Promise<never> => {
    throw await explainSignInError(e, session.connection);
  };
  // A resource id is taken as it is; a name is looked up in the resource group, or in the whole subscription without one.
  const inGroup = resourceGroupName !== undefined && !accountName.startsWith("/");
  const accountId = inGroup ? `/subscriptions/${session.connection.subscriptionId}/resourceGroups/${resourceGroupName}/providers/Microsoft.Batch/batchAccounts/${accountName}` : accountName;
  const account = await resolveBatchAccount(session, accountId)
    .catch(async (e: unknown) => {
      // Looked up by name in the resource group: say so, with the accounts that are there.
      if (!(e instanceof NotFoundError) || !inGroup) throw e;
      const visible = await batchAccountNames(session, resourceGroupName).catch(() => undefined);
      throw new NotFoundError({ kind: "Batch account", name: accountName, where: `resource group '${resourceGroupName}'`, ...(visible ? { visible } : {}), cause: e.cause });
    })
    .catch(rethrowForInput(reader, "batchAccountName"))
    .catch(explainSignIn);
  const retryLog = (service: string) => ({
    onRetry: (r: RetryInfo) => agent.info(`${service} answered ${r.reason}${r.throttled ? " (busy)" : ""}; trying again in ${formatDuration(r.delayMs)} (retry ${r.attempt}).`),
  });
  const batch = poolCycleBatch(await openBatchData(session, account, "entra", { retry: retryLog("Batch") }));
  agent.info(`Batch account '${account.name}' (${account.url}); pools to cycle: ${poolIds.join(", ")}.`);

  await checkPools(batch, poolIds).catch(explainSignIn);

  const progress = new CycleProgress(agent, poolIds);
  let results: PoolCycleResult[];
  try {
    results = await cyclePools(poolIds, batch, options, {
      clock: { now: () => Date.now(), sleep },
      signal,
      onEvent: (e) => progress.onEvent(e),
      defaultVersion: defaultVersionLookup(session, account, { retry: retryLog("Azure Resource Manager"), signal }),
    });
  } catch (e) {
    if (!(e instanceof PoolCycleError)) throw e;
    report(agent, [...e.earlierResults, e.result]);
    if (e.cancelled) throw new CancelledError(`${e.message} ${describeStop(e.result)}`);
    await showStartTaskOutput(agent, batch, e.result);
    throw e;
  }
  report(agent, results);
  agent.setProgress(100, "Done");
  return results.map((r) => r.message).join(" ");

  /** Every pool exists, and allows the method, before any of them changes. */
  async function checkPools(ops: PoolCycleBatch, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      let configuration: PoolConfiguration | undefined;
      try {
        configuration = (await ops.getPool(id, { signal })).configuration;
      } catch (e) {
        const status = (e as { statusCode?: unknown }).statusCode;
        if (status === 401 || status === 403) {
          throw new NotAuthorizedError({
            operation: `use the data plane of Batch account '${account.name}' (reading pool '${id}')`,
            role: "Contributor",
            scope: "on the account (or a custom role with the Microsoft.Batch/batchAccounts/pools data actions)",
            alternative: "and check that the account allows Microsoft Entra ID authentication",
            cause: e,
          });
        }
        if (!isPoolNotFound(e)) throw e;
        const visible = await ops.listPoolIds({ signal }).catch(() => undefined);
        rethrowForInput(reader, "poolIds")(new NotFoundError({ kind: "pool", name: id, where: `Batch account '${account.name}'`, ...(visible ? { visible } : {}) }));
      }
      checkMethodForPool(options.method, id, configuration);
    }
  }
}, taskLibAgent());

/** The summary tab and the log get one table per pool; the outputs count over every pool. */
function report(agent: Agent, results: readonly PoolCycleResult[]): void {
  for (const result of results) publishSummary(agent, agent.getVariable("Agent.TempDirectory"), `batch-pool-cycle-${result.poolId}`, poolCycleSummary(result));
  const outputs = poolCycleOutputs(results);
  for (const [name, value] of Object.entries(outputs)) agent.setOutput(name, value);
}

const STDERR_TAIL_BYTES = 2048;
const STDERR_NODES = 3;

/** The end of the start task's stderr on the nodes the roll-out left starttaskfailed: the reason is usually there. */
async function showStartTaskOutput(agent: Agent, batch: PoolCycleBatch, result: PoolCycleResult): Promise<void> {
  const failed = result.nodes.filter((n) => n.action !== "untouched" && n.after?.state === "starttaskfailed").slice(0, STDERR_NODES);
  for (const node of failed) {
    try {
      const text = (await batch.readNodeFileTail(result.poolId, node.nodeId, "startup/stderr.txt", STDERR_TAIL_BYTES)).replace(/\s+$/, "");
      agent.info(`The start task's stderr on node '${node.nodeId}' (startup/stderr.txt, last ${STDERR_TAIL_BYTES / 1024} KB):${text ? "" : " empty"}`);
      for (const line of text ? text.split(/\r?\n/) : []) agent.info(`  | ${line}`);
    } catch (e) {
      agent.debug(`Could not read startup/stderr.txt on node '${node.nodeId}': ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** After a cancellation: what was done in the pool that was being cycled. */
function describeStop(result: PoolCycleResult): string {
  const disabled = result.nodes.filter((n) => n.after?.schedulingState === "disabled").map((n) => n.nodeId);
  const cycled = `${result.cycledNodeCount} node(s) of pool '${result.poolId}' were cycled before the stop (the last batch's may still be restarting); no further batch was started.`;
  return disabled.length ? `${cycled} Scheduling is still disabled on ${disabled.join(", ")}.` : `${cycled} No node was left with scheduling disabled.`;
}
