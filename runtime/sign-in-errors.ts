/**
 * Sign-in failures as something the user can act on. MSAL reports a wrong
 * tenant id and an unreachable authority alike, as `endpoints_resolution_error`
 * ("could not resolve endpoints"), which names neither the tenant nor the host.
 */
import type { AzureConnection } from "./connection";
import { TaskError } from "./errors";

function messagesOf(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = (e as { message?: unknown }).message;
    const code = (e as { errorCode?: unknown }).errorCode;
    if (typeof message === "string") parts.push(message);
    if (typeof code === "string") parts.push(code);
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner)) parts.push(...inner.map((i) => String((i as { message?: unknown }).message ?? i)));
  }
  return parts.join(" | ");
}

/** What the authority says about the tenant's OpenID metadata: an HTTP answer, or a network failure. */
export type AuthorityProbe = (url: string) => Promise<{ status: number; body: string } | { networkError: string }>;

const fetchProbe: AuthorityProbe = async (url) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: await response.text() };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { networkError: cause?.code ?? cause?.message ?? String(e) };
  }
};

/**
 * MSAL says the same for both causes, so on that error the authority is asked
 * once more, directly, for the tenant's metadata: a network failure means
 * unreachable, an answer (AADSTS90002 and the like) means the tenant is wrong.
 */
export async function explainSignInError(error: unknown, connection: Pick<AzureConnection, "id" | "tenantId" | "cloud">, probe: AuthorityProbe = fetchProbe): Promise<unknown> {
  if (error instanceof TaskError) return error;
  if (!/endpoints_resolution_error|could not resolve endpoints/i.test(messagesOf(error))) return error;
  const authority = connection.cloud.authorityHost.replace(/\/?$/, "/");
  const answer = await probe(`${authority}${encodeURIComponent(connection.tenantId)}/v2.0/.well-known/openid-configuration`);
  let message: string;
  if ("networkError" in answer) {
    message = `the authority ${authority} could not be reached from this agent (${answer.networkError}) to look up tenant '${connection.tenantId}'. Check the agent's network and proxy settings (it must reach ${authority}), and, for a custom cloud, the connection's authority URL.`;
  } else {
    const described = /"error_description"\s*:\s*"([^"]*)"/.exec(answer.body)?.[1]?.split("\\r\\n")[0];
    message = `the authority ${authority} does not know tenant '${connection.tenantId}' (HTTP ${answer.status}${described ? `: ${described}` : ""}). Check the connection's tenant id (the Directory (tenant) ID of its app registration) and, for a custom cloud, its authority URL.`;
  }
  return new TaskError("SignInFailed", `Signing in with service connection '${connection.id}' failed: ${message}`, { cause: error });
}
