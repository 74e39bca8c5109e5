import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../runtime/errors";
import { InputReader } from "../../runtime/inputs";
import { readDataFactoryRunInputs, type DataFactoryRunInputs } from "../../tasks/DataFactoryRun/inputs";
import manifest from "../../tasks/DataFactoryRun/task.json";

const BASE = { azureSubscription: "conn", resourceGroupName: "rg-batch-release", factoryName: "release-adf", pipelineName: "run-batch-app" };

function read(inputs: Record<string, string>, defaultWorkingDirectory?: string): DataFactoryRunInputs {
  const values: Record<string, string> = { ...BASE, ...inputs };
  return readDataFactoryRunInputs(new InputReader({ getInput: (name) => values[name] }, manifest), { defaultWorkingDirectory });
}

/** Asserts the exact message and the input it names. */
function refused(inputs: Record<string, string>, input: string, message: string | RegExp): void {
  assert.throws(
    () => read(inputs),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.input, input);
      return true;
    },
  );
}

describe("DataFactoryRun inputs", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dfrun-inputs-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("takes the task.json defaults: wait 15 s at most, 60 min, cancel recursively, live log and pre-flight on", () => {
    const i = read({});
    assert.deepEqual(
      { ...i, parameters: i.parameters.length },
      {
        connectionId: "conn",
        resourceGroupName: "rg-batch-release",
        factoryName: "release-adf",
        pipelineName: "run-batch-app",
        parameters: 0,
        overriddenParameters: [],
        recovery: { referencePipelineRunId: undefined, isRecovery: false, startActivityName: undefined, startFromFailure: false },
        waitForCompletion: true,
        pollIntervalSeconds: 15,
        timeoutMinutes: 60,
        cancelOnTimeout: true,
        cancelRecursive: true,
        streamActivityLogs: true,
        preflight: true,
        strictPreflight: false,
      },
    );
  });

  it("reads parameters from a file and inline, the inline ones winning", () => {
    const file = path.join(dir, "p.json");
    fs.writeFileSync(file, '{ "inputPath": "input/a", "retries": 1 }');
    const i = read({ parametersFile: file, parameters: "retries: 3" });
    assert.deepEqual(i.parameters.map((p) => [p.source.input, p.values]), [["parametersFile", { inputPath: "input/a", retries: 1 }], ["parameters", { retries: 3 }]]);
    assert.deepEqual(i.overriddenParameters, ["retries"]);
  });

  it("takes the default working directory in parametersFile as no file (the agent's value for an empty filePath input)", () => {
    assert.deepEqual(read({ parametersFile: dir }, dir).parameters, []);
    refused({ parametersFile: dir }, "parametersFile", `Input 'parametersFile' (Parameters file): '${dir}' is a folder, not a file.`);
    refused({ parametersFile: path.join(dir, "missing.yml") }, "parametersFile", /^Input 'parametersFile' \(Parameters file\): '.*missing\.yml' does not exist\./);
  });

  it("refuses parameters that are not an object, naming the file", () => {
    const file = path.join(dir, "list.yml");
    fs.writeFileSync(file, "- a\n- b\n");
    refused({ parametersFile: file }, "parametersFile", new RegExp(`^Input 'parametersFile' \\(${file.replace(/[.\\/]/g, "\\$&")}\\): the parameters must be an object of name: value pairs, but this is a list\\.`));
    refused({ parameters: "just text" }, "parameters", /^Input 'parameters': the parameters must be an object of name: value pairs, but this is the text 'just text'\./);
  });

  it("refuses a poll interval below 5 s and above 600 s", () => {
    refused({ pollIntervalSeconds: "4" }, "pollIntervalSeconds", /^Input 'pollIntervalSeconds' \(Longest wait between checks \(seconds\)\): 4 s is too short: the run is checked at most every 5 s/);
    refused({ pollIntervalSeconds: "601" }, "pollIntervalSeconds", "Input 'pollIntervalSeconds' (Longest wait between checks (seconds)): 601 is out of range. Use a whole number from 5 to 600.");
    assert.equal(read({ pollIntervalSeconds: "5" }).pollIntervalSeconds, 5);
  });

  it("takes a timeout in minutes with decimals, and refuses one that is not positive", () => {
    assert.equal(read({ timeoutMinutes: "0.5" }).timeoutMinutes, 0.5);
    refused({ timeoutMinutes: "0" }, "timeoutMinutes", "Input 'timeoutMinutes' (Timeout (minutes)): 0 is not positive: the run needs some time. Use a positive number of minutes, for example 60 or 0.5.");
    refused({ timeoutMinutes: "-1" }, "timeoutMinutes", /: -1 is not positive/);
    refused({ timeoutMinutes: "an hour" }, "timeoutMinutes", "Input 'timeoutMinutes' (Timeout (minutes)): 'an hour' is not a number of minutes. Use a positive number, for example 60 or 0.5.");
    refused({ timeoutMinutes: "50000" }, "timeoutMinutes", /more than 43200 minutes/);
  });

  it("refuses names Azure would refuse", () => {
    refused({ factoryName: "my_factory" }, "factoryName", /^Input 'factoryName' \(Data factory\): 'my_factory' is not a data factory name/);
    refused({ factoryName: "ab" }, "factoryName", /is not a data factory name/);
    refused({ pipelineName: "run/app" }, "pipelineName", /^Input 'pipelineName' \(Pipeline\): 'run\/app' is not a pipeline name/);
    refused({ resourceGroupName: "rg." }, "resourceGroupName", /is not a resource group name/);
  });

  it("leaves the live log and strict pre-flight off when their parents are off", () => {
    const i = read({ waitForCompletion: "false", preflight: "false", strictPreflight: "true" });
    assert.equal(i.streamActivityLogs, false);
    assert.equal(i.strictPreflight, false);
  });
});
