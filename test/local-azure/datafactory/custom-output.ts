/**
 * What ADF puts in a Custom activity's output, so that a simulated run and a
 * run on a (local) Batch node report the same shape. Field set from a real
 * run's output: exitcode, outputs (stdout/stderr URLs under
 * `adfjobs/<guid>/output/` in the Batch linked service's storage),
 * computeInformation (a string holding JSON), effectiveIntegrationRuntime,
 * executionDuration (seconds), durationInQueue and billingReference (hours);
 * `customOutput` only when the program wrote outputs.json.
 */
import type { JsonObject } from "./types";

/** ADF shows the region's display name in effectiveIntegrationRuntime. */
const REGION_DISPLAY_NAMES: Record<string, string> = {
  westeurope: "West Europe",
  northeurope: "North Europe",
  eastus: "East US",
  eastus2: "East US 2",
  westus: "West US",
  westus2: "West US 2",
  uksouth: "UK South",
  francecentral: "France Central",
  germanywestcentral: "Germany West Central",
};

export function regionDisplayName(location: string): string {
  return REGION_DISPLAY_NAMES[location.toLowerCase().replace(/\s/g, "")] ?? location;
}

export interface CustomOutputInput {
  exitCode: number;
  /** Base URL of the task's folder: `https://<storage>/adfjobs/<guid>/`. */
  adfJobsUrl: string;
  batchAccountName: string;
  poolName: string;
  vmSize?: string;
  location: string;
  executionSeconds: number;
  /** Content of outputs.json, when the program wrote one. */
  customOutput?: JsonObject;
}

export function customActivityOutput(input: CustomOutputInput): JsonObject {
  const seconds = Math.max(0, Math.round(input.executionSeconds));
  const compute: Record<string, string> = { account: input.batchAccountName, poolName: input.poolName };
  if (input.vmSize) compute.vmSize = input.vmSize;
  const base = input.adfJobsUrl.endsWith("/") ? input.adfJobsUrl : `${input.adfJobsUrl}/`;
  return {
    exitcode: input.exitCode,
    outputs: [`${base}output/stdout.txt`, `${base}output/stderr.txt`],
    computeInformation: JSON.stringify(compute),
    ...(input.customOutput ? { customOutput: input.customOutput } : {}),
    effectiveIntegrationRuntime: `DefaultIntegrationRuntime (${regionDisplayName(input.location)})`,
    executionDuration: seconds,
    durationInQueue: { integrationRuntimeQueue: 0 },
    // Billed per started minute, expressed in hours (one minute = 0.01666… h).
    billingReference: { activityType: "ExternalActivity", billableDuration: { Managed: Math.max(1, Math.ceil(seconds / 60)) / 60 } },
  };
}
