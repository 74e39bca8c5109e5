/**
 * Data Factory's Custom activity as a real Batch task, for tests and the
 * end-to-end flow: install it with
 *
 *   azure.state.dataFactory.customActivityRunner = batchCustomActivityRunner(azure.batch, { container: ... })
 *
 * and each Custom activity run does what ADF does on Batch: job
 * `adfv2-<poolName>` (made when missing), one task per activity run (id: the
 * run's task GUID) running the evaluated command, every blob under
 * `folderPath` as its own resource file in one flat working directory, and
 * activity.json / linkedServices.json / datasets.json beside them (their
 * copies under `adfjobs/<taskId>/runtime/`). When the task ends, stdout.txt and
 * stderr.txt are copied to `adfjobs/<taskId>/output/`, outputs.json becomes
 * customOutput, and a non-zero exit code is ADF's error 2500. Cancelling the
 * run terminates the task (which kills its process).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobSASPermissions, type ContainerClient } from "@azure/storage-blob";
import { abortError } from "../clock";
import { CUSTOM_NONZERO_EXIT_ERROR, type ActivityOutcome, type CustomActivityRunner } from "../datafactory/activities";
import { customActivityOutput } from "../datafactory/custom-output";
import type { JsonObject } from "../datafactory/types";
import { statFile, taskDirectoryName } from "./node-files";
import type { BatchSimulation } from "./simulation";
import { findKey } from "./state";

export interface BatchCustomActivityOptions {
  /** A container of a storage account, with the account key (resource files get blob SAS URLs, as ADF's do). */
  container(accountName: string, containerName: string): ContainerClient;
  /** Real milliseconds between looks at the task (default 20). */
  pollMs?: number;
}

const failed = (errorCode: string, message: string): ActivityOutcome => ({ status: "Failed", output: {}, error: { errorCode, message, failureType: "UserError" } });

export function batchCustomActivityRunner(batch: BatchSimulation, options: BatchCustomActivityOptions): CustomActivityRunner {
  return async (ctx) => {
    const account = findKey(batch.state.accounts, ctx.batch.accountName);
    const pool = account && findKey(account.pools, ctx.batch.poolName);
    if (!account || !pool) return failed("2501", "Cannot access user batch account; please check batch account settings.");
    const staging = options.container(ctx.staging.accountName, "adfjobs");
    await staging.createIfNotExists();
    const sas = async (c: ContainerClient, blob: string) => c.getBlobClient(blob).generateSasUrl({ permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 30 * 86400_000 + 3600_000) });

    // Every blob under folderPath becomes its own resource file, flattened into the working directory.
    const resourceFiles: JsonObject[] = [];
    if (ctx.resources) {
      const [containerName, ...rest] = ctx.resources.folderPath.split("/");
      const prefix = rest.join("/");
      const source = options.container(ctx.resources.accountName, containerName);
      const names = new Set<string>();
      for await (const blob of source.listBlobsFlat({ prefix: prefix ? `${prefix.replace(/\/$/, "")}/` : undefined })) {
        const name = path.posix.basename(blob.name);
        if (names.has(name)) return failed("2508", "There are duplicate files in the resource folder.");
        names.add(name);
        resourceFiles.push({ httpUrl: await sas(source, blob.name), filePath: name });
      }
      if (names.size === 0) return failed("2507", `The folder path does not exist or is empty: ${ctx.resources.folderPath}.`);
    }
    const factory = ctx.factory;
    const referenced = (ctx.typeProperties.referenceObjects ?? {}) as { linkedServices?: { referenceName: string }[]; datasets?: { referenceName: string }[] };
    const runtimeFiles: Record<string, unknown> = {
      "activity.json": { name: ctx.activity.name, type: "Custom", linkedServiceName: ctx.activity.linkedServiceName, typeProperties: ctx.typeProperties },
      "linkedServices.json": (referenced.linkedServices ?? []).map((r) => {
        const ls = [...factory.linkedServices.values()].find((l) => l.name.toLowerCase() === r.referenceName.toLowerCase());
        return { name: r.referenceName, properties: ls?.properties ?? {} };
      }),
      "datasets.json": (referenced.datasets ?? []).map((r) => ({ name: r.referenceName, properties: {} })),
    };
    for (const [name, content] of Object.entries(runtimeFiles)) {
      const blob = `${ctx.taskId}/runtime/${name}`;
      const text = JSON.stringify(content, null, 2);
      await staging.getBlockBlobClient(blob).upload(text, Buffer.byteLength(text));
      resourceFiles.push({ httpUrl: await sas(staging, blob), filePath: name });
    }

    let job = findKey(account.jobs, ctx.batch.jobId);
    if (!job) job = batch.addJob(account, { id: ctx.batch.jobId, poolInfo: { poolId: pool.id } });
    const task = batch.addTask(account, job, { id: ctx.taskId, commandLine: ctx.command, resourceFiles });
    batch.schedule(account);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearInterval(timer);
        batch.terminateTask(account, job, task);
        reject(abortError());
      };
      const timer = setInterval(() => {
        if (task.state !== "completed") return;
        clearInterval(timer);
        ctx.signal.removeEventListener("abort", onAbort);
        resolve();
      }, options.pollMs ?? 20);
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    });

    // stdout / stderr to adfjobs/<taskId>/output/, outputs.json to customOutput.
    const nodeInfo = task.nodeInfo as { poolId?: string; nodeId?: string } | undefined;
    const node = nodeInfo?.nodeId ? findKey(account.pools, nodeInfo.poolId ?? "")?.nodes.get(nodeInfo.nodeId) : undefined;
    const taskDir = node?.sim.rootDir ? path.join(node.sim.rootDir, taskDirectoryName(job.id, task.id)) : undefined;
    for (const name of ["stdout.txt", "stderr.txt"]) {
      const file = taskDir ? statFile(taskDir, name) : undefined;
      const content = file ? fs.readFileSync(file.fullPath) : Buffer.alloc(0);
      await staging.getBlockBlobClient(`${ctx.taskId}/output/${name}`).uploadData(content);
    }
    let customOutput: JsonObject | undefined;
    const outputsFile = taskDir ? statFile(taskDir, "wd/outputs.json") : undefined;
    if (outputsFile) {
      try {
        customOutput = JSON.parse(fs.readFileSync(outputsFile.fullPath, "utf8")) as JsonObject;
      } catch {
        customOutput = undefined;
      }
    }
    const exitCode = task.executionInfo.exitCode ?? 1;
    const output = customActivityOutput({
      exitCode,
      adfJobsUrl: ctx.adfJobsUrl,
      batchAccountName: account.name,
      poolName: pool.id,
      location: ctx.location,
      executionSeconds: Math.round((Date.now() - started) / 1000),
      customOutput,
    });
    return task.executionInfo.result === "success" ? { status: "Succeeded", output } : { status: "Failed", output, error: CUSTOM_NONZERO_EXIT_ERROR };
  };
}
