/**
 * Read/list SAS for what a run deployed, and reading the permissions of a SAS
 * the user gave. On a flat-namespace account a SAS cannot be narrowed to a
 * virtual folder: it is a container SAS, which reads the whole container. On
 * an account with hierarchical namespace it is a directory SAS (sr=d) scoped
 * to the prefix. Signed with the account key, or as a user delegation SAS
 * with Entra (no key involved).
 */
import {
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
  type StorageSharedKeyCredential,
  type UserDelegationKey,
} from "@azure/storage-blob";
import { DirectorySASPermissions, generateDataLakeSASQueryParameters } from "@azure/storage-file-datalake";

/** A SAS version every cloud serves: sovereign clouds, Azure Stack and the storage emulator lag behind the SDK's newest. */
export const SAS_VERSION = "2025-05-05";

export interface SasSigner {
  accountName: string;
  /** Present when the account key is in use; otherwise a user delegation key is fetched through `service`. */
  sharedKey?: StorageSharedKeyCredential;
  service: { getUserDelegationKey(startsOn: Date, expiresOn: Date): Promise<UserDelegationKey> };
}

export interface ReadSasRequest {
  containerName: string;
  /** Normalised prefix: empty, or ending in '/'. */
  prefix: string;
  hours: number;
  /** The account's isHnsEnabled: directories are real, so a SAS can be scoped to one. */
  hierarchicalNamespace: boolean;
  now?: Date;
}

export interface ReadSas {
  /** The query string, without '?'. */
  query: string;
  /** What the SAS can read. */
  scope: "container" | "directory";
}

export async function createReadSas(signer: SasSigner, request: ReadSasRequest): Promise<ReadSas> {
  const now = request.now ?? new Date();
  const startsOn = new Date(now.getTime() - 5 * 60_000); // allow for clock skew
  const expiresOn = new Date(now.getTime() + request.hours * 3600_000);
  const delegationKey: UserDelegationKey | undefined = signer.sharedKey ? undefined : await signer.service.getUserDelegationKey(startsOn, expiresOn);
  const directory = request.prefix.replace(/\/$/, "");
  if (request.hierarchicalNamespace && directory !== "") {
    const values = {
      fileSystemName: request.containerName,
      pathName: directory,
      isDirectory: true,
      directoryDepth: directory.split("/").length,
      permissions: DirectorySASPermissions.parse("rl"),
      startsOn,
      expiresOn,
      protocol: SASProtocol.Https,
      version: SAS_VERSION,
    };
    const query = signer.sharedKey
      ? generateDataLakeSASQueryParameters(values, signer.sharedKey).toString()
      : generateDataLakeSASQueryParameters(values, delegationKey!, signer.accountName).toString();
    return { query, scope: "directory" };
  }
  const values = { containerName: request.containerName, permissions: ContainerSASPermissions.parse("rl"), startsOn, expiresOn, protocol: SASProtocol.Https, version: SAS_VERSION };
  const query = signer.sharedKey
    ? generateBlobSASQueryParameters(values, signer.sharedKey).toString()
    : generateBlobSASQueryParameters(values, delegationKey!, signer.accountName).toString();
  return { query, scope: "container" };
}

/** A SAS token's parts that decide what it may do. */
export interface SasTokenInfo {
  /** `sp`: permission letters (r, a, c, w, d, l, ...). */
  permissions: string;
  /** `sr` (service SAS: c container, b blob, d directory) or undefined for an account SAS. */
  resource?: string;
  /** `srt` of an account SAS (s service, c container, o object). */
  resourceTypes?: string;
  expiresOn?: Date;
}

export function parseSasToken(token: string): SasTokenInfo {
  const params = new URLSearchParams(token.replace(/^\?/, ""));
  const se = params.get("se");
  const expires = se ? new Date(se) : undefined;
  return {
    permissions: params.get("sp") ?? "",
    resource: params.get("sr") ?? undefined,
    resourceTypes: params.get("srt") ?? undefined,
    expiresOn: expires && !Number.isNaN(expires.getTime()) ? expires : undefined,
  };
}

/** Permission letters from `needed` that the token does not grant. */
export function missingSasPermissions(token: SasTokenInfo, needed: string): string[] {
  return [...needed].filter((p) => !token.permissions.includes(p));
}
