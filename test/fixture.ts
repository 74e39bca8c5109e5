/**
 * One local Azure for the whole mocha run (it takes about a second to start);
 * suites that change faults or deny rules put them back in afterEach.
 */
import { startLocalAzure, type LocalAzure } from "./local-azure";

let shared: Promise<LocalAzure> | undefined;

export function localAzure(): Promise<LocalAzure> {
  shared ??= startLocalAzure();
  return shared;
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
