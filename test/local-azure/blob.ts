/**
 * Blob storage: Azurite (the official emulator) over HTTPS with OAuth, fronted
 * by a thin proxy that adds what Azurite lacks and Azure has: token signature
 * checks, role checks (403 AuthorizationPermissionMismatch), the storage
 * account's "shared key access disabled" switch, fault injection and the
 * request log. Request bodies (a block at most) are held so a request can be
 * sent again when a pooled connection to Azurite drops; responses stream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { FaultInjector } from "./faults";
import { listenOnLoopback, type RequestLog, type ServiceHost } from "./http";
import type { TlsMaterial } from "./tls";
import type { EntraService } from "./entra";
import { findByName, isDenied, subscriptionOfGroup, type ArmState } from "./arm/core";
import type { StorageState } from "./arm/storage";

export interface AzuriteProcess {
  port: number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode} before it was ready.`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`Azurite did not open port ${port} within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts Azurite's Blob service on a free loopback port, in memory or in `location`. */
export async function startAzurite(options: { tls: TlsMaterial; accounts: { name: string; key: string }[]; location?: string }): Promise<AzuriteProcess> {
  const port = await freePort();
  const entry = require.resolve("azurite/dist/src/blob/main.js");
  const args = [
    entry,
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    String(port),
    "--cert",
    options.tls.serverCertPath,
    "--key",
    options.tls.serverKeyPath,
    "--oauth",
    "basic",
    "--skipApiVersionCheck",
    "--disableProductStyleUrl",
    "--silent",
    "--disableTelemetry",
  ];
  if (options.location) {
    fs.mkdirSync(options.location, { recursive: true });
    args.push("--location", options.location);
  } else {
    args.push("--inMemoryPersistence");
  }
  const child = spawn(process.execPath, args, {
    env: { ...process.env, AZURITE_ACCOUNTS: options.accounts.map((a) => `${a.name}:${a.key}`).join(";") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  // Azurite never outlives the process that started it, even one that ends with process.exit().
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  try {
    await waitForPort(port, child, 15_000);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}

function xmlError(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
}

/** The data action a Blob request needs, for the role check. */
function dataActionFor(method: string, query: URLSearchParams): string {
  const base = "Microsoft.Storage/storageAccounts/blobServices";
  if (query.get("comp") === "userdelegationkey") return `${base}/generateUserDelegationKey/action`;
  const onContainer = query.get("restype") === "container";
  const noun = onContainer ? "containers" : "containers/blobs";
  if (method === "GET" || method === "HEAD") return `${base}/${noun}/read`;
  if (method === "DELETE") return `${base}/${noun}/delete`;
  return `${base}/${noun}/write`;
}

export interface BlobProxyOptions {
  tls: TlsMaterial;
  azuritePort: number;
  faults: FaultInjector;
  log: RequestLog;
  entra: EntraService;
  arm: ArmState;
  storage: StorageState;
}

/** The origin a client reached the proxy at (its Host header), which every URL it is shown must carry. */
function publicOrigin(host: string | undefined): string {
  return `https://${host ?? "127.0.0.1"}`;
}

/** Response headers with Azurite's own origin replaced by the public one. */
export function publicHeaders(headers: IncomingHttpHeaders, internal: string, external: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = typeof value === "string" ? value.split(internal).join(external) : Array.isArray(value) ? value.map((v) => v.split(internal).join(external)) : value;
  }
  return out;
}

/**
 * A listing's XML with the public endpoint: Azure's ServiceEndpoint is the
 * account's blob endpoint with a trailing slash (`https://<account>.blob.core.windows.net/`),
 * path-style here as the account's primaryEndpoints.blob is (`https://host/<account>/`).
 */
export function publicListing(xml: string, internal: string, external: string): string {
  return xml
    .replace(/ServiceEndpoint="([^"]*)"/, (_, endpoint: string) => `ServiceEndpoint="${endpoint.split(internal).join(external).replace(/\/?$/, "/")}"`)
    .split(internal)
    .join(external);
}

export async function startBlobProxy(options: BlobProxyOptions): Promise<ServiceHost> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: options.tls.caCert });
  const internalOrigin = `https://127.0.0.1:${options.azuritePort}`;
  const server = https.createServer({ key: options.tls.serverKey, cert: options.tls.serverCert, keepAlive: true }, (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const requestId = randomUUID();
    const method = req.method ?? "GET";
    const finish = (status: number, fault?: string, principal?: string) =>
      options.log.add({ time: new Date(started).toISOString(), service: "blob", method, path: url.pathname, query: url.search, status, fault, principal, durationMs: Date.now() - started });
    const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}, fault?: string, principal?: string) => {
      req.resume();
      const body = Buffer.from(xmlError(code, message, requestId));
      res.writeHead(status, { "content-type": "application/xml", "content-length": String(body.length), "x-ms-request-id": requestId, "x-ms-error-code": code, ...headers });
      res.end(body);
      finish(status, fault, principal);
    };

    const fault = options.faults.pick("blob", method, url.pathname);
    if (fault?.kind === "reset") {
      req.socket.destroy();
      finish(0, "reset");
      return;
    }
    if (fault && fault.kind !== "slow") {
      const status = Number(fault.kind);
      const code = status === 500 ? "InternalError" : "ServerBusy";
      const retry: Record<string, string> = status === 500 ? {} : { "retry-after": String(fault.retryAfterSeconds ?? 1) };
      refuse(status, code, status === 500 ? "The server encountered an internal error. Please retry the request." : "The server is busy.", retry, fault.kind);
      return;
    }

    const accountName = url.pathname.split("/")[1] ?? "";
    const account = findByName(options.storage.accounts, accountName);
    const authorization = req.headers.authorization ?? "";
    let principal: string | undefined;
    if (account && /^Bearer /i.test(authorization)) {
      try {
        const claims = options.entra.verifyToken(authorization.slice(7));
        principal = String(claims.oid);
      } catch {
        refuse(401, "InvalidAuthenticationInfo", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.");
        return;
      }
      const scope = `/subscriptions/${subscriptionOfGroup(options.arm, account.resourceGroup)}/resourceGroups/${account.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account.name}`;
      if (isDenied(options.arm.denyRules, principal, dataActionFor(method, url.searchParams), scope)) {
        refuse(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.", {}, undefined, principal);
        return;
      }
    } else if (account && !account.allowSharedKeyAccess) {
      const userDelegationSas = url.searchParams.has("skoid");
      const keyBased = /^SharedKey /i.test(authorization) || (url.searchParams.has("sig") && !userDelegationSas);
      if (keyBased) {
        refuse(403, "KeyBasedAuthenticationNotPermitted", "Key based authentication is not permitted on this storage account.");
        return;
      }
    }

    // The body is buffered (blocks are a few MB) so that a request whose pooled
    // connection to Azurite was closed under it can be sent once more.
    const bodyChunks: Buffer[] = [];
    req.on("data", (c: Buffer) => bodyChunks.push(c));
    const bodyRead = new Promise<void>((resolve) => req.on("end", () => resolve()));
    const send = (attempt: number) => {
      const body = Buffer.concat(bodyChunks);
      const upstream = https.request(
        { host: "127.0.0.1", port: options.azuritePort, method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${options.azuritePort}` }, agent },
        (up) => {
          // With OAuth on, Azurite answers a bad SharedKey signature with 400
          // InvalidAuthenticationInfo; Azure answers 403 AuthenticationFailed.
          if (up.statusCode === 400 && up.headers["x-ms-error-code"] === "InvalidAuthenticationInfo" && /^SharedKey /i.test(authorization)) {
            up.resume();
            refuse(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.");
            return;
          }
          const headers = publicHeaders(up.headers, internalOrigin, publicOrigin(req.headers.host));
          if (url.searchParams.get("comp") === "list") {
            // Listings name the service endpoint: the one the client used, not Azurite's port.
            const chunks: Buffer[] = [];
            up.on("data", (c: Buffer) => chunks.push(c));
            up.on("end", () => {
              const body = Buffer.from(publicListing(Buffer.concat(chunks).toString("utf8"), internalOrigin, publicOrigin(req.headers.host)));
              delete headers["transfer-encoding"];
              res.writeHead(up.statusCode ?? 502, { ...headers, "content-length": String(body.length) });
              res.end(body);
              finish(up.statusCode ?? 502, fault?.kind, principal);
            });
            return;
          }
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
          up.on("end", () => finish(up.statusCode ?? 502, fault?.kind, principal));
        },
      );
      upstream.on("error", (e) => {
        if (res.headersSent) return void res.destroy();
        if (attempt === 0) return send(1);
        refuse(502, "InternalError", `Upstream error: ${e.message}`);
      });
      upstream.end(body);
    };
    const forward = () => void bodyRead.then(() => send(0));
    if (fault?.kind === "slow") setTimeout(forward, fault.delayMs ?? 2000);
    else forward();
  });
  return listenOnLoopback(server, "blob", 0, () => agent.destroy());
}
