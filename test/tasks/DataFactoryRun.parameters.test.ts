import { strict as assert } from "node:assert";
import type { PipelineResource } from "@azure/arm-datafactory";
import { InputError } from "../../runtime/errors";
import { closestNames, editDistance, unknownNameError } from "../../tasks/DataFactoryRun/names";
import { combineParameters, effectiveParameters, parseParameters, validateParameters } from "../../tasks/DataFactoryRun/parameters";

const declared: PipelineResource["parameters"] = {
  runDate: { type: "String" },
  version: { type: "String", defaultValue: "latest" },
  count: { type: "Int", defaultValue: 3 },
  ratio: { type: "Float", defaultValue: 0.5 },
  dryRun: { type: "Bool", defaultValue: false },
  files: { type: "Array", defaultValue: [] },
  settings: { type: "Object", defaultValue: {} },
  apiKey: { type: "SecureString", defaultValue: "default-secret" },
};

const inline = (text: string) => parseParameters(text, { input: "parameters" });
const validate = (text: string, decl = declared) => validateParameters([inline(text)], { pipelineName: "ingest", declared: decl });

function rejects(fn: () => unknown, ...patterns: RegExp[]): string {
  let message = "";
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof InputError, `an InputError, got ${e}`);
    message = e.message;
    return true;
  });
  for (const p of patterns) assert.match(message, p);
  return message;
}

describe("DataFactoryRun parameters", () => {
  it("reads YAML and JSON objects into the flat body Create Run takes", () => {
    const yaml = validate("runDate: '2024-05-01'\ncount: 7\ndryRun: true\nfiles: [a.csv, b.csv]\nsettings:\n  mode: full\n");
    assert.deepEqual(yaml.parameters, { runDate: "2024-05-01", count: 7, dryRun: true, files: ["a.csv", "b.csv"], settings: { mode: "full" } });
    assert.deepEqual(yaml.coercions, []);
    const json = validate('{ "runDate": "2024-05-01", "ratio": 0.25 }');
    assert.deepEqual(json.parameters, { runDate: "2024-05-01", ratio: 0.25 });
  });

  it("reads tab-indented JSON, which is not valid YAML", () => {
    assert.deepEqual(validate('{\n\t"runDate": "x",\n\t"count": 2\n}').parameters, { runDate: "x", count: 2 });
  });

  it("keeps a String parameter's text exactly as written in YAML", () => {
    const r = validate("runDate: 2024-05-01\nversion: 1.10\n");
    assert.deepEqual(r.parameters, { runDate: "2024-05-01", version: "1.10" });
    assert.deepEqual(r.coercions, ["'version': the number 1.10 taken as the String '1.10'."]);
  });

  it("takes text for Int, Float, Bool, Array and Object as a user would expect, and says so", () => {
    const r = validate('{ "runDate": "x", "count": "5", "ratio": "2.5", "dryRun": "TRUE", "files": "[\\"a\\"]", "settings": "{\\"k\\": 1}" }');
    assert.deepEqual(r.parameters, { runDate: "x", count: 5, ratio: 2.5, dryRun: true, files: ["a"], settings: { k: 1 } });
    assert.deepEqual(r.coercions, [
      "'count': the text '5' taken as the Int 5.",
      "'ratio': the text '2.5' taken as the Float 2.5.",
      "'dryRun': the text 'TRUE' taken as the Bool true.",
      "'files': the text of JSON taken as the Array.",
      "'settings': the text of JSON taken as the Object.",
    ]);
  });

  it("refuses values of the wrong type, naming the parameter and what to write", () => {
    const message = rejects(
      () => validate("runDate: x\ncount: 5.5\nratio: fast\ndryRun: yes\nfiles: a.csv\nsettings: [1]\n"),
      /^Input 'parameters': 5 parameter problems for pipeline 'ingest':/,
      /'count' is the number 5\.5, not an Int\. Write a whole number, e\.g\. 5\./,
      /'ratio' is the text 'fast', not a Float\./,
      /'dryRun' is the text 'yes', not a Bool\. Write true or false\./,
      /'files' is the text 'a\.csv', not an Array\./,
      /'settings' is a list, not an Object\./,
    );
    assert.doesNotMatch(message, /default-secret/, "a SecureString default is never shown");
  });

  it("names an unknown parameter, the closest declared one and the valid ones", () => {
    rejects(
      () => validate("rundate: x\n"),
      /'rundate' is not a parameter of the pipeline\. Did you mean 'runDate'\? Valid: 'runDate', 'version', 'count', 'ratio', 'dryRun', 'files', 'settings' and 'apiKey'\./,
      /'runDate' \(String\) is required: the pipeline declares no default for it, and it was not given\./,
    );
    rejects(() => validate("runDate: x\ncnt: 2\n"), /'cnt' is not a parameter of the pipeline\. Did you mean 'count'\?/);
    rejects(() => validate("anything: 1\n", {}), /'anything' is not a parameter of the pipeline, which declares none\. Remove it\./);
  });

  it("lists what the pipeline declares, with types and defaults, when something is wrong", () => {
    rejects(() => validate("count: 1\n"), /The pipeline declares: runDate \(String, required\), version \(String, default "latest"\), count \(Int, default 3\).*apiKey \(SecureString, default \*\*\*\)\.$/);
  });

  it("refuses a parameter without a value, naming the default that leaving it out uses", () => {
    rejects(() => validate("runDate: x\ncount:\n"), /'count' has no value\. Give one, or leave it out to use the pipeline's default 3 \(Int\)\./);
    rejects(() => validate('{"runDate": null}'), /'runDate' has no value, and the pipeline requires one \(String\)\./);
  });

  it("refuses parameters that are not an object, naming the input", () => {
    rejects(() => inline("- a\n- b\n"), /^Input 'parameters': the parameters must be an object of name: value pairs, but this is a list\./);
    rejects(() => inline("just text"), /but this is the text 'just text'\./);
    rejects(() => parseParameters("42", { input: "parametersFile", file: "params.yml" }), /^Input 'parametersFile' \(params\.yml\): .*but this is the number 42\./);
    rejects(() => inline('{ "a": 1, }x'), /^Input 'parameters': the parameters are not valid JSON: /);
    rejects(() => inline("a: 1\na: 2\n"), /not valid YAML: Map keys must be unique at line 2, column 1/);
  });

  it("treats empty text as no parameters", () => {
    assert.deepEqual(inline("  \n").values, {});
    assert.deepEqual(validateParameters([inline("")], { pipelineName: "p", declared: { a: { type: "Int", defaultValue: 1 } } }).parameters, {});
  });

  it("lets inline parameters override the file's, and says which", () => {
    const file = parseParameters("runDate: from-file\ncount: 1\n", { input: "parametersFile", file: "p.yml" });
    const { parsed, overridden } = combineParameters(file, inline("count: 2\n"));
    assert.deepEqual(overridden, ["count"]);
    assert.deepEqual(validateParameters(parsed, { pipelineName: "ingest", declared }).parameters, { runDate: "from-file", count: 2 });
    const bad = combineParameters(parseParameters("ratio: fast\n", { input: "parametersFile", file: "p.yml" }), inline("runDate: x\n"));
    rejects(() => validateParameters(bad.parsed, { pipelineName: "ingest", declared }), /^Inputs 'parametersFile' and 'parameters': parameter problem for pipeline 'ingest':\n {2}- 'ratio' is the text 'fast', not a Float\./);
  });

  it("marks SecureString parameters so the entry can mask them, without echoing the value", () => {
    const r = validate("runDate: x\napiKey: 12345\n");
    assert.deepEqual(r.secureNames, ["apiKey"]);
    assert.equal(r.parameters.apiKey, "12345");
    assert.deepEqual(r.coercions, ["'apiKey': a number taken as the SecureString."]);
  });

  it("matches declared types case-insensitively and lets unknown types through", () => {
    const r = validateParameters([inline("n: '4'\nx: anything\n")], { pipelineName: "p", declared: { n: { type: "int" }, x: { type: "Future" } } });
    assert.deepEqual(r.parameters, { n: 4, x: "anything" });
  });

  it("gives the effective parameters: defaults under the given values", () => {
    assert.deepEqual(effectiveParameters({ count: 9 }, { count: { type: "Int", defaultValue: 3 }, folder: { type: "String", defaultValue: "apps/v1" }, req: { type: "String" } }), {
      count: 9,
      folder: "apps/v1",
    });
  });
});

describe("DataFactoryRun close names", () => {
  it("measures edits, a swap of neighbours as one", () => {
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("ingest", "ignest"), 1);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("same", "same"), 0);
  });

  it("ranks a case-only difference first and leaves far names out", () => {
    assert.deepEqual(closestNames("RunDate", ["rundate", "runDates", "other"]), ["rundate"]);
    assert.deepEqual(closestNames("RunDate", ["runDates", "runDate2", "other"]), ["runDate2", "runDates"]);
    assert.deepEqual(closestNames("xyz", ["ingest", "publish"]), []);
  });

  it("names an unknown pipeline with the closest names and the factory's list", () => {
    const e = unknownNameError({ input: "pipelineName", kind: ["pipeline", "pipelines"], name: "ingest-dayly", scope: "factory 'release-adf'", available: ["publish", "ingest-daily", "ingest-hourly"] });
    assert.ok(e instanceof InputError);
    assert.equal(e.input, "pipelineName");
    assert.equal(
      e.message,
      "Input 'pipelineName': pipeline 'ingest-dayly' does not exist in factory 'release-adf'. Did you mean 'ingest-daily'? Factory 'release-adf' has 3 pipelines: 'ingest-daily', 'ingest-hourly' and 'publish'.",
    );
    const none = unknownNameError({ input: "factoryName", kind: ["factory", "factories"], name: "adf", scope: "resource group 'rg'", available: [] });
    assert.equal(none.message, "Input 'factoryName': factory 'adf' does not exist in resource group 'rg'. Resource group 'rg' has no factories.");
  });
});
