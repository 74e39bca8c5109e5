import { strict as assert } from "node:assert";
import type { ActivityRun } from "@azure/arm-datafactory";
import { activityOutputsJson, boundedJson, customActivityReport, factoryResourceId, renderRunSummary, studioRunUrl, tailLines, TRUNCATED_KEY, type BlobTailReader } from "../../tasks/DataFactoryRun/report";

const guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const base = `https://releasestore.blob.core.windows.net/adfjobs/${guid}/output`;

const failedCustom: ActivityRun = {
  activityRunId: "ar-2",
  activityName: "Run app",
  activityType: "Custom",
  status: "Failed",
  durationInMs: 31_000,
  output: { exitcode: 2, outputs: [`${base}/stdout.txt?sv=2023&sig=SECRETSIG`, `${base}/stderr.txt`], customOutput: { rows: 10 } },
  error: { errorCode: "2500", message: "Hit unexpected exception and execution failed.", failureType: "UserError", target: "Run app" },
};
const copy: ActivityRun = { activityRunId: "ar-1", activityName: "Stage | data", activityType: "Copy", status: "Succeeded", durationInMs: 10_000, output: { rowsCopied: 5 } };

function blobs(files: Record<string, string>): { reader: BlobTailReader; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    reader: async (url, maxBytes) => {
      asked.push(url);
      const key = url.split("?")[0].split("/").pop()!;
      if (!(key in files)) throw Object.assign(new Error("The specified blob does not exist."), { statusCode: 404, code: "BlobNotFound" });
      const all = Buffer.from(files[key], "utf8");
      return { bytes: all.subarray(Math.max(0, all.length - maxBytes)), totalBytes: all.length };
    },
  };
}

describe("DataFactoryRun report", () => {
  it("gives a Custom activity's exit code, error, customOutput and log tails", async () => {
    const { reader } = blobs({ "stdout.txt": "one\ntwo\nthree\n", "stderr.txt": "Traceback (most recent call last):\nValueError: bad row 7\n" });
    const r = await customActivityReport(failedCustom, reader);
    assert.equal(r.exitCode, 2);
    assert.deepEqual(r.error, { activity: "Run app", type: "Custom", errorCode: "2500", message: "Hit unexpected exception and execution failed.", failureType: "UserError" });
    assert.deepEqual(r.customOutput, { rows: 10 });
    assert.deepEqual(r.stdout, { url: `${base}/stdout.txt`, lines: ["one", "two", "three"], truncated: false, totalBytes: 14 });
    assert.deepEqual(r.stderr?.lines, ["Traceback (most recent call last):", "ValueError: bad row 7"]);
    assert.deepEqual(r.notes, []);
  });

  it("notes, without failing, a log it cannot read, never showing a SAS", async () => {
    const { reader } = blobs({ "stderr.txt": "err\n" });
    const r = await customActivityReport(failedCustom, reader);
    assert.deepEqual(r.notes, [`stdout.txt could not be read at ${base}/stdout.txt: BlobNotFound (HTTP 404): The specified blob does not exist.`]);
    assert.deepEqual(r.stderr?.lines, ["err"]);
    const none = await customActivityReport(failedCustom, undefined);
    assert.deepEqual(none.notes, [`stdout.txt and stderr.txt were not read (no storage access); they are at ${base}/stdout.txt and ${base}/stderr.txt.`]);
    assert.doesNotMatch(JSON.stringify([r, none]), /SECRETSIG/);
  });

  it("keeps the last lines of a log, dropping a first line cut by the byte limit", () => {
    const text = Buffer.from("first line cut\nsecond\nthird\n");
    assert.deepEqual(tailLines(text.subarray(5), text.length, 10), { lines: ["second", "third"], truncated: true });
    assert.deepEqual(tailLines(text, text.length, 2), { lines: ["second", "third"], truncated: true });
    assert.deepEqual(tailLines(Buffer.alloc(0), 0, 5), { lines: [], truncated: false });
  });

  it("links the run in Data Factory Studio with the factory id URL-encoded, per cloud", () => {
    const id = factoryResourceId("00000000-0000-0000-0000-000000000001", "rg-batch-release", "release-adf");
    assert.equal(
      studioRunUrl("7f8c6c72-c093-11ec-a83d-0242ac120007", id),
      "https://adf.azure.com/en/monitoring/pipelineruns/7f8c6c72-c093-11ec-a83d-0242ac120007?factory=%2Fsubscriptions%2F00000000-0000-0000-0000-000000000001%2FresourceGroups%2Frg-batch-release%2Fproviders%2FMicrosoft.DataFactory%2Ffactories%2Frelease-adf",
    );
    assert.match(studioRunUrl("r", id, "AzureUSGovernment")!, /^https:\/\/adf\.azure\.us\/en\/monitoring\/pipelineruns\/r\?factory=/);
    assert.match(studioRunUrl("r", id, "AzureChinaCloud")!, /^https:\/\/adf\.azure\.cn\//);
    assert.equal(studioRunUrl("r", id, "AzureStack"), undefined);
  });

  it("renders the summary: the run, the activities with exit codes, the failure, the logs and the link", async () => {
    const { reader } = blobs({ "stdout.txt": "ok\n", "stderr.txt": "ValueError: <bad> ``` row\n" });
    const report = await customActivityReport(failedCustom, reader);
    const md = renderRunSummary({
      factoryName: "release-adf",
      pipelineName: "run-app",
      runId: "run-1",
      status: "Failed",
      durationMs: 95_000,
      parameters: { runDate: "2024-05-01", apiKey: "hunter2" },
      secureParameterNames: ["apiKey"],
      activityRuns: [copy, failedCustom],
      customReports: [report],
      failureLines: ["Pipeline run run-1 Failed: Operation on target Run app failed.", "Activity 'Run app' (Custom) failed with error 2500: Hit unexpected exception and execution failed."],
      studioUrl: "https://adf.azure.com/en/monitoring/pipelineruns/run-1?factory=x",
    });
    assert.match(md, /^### Data Factory pipeline 'run-app': Failed\n/);
    assert.match(md, /\| Run ID \| run-1 \|/);
    assert.match(md, /\| Duration \| 1 min 35 s \|/);
    assert.match(md, /\| Parameters \| runDate = 2024-05-01, apiKey = \*\*\* \|/);
    assert.doesNotMatch(md, /hunter2/);
    assert.match(md, /\| Data Factory Studio \| \[Open the run\]\(https:\/\/adf\.azure\.com\/en\/monitoring\/pipelineruns\/run-1\?factory=x\) \|/);
    assert.match(md, /\| Activity \| Type \| Status \| Duration \| Exit code \|\n\|---\|---\|---\|---\|---\|\n\| Stage \\\| data \| Copy \| Succeeded \| 10 s \|  \|\n\| Run app \| Custom \| Failed \| 31 s \| 2 \|/);
    assert.match(md, /#### Failure\n\n- Pipeline run run-1 Failed: Operation on target Run app failed\.\n- Activity 'Run app' \(Custom\) failed with error 2500/);
    assert.match(md, /#### Custom activity 'Run app': exit code 2/);
    // The log is data: a fence its backticks cannot close, and no HTML from it.
    assert.match(md, /stderr:\n\n````\nValueError: <bad> ``` row\n````/);
    assert.match(md, /customOutput:\n\n```\n\{\n {2}"rows": 10\n\}\n```/);
  });

  it("bounds ActivityOutputs to 16 KB of valid JSON, cutting the largest values first and saying so", () => {
    const big = { ...failedCustom, output: { ...failedCustom.output, customOutput: { blob: "é".repeat(20_000) } } };
    const reports = [{ activity: "Run app", activityRunId: "ar-2", status: "Failed", exitCode: 2, customOutput: big.output.customOutput, notes: [] }];
    const json = activityOutputsJson([copy, big], reports);
    assert.ok(Buffer.byteLength(json) <= 16 * 1024, `${Buffer.byteLength(json)} bytes`);
    const parsed = JSON.parse(json);
    assert.deepEqual(parsed["Stage | data"], { status: "Succeeded", type: "Copy", durationMs: 10_000, output: { rowsCopied: 5 } });
    assert.equal(parsed["Run app"].exitCode, 2);
    assert.equal(parsed["Run app"].status, "Failed");
    assert.match(parsed["Run app"].customOutput, /^\[truncated: 40\d\d\d bytes\]$/);
    assert.equal(parsed["Run app"].error.errorCode, "2500");
    assert.equal(parsed[TRUNCATED_KEY], "Values cut to stay within 16384 bytes: Run app.customOutput");

    const small = JSON.parse(activityOutputsJson([copy], []));
    assert.equal(small[TRUNCATED_KEY], undefined);
  });

  it("leaves whole activities out when cutting values is not enough, and is always valid JSON", () => {
    const many: Record<string, { status: string }> = {};
    for (let i = 0; i < 500; i++) many[`activity number ${i}`] = { status: "Succeeded" };
    const json = boundedJson(many, 2048);
    assert.ok(Buffer.byteLength(json) <= 2048);
    const parsed = JSON.parse(json);
    assert.match(parsed[TRUNCATED_KEY], /^\d+ activities left out and 0 values cut to stay within 2048 bytes$/);
    assert.ok(Object.keys(parsed).length > 10);
    assert.equal(boundedJson(many, 10), "{}");
  });
});
