/**
 * Where each Azure cloud keeps its services. A service connection may override
 * the management URL and the authority (Azure Stack, sovereign or test clouds),
 * and those overrides win.
 */

export interface CloudEndpoints {
  name: string;
  /** Azure Resource Manager, with a trailing slash. */
  resourceManagerUrl: string;
  /** Entra ID authority host, without the tenant. */
  authorityHost: string;
  resourceManagerScope: string;
  batchScope: string;
  storageScope: string;
  /** DNS suffix of storage endpoints, e.g. core.windows.net. */
  storageSuffix: string;
}

const AZURE_CLOUD: CloudEndpoints = {
  name: "AzureCloud",
  resourceManagerUrl: "https://management.azure.com/",
  authorityHost: "https://login.microsoftonline.com",
  resourceManagerScope: "https://management.azure.com/.default",
  // Batch's resource id ends with a slash; the scope keeps it (two slashes).
  batchScope: "https://batch.core.windows.net//.default",
  storageScope: "https://storage.azure.com/.default",
  storageSuffix: "core.windows.net",
};

const KNOWN: Partial<Record<string, CloudEndpoints>> = {
  azurecloud: AZURE_CLOUD,
  azureusgovernment: {
    name: "AzureUSGovernment",
    resourceManagerUrl: "https://management.usgovcloudapi.net/",
    authorityHost: "https://login.microsoftonline.us",
    resourceManagerScope: "https://management.usgovcloudapi.net/.default",
    batchScope: "https://batch.core.usgovcloudapi.net//.default",
    storageScope: "https://storage.azure.com/.default",
    storageSuffix: "core.usgovcloudapi.net",
  },
  azurechinacloud: {
    name: "AzureChinaCloud",
    resourceManagerUrl: "https://management.chinacloudapi.cn/",
    authorityHost: "https://login.chinacloudapi.cn",
    resourceManagerScope: "https://management.chinacloudapi.cn/.default",
    batchScope: "https://batch.chinacloudapi.cn//.default",
    storageScope: "https://storage.azure.com/.default",
    storageSuffix: "core.chinacloudapi.cn",
  },
};

export const KNOWN_CLOUDS = Object.values(KNOWN).flatMap((c) => (c ? [c.name] : []));

export interface CloudOverrides {
  environment?: string;
  /** The connection's own management URL (ENDPOINT_URL). */
  resourceManagerUrl?: string;
  /** The connection's `activeDirectoryAuthority` (or `environmentAuthorityUrl`). */
  authorityHost?: string;
  /** The connection's `activeDirectoryServiceEndpointResourceId`: the ARM token audience. */
  resourceManagerAudience?: string;
}

const withSlash = (url: string) => (url.endsWith("/") ? url : `${url}/`);
const withoutSlash = (url: string) => url.replace(/\/+$/, "");

/** The endpoints for a connection: its cloud's defaults, overridden by the connection's own URLs. */
export function resolveCloud(overrides: CloudOverrides): CloudEndpoints {
  const base = KNOWN[(overrides.environment ?? "AzureCloud").toLowerCase()] ?? AZURE_CLOUD;
  const resourceManagerUrl = overrides.resourceManagerUrl ? withSlash(overrides.resourceManagerUrl) : base.resourceManagerUrl;
  const custom = KNOWN[(overrides.environment ?? "").toLowerCase()] === undefined && overrides.environment !== undefined;
  let resourceManagerScope = base.resourceManagerScope;
  if (overrides.resourceManagerAudience) resourceManagerScope = `${withSlash(overrides.resourceManagerAudience)}.default`;
  else if (custom || (overrides.resourceManagerUrl && withSlash(overrides.resourceManagerUrl) !== base.resourceManagerUrl)) {
    resourceManagerScope = `${resourceManagerUrl}.default`;
  }
  return {
    ...base,
    name: custom && overrides.environment !== undefined ? overrides.environment : base.name,
    resourceManagerUrl,
    authorityHost: overrides.authorityHost ? withoutSlash(overrides.authorityHost) : base.authorityHost,
    resourceManagerScope,
  };
}
