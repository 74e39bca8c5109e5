/**
 * What the local Azure's own tests share: a credential for the seeded service
 * principal, and a check that a call fails in the expected way.
 */
import { strict as assert } from "node:assert";
import { ClientSecretCredential } from "@azure/identity";
import type { LocalAzure } from "../local-azure";

export function localCredential(azure: LocalAzure, options: { tenantId?: string; clientId?: string; clientSecret?: string } = {}): ClientSecretCredential {
  return new ClientSecretCredential(options.tenantId ?? azure.info.tenantId, options.clientId ?? azure.info.clientId, options.clientSecret ?? azure.info.clientSecret, {
    authorityHost: azure.info.authorityHost,
    disableInstanceDiscovery: true,
  });
}

export interface AzureErrorSeen {
  statusCode?: number;
  code?: string;
  message: string;
}

/** Awaits a call that must fail and hands its error to `check`. */
export async function rejectsWith<E = AzureErrorSeen>(promise: Promise<unknown>, check: (e: E) => void): Promise<void> {
  try {
    await promise;
  } catch (e) {
    check(e as E);
    return;
  }
  assert.fail("expected the call to fail");
}

/** Whether a process is still running (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
