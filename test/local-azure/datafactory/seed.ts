/**
 * The release factory the product's DataFactoryRun task drives, as the user's
 * factory would be: the pipeline and datasets of examples/data-factory (read
 * from there, so the example and the local Azure cannot drift apart), and the
 * two linked services that folder's README asks for:
 * - `StagingStorage`: Azure Blob Storage with an account key (Data Factory
 *   signs the Custom activity's resource files with it; ARM answers the
 *   connection string without the key, as ADF does);
 * - `BatchCompute`: Azure Batch, the seeded account's URL and access key, its
 *   pool, and `StagingStorage` for the `adfjobs` container.
 * `npm run demo` deploys examples/data-factory again through ARM, as a user
 * would; that replaces these definitions with the same ones.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataFactoryState } from "./state";
import type { DatasetProperties, PipelineProperties } from "./types";

export interface ReleaseFactorySeed {
  factoryName: string;
  resourceGroup: string;
  location: string;
  storageAccountName: string;
  storageAccountKey: string;
  batchAccountName: string;
  batchAccountKey: string;
  poolName: string;
}

export const RELEASE_PIPELINE = "run-batch-app";

/** examples/data-factory in this repository (ADF's Git layout: pipeline/, dataset/). */
export const EXAMPLE_FACTORY_DIR = path.resolve(__dirname, "..", "..", "..", "examples", "data-factory");

interface ExampleEntity<P> {
  name: string;
  properties: P;
}

function readEntities<P>(folder: string): ExampleEntity<P>[] {
  const dir = path.join(EXAMPLE_FACTORY_DIR, folder);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as ExampleEntity<P>);
}

export function exampleDatasets(): ExampleEntity<DatasetProperties>[] {
  return readEntities<DatasetProperties>("dataset");
}

export function examplePipelines(): ExampleEntity<PipelineProperties>[] {
  return readEntities<PipelineProperties>("pipeline");
}

/** The example's release pipeline (run-batch-app): Copy StageInput, then Custom RunApp. */
export function releasePipeline(): PipelineProperties {
  const found = examplePipelines().find((p) => p.name === RELEASE_PIPELINE);
  if (!found) throw new Error(`examples/data-factory has no pipeline '${RELEASE_PIPELINE}'.`);
  return found.properties;
}

export function seedReleaseFactory(state: DataFactoryState, seed: ReleaseFactorySeed): void {
  state.addFactory({ name: seed.factoryName, resourceGroup: seed.resourceGroup, location: seed.location });
  state.putLinkedService(seed.factoryName, "StagingStorage", {
    type: "AzureBlobStorage",
    annotations: [],
    typeProperties: {
      connectionString: `DefaultEndpointsProtocol=https;AccountName=${seed.storageAccountName};AccountKey=${seed.storageAccountKey};EndpointSuffix=core.windows.net`,
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
      accessKey: { type: "SecureString", value: seed.batchAccountKey },
    },
  });
  for (const d of exampleDatasets()) state.putDataset(seed.factoryName, d.name, d.properties);
  for (const p of examplePipelines()) state.putPipeline(seed.factoryName, p.name, p.properties);
}
