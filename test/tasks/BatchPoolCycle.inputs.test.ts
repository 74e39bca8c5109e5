import { strict as assert } from "node:assert";
import { InputError } from "../../runtime/errors";
import {
  checkMethodForPool,
  nodeOptionsFor,
  parseNodeCount,
  parsePoolCycleInputs,
  parsePoolIds,
  parsePositiveMinutes,
  resolveNodeCount,
} from "../../tasks/BatchPoolCycle/inputs";
import { applicationDirectories, describeMissing, installedVersions, isPackageDirectory, nodePackageStatus, resolvePackageReferences } from "../../tasks/BatchPoolCycle/outdated";

const refused = (fn: () => unknown, input: string, text: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    assert.equal(e.input, input);
    assert.match(e.message, new RegExp(`^Input '${input}'`));
    assert.match(e.message, text);
    return true;
  });

const pick = (o: { pollInitialSeconds?: number; pollMaxSeconds?: number }) => ({ pollInitialSeconds: o.pollInitialSeconds, pollMaxSeconds: o.pollMaxSeconds });

describe("BatchPoolCycle inputs", () => {
  it("takes maxUnavailable as a count or a percentage of the current nodes, rounded down but at least 1", () => {
    assert.deepEqual(parseNodeCount("maxUnavailable", "5"), { kind: "count", count: 5 });
    assert.deepEqual(parseNodeCount("maxUnavailable", " 25% "), { kind: "percent", percent: 25 });
    assert.equal(resolveNodeCount(parseNodeCount("maxUnavailable", "25%"), 20), 5);
    assert.equal(resolveNodeCount(parseNodeCount("maxUnavailable", "25%"), 7), 1);
    assert.equal(resolveNodeCount(parseNodeCount("maxUnavailable", "10%"), 3), 1);
    assert.equal(resolveNodeCount(parseNodeCount("maxUnavailable", "100%"), 3), 3);
    assert.equal(resolveNodeCount(parseNodeCount("maxSurge", "3"), 2), 3);
  });

  it("refuses 0, negative, non-numbers and bad percentages, naming the input and what is valid", () => {
    for (const v of ["0", "-2", "0%"]) refused(() => parseNodeCount("maxUnavailable", v), "maxUnavailable", /at least 1|not a valid percentage/);
    refused(() => parseNodeCount("maxUnavailable", "five"), "maxUnavailable", /'five' is not a number or a percentage\. Use a whole number of nodes of at least 1 .* or a percentage/);
    refused(() => parseNodeCount("maxSurge", "150%"), "maxSurge", /'150%' is not a valid percentage/);
    refused(() => parseNodeCount("maxSurge", "1.5"), "maxSurge", /not a number or a percentage/);
  });

  it("takes timeouts as positive numbers of minutes only", () => {
    assert.equal(parsePositiveMinutes("timeoutMinutes", "90"), 90);
    assert.equal(parsePositiveMinutes("batchTimeoutMinutes", "0.5"), 0.5);
    for (const v of ["0", "-5", "abc", ""]) refused(() => parsePositiveMinutes("timeoutMinutes", v), "timeoutMinutes", /is not a positive number of minutes/);
    refused(() => parsePositiveMinutes("timeoutMinutes", "20000"), "timeoutMinutes", /more than 7 days/);
  });

  it("takes the poll interval as 1 to 300 seconds; the first check comes after 5 s or the interval when shorter", () => {
    assert.deepEqual(pick(parsePoolCycleInputs({ poolIds: "p", pollIntervalSeconds: "2.5" }).options), { pollInitialSeconds: 2.5, pollMaxSeconds: 2.5 });
    assert.deepEqual(pick(parsePoolCycleInputs({ poolIds: "p", pollIntervalSeconds: "60" }).options), { pollInitialSeconds: 5, pollMaxSeconds: 60 });
    for (const v of ["0", "0.5", "301", "-1", "often"]) refused(() => parsePoolCycleInputs({ poolIds: "p", pollIntervalSeconds: v }), "pollIntervalSeconds", new RegExp(`'${v}' is not a number of seconds from 1 to 300`));
  });

  it("reads every input with its default and checks method and whenTasksRunning against their options", () => {
    const { poolIds, options } = parsePoolCycleInputs({ poolIds: "adf-pool" });
    assert.deepEqual(poolIds, ["adf-pool"]);
    assert.deepEqual(options, {
      method: "reboot",
      whenTasksRunning: "taskcompletion",
      maxUnavailable: { kind: "count", count: 1 },
      maxSurge: { kind: "count", count: 1 },
      drain: true,
      onlyOutdated: false,
      batchTimeoutMinutes: 30,
      timeoutMinutes: 120,
      pollInitialSeconds: 5,
      pollMaxSeconds: 30,
    });
    const custom = parsePoolCycleInputs({ poolIds: "p", method: "Surge", whenTasksRunning: "RetainedData", maxSurge: "50%", drain: "false", onlyOutdated: "true", timeoutMinutes: "60", batchTimeoutMinutes: "10" });
    assert.equal(custom.options.method, "surge");
    assert.equal(custom.options.whenTasksRunning, "retaineddata");
    assert.equal(custom.options.drain, false);
    assert.equal(custom.options.onlyOutdated, true);
    refused(() => parsePoolCycleInputs({ poolIds: "p", method: "restart" }), "method", /'restart' is not one of 'reboot', 'replace', 'surge', 'reimage'/);
    refused(() => parsePoolCycleInputs({ poolIds: "p", whenTasksRunning: "wait" }), "whenTasksRunning", /'wait' is not one of 'taskcompletion', 'requeue', 'terminate', 'retaineddata'/);
    refused(() => parsePoolCycleInputs({ poolIds: "p", drain: "maybe" }), "drain", /not a boolean/);
    // A batch never outlasts the whole task: the agent passes the default 30 also when only timeoutMinutes is set.
    assert.equal(parsePoolCycleInputs({ poolIds: "p", batchTimeoutMinutes: "30", timeoutMinutes: "10" }).options.batchTimeoutMinutes, 10);
  });

  it("passes whenTasksRunning to Batch, with taskcompletion for disable scheduling when retaineddata is asked", () => {
    assert.deepEqual(nodeOptionsFor("requeue"), { cycle: "requeue", disableScheduling: "requeue" });
    assert.deepEqual(nodeOptionsFor("terminate"), { cycle: "terminate", disableScheduling: "terminate" });
    assert.deepEqual(nodeOptionsFor("taskcompletion"), { cycle: "taskcompletion", disableScheduling: "taskcompletion" });
    assert.deepEqual(nodeOptionsFor("retaineddata"), { cycle: "retaineddata", disableScheduling: "taskcompletion" });
  });

  it("reads pool ids one per line, dedupes them case-insensitively and checks Batch's id rules", () => {
    assert.deepEqual(parsePoolIds("poolIds", "adf-pool\n\n# staging\nADF-pool\r\nbatch_2\n  other  "), ["adf-pool", "batch_2", "other"]);
    refused(() => parsePoolIds("poolIds", "good\nbad pool"), "poolIds", /'bad pool' is not a valid pool id\. A pool id has 1 to 64 letters, digits, hyphens or underscores/);
    refused(() => parsePoolIds("poolIds", "x".repeat(65)), "poolIds", /not a valid pool id/);
    refused(() => parsePoolIds("poolIds", "\n# none\n"), "poolIds", /at least one pool id/);
  });

  it("refuses reimage on a VirtualMachineConfiguration pool up front, suggesting reboot or replace", () => {
    refused(() => checkMethodForPool("reimage", "adf-pool", "virtualMachine"), "method", /'reimage' is not supported on pool 'adf-pool'.*OperationNotValidOnNode.*Use 'reboot'.*or 'replace'/);
    checkMethodForPool("reimage", "legacy", "cloudService");
    checkMethodForPool("reboot", "adf-pool", "virtualMachine");
  });
});

describe("BatchPoolCycle outdated nodes", () => {
  const files = [
    "applications",
    "applications/myapp1.02024-10-24-20-44",
    "applications/myapp1.02024-10-24-20-44/app.py",
    "applications/tools2.1-rc2025-01-02-03-04",
    "startup/stderr.txt",
  ];

  it("reads Batch's Linux folder naming <appid lower-cased><version><YYYY-MM-DD-HH-MM>", () => {
    assert.deepEqual(applicationDirectories(files).sort(), ["myapp1.02024-10-24-20-44", "tools2.1-rc2025-01-02-03-04"]);
    assert.equal(isPackageDirectory("mybatchapplication1.52024-10-24-20-44", { applicationId: "MyBatchApplication", version: "1.5" }), true);
    // 1.5 and 1.52 stay apart: after <appid><version> only the time stamp may follow.
    assert.equal(isPackageDirectory("mybatchapplication1.52024-10-24-20-44", { applicationId: "MyBatchApplication", version: "1.52" }), false);
    assert.equal(isPackageDirectory("mybatchapplication1.522024-10-24-20-44", { applicationId: "MyBatchApplication", version: "1.5" }), false);
    assert.deepEqual(installedVersions(["myapp1.02024-10-24-20-44", "myapp2.02024-11-01-00-00"], "MyApp"), ["1.0", "2.0"]);
  });

  it("marks a node outdated with the versions it misses, current when it has them all", () => {
    const expected = [
      { applicationId: "MyApp", version: "2.0" },
      { applicationId: "tools", version: "2.1-rc" },
    ];
    const old = nodePackageStatus("n1", files, expected);
    assert.equal(old.outdated, true);
    assert.deepEqual(old.missing, [{ applicationId: "MyApp", version: "2.0" }]);
    assert.equal(describeMissing(old), "MyApp 2.0 (has 1.0)");
    const current = nodePackageStatus("n2", [...files, "applications/myapp2.02024-11-01-00-00"], expected);
    assert.equal(current.outdated, false);
    assert.deepEqual(current.installed, [
      { applicationId: "MyApp", versions: ["1.0", "2.0"] },
      { applicationId: "tools", versions: ["2.1-rc"] },
    ]);
  });

  it("resolves references without a version through the application's default, once per application", async () => {
    const asked: string[] = [];
    const lookup = async (id: string) => {
      asked.push(id);
      return id === "MyApp" ? "2.0" : undefined;
    };
    assert.deepEqual(await resolvePackageReferences("p", [{ applicationId: "MyApp" }, { applicationId: "tools", version: "1" }, { applicationId: "myapp" }], lookup), [
      { applicationId: "MyApp", version: "2.0" },
      { applicationId: "tools", version: "1" },
      { applicationId: "myapp", version: "2.0" },
    ]);
    assert.deepEqual(asked, ["MyApp"]);
    await assert.rejects(resolvePackageReferences("p", [{ applicationId: "nodefault" }], lookup), /references application 'nodefault' without a version, and the application has no default version/);
  });
});
