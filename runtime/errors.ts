/**
 * Errors the tasks raise on purpose carry a code, so the entry can print them
 * plainly; Azure SDK errors are reduced to code, message and request id.
 */

export class TaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "TaskError";
  }
}

/** Bad input, found before anything changes in Azure. */
export class InputError extends TaskError {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super("InvalidInput", message);
    this.name = "InputError";
  }
}

export class CancelledError extends TaskError {
  constructor(message = "The task was cancelled.") {
    super("Cancelled", message);
    this.name = "CancelledError";
  }
}

export class TimeoutError extends TaskError {
  constructor(message: string) {
    super("Timeout", message);
    this.name = "TimeoutError";
  }
}

interface AzureLikeError {
  code?: unknown;
  statusCode?: unknown;
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

/**
 * One line for the log: `Code (HTTP 403): message [request id]`. Never the
 * request or its headers, which may hold tokens or SAS signatures.
 */
export function describeError(error: unknown): string {
  if (error instanceof TaskError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & AzureLikeError;
  const code = (typeof e.details?.errorCode === "string" && e.details.errorCode) || (typeof e.code === "string" && e.code) || undefined;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  let message = e.message.split("\n")[0].trim();
  // Batch puts "RequestId:..." and "Time:..." lines in its messages; keep the first line.
  const body = e.body as { message?: { value?: string } } | undefined;
  if (typeof body?.message?.value === "string") message = body.message.value.split("\n")[0];
  const requestId = headerValue(e, "x-ms-request-id") ?? headerValue(e, "request-id");
  const parts = [code, status ? `(HTTP ${status})` : undefined].filter(Boolean).join(" ");
  return `${parts ? `${parts}: ` : ""}${message}${requestId ? ` [request id ${requestId}]` : ""}`;
}

export function errorStatus(error: unknown): number | undefined {
  const status = (error as AzureLikeError | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

export function errorCode(error: unknown): string | undefined {
  const e = error as AzureLikeError | undefined;
  const code = e?.details?.errorCode ?? e?.code;
  return typeof code === "string" ? code : undefined;
}
