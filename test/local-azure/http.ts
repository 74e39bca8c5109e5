/**
 * The HTTP layer every local Azure service stands on: an HTTPS server, a small
 * router, errors rendered in each service's own shape, the request log, and the
 * fault injector applied before any handler runs.
 */
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { TlsMaterial } from "./tls";
import type { FaultInjector } from "./faults";

export type ServiceName = "entra" | "arm" | "batch" | "blob" | "devops";

/** How a service renders an error body; each Azure service has its own shape. */
export type ErrorShape = "arm" | "batch" | "entra" | "plain";

export interface AzureRequest {
  service: ServiceName;
  method: string;
  url: URL;
  /** The request target exactly as sent (path and query), for signature checks. */
  rawUrl: string;
  /** Path without the query, percent-decoded segments kept as sent. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: Buffer;
  params: Record<string, string>;
  requestId: string;
  /** Set by the service's authentication step. */
  principal?: Principal;
}

export interface Principal {
  /** Object id of the caller, or "sharedkey:<account>" for key-based calls. */
  oid: string;
  appId?: string;
  tenantId?: string;
  kind: "token" | "sharedKey";
}

export interface AzureResponse {
  status: number;
  headers?: Record<string, string>;
  /** A JSON value (serialised) or raw bytes. */
  body?: unknown;
}

export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: {
      headers?: Record<string, string>;
      values?: { key: string; value: string }[];
      entraCodes?: number[];
      /** ARM's error.target and error.details. */
      target?: string;
      details?: { code: string; message: string; target?: string }[];
    } = {},
  ) {
    super(message);
  }
}

export type Handler = (req: AzureRequest) => Promise<AzureResponse> | AzureResponse;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  name: string;
  handler: Handler;
}

/**
 * Routes match on method and a path template such as
 * `/subscriptions/{sub}/resourceGroups/{rg}`; matching is case-insensitive on
 * literal segments, as ARM's is.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, template: string, handler: Handler, name = `${method} ${template}`): this {
    const names: string[] = [];
    const source = template
      .split("/")
      .map((segment) => {
        const m = /^\{(\w+)\}$/.exec(segment);
        if (m) {
          names.push(m[1]);
          return "([^/]+)";
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`, "i"), names, name, handler });
    return this;
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | { methodNotAllowed: true } | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { route, params };
    }
    return pathMatched ? { methodNotAllowed: true } : undefined;
  }
}

export interface RequestLogEntry {
  time: string;
  service: ServiceName;
  method: string;
  path: string;
  query: string;
  status: number;
  route?: string;
  principal?: string;
  fault?: string;
  durationMs: number;
  /** Present when `RequestLog.capture` is on: the exchange as JSON, for checks against the REST specs. */
  exchange?: CapturedExchange;
}

/** JSON bodies (parsed; undefined when empty or not JSON) and the headers the spec checks read. */
export interface CapturedExchange {
  requestBody?: unknown;
  /** Set when the request declared JSON but its body did not parse. */
  requestBodyInvalid?: string;
  responseBody?: unknown;
  /** The response body was bytes (a download), not JSON. */
  responseBinary?: boolean;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
}

const CAPTURED_REQUEST_HEADERS = ["content-type", "ocp-date", "client-request-id", "return-client-request-id", "if-match", "if-none-match"];
const CAPTURED_RESPONSE_HEADERS = ["content-type", "location", "azure-asyncoperation", "retry-after", "etag", "last-modified", "x-ms-failure-cause"];

function pickHeaders(headers: Record<string, string | string[] | number | undefined>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && names.includes(key.toLowerCase())) out[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

function captureExchange(req: IncomingMessage, body: Buffer | undefined, sent: AzureResponse | undefined): CapturedExchange {
  const exchange: CapturedExchange = {
    requestHeaders: pickHeaders(req.headers, CAPTURED_REQUEST_HEADERS),
    responseHeaders: pickHeaders(sent?.headers ?? {}, CAPTURED_RESPONSE_HEADERS),
  };
  if (body && body.length > 0 && /json/i.test(exchange.requestHeaders["content-type"] ?? "")) {
    try {
      exchange.requestBody = JSON.parse(body.toString("utf8"));
    } catch {
      exchange.requestBodyInvalid = body.toString("utf8").slice(0, 200);
    }
  }
  if (Buffer.isBuffer(sent?.body)) exchange.responseBinary = true;
  // What went over the wire: JSON.stringify drops undefined and turns dates into strings.
  else if (sent?.body !== undefined) exchange.responseBody = JSON.parse(JSON.stringify(sent.body));
  return exchange;
}

export class RequestLog {
  readonly entries: RequestLogEntry[] = [];
  /** Opt-in: entries get `exchange` (JSON bodies and a few headers). */
  capture = false;
  /** Called with each entry as it is added; entries may later be cleared or trimmed, listeners keep what they need. */
  readonly listeners: ((entry: RequestLogEntry) => void)[] = [];
  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
    for (const listener of this.listeners) listener(entry);
    // Bounded: the demo can run for a long time.
    if (this.entries.length > 50_000) this.entries.splice(0, 10_000);
  }
  clear(): void {
    this.entries.length = 0;
  }
  find(filter: Partial<Pick<RequestLogEntry, "service" | "method">> & { path?: RegExp }): RequestLogEntry[] {
    return this.entries.filter(
      (e) =>
        (!filter.service || e.service === filter.service) &&
        (!filter.method || e.method === filter.method) &&
        (!filter.path || filter.path.test(e.path)),
    );
  }
}

export function renderError(shape: ErrorShape, err: ServiceError, requestId: string): { body: unknown; headers: Record<string, string> } {
  const headers = { ...(err.extra.headers ?? {}) };
  switch (shape) {
    case "arm":
      return {
        body: { error: { code: err.code, message: err.message, ...(err.extra.target ? { target: err.extra.target } : {}), ...(err.extra.details ? { details: err.extra.details } : {}) } },
        headers: { "x-ms-failure-cause": "gateway", ...headers },
      };
    case "batch":
      return {
        body: {
          "odata.metadata": "https://batch.local/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
          code: err.code,
          message: { lang: "en-US", value: `${err.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}` },
          ...(err.extra.values ? { values: err.extra.values } : {}),
        },
        headers,
      };
    case "entra": {
      const codes = err.extra.entraCodes ?? [];
      return {
        body: {
          error: err.code,
          error_description: `${err.message}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
          error_codes: codes,
          timestamp: new Date().toISOString(),
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        },
        headers,
      };
    }
    default:
      return { body: { code: err.code, message: err.message }, headers };
  }
}

export interface ServiceHost {
  readonly name: ServiceName;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ServiceOptions {
  name: ServiceName;
  tls: TlsMaterial;
  errorShape: ErrorShape;
  log: RequestLog;
  faults: FaultInjector;
  /** Per-service request handling; throw ServiceError for failures. */
  handle: (req: AzureRequest) => Promise<AzureResponse & { route?: string }>;
  /** Extra response headers on every response (request ids, server name). */
  requestIdHeader?: string;
  /**
   * The service's own request id on every answer (Batch): never the client's id,
   * and no x-ms-client-request-id echo; `answerHeaders` adds what the service does echo.
   */
  ownRequestIds?: boolean;
  /** Headers the service adds to every answer, errors and injected faults included. */
  answerHeaders?: (requestHeaders: IncomingMessage["headers"], requestId: string) => Record<string, string>;
  /** Renders errors in place of the shared shape (a service whose error bodies depend on its own URL). */
  renderError?: (err: ServiceError, requestId: string) => { body: unknown; headers: Record<string, string> };
  port?: number;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts one HTTPS service on loopback; port 0 picks a free port. */
export async function startService(options: ServiceOptions): Promise<ServiceHost> {
  const server = https.createServer({ key: options.tls.serverKey, cert: options.tls.serverCert, keepAlive: true }, (req, res) => {
    void serve(options, req, res);
  });
  return listenOnLoopback(server, options.name, options.port);
}

/** Listens on 127.0.0.1 (port 0: a free one) and returns the host handle; `onClose` runs after the server closes. */
export async function listenOnLoopback(server: https.Server, name: ServiceName, port = 0, onClose?: () => void): Promise<ServiceHost> {
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    name,
    port: bound,
    url: `https://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        onClose?.();
      }),
  };
}

async function serve(options: ServiceOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const url = new URL(req.url ?? "/", `https://${req.headers.host ?? "127.0.0.1"}`);
  const requestId = options.ownRequestIds ? randomUUID() : ((req.headers["x-ms-client-request-id"] as string | undefined) ?? randomUUID());
  let status = 500;
  let routeName: string | undefined;
  let faultName: string | undefined;
  let principal: string | undefined;
  let requestBody: Buffer | undefined;
  let sent: AzureResponse | undefined;
  try {
    const body = await readBody(req);
    requestBody = body;
    const request: AzureRequest = {
      service: options.name,
      method: req.method ?? "GET",
      url,
      rawUrl: req.url ?? "/",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      params: {},
      requestId,
    };
    const fault = options.faults.pick(options.name, request.method, request.path);
    if (fault) {
      faultName = fault.kind;
      if (fault.kind === "slow") {
        await new Promise((r) => setTimeout(r, fault.delayMs ?? 2000));
      } else if (fault.kind === "reset") {
        status = 0;
        req.socket.destroy();
        return;
      } else {
        const code = fault.kind === "429" ? (options.errorShape === "arm" ? "TooManyRequests" : "ServerBusy") : fault.kind === "503" ? "ServerBusy" : "InternalError";
        const statusCode = Number(fault.kind);
        const headers: Record<string, string> = fault.kind === "429" || fault.kind === "503" ? { "retry-after": String(fault.retryAfterSeconds ?? 1) } : {};
        throw new ServiceError(statusCode, code, `Injected fault ${fault.kind}.`, { headers });
      }
    }
    const response = await options.handle(request);
    routeName = response.route;
    principal = request.principal?.oid;
    status = response.status;
    sent = response;
    send(res, response, requestId, options, req);
  } catch (e) {
    const err = e instanceof ServiceError ? e : new ServiceError(500, "InternalError", e instanceof Error ? e.message : String(e));
    if (!(e instanceof ServiceError)) console.error(`[local-azure:${options.name}]`, e);
    status = err.status;
    const rendered = options.renderError ? options.renderError(err, requestId) : renderError(options.errorShape, err, requestId);
    sent = { status: err.status, headers: rendered.headers, body: rendered.body };
    send(res, sent, requestId, options, req);
  } finally {
    options.log.add({
      time: new Date(started).toISOString(),
      service: options.name,
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.search,
      status,
      route: routeName,
      principal,
      fault: faultName,
      durationMs: Date.now() - started,
      ...(options.log.capture && status !== 0 ? { exchange: captureExchange(req, requestBody, sent) } : {}),
    });
  }
}

function send(res: ServerResponse, response: AzureResponse, requestId: string, options: ServiceOptions, req: IncomingMessage): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = {
    [options.requestIdHeader ?? "x-ms-request-id"]: requestId,
    ...(options.ownRequestIds ? {} : { "x-ms-client-request-id": requestId }),
    ...(options.answerHeaders?.(req.headers, requestId) ?? {}),
    ...(response.headers ?? {}),
  };
  let payload: Buffer | undefined;
  if (Buffer.isBuffer(response.body)) {
    payload = response.body;
  } else if (response.body !== undefined) {
    payload = Buffer.from(JSON.stringify(response.body));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json; charset=utf-8";
  }
  headers["content-length"] = String(payload?.length ?? 0);
  res.writeHead(response.status, headers);
  res.end(payload);
}

/** Parses a JSON request body, answering a 400 in the caller's shape when it is not JSON. */
export function jsonBody<T>(req: AzureRequest, errorCode = "InvalidRequestContent"): T {
  if (req.body.length === 0) return {} as T;
  try {
    return JSON.parse(req.body.toString("utf8")) as T;
  } catch {
    throw new ServiceError(400, errorCode, "The request content was invalid and could not be deserialized.");
  }
}
