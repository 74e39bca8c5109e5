/**
 * Azure Batch as DataFactoryRun reads it: the accounts that the factory's
 * Azure Batch linked services name, found through ARM in the connection's
 * subscription; their pools through ARM (for the pre-flight check, which then
 * needs only Reader); and the tasks and task files of job `adfv2-<pool>`
 * through the runtime's Batch data plane with Entra ID (for the live log).
 */
import { batchManagementClient, resolveBatchAccount, type ResolvedBatchAccount } from "../../runtime/batch";
import { batchReason, type BatchData } from "../../runtime/batch-data";
import { openBatchData } from "../../runtime/batch-data-azure";
import { errorStatus } from "../../runtime/errors";
import type { AzureSession } from "../../runtime/session";
import type { BatchTaskFiles, TaskFileName } from "./live-logs";
import type { BatchTaskSummary } from "./logtail";
import { poolFactsFromArm, type PoolReader } from "./preflight";
import type { BatchJobRoute } from "./run";

export class BatchAccounts {
  private readonly found = new Map<string, Promise<ResolvedBatchAccount>>();

  constructor(private readonly session: AzureSession) {}

  /** The account of that name in the connection's subscription (each looked up once); a NotFoundError says which ones the connection sees. */
  find(name: string): Promise<ResolvedBatchAccount> {
    const key = name.toLowerCase();
    let account = this.found.get(key);
    if (!account) {
      account = resolveBatchAccount(this.session, name);
      this.found.set(key, account);
    }
    return account;
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
}

/**
 * Task files of the jobs in `routes`, with the connection's Entra identity.
 * Tasks are listed from `createdSince` on (the run's start, less some skew),
 * so a job with a long history is not read whole on every poll.
 */
export function batchTaskFiles(session: AzureSession, routes: readonly BatchJobRoute[], createdSince: Date): BatchTaskFiles {
  const planes = new Map<string, Promise<BatchData>>();
  const dataFor = (jobId: string): Promise<BatchData> => {
    const route = routes.find((r) => r.jobId === jobId);
    if (!route) return Promise.reject(new Error(`no Batch account is known for job '${jobId}'`));
    let plane = planes.get(route.account.name);
    if (!plane) {
      plane = openBatchData(session, route.account, "entra");
      planes.set(route.account.name, plane);
    }
    return plane;
  };
  const since = createdSince.toISOString();
  return {
    async listTasks(jobId: string): Promise<BatchTaskSummary[]> {
      const data = await dataFor(jobId);
      try {
        const tasks = await data.listTasks(jobId, { filter: `creationTime ge datetime'${since}'`, select: "id,commandLine,creationTime,state" });
        return tasks.map((t) => ({ id: t.id, commandLine: t.commandLine, creationTime: t.creationTime, state: t.state }));
      } catch (error) {
        // ADF makes the job with the pool's first Custom activity run.
        if (batchReason(error) === "JobNotFound") return [];
        throw error;
      }
    },
    async fileLength(jobId: string, taskId: string, file: TaskFileName): Promise<number | undefined> {
      const data = await dataFor(jobId);
      try {
        return (await data.getTaskFileProperties(jobId, taskId, file)).contentLength;
      } catch (error) {
        // Not there yet: the task has not started on a node (409), or has not written the file (404).
        if (errorStatus(error) === 404 || errorStatus(error) === 409) return undefined;
        throw error;
      }
    },
    async readRange(jobId: string, taskId: string, file: TaskFileName, start: number, endInclusive: number): Promise<Buffer> {
      return (await dataFor(jobId)).readTaskFile(jobId, taskId, file, { range: { start, endInclusive } });
    },
  };
}
