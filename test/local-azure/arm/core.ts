/**
 * Azure Resource Manager's front door: bearer tokens checked (signature,
 * audience, expiry, tenant), api-version required and checked against what
 * Azure serves for the resource type, a per-principal deny list for 403
 * AuthorizationFailed, and routing to the resource providers.
 *
 * An operation no provider module implements is answered 501 NotImplemented,
 * naming the operation (its RBAC action and path template), never a 404 that
 * a client would take for a real not-found. Subscription, resource group and
 * authorization checks still come first, as ARM makes them before it reaches
 * a resource provider.
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

export interface ArmSubscription {
  subscriptionId: string;
  subscriptionName: string;
}

export interface ArmResourceGroup {
  name: string;
  location: string;
  /** The subscription it is in (default: the primary one, `ArmState.subscriptionId`). */
  subscriptionId?: string;
}

export interface ArmState {
  /** The primary subscription: the one the service connection names. */
  subscriptionId: string;
  subscriptionName: string;
  /** The tenant the subscriptions belong to (default: the local Entra's tenant). */
  tenantId?: string;
  /**
   * Other subscriptions of the same tenant, as an organisation has (shared
   * storage in a platform team's subscription). Readable by any principal
   * that no deny rule refuses, as with a role assignment there.
   */
  otherSubscriptions?: ArmSubscription[];
  /**
   * Every subscription's groups, by name. A group's name is unique across the
   * local Azure's subscriptions (Azure only needs it unique in one), so a
   * resource's group tells its subscription.
   */
  resourceGroups: Map<string, ArmResourceGroup>;
  denyRules: DenyRule[];
}

/** The primary subscription and the others, primary first. */
export function armSubscriptions(state: ArmState): ArmSubscription[] {
  return [{ subscriptionId: state.subscriptionId, subscriptionName: state.subscriptionName }, ...(state.otherSubscriptions ?? [])];
}

/** The subscription a resource group (and so every resource in it) is in. */
export function subscriptionOfGroup(state: ArmState, resourceGroup: string): string {
  for (const [key, rg] of state.resourceGroups) if (key.toLowerCase() === resourceGroup.toLowerCase()) return rg.subscriptionId ?? state.subscriptionId;
  return state.subscriptionId;
}

/** Whether two subscription ids are the same (ARM compares them case-insensitively). */
export function sameSubscription(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
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
  /** api-versions the provider serves on this route and the local Azure answers (Azure serves no others); any when omitted. */
  apiVersions?: readonly string[];
  /** api-versions Azure serves and the local Azure answers apart; takes precedence over `apiVersions`. */
  versions?: ApiVersions;
  /** The resource type named in api-version errors, e.g. `storageAccounts` (default: from the route template). */
  resourceType?: string;
  /**
   * A tenant-level route (`GET /subscriptions`): a token from any tenant this
   * Entra signs for is accepted, and the handler filters by what the
   * principal may read instead of the front door refusing it.
   */
  tenantLevel?: boolean;
}

/**
 * The api-versions of a resource type: what Azure serves (and names in its
 * errors) and, of those, what the local Azure answers. A version Azure serves
 * but the local Azure does not is 501 NotImplemented, not a refusal Azure
 * would never give.
 */
export interface ApiVersions {
  /** In the order ARM quotes them in its errors (the provider registration's order). */
  served: readonly string[];
  /** Default: all of `served`. */
  emulated?: readonly string[];
}

/** Newest first (a helper for providers that keep their lists that way). */
export function newestFirst(versions: readonly string[]): string[] {
  return [...versions].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

export type ApiVersionVerdict = "ok" | "not-emulated" | "not-served";

export function apiVersionVerdict(versions: ApiVersions, apiVersion: string): ApiVersionVerdict {
  const served = versions.served.some((v) => v.toLowerCase() === apiVersion.toLowerCase());
  if (!served) return "not-served";
  const emulated = versions.emulated ?? versions.served;
  return emulated.some((v) => v.toLowerCase() === apiVersion.toLowerCase()) ? "ok" : "not-emulated";
}

/**
 * ARM's refusal of an api-version the type does not serve, in the three forms
 * ARM gives it:
 * - Microsoft.Resources itself (subscriptions, resource groups): 400
 *   InvalidApiVersionParameter "The api-version '…' is invalid. The supported
 *   versions are '…'." (comma-separated, no spaces);
 * - a provider type at a scope with a location (a resource group): 400
 *   NoRegisteredProviderFound "No registered resource provider found for
 *   location '…' and API version '…' for type '…'. The supported api-versions
 *   are '…'. The supported locations are '…'." (type without the namespace);
 * - a provider type at subscription scope: 400 InvalidResourceType "The
 *   resource type '…' could not be found in the namespace '…' for api version
 *   '…'. The supported api-versions are '…'."
 */
export function apiVersionNotServed(options: { namespace: string; type: string; apiVersion: string; served: readonly string[]; location?: string; locations?: string[] }): ServiceError {
  const { namespace, type, apiVersion } = options;
  // In the provider's own order: ARM quotes its registration, newest first for Storage, oldest first for Network.
  const served = options.served;
  if (namespace.toLowerCase() === "microsoft.resources") {
    return new ServiceError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The supported versions are '${served.join(",")}'.`);
  }
  if (options.location) {
    const locations = options.locations?.length ? options.locations : [options.location];
    return new ServiceError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location '${options.location}' and API version '${apiVersion}' for type '${type}'. The supported api-versions are '${served.join(", ")}'. The supported locations are '${locations.join(", ")}'.`,
    );
  }
  return new ServiceError(
    400,
    "InvalidResourceType",
    `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'. The supported api-versions are '${served.join(",")}'.`,
  );
}

/** What an ARM path names: its namespace, resource type (without the namespace) and the RBAC action a method on it needs. */
export interface ArmOperationName {
  namespace: string;
  /** e.g. `storageAccounts/blobServices`; `subscriptions/resourceGroups` for Microsoft.Resources. */
  type: string;
  action: string;
}

/**
 * Names the operation of a method on an ARM path (literal segments and
 * `{placeholders}` alike): `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{a}/blobServices`
 * is type `storageAccounts/blobServices`, and GET on it is
 * `Microsoft.Storage/storageAccounts/blobServices/read`. A POST's last segment
 * after a name is its action (`…/listKeys/action`).
 */
export function armOperationName(method: string, path: string): ArmOperationName {
  const segments = path.split("/").filter(Boolean);
  const providers = segments.findIndex((s) => s.toLowerCase() === "providers");
  let namespace: string;
  let rest: string[];
  if (providers >= 0 && providers + 1 < segments.length) {
    namespace = segments[providers + 1];
    rest = segments.slice(providers + 2);
  } else {
    // Microsoft.Resources: /subscriptions/{s}/resourceGroups/{rg}/... types alternate with names from the start.
    namespace = "Microsoft.Resources";
    rest = segments;
  }
  const types = rest.filter((_, i) => i % 2 === 0);
  const verb = method.toUpperCase();
  const endsOnName = rest.length % 2 === 0;
  let actionSuffix: string;
  if (verb === "POST" && !endsOnName && types.length > 1) {
    const action = types.pop()!;
    actionSuffix = `${action}/action`;
  } else {
    actionSuffix = verb === "GET" || verb === "HEAD" ? "read" : verb === "DELETE" ? "delete" : verb === "POST" ? "action" : "write";
  }
  const type = types.join("/");
  return { namespace, type, action: `${namespace}/${type ? `${type}/` : ""}${actionSuffix}` };
}

/** 501 NotImplemented in ARM's shape, naming the operation the local Azure does not implement. */
export function notImplemented(operation: string, detail = ""): ServiceError {
  return new ServiceError(501, "NotImplemented", `The local Azure does not implement the operation ${operation}.${detail ? ` ${detail}` : ""}`);
}

/**
 * Checks a bearer token against this Entra and ARM's audiences and sets the
 * principal. The issuer must be `expectedTenant`'s (default: the local
 * Entra's), unless `anyTenant` (tenant-level routes such as `GET
 * /subscriptions`, which answer for the token's own tenant).
 */
export function authenticateBearer(
  entra: EntraService,
  req: AzureRequest,
  audiences: string[],
  shape: "arm" | "batch",
  options: { anyTenant?: boolean; expectedTenant?: string } = {},
): void {
  const header = req.headers.authorization;
  if (!header) throw new ServiceError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
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
  const expectedIssuer = options.expectedTenant ? `https://sts.windows.net/${options.expectedTenant}/` : entra.issuer;
  if (!options.anyTenant && claims.iss !== expectedIssuer) {
    const tenant = expectedIssuer.replace(/^https:\/\/sts\.windows\.net\/|\/$/g, "");
    // ARM's own wording (it names the public cloud's authority whatever cloud the token came from).
    const message =
      shape === "arm"
        ? `The access token is from the wrong issuer '${claims.iss}'. It must match the tenant '${expectedIssuer}' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${tenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`
        : `The access token is from the wrong issuer '${claims.iss}'. It must match the tenant '${expectedIssuer}' associated with this subscription.`;
    throw new ServiceError(401, "InvalidAuthenticationTokenTenant", message);
  }
  req.principal = { oid: String(claims.oid), appId: claims.appid as string | undefined, tenantId: claims.tid as string | undefined, kind: "token" };
}

/** The AuthorizationFailed error ARM gives a principal without the action at the scope. */
export function authorizationFailed(principal: { oid: string; appId?: string }, action: string, scope: string): ServiceError {
  return new ServiceError(
    403,
    "AuthorizationFailed",
    `The client '${principal.appId ?? principal.oid}' with object id '${principal.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

/** The path template of an ARM route, or the operation of a path no route serves, for messages. */
function templateSegments(template: string): string[] {
  return template.split("/").filter(Boolean);
}

const isPlaceholder = (segment: string) => /^\{\w+\}$/.test(segment);

/** `storageAccounts` → `{storageAccountName}`, `factories` → `{factoryName}`. */
function placeholderFor(type: string): string {
  const singular = /ies$/i.test(type) ? type.replace(/ies$/i, "y") : type.replace(/s$/i, "");
  return `{${singular}Name}`;
}

/**
 * The path template of a path no route serves: the names of the routes that
 * share its longest prefix, then placeholders after each type segment.
 */
export function generalisePath(path: string, templates: string[]): string {
  const segments = path.split("/").filter(Boolean);
  let best: string[] = [];
  for (const template of templates) {
    const t = templateSegments(template);
    let n = 0;
    while (n < t.length && n < segments.length && (isPlaceholder(t[n]) || t[n].toLowerCase() === segments[n].toLowerCase())) n++;
    if (n > best.length) best = t.slice(0, n);
  }
  const out = [...best];
  const providers = segments.findIndex((s) => s.toLowerCase() === "providers");
  for (let i = best.length; i < segments.length; i++) {
    const previous = segments[i - 1]?.toLowerCase();
    if (previous === "subscriptions") out.push("{subscriptionId}");
    else if (previous === "resourcegroups") out.push("{resourceGroupName}");
    else if (i === providers + 1) out.push(segments[i]);
    else {
      // Types and names alternate: from the start for Microsoft.Resources, after the namespace for a provider.
      const start = providers >= 0 && i > providers ? providers + 2 : 0;
      out.push((i - start) % 2 === 1 ? placeholderFor(segments[i - 1]) : segments[i]);
    }
  }
  return `/${out.join("/")}`;
}

/** The scope ARM checks a request's action on: a POST action's is the resource it acts on (`…/{accountName}/listKeys` → the account). */
function actionScope(method: string, path: string, template: string): string {
  const t = templateSegments(template);
  const endsOnAction = method.toUpperCase() === "POST" && t.length > 1 && !isPlaceholder(t[t.length - 1]) && isPlaceholder(t[t.length - 2]);
  return endsOnAction ? path.replace(/\/[^/]+\/?$/, "") : path;
}

export class ArmService {
  private readonly router = new Router();
  private readonly routeOptions = new Map<string, ArmRouteOptions>();
  private readonly templates: { method: string; template: string }[] = [];

  constructor(
    readonly state: ArmState,
    private readonly entra: EntraService,
  ) {}

  /** Registers a provider route; providers call this from their own modules. */
  add(method: string, template: string, options: ArmRouteOptions, handler: Handler): this {
    const name = `${method} ${template}`;
    this.routeOptions.set(name, options);
    this.router.add(method, template, handler, name);
    this.templates.push({ method, template });
    return this;
  }

  get tenantId(): string {
    return this.state.tenantId ?? this.entra.issuer.replace(/^https:\/\/sts\.windows\.net\/|\/$/g, "");
  }

  async handle(req: AzureRequest): Promise<AzureResponse & { route?: string }> {
    const match = this.router.match(req.method, req.path);
    const options = match && !("methodNotAllowed" in match) ? this.routeOptions.get(match.route.name)! : undefined;
    authenticateBearer(this.entra, req, ARM_AUDIENCES, "arm", { anyTenant: options?.tenantLevel, expectedTenant: this.tenantId });
    const apiVersion = req.query.get("api-version");
    if (!apiVersion) {
      throw new ServiceError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    }
    if (!match || "methodNotAllowed" in match) return this.unimplemented(req);
    const template = match.route.name.slice(match.route.name.indexOf(" ") + 1);
    const versions: ApiVersions | undefined = options!.versions ?? (options!.apiVersions ? { served: options!.apiVersions } : undefined);
    const verdict = versions ? apiVersionVerdict(versions, apiVersion) : "ok";
    if (versions && verdict === "not-served") {
      const named = armOperationName(req.method, template);
      const resourceGroup = match.params.resourceGroupName !== undefined ? this.findResourceGroup(match.params.resourceGroupName) : undefined;
      throw apiVersionNotServed({
        namespace: named.namespace,
        type: options!.resourceType ?? named.type,
        apiVersion,
        served: versions.served,
        location: match.params.resourceGroupName !== undefined ? (resourceGroup?.location ?? this.defaultLocation()) : undefined,
        locations: this.locations(),
      });
    }
    this.checkSubscription(match.params.subscriptionId);
    // A tenant-level list is not refused: it shows what the principal may read.
    if (!options!.tenantLevel) this.checkAuthorized(req, options!.action, actionScope(req.method, req.path, template));
    this.checkResourceGroup(match.params.subscriptionId, match.params.resourceGroupName);
    if (versions && verdict === "not-emulated") {
      throw notImplemented(
        `'${options!.action}' (${req.method} ${template}) at api-version '${apiVersion}'`,
        `Azure serves this api-version; the local Azure answers '${(versions.emulated ?? []).join(", ")}'.`,
      );
    }
    req.params = match.params;
    return { ...(await match.route.handler(req)), route: match.route.name };
  }

  /** What ARM checks before it would hand the request to a provider, then 501 naming the operation. */
  private unimplemented(req: AzureRequest): never {
    const segments = req.path.split("/").filter(Boolean);
    const after = (name: string) => {
      const i = segments.findIndex((s) => s.toLowerCase() === name);
      return i >= 0 && i + 1 < segments.length ? decodeURIComponent(segments[i + 1]) : undefined;
    };
    const subscriptionId = after("subscriptions");
    const resourceGroupName = after("resourcegroups");
    this.checkSubscription(subscriptionId);
    const template = generalisePath(req.path, this.templates.map((t) => t.template));
    const { action } = armOperationName(req.method, template);
    this.checkAuthorized(req, action, actionScope(req.method, req.path, template));
    this.checkResourceGroup(subscriptionId, resourceGroupName);
    const methods = this.templates.filter((t) => t.template.toLowerCase() === template.toLowerCase()).map((t) => t.method);
    throw notImplemented(`'${action}' (${req.method} ${template})`, methods.length ? `It implements ${methods.join(", ")} on this path.` : "");
  }

  private checkSubscription(subscriptionId: string | undefined): void {
    if (subscriptionId !== undefined && !armSubscriptions(this.state).some((s) => sameSubscription(s.subscriptionId, subscriptionId))) {
      throw new ServiceError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
    }
  }

  private checkAuthorized(req: AzureRequest, action: string, scope: string): void {
    const principal = req.principal!;
    if (isDenied(this.state.denyRules, principal.oid, action, scope)) throw authorizationFailed(principal, action, scope);
  }

  private checkResourceGroup(subscriptionId: string | undefined, resourceGroupName: string | undefined): void {
    if (resourceGroupName !== undefined && !this.findResourceGroup(resourceGroupName, subscriptionId)) {
      throw new ServiceError(404, "ResourceGroupNotFound", `Resource group '${resourceGroupName}' could not be found.`);
    }
  }

  private locations(): string[] {
    return [...new Set([...this.state.resourceGroups.values()].map((rg) => rg.location))];
  }

  private defaultLocation(): string {
    return this.locations()[0] ?? "westeurope";
  }

  /** The group of that name, in `subscriptionId` when given (a group of that name in another subscription is not it). */
  findResourceGroup(name: string, subscriptionId?: string): ArmResourceGroup | undefined {
    for (const [key, rg] of this.state.resourceGroups) {
      if (key.toLowerCase() !== name.toLowerCase()) continue;
      return subscriptionId === undefined || sameSubscription(rg.subscriptionId ?? this.state.subscriptionId, subscriptionId) ? rg : undefined;
    }
    return undefined;
  }

  /** The subscription a resource group (and every resource in it) is in. */
  subscriptionOf(resourceGroup: string): string {
    return subscriptionOfGroup(this.state, resourceGroup);
  }

  /** Whether a resource's group is in the request's subscription (for subscription-wide lists). */
  inSubscription(req: AzureRequest, resourceGroup: string): boolean {
    return sameSubscription(this.subscriptionOf(resourceGroup), req.params.subscriptionId ?? this.state.subscriptionId);
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
