/**
 * One local Azure for the whole mocha run (it takes about a second to start);
 * suites that change faults or deny rules put them back in afterEach.
 */
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from "./local-azure";
import { ExchangeRecorder, specCheckHooks } from "./local-azure/spec/run-check";

let shared: Promise<LocalAzure> | undefined;

/** Every Batch / Data Factory exchange of the run, checked against the REST specs after the last test. */
const exchanges = new ExchangeRecorder();

export function localAzure(): Promise<LocalAzure> {
  shared ??= startLocalAzure().then((azure) => {
    exchanges.attach(azure.log);
    return azure;
  });
  return shared;
}

export const mochaHooks = specCheckHooks(exchanges);

/**
 * A local Azure of a suite's own, in the state it starts in (the seeded pool
 * at 0 nodes, no application, the example factory), for flows that a shared
 * one's earlier tests would disturb; its exchanges join the end-of-run spec
 * check. The suite closes it.
 */
export async function ownLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const azure = await startLocalAzure(options);
  exchanges.attach(azure.log);
  return azure;
}

/** Clears faults and deny rules a test added. */
export async function resetLocalAzure(): Promise<void> {
  const azure = await localAzure();
  azure.faults.reset();
  azure.state.arm.denyRules.length = 0;
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (shared) await (await shared).close();
}
