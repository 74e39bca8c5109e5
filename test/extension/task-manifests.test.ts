/**
 * Every task.json against the official task schema, plus the consistency the
 * schema cannot express: visible rules, groups and data source bindings name
 * inputs that exist; inputs and outputs are unique; both Node handlers.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv-draft-04";
import { REPO_ROOT } from "../harness/run-task";
import { skipUnavailable, taskSchemaFile } from "../shared-files";

/** The official schema: TASK_SCHEMA_FILE, ../shared/schemas or the fetched cache; its tests are pending without it. */
const schema = taskSchemaFile();

interface TaskInput {
  name: string;
  label: string;
  type: string;
  groupName?: string;
  visibleRule?: string;
  defaultValue?: string | boolean;
  options?: Record<string, string>;
  aliases?: string[];
}
interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  version: { Major: number; Minor: number; Patch: number };
  inputs: TaskInput[];
  groups?: { name: string; visibleRule?: string }[];
  dataSourceBindings?: { target?: string; endpointId?: string; endpointUrl?: string }[];
  outputVariables?: { name: string }[];
  execution: Record<string, { target: string }>;
  minimumAgentVersion: string;
}

const taskNames = fs.readdirSync(path.join(REPO_ROOT, "tasks")).filter((n) => fs.existsSync(path.join(REPO_ROOT, "tasks", n, "task.json")));

/** Input names a visible rule refers to: `a = x && b != y || c NotEndsWith z`. */
export function namesInVisibleRule(rule: string): string[] {
  return rule
    .split(/&&|\|\|/)
    .map((clause) => clause.trim().split(/\s*(?:==|!=|=|<=|>=|<|>|\s(?:NotEndsWith|EndsWith|NotContains|Contains|NotStartsWith|StartsWith|NotIn|In)\s)\s*/)[0].trim())
    .filter(Boolean);
}

describe("task manifests", () => {
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  const validate = schema.found ? ajv.compile(JSON.parse(fs.readFileSync(schema.path, "utf8"))) : undefined;

  it("finds the tasks", () => assert.ok(taskNames.includes("BatchAppBlobCopy")));

  it("a visible rule parser that finds names (and so can fail)", () => {
    assert.deepEqual(namesInVisibleRule("authType = sas && deleteStale == true || mode NotEndsWith x"), ["authType", "deleteStale", "mode"]);
  });

  for (const name of taskNames) {
    describe(name, () => {
      const task = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "tasks", name, "task.json"), "utf8")) as TaskJson;
      const inputNames = new Set(task.inputs.map((i) => i.name));

      describe("the official task.json schema", () => {
        before(function () {
          skipUnavailable(this, schema);
        });
        it("validates against it", () => {
          assert.ok(validate, "the schema is compiled");
          const ok = validate(task);
          assert.ok(ok, JSON.stringify(validate.errors, null, 2));
        });
      });

      it("has a friendly name tfx accepts also in the dev variant (at most 40 characters with ' (dev)')", () => {
        const friendlyName = (task as TaskJson & { friendlyName: string }).friendlyName;
        assert.ok(`${friendlyName} (dev)`.length <= 40, `'${friendlyName}' is ${friendlyName.length} characters`);
      });

      it("has unique input and output names and matching folder name", () => {
        assert.equal(task.name, name);
        // tfx refuses a friendlyName over 40 characters (the schema does not say so), and the dev package adds " (dev)".
        assert.ok(task.friendlyName.length <= 34, `friendlyName '${task.friendlyName}' is ${task.friendlyName.length} characters; tfx allows 40, less the dev variant's " (dev)"`);
        assert.equal(inputNames.size, task.inputs.length);
        const outputs = (task.outputVariables ?? []).map((o) => o.name);
        assert.equal(new Set(outputs).size, outputs.length);
      });

      it("runs on Node20_1 and Node24 with a matching minimum agent version", () => {
        assert.deepEqual(Object.keys(task.execution).sort(), ["Node20_1", "Node24"]);
        for (const handler of Object.values(task.execution)) assert.equal(handler.target, "index.js");
        // Node20_1 needs agent 3.232.1; agents that also have Node24 pick it.
        assert.equal(task.minimumAgentVersion, "3.232.1");
      });

      it("refers only to inputs and groups that exist", () => {
        const groups = new Set((task.groups ?? []).map((g) => g.name));
        for (const input of task.inputs) {
          if (input.groupName) assert.ok(groups.has(input.groupName), `${input.name}: group '${input.groupName}'`);
          for (const ref of input.visibleRule ? namesInVisibleRule(input.visibleRule) : []) assert.ok(inputNames.has(ref), `${input.name}: visibleRule names '${ref}'`);
          if (input.type === "pickList" || input.type === "radio") {
            if (input.options && input.defaultValue !== undefined && input.defaultValue !== "") {
              assert.ok(String(input.defaultValue) in input.options, `${input.name}: default '${input.defaultValue}' is one of its options`);
            }
          }
        }
        for (const group of task.groups ?? []) for (const ref of group.visibleRule ? namesInVisibleRule(group.visibleRule) : []) assert.ok(inputNames.has(ref), `group ${group.name}: '${ref}'`);
        for (const binding of task.dataSourceBindings ?? []) {
          if (binding.target) assert.ok(inputNames.has(binding.target), `binding target '${binding.target}'`);
          const endpoint = /^\$\((\w+)\)$/.exec(binding.endpointId ?? "")?.[1];
          if (endpoint) assert.ok(inputNames.has(endpoint), `binding endpoint '${endpoint}'`);
          for (const m of (binding.endpointUrl ?? "").matchAll(/\{\{\{?(\w+)\}?\}\}/g)) {
            if (m[1] !== "endpoint") assert.ok(inputNames.has(m[1]), `binding URL names '${m[1]}'`);
          }
        }
      });

      it("declares in task.json every input the entry reads", () => {
        const sources = fs
          .readdirSync(path.join(REPO_ROOT, "tasks", name))
          .filter((f) => f.endsWith(".ts"))
          .map((f) => fs.readFileSync(path.join(REPO_ROOT, "tasks", name, f), "utf8"))
          .join("\n");
        const read = [...sources.matchAll(/reader\.(?:string|optionalString|bool|int|optionalInt|pick|lines|fail|describe)\("(\w+)"/g)].map((m) => m[1]);
        assert.ok(read.length > 0);
        for (const input of read) assert.ok(inputNames.has(input), `the entry reads '${input}', which task.json does not declare`);
      });
    });
  }
});
