/**
 * The slice of Azure DevOps that workload identity federation needs: the job's
 * OIDC endpoint (System.OidcRequestUri), which swaps System.AccessToken for a
 * short-lived ID token naming the service connection.
 */
import * as crypto from "node:crypto";
import jwt from "jsonwebtoken";
import { ServiceError, type AzureRequest, type AzureResponse } from "./http";

export interface DevOpsState {
  organizationId: string;
  organizationName: string;
  projectName: string;
  /** The job's System.AccessToken. */
  accessToken: string;
  /** Service connection id → its name, as the subject names it. */
  serviceConnections: Map<string, string>;
  tokensIssued: number;
  tokenLifetimeSeconds: number;
}

export const OIDC_PATH = "/_apis/distributedtask/hubs/build/plans/local-plan/jobs/local-job/oidctoken";

export class DevOpsService {
  private readonly privateKey: crypto.KeyObject;
  readonly publicKeyPem: string;
  baseUrl = "";

  constructor(readonly state: DevOpsState) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  }

  get issuer(): string {
    return `${this.baseUrl}/${this.state.organizationId}`;
  }

  get oidcRequestUri(): string {
    return `${this.baseUrl}/${this.state.organizationName}${OIDC_PATH}`;
  }

  subjectFor(connectionName: string): string {
    return `sc://${this.state.organizationName}/${this.state.projectName}/${connectionName}`;
  }

  async handle(req: AzureRequest): Promise<AzureResponse & { route?: string }> {
    if (req.method !== "POST" || !req.path.endsWith("/oidctoken")) {
      // Not a 404 a client would take for a real not-found: the local Azure DevOps serves the OIDC token only.
      throw new ServiceError(501, "NotImplemented", `The local Azure DevOps does not implement ${req.method} ${req.path}; it serves POST /{organization}${OIDC_PATH} only.`);
    }
    if (!req.query.get("api-version")) {
      throw new ServiceError(400, "VssInvalidApiVersion", "The api-version query parameter is required.");
    }
    if (req.headers.authorization !== `Bearer ${this.state.accessToken}`) {
      throw new ServiceError(401, "Unauthorized", "TF400813: The user is not authorized to access this resource.");
    }
    const connectionId = req.query.get("serviceConnectionId") ?? "";
    const connectionName = this.state.serviceConnections.get(connectionId);
    if (!connectionName) {
      throw new ServiceError(404, "ServiceEndpointNotFound", `Service connection '${connectionId}' was not found or the job is not authorized to use it.`);
    }
    const now = Math.floor(Date.now() / 1000);
    const oidcToken = jwt.sign(
      {
        iss: this.issuer,
        aud: "api://AzureADTokenExchange",
        sub: this.subjectFor(connectionName),
        iat: now,
        nbf: now,
        exp: now + this.state.tokenLifetimeSeconds,
        jti: crypto.randomUUID(),
      },
      this.privateKey,
      { algorithm: "RS256" },
    );
    this.state.tokensIssued++;
    return { status: 200, body: { oidcToken }, route: "POST oidctoken" };
  }
}
