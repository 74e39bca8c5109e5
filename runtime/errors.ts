/**
 * Errors the tasks raise on purpose carry a code from one closed set, so the
 * entry can print them plainly and callers can tell them apart; like the
 * SDK's RestError they carry the HTTP status and the service's request id,
 * and a wrapped error is kept as `cause` so the debug log can show it.
 * Azure SDK errors are reduced to code, message and request id.
 */

/** Every code a TaskError can carry; a new one is added here, on purpose. */
export type TaskErrorCode =
  // Input that cannot work, found before anything changes in Azure.
  | "InvalidInput"
  | "InvalidBlobNames"
  | "InvalidInterval"
  | "InvalidZip"
  // The run itself.
  | "Cancelled"
  | "Timeout"
  // Data Factory: what pre-flight found (strictPreflight), and a run that did not succeed.
  | "PreflightFailed"
  | "PipelineRunFailed"
  // Signing in and permissions.
  | "SignInFailed"
  | "OidcTokenRequestFailed"
  | "AuthorizationFailed"
  // Lookups: something named is not there, or lacks what the task needs.
  | "ResourceNotFound"
  | "ContainerNotFound"
  | "NoAccountEndpoint"
  | "NoBlobEndpoint"
  | "NoAccountKey"
  | "NoAutoScaleFormula"
  | "NoDefaultVersion"
  | "NoAutoStorage"
  | "NoStorageUrl"
  // Local files.
  | "SourceFileMissing"
  | "SourceFileUnreadable"
  // One run at a time, and the safety limits.
  | "TargetLocked"
  | "LockLost"
  | "BlobLeased"
  | "TooManyDeletes"
  | "ListFailed"
  // Batch: a request the service refused (its own code is `reason`), and what the tasks watch fail.
  | "BatchRequestFailed"
  | "PackageUploadFailed"
  | "ResizeFailed"
  | "NodeFailed"
  | "NodesOutdated"
  | "EnableSchedulingFailed"
  | "CleanupFailed"
  | "PoolCycleFailed"
  | "FormulaEvaluationFailed";

export interface TaskErrorOptions {
  /** The error this one explains (kept for the debug log). */
  cause?: unknown;
  /** Defaults to the cause's HTTP status. */
  statusCode?: number;
  /** Defaults to the cause's request id (the service's, not the client's). */
  requestId?: string;
}

export class TaskError extends Error {
  readonly statusCode?: number;
  readonly requestId?: string;

  constructor(
    readonly code: TaskErrorCode,
    message: string,
    options: TaskErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TaskError";
    const statusCode = options.statusCode ?? errorStatus(options.cause);
    const requestId = options.requestId ?? errorRequestId(options.cause);
    if (statusCode !== undefined) this.statusCode = statusCode;
    if (requestId !== undefined) this.requestId = requestId;
  }
}

/** Bad input, found before anything changes in Azure. */
export class InputError extends TaskError {
  constructor(
    readonly input: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super("InvalidInput", message, options);
    this.name = "InputError";
  }
}

export class CancelledError extends TaskError {
  constructor(message = "The task was cancelled.", options: TaskErrorOptions = {}) {
    super("Cancelled", message, options);
    this.name = "CancelledError";
  }
}

export class TimeoutError extends TaskError {
  constructor(message: string, options: TaskErrorOptions = {}) {
    super("Timeout", message, options);
    this.name = "TimeoutError";
  }
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const sentence = (s: string) => (/[.!?]$/.test(s) ? s : `${s}.`);

export interface NotFoundDetails {
  /** "Batch account", "storage account", "pool". */
  kind: string;
  /** The name or id asked for. */
  name: string;
  /** `name` is a resource id. */
  byId?: boolean;
  /** Where it was looked for: "subscription 'Prod'", "Batch account 'releasebatch'". */
  where?: string;
  /** The names the connection can see there (all, or the first ones); undefined when not listed. */
  visible?: readonly string[];
  /** Said when nothing is visible: why that may be. */
  whenNoneVisible?: string;
  /** Said last, as its own sentence: what to do ("The id names subscription …"). */
  advice?: string;
  cause?: unknown;
}

/**
 * Something named is not there. It says what the connection can see instead,
 * so a typo or a wrong subscription shows at once.
 */
export class NotFoundError extends TaskError {
  readonly kind: string;
  readonly resourceName: string;
  readonly where?: string;
  readonly visible?: readonly string[];
  /** The message as a clause (lower-case start), to follow "Input 'x':". */
  readonly detail: string;

  constructor(details: NotFoundDetails) {
    const shown = details.visible?.slice(0, 20);
    const more = details.visible && shown && details.visible.length > shown.length ? `, and ${details.visible.length - shown.length} more` : "";
    const why = details.cause === undefined ? "" : ` (${describeError(details.cause)})`;
    let detail = `no ${details.kind} ${details.byId ? "with id" : "named"} '${details.name}'${details.where ? ` in ${details.where}` : ""}${why}.`;
    if (shown?.length) detail += ` The service connection can see: ${shown.join(", ")}${more}.`;
    else if (shown) detail += ` The service connection sees no ${details.kind}s there${details.whenNoneVisible ? `; ${details.whenNoneVisible}` : ""}.`;
    if (details.advice) detail += ` ${sentence(details.advice)}`;
    super("ResourceNotFound", capitalise(detail), { cause: details.cause });
    this.name = "NotFoundError";
    this.kind = details.kind;
    this.resourceName = details.name;
    if (details.where !== undefined) this.where = details.where;
    if (details.visible !== undefined) this.visible = details.visible;
    this.detail = detail;
  }
}

export interface NotAuthorizedDetails {
  /** What was refused, as a clause: "read Batch account 'releasebatch'". */
  operation: string;
  /** The role that grants it: "Reader". */
  role?: string;
  /** The action that is missing: "Microsoft.Batch/batchAccounts/read". */
  action?: string;
  /** Where to grant it: "on the account (or its resource group)". */
  scope?: string;
  /** Said after the grant: "or use authType 'entra'". */
  alternative?: string;
  cause?: unknown;
}

/** The service connection may not do something; the message names the role or action to grant. */
export class NotAuthorizedError extends TaskError {
  readonly role?: string;
  readonly action?: string;
  /** The message as a clause (lower-case start), to follow "Input 'x':". */
  readonly detail: string;

  constructor(details: NotAuthorizedDetails) {
    const grant = details.role
      ? `the '${details.role}'${/\brole$/i.test(details.role) ? "" : " role"}${details.action ? ` (it includes ${details.action})` : ""}`
      : details.action
        ? `a role with ${details.action}`
        : undefined;
    const why = details.cause === undefined ? "" : `: ${describeError(details.cause)}`;
    const fix = grant ? ` Grant it ${grant}${details.scope ? ` ${details.scope}` : ""}${details.alternative ? `, ${details.alternative}` : ""}.` : details.alternative ? ` ${capitalise(sentence(details.alternative))}` : "";
    const detail = `the service connection may not ${details.operation}${why.replace(/\.$/, "")}.${fix}`;
    super("AuthorizationFailed", capitalise(detail), { cause: details.cause });
    this.name = "NotAuthorizedError";
    if (details.role !== undefined) this.role = details.role;
    if (details.action !== undefined) this.action = details.action;
    this.detail = detail;
  }
}

interface AzureLikeError {
  code?: unknown;
  reason?: unknown;
  statusCode?: unknown;
  requestId?: unknown;
  message?: unknown;
  details?: { errorCode?: unknown; message?: unknown; requestId?: unknown } & Record<string, unknown>;
  body?: unknown;
  response?: { headers?: { get?(name: string): string | undefined } };
  request?: { requestId?: string };
}

function headerValue(e: AzureLikeError, name: string): string | undefined {
  try {
    return e.response?.headers?.get?.(name) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The service's request id of an Azure error (x-ms-request-id, or Batch's request-id); never the client's own id. */
export function errorRequestId(error: unknown): string | undefined {
  if (!error || typeof error !== "object") return undefined;
  const e = error as AzureLikeError;
  if (error instanceof TaskError) return error.requestId;
  if (typeof e.requestId === "string" && e.requestId) return e.requestId;
  return headerValue(e, "x-ms-request-id") ?? headerValue(e, "request-id") ?? undefined;
}

/**
 * One line for the log: `Code (HTTP 403): message [request id]`. Never the
 * request or its headers, which may hold tokens or SAS signatures.
 */
export function describeError(error: unknown): string {
  if (error instanceof TaskError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & AzureLikeError;
  const code = errorCode(e);
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  // ms-rest-js (under @azure/batch) can leave Batch's `{ lang, value }` object where the message string belongs.
  const raw: unknown = e.message;
  const rawText = typeof raw === "string" ? raw : typeof (raw as { value?: unknown } | null)?.value === "string" ? (raw as { value: string }).value : String(raw);
  let message = (rawText.split("\n")[0] ?? "").trim();
  // Batch puts "RequestId:..." and "Time:..." lines in its messages; keep the first line.
  const body = e.body as { message?: { value?: string } } | undefined;
  if (typeof body?.message?.value === "string") message = body.message.value.split("\n")[0] ?? "";
  const requestId = errorRequestId(e);
  const parts = [code, status ? `(HTTP ${status})` : undefined].filter(Boolean).join(" ");
  return `${parts ? `${parts}: ` : ""}${message}${requestId ? ` [request id ${requestId}]` : ""}`;
}

export function errorStatus(error: unknown): number | undefined {
  const status = (error as AzureLikeError | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The service's own error code: Batch's `reason` (the runtime's seam), `details.errorCode` (Blob) or `code`. */
export function errorCode(error: unknown): string | undefined {
  const e = error as AzureLikeError | undefined;
  for (const c of [e?.reason, e?.details?.errorCode, e?.code]) if (typeof c === "string" && c !== "") return c;
  return undefined;
}

/**
 * The error and its causes, outermost first, for the debug log: each one's
 * name, code, HTTP status, request id and stack. Only those fields: an SDK
 * error's request and response (headers, tokens, SAS) are never printed.
 */
export function describeErrorChain(error: unknown, maxDepth = 8): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < maxDepth && !seen.has(current); depth++) {
    seen.add(current);
    const prefix = depth === 0 ? "" : "Caused by: ";
    if (current instanceof Error) {
      const code = current instanceof TaskError ? current.code : errorCode(current);
      const status = errorStatus(current);
      const requestId = errorRequestId(current);
      const facts = [code && `code ${code}`, status !== undefined && `HTTP ${status}`, requestId && `request id ${requestId}`].filter(Boolean).join(", ");
      const stack = current.stack ?? `${current.name}: ${current.message}`;
      lines.push(`${prefix}${facts ? `[${facts}] ` : ""}${stack}`);
      current = (current as { cause?: unknown }).cause;
    } else {
      lines.push(`${prefix}${String(current)}`);
      break;
    }
  }
  return lines;
}
