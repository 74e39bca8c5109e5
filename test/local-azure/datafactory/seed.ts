/**
 * The release factory the product's DataFactoryRun task drives: a staging
 * step, then the Custom activity that runs the app on the Batch pool.
 */
import type { DataFactoryState } from "./state";
import type { PipelineProperties } from "./types";

export interface ReleaseFactorySeed {
  factoryName: string;
  resourceGroup: string;
  location: string;
  storageAccountName: string;
  batchAccountName: string;
  poolName: string;
}

export const RELEASE_PIPELINE = "run-batch-app";

/**
 * Note on `command`: per ADF's expression rules only a string starting with
 * `@`, or `@{…}` inside one, is evaluated; the bare `@pipeline().RunId` in the
 * middle of this command therefore reaches the node as literal text, as it
 * would in ADF (`@{pipeline().RunId}` interpolates).
 */
export function releasePipeline(): PipelineProperties {
  return {
    description: "Stages the input, then runs the released app on the Batch pool.",
    parameters: {
      inputPath: { type: "String", defaultValue: "input/current" },
      // No default: createRun must pass it.
      retries: { type: "Int" },
    },
    activities: [
      {
        name: "StageInput",
        type: "Wait",
        dependsOn: [],
        userProperties: [],
        typeProperties: { waitTimeInSeconds: 2 },
      },
      {
        name: "RunApp",
        type: "Custom",
        dependsOn: [{ activity: "StageInput", dependencyConditions: ["Succeeded"] }],
        policy: { timeout: "0.12:00:00", retry: 0, retryIntervalInSeconds: 30, secureOutput: false, secureInput: false },
        userProperties: [],
        linkedServiceName: { referenceName: "BatchCompute", type: "LinkedServiceReference" },
        typeProperties: {
          command: `/bin/sh -c 'python3 app.py "@pipeline().RunId"'`,
          resourceLinkedService: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
          folderPath: "app/current",
          referenceObjects: { linkedServices: [], datasets: [] },
          extendedProperties: { inputPath: { value: "@pipeline().parameters.inputPath", type: "Expression" } },
        },
      },
    ],
    annotations: [],
  };
}

export function seedReleaseFactory(state: DataFactoryState, seed: ReleaseFactorySeed): void {
  state.addFactory({ name: seed.factoryName, resourceGroup: seed.resourceGroup, location: seed.location });
  state.putLinkedService(seed.factoryName, "StagingStorage", {
    type: "AzureBlobStorage",
    annotations: [],
    typeProperties: {
      // ADF returns the connection string without the key; the key lives in encryptedCredential.
      connectionString: `DefaultEndpointsProtocol=https;AccountName=${seed.storageAccountName};EndpointSuffix=core.windows.net;`,
      encryptedCredential: Buffer.from(JSON.stringify({ Version: "2017-11-30", ProtectionMode: "Key", SecretContentType: "Plaintext" })).toString("base64"),
    },
  });
  state.putLinkedService(seed.factoryName, "BatchCompute", {
    type: "AzureBatch",
    annotations: [],
    typeProperties: {
      accountName: seed.batchAccountName,
      batchUri: `https://${seed.batchAccountName}.${seed.location}.batch.azure.com`,
      poolName: seed.poolName,
      linkedServiceName: { referenceName: "StagingStorage", type: "LinkedServiceReference" },
      accessKey: { type: "SecureString", value: "**********" },
    },
  });
  state.putPipeline(seed.factoryName, RELEASE_PIPELINE, releasePipeline());
}
