/**
 * The local Data Factory's Copy activity, blob to blob, driven with
 * @azure/arm-datafactory and checked with @azure/storage-blob: what lands in
 * the sink, and the output ADF reports (files, bytes, rows only when the
 * files are parsed), wildcards and recursion, and the errors a user sees.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import type { ActivityRun, CopyActivity, DataFactoryManagementClient, DatasetResource } from "@azure/arm-datafactory";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { localAzure, resetLocalAzure } from "../../fixture";
import type { LocalAzure } from "..";
import { allActivityRuns, dataFactoryClient, pollRun } from "../datafactory/test-client";

const uid = (prefix: string) => `${prefix}${crypto.randomBytes(3).toString("hex")}`;
const STORAGE = { referenceName: "StagingStorage", type: "LinkedServiceReference" as const };

describe("local Azure: Data Factory Copy activity (blob to blob)", function () {
  this.timeout(60_000);
  let azure: LocalAzure;
  let adf: DataFactoryManagementClient;
  let rg: string;
  let factory: string;
  const source = uid("src");
  const sink = uid("dst");

  const container = (name: string) => new ContainerClient(`${azure.info.storage.blobUrl}/${name}`, new StorageSharedKeyCredential(azure.info.storage.accountName, azure.info.storage.accountKey));
  const blobNames = async (name: string, prefix?: string) => {
    const out: string[] = [];
    for await (const b of container(name).listBlobsFlat({ prefix })) out.push(b.name);
    return out.sort();
  };
  const text = async (name: string, blob: string) => (await container(name).getBlobClient(blob).downloadToBuffer()).toString("utf8");

  async function dataset(name: string, type: "DelimitedText" | "Binary", location: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
    await adf.datasets.createOrUpdate(rg, factory, name, {
      properties: { type, linkedServiceName: STORAGE, location: { type: "AzureBlobStorageLocation", ...location }, ...extra } as DatasetResource["properties"],
    });
  }

  async function copy(pipeline: string, activity: Omit<CopyActivity, "name" | "type">, parameters: Record<string, unknown> = {}): Promise<{ status?: string; run: ActivityRun }> {
    await adf.pipelines.createOrUpdate(rg, factory, pipeline, { activities: [{ name: "Copy", type: "Copy", ...activity } as CopyActivity], parameters: { folder: { type: "String", defaultValue: "" } } });
    const { runId } = await adf.pipelines.createRun(rg, factory, pipeline, { parameters });
    const { run } = await pollRun(adf, rg, factory, runId, 30_000);
    const [activityRun] = await allActivityRuns(adf, rg, factory, runId);
    return { status: run.status, run: activityRun };
  }

  before(async () => {
    azure = await localAzure();
    adf = dataFactoryClient(azure);
    rg = azure.info.resourceGroup;
    factory = azure.info.dataFactory.factoryName;
    await container(source).createIfNotExists();
    const put = (name: string, content: string) => container(source).getBlockBlobClient(name).uploadData(Buffer.from(content));
    await put("day1/a.csv", 'id,name,note\r\n1,Ann,"likes ""tea"", not coffee"\r\n2,Bo,\r\n');
    await put("day1/b.csv", "id,name,note\n3,Cy,plain\n");
    await put("day1/readme.txt", "not data\n");
    await put("day1/nested/c.csv", "id,name,note\n4,Di,deep\n");
    await put("day2/d.csv", "id,name,note\n5,Ed,other day\n");
  });
  afterEach(async () => {
    await resetLocalAzure();
    azure.state.dataFactory.reset();
  });

  it("copies CSV files as they are when both datasets have the same settings: bytes and files, no row counts", async () => {
    await dataset("CsvIn", "DelimitedText", { container: source, folderPath: "day1" }, { columnDelimiter: ",", firstRowAsHeader: true });
    await dataset("CsvOut", "DelimitedText", { container: sink, folderPath: "same" }, { columnDelimiter: ",", firstRowAsHeader: true });
    const { status, run } = await copy("copy-same", {
      inputs: [{ referenceName: "CsvIn", type: "DatasetReference" }],
      outputs: [{ referenceName: "CsvOut", type: "DatasetReference" }],
      source: { type: "DelimitedTextSource", storeSettings: { type: "AzureBlobStorageReadSettings", recursive: false, wildcardFileName: "*.csv" } },
      sink: { type: "DelimitedTextSink", storeSettings: { type: "AzureBlobStorageWriteSettings" } },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(status, "Succeeded", JSON.stringify(run.error));
    assert.deepEqual(await blobNames(sink, "same/"), ["same/a.csv", "same/b.csv"], "non-recursive: day1/nested is left out, readme.txt does not match *.csv");
    assert.equal(await text(sink, "same/b.csv"), "id,name,note\n3,Cy,plain\n");
    const output = run.output as Record<string, unknown>;
    const bytes = Buffer.byteLength('id,name,note\r\n1,Ann,"likes ""tea"", not coffee"\r\n2,Bo,\r\n') + Buffer.byteLength("id,name,note\n3,Cy,plain\n");
    assert.deepEqual(
      { filesRead: output.filesRead, filesWritten: output.filesWritten, dataRead: output.dataRead, dataWritten: output.dataWritten, rowsRead: output.rowsRead, rowsCopied: output.rowsCopied },
      { filesRead: 2, filesWritten: 2, dataRead: bytes, dataWritten: bytes, rowsRead: undefined, rowsCopied: undefined },
    );
    assert.equal(output.effectiveIntegrationRuntime, "DefaultIntegrationRuntime (West Europe)");
    assert.deepEqual(output.errors, []);
    assert.equal(typeof output.copyDuration, "number");
    assert.equal(output.throughput, Math.round((bytes / 1024 / (output.copyDuration as number)) * 1000) / 1000);
    const details = (output.executionDetails as { source: unknown; sink: unknown; status: string; detailedDurations: { queuingDuration: number; transferDuration: number } }[])[0];
    assert.deepEqual([details.source, details.sink, details.status], [{ type: "AzureBlobStorage" }, { type: "AzureBlobStorage" }, "Succeeded"]);
    assert.equal(details.detailedDurations.queuingDuration + details.detailedDurations.transferDuration, output.copyDuration);
  });

  it("rewrites CSV to another delimiter and reports rowsRead / rowsCopied, keeping quoted values and the header", async () => {
    await dataset("CsvIn2", "DelimitedText", { container: source, folderPath: "day1", fileName: "a.csv" }, { columnDelimiter: ",", firstRowAsHeader: true });
    await dataset("SemicolonOut", "DelimitedText", { container: sink, folderPath: "semi" }, { columnDelimiter: ";", firstRowAsHeader: true });
    const { status, run } = await copy("copy-rewrite", {
      inputs: [{ referenceName: "CsvIn2", type: "DatasetReference" }],
      outputs: [{ referenceName: "SemicolonOut", type: "DatasetReference" }],
      source: { type: "DelimitedTextSource" },
      sink: { type: "DelimitedTextSink" },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(status, "Succeeded", JSON.stringify(run.error));
    // A value holding the quote is quoted on write, the quote escaped with the dataset's escape character (default \).
    assert.equal(await text(sink, "semi/a.csv"), 'id;name;note\r\n1;Ann;"likes \\"tea\\", not coffee"\r\n2;Bo;\r\n');
    const output = run.output as Record<string, unknown>;
    assert.equal(output.rowsRead, 2);
    assert.equal(output.rowsCopied, 2);
    assert.equal(output.filesWritten, 1);
  });

  it("copies Binary folders recursively, keeping the hierarchy, into a folder named by a dataset parameter", async () => {
    await dataset("FilesIn", "Binary", { container: source, folderPath: "day1" });
    await dataset("FilesOut", "Binary", { container: sink, folderPath: { value: "@concat('bin/', dataset().target)", type: "Expression" } }, { parameters: { target: { type: "String" } } });
    const { status, run } = await copy(
      "copy-binary",
      {
        inputs: [{ referenceName: "FilesIn", type: "DatasetReference" }],
        outputs: [{ referenceName: "FilesOut", type: "DatasetReference", parameters: { target: { value: "@pipeline().parameters.folder", type: "Expression" } } }],
        source: { type: "BinarySource", storeSettings: { type: "AzureBlobStorageReadSettings", recursive: true } },
        sink: { type: "BinarySink", storeSettings: { type: "AzureBlobStorageWriteSettings", copyBehavior: "PreserveHierarchy" } },
      } as Omit<CopyActivity, "name" | "type">,
      { folder: "run-7" },
    );
    assert.equal(status, "Succeeded", JSON.stringify(run.error));
    assert.deepEqual(await blobNames(sink, "bin/"), ["bin/run-7/a.csv", "bin/run-7/b.csv", "bin/run-7/nested/c.csv", "bin/run-7/readme.txt"]);
    assert.equal(await text(sink, "bin/run-7/nested/c.csv"), "id,name,note\n4,Di,deep\n");
    assert.equal((run.output as Record<string, unknown>).filesWritten, 4);
  });

  it("fails with 2200 when nothing matches, and says what it cannot do", async () => {
    await dataset("NothingIn", "DelimitedText", { container: source, folderPath: "day3" }, { firstRowAsHeader: true });
    await dataset("AnyOut", "DelimitedText", { container: sink, folderPath: "none" }, { firstRowAsHeader: true });
    const none = await copy("copy-none", {
      inputs: [{ referenceName: "NothingIn", type: "DatasetReference" }],
      outputs: [{ referenceName: "AnyOut", type: "DatasetReference" }],
      source: { type: "DelimitedTextSource", storeSettings: { type: "AzureBlobStorageReadSettings", wildcardFileName: "*.csv" } },
      sink: { type: "DelimitedTextSink" },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(none.status, "Failed");
    assert.equal(none.run.error?.errorCode, "2200");
    assert.match(String(none.run.error?.message), /^ErrorCode=UserErrorSourceBlobNotExists,.*The required Blob is missing\. ContainerName: .*\/[a-z0-9]+, ContainerExist: True, BlobPrefix: day3, BlobCount: 0\./);

    await dataset("BinOut", "Binary", { container: sink, folderPath: "x" });
    const mixed = await copy("copy-mixed", {
      inputs: [{ referenceName: "AnyOut", type: "DatasetReference" }],
      outputs: [{ referenceName: "BinOut", type: "DatasetReference" }],
      source: { type: "DelimitedTextSource" },
      sink: { type: "BinarySink" },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(mixed.run.error?.errorCode, "2200");
    assert.match(String(mixed.run.error?.message), /A Binary dataset can only be copied to or from another Binary dataset/);

    await dataset("DayIn", "Binary", { container: source, folderPath: "day2" });
    const flatten = await copy("copy-flatten", {
      inputs: [{ referenceName: "DayIn", type: "DatasetReference" }],
      outputs: [{ referenceName: "BinOut", type: "DatasetReference" }],
      source: { type: "BinarySource" },
      sink: { type: "BinarySink", storeSettings: { type: "AzureBlobStorageWriteSettings", copyBehavior: "FlattenHierarchy" } },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(flatten.run.error?.message, "The local Data Factory cannot run this Copy activity: copyBehavior 'FlattenHierarchy' (only PreserveHierarchy is).");

    const unset = await copy("copy-unset", {
      inputs: [{ referenceName: "DayIn", type: "DatasetReference" }],
      outputs: [{ referenceName: "FilesOut", type: "DatasetReference" }],
      source: { type: "BinarySource" },
      sink: { type: "BinarySink" },
    } as Omit<CopyActivity, "name" | "type">);
    assert.equal(unset.run.error?.errorCode, "InvalidTemplate");
    assert.equal(unset.run.error?.message, "The dataset 'FilesOut' needs a value for its parameter 'target', which has no default.");
  });
});
