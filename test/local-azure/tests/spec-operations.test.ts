import { strict as assert } from "node:assert";
import { OperationIndex, type OperationLookup } from "../spec/operations";
import { skipWithoutSpecs } from "../spec/load";
import { specValidator } from "../spec/validate";

const SUB = "/subscriptions/9b1c7d62-3e7f-4a55-9d0f-6f3c0a1b2c3d/resourceGroups/rg-release";

function operationId(lookup: OperationLookup): string {
  return lookup.kind === "found" ? lookup.operation.operationId : lookup.kind;
}

describe("REST spec operation lookup", () => {
  let index: OperationIndex;
  before(function () {
    skipWithoutSpecs(this);
  });
  before(async () => {
    index = new OperationIndex((await specValidator()).specs);
  });

  it("finds Batch data-plane operations, parameters inside segments included", () => {
    const cases: [string, string, string][] = [
      ["GET", "/pools/release-pool", "Pool_Get"],
      ["POST", "/pools", "Pool_Add"],
      ["POST", "/pools/release-pool/nodes/tvmps_0001/reboot", "ComputeNode_Reboot"],
      ["POST", "/pools/release-pool/resize", "Pool_Resize"],
      ["POST", "/jobs/job-1/addtaskcollection", "Task_AddCollection"],
      ["GET", "/jobs/job-1/tasks/task-1", "Task_Get"],
      ["GET", "/jobs/job-1/tasks/task-1/files/wd%2Foutput.txt", "File_GetFromTask"],
      ["HEAD", "/jobs/job-1/tasks/task-1/files/stdout.txt", "File_GetPropertiesFromTask"],
      ["GET", "/jobs/job-1/tasks/task-1/files", "File_ListFromTask"],
      ["DELETE", "/certificates(thumbprintAlgorithm=sha1,thumbprint=0123abcd)", "Certificate_Delete"],
      ["POST", "/certificates(thumbprintAlgorithm=sha1,thumbprint=0123abcd)/canceldelete", "Certificate_CancelDeletion"],
    ];
    for (const [method, path, expected] of cases) assert.equal(operationId(index.find("batch", method, path)), expected, `${method} ${path}`);
    const file = index.find("batch", "GET", "/jobs/job-1/tasks/task-1/files/wd%2Foutput.txt");
    assert.equal(file.kind === "found" && file.pathParams.filePath, "wd/output.txt");
  });

  it("finds ARM operations of Microsoft.Batch and Microsoft.DataFactory, literal segments in any case", () => {
    const batch = `${SUB}/providers/Microsoft.Batch/batchAccounts/releasebatch`;
    const adf = `${SUB}/providers/Microsoft.DataFactory/factories/release-adf`;
    const cases: [string, string, string][] = [
      ["GET", batch, "BatchAccount_Get"],
      ["GET", batch.toLowerCase(), "BatchAccount_Get"],
      ["PUT", `${batch}/applications/app/versions/1.0.0`, "ApplicationPackage_Create"],
      ["POST", `${batch}/applications/app/versions/1.0.0/activate`, "ApplicationPackage_Activate"],
      ["PATCH", `${batch}/pools/release-pool`, "Pool_Update"],
      ["POST", `${batch}/listKeys`, "BatchAccount_GetKeys"],
      ["GET", adf, "Factories_Get"],
      ["PUT", `${adf}/pipelines/release`, "Pipelines_CreateOrUpdate"],
      ["POST", `${adf}/pipelines/release/createRun`, "Pipelines_CreateRun"],
      ["GET", `${adf}/pipelineruns/6f0b1f0e-2a54-4a1f-9d6e-1a2b3c4d5e6f`, "PipelineRuns_Get"],
      ["POST", `${adf}/pipelineruns/6f0b1f0e-2a54-4a1f-9d6e-1a2b3c4d5e6f/queryActivityruns`, "ActivityRuns_QueryByPipelineRun"],
      ["POST", `${adf}/pipelineRuns/6f0b1f0e-2a54-4a1f-9d6e-1a2b3c4d5e6f/cancel`, "PipelineRuns_Cancel"],
      ["GET", `${adf}/linkedservices/batch`, "LinkedServices_Get"],
    ];
    for (const [method, path, expected] of cases) assert.equal(operationId(index.find("arm", method, path)), expected, `${method} ${path}`);
    const run = index.find("arm", "POST", `${adf}/pipelines/release/createRun`);
    assert.equal(run.kind === "found" && run.operation.apiVersion, "2018-06-01");
    assert.deepEqual(run.kind === "found" && run.pathParams, {
      subscriptionId: "9b1c7d62-3e7f-4a55-9d0f-6f3c0a1b2c3d",
      resourceGroupName: "rg-release",
      factoryName: "release-adf",
      pipelineName: "release",
    });
  });

  it("reports paths the spec does not have, and methods it does not have on a known path", () => {
    assert.deepEqual(index.find("batch", "GET", "/pools/release-pool/teleport"), { kind: "no-path" });
    assert.deepEqual(index.find("arm", "GET", `${SUB}/providers/Microsoft.DataFactory/factories/release-adf/pipelines/release/runs`), { kind: "no-path" });
    assert.deepEqual(index.find("batch", "GET", "/pools/release-pool/resize"), {
      kind: "method-not-in-spec",
      pathTemplate: "/pools/{poolId}/resize",
      methods: ["POST"],
    });
  });
});
