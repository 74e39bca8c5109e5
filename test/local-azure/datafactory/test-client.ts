/**
 * What the Data Factory tests share: an @azure/arm-datafactory client on the
 * local ARM, polling a run to its end, and error capture.
 */
import { strict as assert } from "node:assert";
import { localCredential } from "../../harness/azure-test";
import { DataFactoryManagementClient, type ActivityRun, type PipelineRun } from "@azure/arm-datafactory";
import type { LocalAzure } from "..";

export const ARM_SCOPE = "https://management.azure.com/.default";
export const FINAL_STATUSES = ["Succeeded", "Failed", "Cancelled"];

export function dataFactoryClient(azure: LocalAzure, options: { maxRetries?: number; clientSecret?: string; clientId?: string } = {}): DataFactoryManagementClient {
  const credential = localCredential(azure, options);
  return new DataFactoryManagementClient(credential, azure.info.subscriptionId, {
    endpoint: azure.info.armUrl,
    // Without it the SDK asks for a token for `<endpoint>/.default`, which ARM would refuse.
    credentialScopes: [ARM_SCOPE],
    retryOptions: { maxRetries: options.maxRetries ?? 0, retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  });
}

export interface ErrorSeen {
  statusCode?: number;
  code?: string;
  message: string;
}

export async function errorOf(promise: Promise<unknown>): Promise<ErrorSeen> {
  try {
    await promise;
  } catch (e) {
    return e as ErrorSeen;
  }
  return assert.fail("expected the call to fail");
}

/** Polls pipelineRuns.get until the run ends; returns every status seen, in order. */
export async function pollRun(client: DataFactoryManagementClient, rg: string, factory: string, runId: string, timeoutMs = 5000): Promise<{ run: PipelineRun; seen: string[] }> {
  const started = Date.now();
  const seen: string[] = [];
  for (;;) {
    const run = await client.pipelineRuns.get(rg, factory, runId);
    if (seen[seen.length - 1] !== run.status) seen.push(run.status ?? "");
    if (FINAL_STATUSES.includes(run.status ?? "")) return { run, seen };
    if (Date.now() - started > timeoutMs) assert.fail(`run ${runId} still ${run.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Polls until `check` holds for the run (e.g. an activity in progress). */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Every activity run of a run, following continuation tokens. */
export async function allActivityRuns(client: DataFactoryManagementClient, rg: string, factory: string, runId: string): Promise<ActivityRun[]> {
  const out: ActivityRun[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await client.activityRuns.queryByPipelineRun(rg, factory, runId, window(continuationToken));
    out.push(...page.value);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return out;
}

/** A query window around now, as a client monitoring today's runs builds it. */
export function window(continuationToken?: string): { lastUpdatedAfter: Date; lastUpdatedBefore: Date; continuationToken?: string } {
  return { lastUpdatedAfter: new Date(Date.now() - 3600_000), lastUpdatedBefore: new Date(Date.now() + 60_000), continuationToken };
}
