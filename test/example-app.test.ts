/**
 * examples/app, the Python application the example release deploys, run with
 * python3 as a Custom activity runs it: in a working directory holding the
 * staged CSV files.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./harness/run-task";
import { skipUnavailable } from "./shared-files";

const APP = path.join(REPO_ROOT, "examples", "app");

function python3(): { found: true; path: string } | { found: false; reason: string } {
  const probe = spawnSync("python3", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? { found: true, path: "python3" } : { found: false, reason: `python3 is not on PATH (${probe.error?.message ?? `exit ${probe.status}`}), so the example app cannot run` };
}

describe("examples/app (python3)", function () {
  this.timeout(30_000);
  let work: string;

  before(function () {
    skipUnavailable(this, python3());
    work = fs.mkdtempSync(path.join(os.tmpdir(), "example-app-"));
  });
  after(() => work && fs.rmSync(work, { recursive: true, force: true }));

  let n = 0;
  /** A fresh working directory with the sample data, as the Custom activity's node would have it. */
  function workingDir(files: Record<string, string> = {}): string {
    const dir = path.join(work, `wd-${++n}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(path.join(APP, "sample-data"))) fs.copyFileSync(path.join(APP, "sample-data", f), path.join(dir, f));
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    return dir;
  }
  const run = (cwd: string, args: string[], appDir = APP) => spawnSync("python3", [path.join(appDir, "app.py"), ...args], { cwd, encoding: "utf8", timeout: 20_000 });

  it("scores the staged CSV with model.json, writes results.csv and outputs.json, prints its version and the run id", () => {
    const wd = workingDir();
    const result = run(wd, ["6f1c2a9e-run"]);
    assert.equal(result.status, 0, result.stderr);
    const version = fs.readFileSync(path.join(APP, "VERSION"), "utf8").trim();
    assert.equal(result.stdout.split("\n")[0], `batch-app version ${version}, pipeline run 6f1c2a9e-run`);
    assert.match(result.stdout, /^flagged 2 of 4 \(score >= 0\.5\); wrote results\.csv and outputs\.json$/m);
    // intercept -1.5, tenure -0.04, spend 0.012, tickets 0.35 (model.json)
    assert.equal(
      fs.readFileSync(path.join(wd, "results.csv"), "utf8").replace(/\r\n/g, "\n"),
      "id,score,flagged\nc-001,1.2200,true\nc-002,-2.9940,false\nc-003,-0.3200,false\nc-004,1.9200,true\n",
    );
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(wd, "outputs.json"), "utf8")), {
      application: "batch-app",
      version,
      model: "churn-risk",
      pipelineRunId: "6f1c2a9e-run",
      releaseRunId: "",
      inputFiles: ["customers.csv"],
      rows: 4,
      flagged: 2,
      meanScore: -0.0435,
      resultsFile: "results.csv",
    });
    // Run again in the same folder: its own results.csv is not read as input.
    const again = run(wd, ["--run-id", "second"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(fs.readFileSync(path.join(wd, "outputs.json"), "utf8")) as { rows: number }).rows, 4);
  });

  it("reads a folder given by --input and prints the version of the copy that runs (the demo's version 2)", () => {
    const appV2 = path.join(work, "app-v2");
    fs.cpSync(APP, appV2, { recursive: true });
    fs.writeFileSync(path.join(appV2, "VERSION"), "2.0.0\n");
    const data = workingDir();
    const wd = path.join(work, "elsewhere");
    fs.mkdirSync(wd, { recursive: true });
    const result = run(wd, ["--input", data, "--output", data, "r-2"], appV2);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^batch-app version 2\.0\.0, pipeline run r-2$/m);
    assert.ok(fs.existsSync(path.join(data, "results.csv")));
    assert.equal((JSON.parse(fs.readFileSync(path.join(wd, "outputs.json"), "utf8")) as { version: string }).version, "2.0.0");
  });

  it("reports the release's run id from activity.json's extendedProperties, as Data Factory writes it beside the app", () => {
    const activity = {
      name: "RunApp",
      type: "Custom",
      typeProperties: { command: "python3 app.py", extendedProperties: { releaseRunId: { type: "Expression", value: "4711" } } },
    };
    const wd = workingDir({ "activity.json": JSON.stringify(activity) });
    const result = run(wd, ["--run-id", "adf-run"]);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.stdout.split("\n").slice(0, 2), [`batch-app version ${fs.readFileSync(path.join(APP, "VERSION"), "utf8").trim()}, pipeline run adf-run`, "released by run 4711"]);
    const outputs = JSON.parse(fs.readFileSync(path.join(wd, "outputs.json"), "utf8")) as { releaseRunId: string; pipelineRunId: string };
    assert.deepEqual([outputs.pipelineRunId, outputs.releaseRunId], ["adf-run", "4711"]);
  });

  it("exits 2 with the reason on stderr when the input is missing or bad, and writes no outputs.json", () => {
    const empty = path.join(work, "empty");
    fs.mkdirSync(empty, { recursive: true });
    const none = run(empty, ["r"]);
    assert.equal(none.status, 2);
    assert.equal(none.stderr.trim(), "batch-app: error: no input: the folder . holds no .csv file (the staged data should be there)");
    assert.ok(!fs.existsSync(path.join(empty, "outputs.json")));

    const badNumber = run(workingDir({ "more.csv": "customer_id,tenure_months,monthly_spend,support_tickets\nc-9,4,lots,1\n" }), ["r"]);
    assert.equal(badNumber.status, 2);
    assert.equal(badNumber.stderr.trim(), "batch-app: error: more.csv line 2: column 'monthly_spend' is not a number: 'lots'");

    const wrongHeader = run(workingDir({ "other.csv": "customer_id,tenure\nc-9,4\n" }), ["r"]);
    assert.equal(wrongHeader.status, 2);
    assert.equal(wrongHeader.stderr.trim(), "batch-app: error: other.csv: missing column(s) tenure_months, monthly_spend, support_tickets (the header is: customer_id,tenure)");

    const headerOnly = path.join(work, "header-only");
    fs.mkdirSync(headerOnly);
    fs.writeFileSync(path.join(headerOnly, "a.csv"), "customer_id,tenure_months,monthly_spend,support_tickets\n");
    const noRows = run(headerOnly, []);
    assert.equal(noRows.status, 2);
    assert.equal(noRows.stderr.trim(), "batch-app: error: no input: a.csv hold(s) a header but no data rows");
    assert.match(noRows.stdout, /pipeline run \(none given\)/);
  });

  it("exits 3 when its model is not valid", () => {
    const appBroken = path.join(work, "app-broken");
    fs.cpSync(APP, appBroken, { recursive: true });
    fs.writeFileSync(path.join(appBroken, "model.json"), '{"coefficients": {"tenure_months": "high"}}');
    const result = run(workingDir(), ["r"], appBroken);
    assert.equal(result.status, 3);
    assert.equal(result.stderr.trim(), `batch-app: error: the model ${path.join(appBroken, "model.json")}: coefficient 'tenure_months' is not a number`);
  });
});
