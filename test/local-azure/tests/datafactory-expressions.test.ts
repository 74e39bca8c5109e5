/**
 * The local Data Factory's expression language on the expressions the
 * release pipeline uses (examples/data-factory) and ADF's documented rules:
 * whole-string `@` keeps the type, `@{}` interpolates to a string, `@@`
 * escapes, functions by name with a clear error for any it does not know.
 */
import { strict as assert } from "node:assert";
import { evaluateString, evaluateValue, ExpressionError, type ExpressionContext } from "../datafactory/expressions";
import { releasePipeline } from "../datafactory/seed";
import type { JsonObject } from "../datafactory/types";

const ctx = (parameters: JsonObject = {}, dataset?: JsonObject): ExpressionContext => ({
  pipeline: { RunId: "d84a33a0-0000-4000-8000-000000000001", Pipeline: "run-batch-app", DataFactory: "release-adf", parameters },
  activity: (name) => (name === "RunApp" ? { output: { customOutput: { rows: 4 }, outputs: ["https://x/stdout.txt"] } } : undefined),
  dataset,
});

function fails(text: string, pattern: RegExp, context = ctx()): void {
  assert.throws(
    () => evaluateString(text, context),
    (e: unknown) => e instanceof ExpressionError && e.errorCode === "InvalidTemplate" && pattern.test(e.message),
    text,
  );
}

describe("local Data Factory: expressions", () => {
  it("evaluates what examples/data-factory's pipeline uses, from the file itself", () => {
    const pipeline = releasePipeline();
    const copy = pipeline.activities!.find((a) => a.type === "Copy")!;
    const custom = pipeline.activities!.find((a) => a.type === "Custom")!;
    const c = ctx({ appFolder: "apps/app/20261203.1", releaseRunId: "17" });
    const outputs = evaluateValue(copy.outputs as JsonObject[], c) as { parameters: JsonObject }[];
    assert.deepEqual(outputs[0].parameters, { container: "apps", folder: "app/20261203.1/staged-input" });
    const tp = evaluateValue(custom.typeProperties as JsonObject, c) as JsonObject;
    assert.equal(tp.folderPath, "apps/app/20261203.1");
    assert.equal(tp.command, `/bin/sh -c 'python3 "\${AZ_BATCH_APP_PACKAGE_batchapp:-.}/app.py" --run-id "d84a33a0-0000-4000-8000-000000000001"'`);
    assert.deepEqual(tp.extendedProperties, { releaseRunId: "17" });
  });

  it("keeps the type of a whole @ expression and makes a string of @{} interpolation", () => {
    const c = ctx({ n: 42, flag: true, list: ["a", "b"] });
    assert.equal(evaluateString("@pipeline().parameters.n", c), 42);
    assert.equal(evaluateString("@{pipeline().parameters.n}", c), "42");
    assert.equal(evaluateString("Answer is: @{pipeline().parameters.n}", c), "Answer is: 42");
    assert.equal(evaluateString("@pipeline().parameters.flag", c), true);
    assert.deepEqual(evaluateString("@pipeline().parameters.list", c), ["a", "b"]);
    assert.equal(evaluateString("run @{pipeline().RunId} of @{pipeline().Pipeline}", c), "run d84a33a0-0000-4000-8000-000000000001 of run-batch-app");
    // A bare @ in the middle of a string is text; @@ escapes a leading @.
    assert.equal(evaluateString("python3 app.py @pipeline().RunId", c), "python3 app.py @pipeline().RunId");
    assert.equal(evaluateString("@@pipeline()", c), "@pipeline()");
    assert.equal(evaluateString("@concat('python main.py ', string(pipeline().parameters.n))", c), "python main.py 42");
    assert.equal(evaluateString("@activity('RunApp').output.customOutput.rows", c), 4);
    assert.equal(evaluateString("@activity('RunApp').output.outputs[0]", c), "https://x/stdout.txt");
    assert.equal(evaluateString("@concat('it''s ', 'quoted')", c), "it's quoted");
  });

  it("has the collection and string functions, with ADF's case rules", () => {
    const c = ctx({ path: "apps/app/1.2" });
    assert.deepEqual(evaluateString("@split(pipeline().parameters.path, '/')", c), ["apps", "app", "1.2"]);
    assert.equal(evaluateString("@first(split(pipeline().parameters.path, '/'))", c), "apps");
    assert.equal(evaluateString("@last(split(pipeline().parameters.path, '/'))", c), "1.2");
    assert.equal(evaluateString("@join(skip(split(pipeline().parameters.path, '/'), 1), '-')", c), "app-1.2");
    assert.deepEqual(evaluateString("@take(createArray(1, 2, 3), 2)", c), [1, 2]);
    assert.equal(evaluateString("@first('')", c), null);
    assert.equal(evaluateString("@startsWith('Apps/x', 'apps')", c), true);
    assert.equal(evaluateString("@endsWith('data.CSV', '.csv')", c), true);
    assert.equal(evaluateString("@indexOf('Hello', 'L')", c), 2);
    assert.equal(evaluateString("@substring('release', 2, 3)", c), "lea");
    assert.equal(evaluateString("@contains(split(pipeline().parameters.path, '/'), 'app')", c), true);
    assert.equal(evaluateString("@empty(skip(createArray(1), 1))", c), true);
    assert.equal(evaluateString("@div(7, 2)", c), 3);
    assert.equal(evaluateString("@div(7, 2.5)", c), 2.8);
    assert.equal(evaluateString("@max(3, 9, 4)", c), 9);
    assert.equal(evaluateString("@greater(length(pipeline().parameters.path), 5)", c), true);
    assert.equal(evaluateString("@base64ToString(base64('adf'))", c), "adf");
  });

  it("reads dataset() only in a dataset's properties", () => {
    assert.equal(evaluateString("@dataset().container", ctx({}, { container: "apps" })), "apps");
    fails("@dataset().container", /^The template function 'dataset' is not defined or not valid: dataset\(\) is only available in a dataset's properties/);
  });

  it("refuses what it does not know or cannot do, naming it", () => {
    fails("@formatDateTime(utcnow(), 'yyyy')", /^The template function 'formatDateTime' is not defined or not valid\. Expression: 'formatDateTime\(utcnow\(\), 'yyyy'\)'\.$/);
    fails("@pipeline().parameters.missing", /property 'missing' doesn't exist, available properties are 'path'/, ctx({ path: "x" }));
    fails("@substring('abc', 2, 5)", /'substring' was invoked with a start index 2 and length 5 outside the string of length 3/);
    fails("@activity('Later').output", /the activity 'Later' has not run or does not exist/);
    fails("@{pipeline().RunId", /the string interpolation is not closed/);
    fails("@split(createArray(1), ',')", /'split' expects its parameter to be a string/);
  });
});
