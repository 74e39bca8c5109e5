import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "../../runtime/errors";
import { parseApplicationPackages, readAutoscaleInputs, type AutoscaleSettings } from "../../tasks/BatchPoolAutoscale/inputs";
import { scaleFromZeroFormula } from "../../tasks/BatchPoolAutoscale/template";

const FILES: Record<string, string> = {
  "autoscale/formula.txt": "\uFEFF$TargetDedicatedNodes = 2;\r\n$NodeDeallocationOption = taskcompletion;\r\n",
  "autoscale/empty.txt": "  \n",
};

function read(inputs: Record<string, string>): AutoscaleSettings {
  return readAutoscaleInputs({
    get: (name) => inputs[name],
    readFile: (path) => {
      if (!(path in FILES)) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return FILES[path];
    },
  });
}

/** Asserts the exact message and the input it names. */
function refused(inputs: Record<string, string>, input: string, message: string): void {
  assert.throws(
    () => read(inputs),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.message, message);
      assert.equal(e.input, input);
      return true;
    },
  );
}

describe("BatchPoolAutoscale inputs", () => {
  describe("the formula", () => {
    it("uses the scaleFromZero template with its defaults when nothing is set", () => {
      const s = read({});
      assert.deepEqual(s.formulaSource, {
        kind: "template",
        template: "scaleFromZero",
        settings: { maxNodes: 10, samplingMinutes: 5, averageTaskSeconds: 60, targetSeconds: 600, lowPriority: "none" },
      });
      assert.equal(s.formula, scaleFromZeroFormula({ maxNodes: 10, samplingMinutes: 5, averageTaskSeconds: 60, targetSeconds: 600, lowPriority: "none" }));
      assert.equal(s.evaluationInterval, "PT5M");
      assert.equal(s.evaluationIntervalMinutes, 5);
      assert.equal(s.dryRun, false);
      assert.equal(s.startTask, undefined);
      assert.equal(s.applicationPackages, undefined);
      assert.deepEqual(s.secrets, []);
    });

    it("passes the template's settings through", () => {
      const s = read({ formulaTemplate: "scaleFromZero", maxNodes: "25", samplingMinutes: "15", averageTaskSeconds: "90.5", targetSeconds: "1200", lowPriority: "Mix", mixDedicatedNodes: "3" });
      assert.deepEqual(s.formulaSource.kind === "template" && s.formulaSource.settings, { maxNodes: 25, samplingMinutes: 15, averageTaskSeconds: 90.5, targetSeconds: 1200, lowPriority: "mix", mixDedicatedNodes: 3 });
      assert.match(s.formula, /^mixDedicatedNodes = 3;$/m);
    });

    it("takes an inline formula as written, even beside the template picklist's default", () => {
      const formula = "$TargetDedicatedNodes = 1;\n";
      const s = read({ formula, formulaTemplate: "scaleFromZero", lowPriority: "none" });
      assert.equal(s.formula, formula);
      assert.deepEqual(s.formulaSource, { kind: "inline" });
    });

    it("reads a formula file, without its byte order mark", () => {
      const s = read({ formulaFile: "autoscale/formula.txt" });
      assert.equal(s.formula, "$TargetDedicatedNodes = 2;\r\n$NodeDeallocationOption = taskcompletion;\r\n");
      assert.deepEqual(s.formulaSource, { kind: "file", path: "autoscale/formula.txt" });
    });

    it("keeps lint warnings for the log", () => {
      const s = read({ formula: "$TargetDedicatedNodes = $UsableNodeCount;" });
      assert.equal(s.lintWarnings.length, 1);
    });

    it("refuses formula and formulaFile together", () => {
      refused({ formula: "$TargetDedicatedNodes = 1;", formulaFile: "autoscale/formula.txt" }, "formulaFile", "Input 'formulaFile': set either formula (the formula itself) or formulaFile (a file holding it), not both.");
    });

    it("refuses template settings beside a formula, which would be ignored", () => {
      refused(
        { formula: "$TargetDedicatedNodes = 1;", maxNodes: "20" },
        "maxNodes",
        "Input 'maxNodes': it applies only to formulaTemplate: scaleFromZero, but formula is set. Remove maxNodes, or remove formula to use the template.",
      );
      refused(
        { formulaFile: "autoscale/formula.txt", lowPriority: "all" },
        "lowPriority",
        "Input 'lowPriority': it applies only to formulaTemplate: scaleFromZero, but formulaFile is set. Remove lowPriority, or remove formulaFile to use the template.",
      );
    });

    it("refuses formulaTemplate none without a formula, and an unknown template", () => {
      refused({ formulaTemplate: "none" }, "formulaTemplate", "Input 'formulaTemplate': with 'none', set formula (the formula itself) or formulaFile (a file holding it); or use 'scaleFromZero'.");
      refused({ formulaTemplate: "scaleToZero" }, "formulaTemplate", "Input 'formulaTemplate': 'scaleToZero' is not one of 'scaleFromZero', 'none'.");
    });

    it("refuses a formula file that cannot be read or is empty", () => {
      refused(
        { formulaFile: "autoscale/missing.txt" },
        "formulaFile",
        "Input 'formulaFile': cannot read 'autoscale/missing.txt': ENOENT: no such file or directory, open 'autoscale/missing.txt'. Give the path of a text file holding the formula.",
      );
      refused({ formulaFile: "autoscale/empty.txt" }, "formulaFile", "Input 'formulaFile': 'autoscale/empty.txt' is empty. It should hold the autoscale formula.");
    });

    it("refuses a formula the lint finds wrong, with every error's line and column", () => {
      refused(
        { formula: "a = 1 b = 2;\n$TargetDedicatedNode = a;" },
        "formula",
        "Input 'formula': the autoscale formula has 2 errors:\n  Line 1, Col 7: ';' is missing before 'b': Batch needs a ';' between statements.\n  Line 2, Col 1: $TargetDedicatedNode is not a system variable: did you mean $TargetDedicatedNodes?",
      );
      FILES["autoscale/broken.txt"] = "$TargetDedicatedNodes = min(2, 3;\n";
      refused({ formulaFile: "autoscale/broken.txt" }, "formulaFile", "Input 'formulaFile': the autoscale formula has an error:\n  Line 1, Col 28: this '(' is never closed: add ')' before the end of the statement.");
    });
  });

  describe("numbers", () => {
    it("refuses an evaluation interval outside 5 minutes to 168 hours", () => {
      const why = " (Batch evaluates a formula at most every 5 minutes and at least every 168 hours)";
      refused({ evaluationIntervalMinutes: "4" }, "evaluationIntervalMinutes", `Input 'evaluationIntervalMinutes': 4 is out of range. Use a whole number from 5 to 10080${why}.`);
      refused({ evaluationIntervalMinutes: "10081" }, "evaluationIntervalMinutes", `Input 'evaluationIntervalMinutes': 10081 is out of range. Use a whole number from 5 to 10080${why}.`);
      refused({ evaluationIntervalMinutes: "7.5" }, "evaluationIntervalMinutes", `Input 'evaluationIntervalMinutes': '7.5' is not a whole number. Use a whole number from 5 to 10080${why}.`);
      assert.equal(read({ evaluationIntervalMinutes: "10080" }).evaluationInterval, "PT10080M");
    });

    it("refuses maxNodes that is not a positive whole number up to 1000", () => {
      const why = " (a pool needing more nodes can use its own formula)";
      refused({ maxNodes: "0" }, "maxNodes", `Input 'maxNodes': 0 is out of range. Use a whole number from 1 to 1000${why}.`);
      refused({ maxNodes: "ten" }, "maxNodes", `Input 'maxNodes': 'ten' is not a whole number. Use a whole number from 1 to 1000${why}.`);
      refused({ maxNodes: "1001" }, "maxNodes", `Input 'maxNodes': 1001 is out of range. Use a whole number from 1 to 1000${why}.`);
    });

    it("refuses a sampling window under 2 minutes", () => {
      refused(
        { samplingMinutes: "1" },
        "samplingMinutes",
        "Input 'samplingMinutes': 1 is out of range. Use a whole number from 2 to 1440 (samples come every 30 seconds and take about a minute to appear, so a shorter window seldom holds the 70% of samples the formula needs).",
      );
    });

    it("refuses task seconds that are not positive numbers", () => {
      refused({ averageTaskSeconds: "0" }, "averageTaskSeconds", "Input 'averageTaskSeconds': 0 is not positive. Use a positive number of seconds, at most 604800.");
      refused({ averageTaskSeconds: "-5" }, "averageTaskSeconds", "Input 'averageTaskSeconds': '-5' is not a number. Use a positive number of seconds (for example 60 or 2.5), at most 604800.");
      refused({ targetSeconds: "1e3" }, "targetSeconds", "Input 'targetSeconds': '1e3' is not a number. Use a positive number of seconds (for example 60 or 2.5), at most 604800.");
      refused({ targetSeconds: "604801" }, "targetSeconds", "Input 'targetSeconds': 604801 is too large. Use at most 604800 seconds.");
      refused({ targetSeconds: "0.0001" }, "targetSeconds", "Input 'targetSeconds': 0.0001 is too small. Use at least 0.001 seconds.");
    });

    it("refuses a low-priority mode and a mix size that do not fit", () => {
      refused({ lowPriority: "some" }, "lowPriority", "Input 'lowPriority': 'some' is not one of 'none', 'all', 'mix'.");
      refused(
        { lowPriority: "mix", maxNodes: "4", mixDedicatedNodes: "5" },
        "mixDedicatedNodes",
        "Input 'mixDedicatedNodes': 5 is out of range. Use a whole number from 1 to 4 (at most maxNodes, 4; for no dedicated nodes use lowPriority: all).",
      );
      refused({ lowPriority: "all", mixDedicatedNodes: "2" }, "mixDedicatedNodes", "Input 'mixDedicatedNodes': it applies only to lowPriority: mix (lowPriority is 'all').");
    });

    it("refuses a dryRun that is not a boolean", () => {
      refused({ dryRun: "maybe" }, "dryRun", "Input 'dryRun': 'maybe' is not a boolean. Use true or false.");
      assert.equal(read({ dryRun: "True" }).dryRun, true);
    });

    it("names an input by its label when the entry gives one", () => {
      assert.throws(
        () => readAutoscaleInputs({ get: (n) => (n === "maxNodes" ? "0" : undefined), describe: (n) => `'${n}' (Maximum nodes)` }),
        /^InputError: Input 'maxNodes' \(Maximum nodes\): 0 is out of range/,
      );
    });
  });

  describe("the start task", () => {
    it("builds a pool-scoped, elevated start task from a container prefix", () => {
      const s = read({
        startTaskCommandLine: '/bin/bash -c "apt-get update && apt-get install -y python3 python3-pip"',
        startTaskElevated: "true",
        startTaskResourceContainer: "setup",
        startTaskResourcePrefix: "scripts/",
        startTaskResourcePath: "setup",
        startTaskMaxRetries: "2",
      });
      assert.deepEqual(s.startTask, {
        commandLine: '/bin/bash -c "apt-get update && apt-get install -y python3 python3-pip"',
        userIdentity: { autoUser: { scope: "pool", elevationLevel: "admin" } },
        maxTaskRetryCount: 2,
        waitForSuccess: true,
        resourceFiles: [{ autoStorageContainerName: "setup", blobPrefix: "scripts/", filePath: "setup" }],
      });
    });

    it("takes a container URL and hands its SAS to be masked", () => {
      const url = "https://store.blob.core.windows.net/setup?sv=2022-11-02&sp=rl&sig=abc%3D";
      const s = read({ startTaskCommandLine: "./install.sh", startTaskResourceContainer: url, startTaskWaitForSuccess: "false" });
      assert.deepEqual(s.startTask, {
        commandLine: "./install.sh",
        userIdentity: { autoUser: { scope: "pool", elevationLevel: "nonadmin" } },
        maxTaskRetryCount: 0,
        waitForSuccess: false,
        resourceFiles: [{ storageContainerUrl: url }],
      });
      assert.deepEqual(s.secrets, [url, "sv=2022-11-02&sp=rl&sig=abc%3D"]);
    });

    it("refuses start task settings without a command line", () => {
      refused({ startTaskElevated: "true" }, "startTaskElevated", "Input 'startTaskElevated': it applies to the start task, but startTaskCommandLine is not set. Set startTaskCommandLine, or remove this input.");
      refused({ startTaskResourceContainer: "setup" }, "startTaskResourceContainer", "Input 'startTaskResourceContainer': it applies to the start task, but startTaskCommandLine is not set. Set startTaskCommandLine, or remove this input.");
      // The defaults the agent fills in are not an error.
      assert.equal(read({ startTaskElevated: "false", startTaskWaitForSuccess: "true", startTaskMaxRetries: "0" }).startTask, undefined);
    });

    it("refuses a bad command line, retry count, container, prefix or path", () => {
      const cmd = { startTaskCommandLine: "./install.sh" };
      refused(
        { startTaskCommandLine: "apt-get update\napt-get install -y python3" },
        "startTaskCommandLine",
        'Input \'startTaskCommandLine\': the command line must be one line. For several commands use a shell, for example /bin/bash -c "apt-get update && apt-get install -y python3".',
      );
      refused({ ...cmd, startTaskMaxRetries: "-2" }, "startTaskMaxRetries", "Input 'startTaskMaxRetries': -2 is out of range. Use a whole number from -1 to 100 (-1 retries without limit, which Batch does not recommend for a start task).");
      refused(
        { ...cmd, startTaskResourceContainer: "Setup_Files" },
        "startTaskResourceContainer",
        "Input 'startTaskResourceContainer': 'Setup_Files' is not a container name (3-63 lowercase letters, digits and single hyphens) of the Batch account's auto-storage account, nor an https:// container URL.",
      );
      refused({ ...cmd, startTaskResourceContainer: "http://store.blob.core.windows.net/setup" }, "startTaskResourceContainer", "Input 'startTaskResourceContainer': use an https:// container URL, not http://.");
      refused({ ...cmd, startTaskResourceContainer: "https://" }, "startTaskResourceContainer", "Input 'startTaskResourceContainer': it is neither a container name nor a valid URL.");
      refused({ ...cmd, startTaskResourcePrefix: "scripts/" }, "startTaskResourcePrefix", "Input 'startTaskResourcePrefix': it selects blobs in startTaskResourceContainer, which is not set.");
      refused({ ...cmd, startTaskResourcePath: "setup" }, "startTaskResourcePath", "Input 'startTaskResourcePath': it places the files of startTaskResourceContainer, which is not set.");
      refused({ ...cmd, startTaskResourceContainer: "setup", startTaskResourcePrefix: "/scripts" }, "startTaskResourcePrefix", "Input 'startTaskResourcePrefix': '/scripts' starts with '/': a blob prefix is relative to the container (for example 'setup/').");
      refused(
        { ...cmd, startTaskResourceContainer: "setup", startTaskResourcePath: "../bin" },
        "startTaskResourcePath",
        "Input 'startTaskResourcePath': '../bin' must be a relative folder inside the start task's working directory (no leading '/', drive or '..').",
      );
      refused({ ...cmd, startTaskElevated: "sometimes" }, "startTaskElevated", "Input 'startTaskElevated': 'sometimes' is not a boolean. Use true or false.");
    });
  });

  describe("application packages", () => {
    const fail = (message: string): never => {
      throw new Error(message);
    };

    it("parses 'app' and 'app:version', one per line, skipping blanks and comments", () => {
      assert.deepEqual(parseApplicationPackages("python-app:1.4.2\r\n\n# tools\n tools \n", fail), [{ application: "python-app", version: "1.4.2" }, { application: "tools" }]);
      assert.equal(parseApplicationPackages("# none\n", fail), undefined);
      assert.equal(parseApplicationPackages(undefined, fail), undefined);
      assert.deepEqual(read({ applicationPackages: "app:2" }).applicationPackages, [{ application: "app", version: "2" }]);
    });

    it("refuses bad names, bad versions, duplicates and more than 10", () => {
      refused({ applicationPackages: "my app" }, "applicationPackages", "Input 'applicationPackages': line 1, 'my app': 'my app' is not an application name (1-64 letters, digits, '-' and '_'). Write 'app' or 'app:version', one per line.");
      refused(
        { applicationPackages: "app\nother:.1" },
        "applicationPackages",
        "Input 'applicationPackages': line 2, 'other:.1': '.1' is not a version (1-64 letters, digits, '-', '_' and '.', not starting with '.'). Write 'app' for the default version or 'app:version'.",
      );
      refused({ applicationPackages: "app:" }, "applicationPackages", "Input 'applicationPackages': line 1, 'app:': '' is not a version (1-64 letters, digits, '-', '_' and '.', not starting with '.'). Write 'app' for the default version or 'app:version'.");
      refused({ applicationPackages: "app:1\nApp:2" }, "applicationPackages", "Input 'applicationPackages': line 2, 'App:2': application 'App' is listed twice; a pool references each application once.");
      const eleven = Array.from({ length: 11 }, (_, i) => `app${i}`).join("\n");
      refused({ applicationPackages: eleven }, "applicationPackages", "Input 'applicationPackages': 11 packages are listed; Batch allows at most 10 on a pool.");
      assert.equal(read({ applicationPackages: eleven.split("\n").slice(0, 10).join("\n") }).applicationPackages?.length, 10);
    });
  });

  it("asks only for inputs that task.json declares, and task.json gives the template's inputs no default", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "tasks", "BatchPoolAutoscale", "task.json"), "utf8")) as { inputs: { name: string; defaultValue?: string }[] };
    const declared = new Map(manifest.inputs.map((i) => [i.name, i]));
    const asked = new Set<string>();
    const scenarios: Record<string, string>[] = [
      {},
      { lowPriority: "mix", mixDedicatedNodes: "2" },
      { formula: "$TargetDedicatedNodes = 1;" },
      { formulaFile: "autoscale/formula.txt" },
      { startTaskCommandLine: "/bin/sh -c true", startTaskResourceContainer: "setup", startTaskResourcePrefix: "s/", startTaskResourcePath: "p" },
      { applicationPackages: "app" },
    ];
    for (const inputs of scenarios) {
      readAutoscaleInputs({ get: (name) => (asked.add(name), inputs[name]), readFile: (p) => FILES[p] });
    }
    for (const name of asked) assert.ok(declared.has(name), `readAutoscaleInputs reads '${name}', which task.json does not declare`);
    assert.ok(asked.size >= 19, [...asked].join(", "));
    // A default the agent fills in could not be told from a value the user set beside a formula.
    for (const name of ["maxNodes", "samplingMinutes", "averageTaskSeconds", "targetSeconds", "lowPriority", "mixDedicatedNodes"]) {
      assert.equal(declared.get(name)?.defaultValue, undefined, name);
    }
  });
});
