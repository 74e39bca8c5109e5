/**
 * Azure Batch as DataFactoryRun reads it: the accounts that the factory's
 * Azure Batch linked services name, found through ARM in the connection's
 * subscription; their pools through ARM (for the pre-flight check, which then
 * needs only Reader); and the tasks and task files of job `adfv2-<pool>`
 * through the data plane with Entra ID (for the live log). This is the task's
 * one user of @azure/batch.
 */
import type { BatchServiceClient, BatchServiceModels } from "@azure/batch";
import { batchManagementClient, batchServiceClient, type ResolvedBatchAccount } from "../../runtime/batch";
import { describeError, errorCode, errorStatus, TaskError } from "../../runtime/errors";
import type { AzureSession } from "../../runtime/session";
import type { BatchTaskFiles, TaskFileName } from "./live-logs";
import type { BatchTaskSummary } from "./logtail";
import type { BatchJobRoute } from "./run";
import { poolFactsFromArm, type PoolReader } from "./preflight";

/** Pages of tasks read per listing (1,000 tasks each). */
const MAX_TASK_PAGES = 5;

/**
 * @azure/batch puts Batch's error message object (`{ lang, value }`) in the
 * error's `message`; made text here, so the error reads like any other.
 */
async function batchCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const e = error as { message?: unknown };
    if (e && typeof e.message === "object" && e.message !== null) {
      const value = (e.message as { value?: unknown }).value;
      e.message = typeof value === "string" ? value : JSON.stringify(e.message);
    }
    throw error;
  }
}

export class BatchAccounts {
  private listing?: Promise<ResolvedBatchAccount[]>;

  constructor(private readonly session: AzureSession) {}

  /** The account of that name in the connection's subscription, or a TaskError saying which ones the connection sees. */
  async find(name: string): Promise<ResolvedBatchAccount> {
    const all = await this.all();
    const found = all.find((a) => a.name.toLowerCase() === name.toLowerCase());
    if (!found) {
      const subscription = this.session.connection.subscriptionName ?? this.session.connection.subscriptionId;
      throw new TaskError(
        "ResourceNotFound",
        `no Batch account named '${name}' in subscription '${subscription}'${all.length ? ` (the service connection sees ${all.map((a) => a.name).join(", ")})` : "; the service connection sees no Batch accounts there (it needs at least the Reader role)"}`,
      );
    }
    return found;
  }

  /** Reads a pool through ARM; undefined when the account has no such pool. */
  readonly readPool: PoolReader = async (ref) => {
    const account = await this.find(ref.accountName);
    try {
      return poolFactsFromArm(await batchManagementClient(this.session).poolOperations.get(account.resourceGroup, account.name, ref.poolName));
    } catch (error) {
      if (errorStatus(error) === 404) return undefined;
      throw error;
    }
  };

  private all(): Promise<ResolvedBatchAccount[]> {
    this.listing ??= (async () => {
      const accounts: ResolvedBatchAccount[] = [];
      try {
        for await (const a of batchManagementClient(this.session).batchAccountOperations.list()) {
          if (!a.name || !a.accountEndpoint) continue;
          accounts.push({ name: a.name, id: a.id ?? "", resourceGroup: /\/resourceGroups\/([^/]+)\//i.exec(a.id ?? "")?.[1] ?? "", url: `https://${a.accountEndpoint}` });
        }
      } catch (error) {
        if (errorStatus(error) === 403) throw new TaskError("AuthorizationFailed", `the service connection may not list Batch accounts (${describeError(error)}); grant it Reader on the Batch account`);
        throw error;
      }
      return accounts;
    })();
    return this.listing;
  }
}

/**
 * Task files of the jobs in `routes`, with the connection's Entra identity.
 * Tasks are listed from `createdSince` on (the run's start, less some skew),
 * so a job with a long history is not read whole on every poll.
 */
export function batchTaskFiles(session: AzureSession, routes: readonly BatchJobRoute[], createdSince: Date): BatchTaskFiles {
  const clients = new Map<string, Promise<BatchServiceClient>>();
  const clientFor = (jobId: string): Promise<BatchServiceClient> => {
    const route = routes.find((r) => r.jobId === jobId);
    if (!route) return Promise.reject(new Error(`no Batch account is known for job '${jobId}'`));
    let client = clients.get(route.account.name);
    if (!client) {
      client = batchServiceClient(session, route.account, "entra");
      clients.set(route.account.name, client);
    }
    return client;
  };
  const since = createdSince.toISOString();
  return {
    async listTasks(jobId: string): Promise<BatchTaskSummary[]> {
      const client = await clientFor(jobId);
      const tasks: BatchTaskSummary[] = [];
      let page: BatchServiceModels.TaskListResponse;
      try {
        page = await batchCall(() => client.task.list(jobId, { taskListOptions: { filter: `creationTime ge datetime'${since}'`, select: "id,commandLine,creationTime,state" } }));
      } catch (error) {
        // ADF makes the job with the pool's first Custom activity run.
        if (errorStatus(error) === 404 && errorCode(error) === "JobNotFound") return [];
        throw error;
      }
      for (let pages = 1; ; pages++) {
        for (const t of page) tasks.push({ id: t.id, commandLine: t.commandLine, creationTime: t.creationTime, state: t.state });
        if (!page.odatanextLink || pages >= MAX_TASK_PAGES) break;
        const next = page.odatanextLink;
        page = await batchCall(() => client.task.listNext(next));
      }
      return tasks;
    },
    async fileLength(jobId: string, taskId: string, file: TaskFileName): Promise<number | undefined> {
      const client = await clientFor(jobId);
      try {
        return (await batchCall(() => client.file.getPropertiesFromTask(jobId, taskId, file))).contentLength;
      } catch (error) {
        // Not there yet: the task has not started on a node (409), or has not written the file (404).
        if (errorStatus(error) === 404 || errorStatus(error) === 409) return undefined;
        throw error;
      }
    },
    async readRange(jobId: string, taskId: string, file: TaskFileName, start: number, endInclusive: number): Promise<Buffer> {
      const client = await clientFor(jobId);
      const response = await batchCall(() => client.file.getFromTask(jobId, taskId, file, { fileGetFromTaskOptions: { ocpRange: `bytes=${start}-${endInclusive}` } }));
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      return Buffer.concat(chunks);
    },
  };
}
