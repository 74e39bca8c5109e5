/**
 * Azure Resource Manager's front door: bearer tokens checked (signature,
 * audience, expiry, tenant), api-version required, a per-principal deny list
 * for 403 AuthorizationFailed, and routing to the resource providers.
 */
import { Router, ServiceError, type AzureRequest, type AzureResponse, type Handler } from "../http";
import type { EntraService } from "../entra";

export interface DenyRule {
  /** Object id of the principal (service principal or managed identity). */
  principalId: string;
  /** Action glob, e.g. `Microsoft.Storage/storageAccounts/listKeys/action` or `Microsoft.Batch/*`. */
  action: string;
  /** Scope prefix the rule applies to (default: everything). */
  scope?: string;
}

export interface ArmState {
  subscriptionId: string;
  subscriptionName: string;
  resourceGroups: Map<string, { name: string; location: string }>;
  denyRules: DenyRule[];
}

/** The audiences ARM accepts, as the public cloud does. */
export const ARM_AUDIENCES = ["https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com"];

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
}

export function isDenied(rules: DenyRule[], principalId: string, action: string, scope: string): boolean {
  return rules.some(
    (r) => r.principalId === principalId && globToRegExp(r.action).test(action) && (!r.scope || scope.toLowerCase().startsWith(r.scope.toLowerCase())),
  );
}

export interface ArmRouteOptions {
  /** The RBAC action the route needs, e.g. `Microsoft.Batch/batchAccounts/read`. */
  action: string;
  /** api-versions the provider serves on this route; any when omitted. */
  apiVersions?: string[];
  resourceType?: string;
}

/** Checks a bearer token against this Entra and ARM's audiences; returns the principal. */
export function authenticateBearer(entra: EntraService, req: AzureRequest, audiences: string[], shape: "arm" | "batch"): void {
  const header = req.headers.authorization;
  const missing = shape === "arm" ? "AuthenticationFailed" : "AuthenticationFailed";
  if (!header) throw new ServiceError(401, missing, "Authentication failed. The 'Authorization' header is missing.");
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) throw new ServiceError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  let claims;
  try {
    claims = entra.verifyToken(m[1]);
  } catch {
    throw new ServiceError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  }
  const aud = String(claims.aud ?? "");
  if (!audiences.includes(aud)) {
    throw new ServiceError(
      401,
      shape === "arm" ? "InvalidAuthenticationTokenAudience" : "AuthenticationFailed",
      `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences '${audiences.join("','")}'.`,
    );
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp === "number" && claims.exp <= now) {
    throw new ServiceError(
      401,
      shape === "arm" ? "ExpiredAuthenticationToken" : "AuthenticationFailed",
      `The access token expiry UTC time '${new Date(claims.exp * 1000).toUTCString()}' is earlier than current UTC time '${new Date().toUTCString()}'.`,
    );
  }
  if (claims.iss !== entra.issuer) {
    throw new ServiceError(401, "InvalidAuthenticationTokenTenant", `The access token is from the wrong issuer '${claims.iss}'. It must match the tenant '${entra.issuer}' associated with this subscription.`);
  }
  req.principal = { oid: String(claims.oid), appId: claims.appid as string | undefined, tenantId: claims.tid as string | undefined, kind: "token" };
}

export class ArmService {
  private readonly router = new Router();
  private readonly routeOptions = new Map<string, ArmRouteOptions>();

  constructor(
    readonly state: ArmState,
    private readonly entra: EntraService,
  ) {}

  /** Registers a provider route; providers call this from their own modules. */
  add(method: string, template: string, options: ArmRouteOptions, handler: Handler): this {
    const name = `${method} ${template}`;
    this.routeOptions.set(name, options);
    this.router.add(method, template, handler, name);
    return this;
  }

  async handle(req: AzureRequest): Promise<AzureResponse & { route?: string }> {
    authenticateBearer(this.entra, req, ARM_AUDIENCES, "arm");
    const apiVersion = req.query.get("api-version");
    if (!apiVersion) {
      throw new ServiceError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    }
    const match = this.router.match(req.method, req.path);
    if (!match) {
      throw new ServiceError(404, "NotFound", `The requested resource '${req.path}' was not found.`);
    }
    if ("methodNotAllowed" in match) {
      throw new ServiceError(405, "MethodNotAllowed", `The requested resource does not support http method '${req.method}'.`);
    }
    const options = this.routeOptions.get(match.route.name)!;
    if (options.apiVersions && !options.apiVersions.includes(apiVersion)) {
      throw new ServiceError(
        400,
        "NoRegisteredProviderFound",
        `No registered resource provider found for location 'westeurope' and API version '${apiVersion}' for type '${options.resourceType ?? options.action.split("/").slice(0, 2).join("/")}'. The supported api-versions are '${options.apiVersions.join(", ")}'.`,
      );
    }
    const subscriptionId = match.params.subscriptionId;
    if (subscriptionId !== undefined && subscriptionId.toLowerCase() !== this.state.subscriptionId.toLowerCase()) {
      throw new ServiceError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
    }
    const scope = req.path.replace(/\/(listKeys|activate|createRun|cancel|queryPipelineRuns|queryActivityruns)$/i, "");
    const principal = req.principal!;
    if (isDenied(this.state.denyRules, principal.oid, options.action, scope)) {
      throw new ServiceError(
        403,
        "AuthorizationFailed",
        `The client '${principal.appId ?? principal.oid}' with object id '${principal.oid}' does not have authorization to perform action '${options.action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
    const resourceGroupName = match.params.resourceGroupName;
    if (resourceGroupName !== undefined && !this.findResourceGroup(resourceGroupName)) {
      throw new ServiceError(404, "ResourceGroupNotFound", `Resource group '${resourceGroupName}' could not be found.`);
    }
    req.params = match.params;
    return { ...(await match.route.handler(req)), route: match.route.name };
  }

  findResourceGroup(name: string): { name: string; location: string } | undefined {
    for (const [key, rg] of this.state.resourceGroups) if (key.toLowerCase() === name.toLowerCase()) return rg;
    return undefined;
  }
}

/** ARM's not-found error for a resource. */
export function resourceNotFound(type: string, name: string, resourceGroup: string): ServiceError {
  return new ServiceError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

/** Case-insensitive lookup, as ARM resource names are. */
export function findByName<T>(map: Map<string, T>, name: string): T | undefined {
  for (const [key, value] of map) if (key.toLowerCase() === name.toLowerCase()) return value;
  return undefined;
}

export function resourceId(subscriptionId: string, resourceGroup: string, provider: string, ...segments: string[]): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${provider}/${segments.join("/")}`;
}
