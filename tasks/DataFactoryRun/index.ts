/**
 * DataFactoryRun@1: reads and checks the inputs, signs in, finds the factory
 * and pipeline, and runs the pipeline (run.ts) on the Azure adapters.
 */
import { InputReader } from "../../runtime/inputs";
import { runTask } from "../../runtime/run";
import { taskLibAgent } from "../../runtime/agent";
import { signIn } from "../../runtime/session";
import { explainSignInError } from "../../runtime/sign-in-errors";
import { readDataFactoryRunInputs } from "./inputs";
import { DataFactoryAccess } from "./factory";
import { StorageReader } from "./storage-access";
import { BatchAccounts, batchTaskFiles } from "./batch-access";
import { factoryResourceId, studioRunUrl } from "./report";
import { runPipeline } from "./run";
import manifest from "./task.json";

/** The inline parameters may hold SecureString values: task-lib must not debug-print them before they are masked. */
const QUIET_INPUTS = ["parameters"];

void runTask(async ({ agent, signal }) => {
  const reader = new InputReader(agent, manifest);
  const inputs = readDataFactoryRunInputs(reader, { defaultWorkingDirectory: agent.getVariable("System.DefaultWorkingDirectory") });

  const session = signIn(agent, reader, "azureSubscription", inputs.connectionId);
  try {
    const dataFactory = new DataFactoryAccess(session, inputs.resourceGroupName);
    const factory = await dataFactory.findFactory(inputs.factoryName);
    const pipeline = await dataFactory.findPipeline(factory, inputs.pipelineName);
    const storage = new StorageReader(session, (m) => agent.debug(m));
    const batch = new BatchAccounts(session);
    const { subscriptionId, cloud } = session.connection;
    return await runPipeline(
      inputs,
      {
        factory,
        pipeline,
        linkedServices: () => dataFactory.linkedServices(factory),
        runs: dataFactory.runOperations(factory, pipeline.name),
        studioUrl: (runId) => studioRunUrl(runId, factory.id || factoryResourceId(subscriptionId, factory.resourceGroup, factory.name), cloud.name),
        listBlobs: storage.listBlobs,
        readPool: batch.readPool,
        findBatchAccount: (name) => batch.find(name),
        taskFiles: (routes, since) => batchTaskFiles(session, routes, since),
        readBlobTail: storage.readBlobTail,
      },
      { agent, signal },
    );
  } catch (error) {
    throw await explainSignInError(error, session.connection);
  }
}, taskLibAgent({ quietInputs: QUIET_INPUTS }));
