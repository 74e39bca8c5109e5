/**
 * A read/list SAS for the deployed prefix, for a Data Factory linked service
 * or a Batch resource file. Blob SAS cannot be narrowed to a prefix on a flat
 * namespace account, so it is a container SAS handed out with the prefix URL.
 * With Entra it is a user delegation SAS (no account key involved).
 */
import { ContainerSASPermissions, generateBlobSASQueryParameters, SASProtocol } from "@azure/storage-blob";
import type { BlobAccess } from "../../runtime/storage";

export const SAS_VERSION = "2025-05-05";

export async function createReadSasUrl(access: BlobAccess, containerName: string, prefixUrl: string, hours: number, now = new Date()): Promise<string> {
  const startsOn = new Date(now.getTime() - 5 * 60_000); // allow for clock skew
  const expiresOn = new Date(now.getTime() + hours * 3600_000);
  const permissions = ContainerSASPermissions.parse("rl");
  // A SAS version every cloud serves: sovereign clouds, Azure Stack and the
  // storage emulator lag behind the SDK's newest service version.
  const common = { containerName, permissions, startsOn, expiresOn, protocol: SASProtocol.Https, version: SAS_VERSION };
  let query: string;
  if (access.sharedKey) {
    query = generateBlobSASQueryParameters(common, access.sharedKey).toString();
  } else {
    const key = await access.service.getUserDelegationKey(startsOn, expiresOn);
    query = generateBlobSASQueryParameters(common, key, access.account.name).toString();
  }
  return `${prefixUrl}?${query}`;
}
