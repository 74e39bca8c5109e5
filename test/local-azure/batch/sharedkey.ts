/**
 * Batch's SharedKey scheme, checked the way the service checks it:
 *
 *   Authorization: SharedKey <account>:<base64 HMAC-SHA256(key, StringToSign)>
 *
 *   StringToSign = VERB \n Content-Encoding \n Content-Language \n Content-Length \n
 *                  Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n
 *                  If-Match \n If-None-Match \n If-Unmodified-Since \n Range \n
 *                  CanonicalizedHeaders (every ocp-* header, lower-cased, sorted, "name:value\n")
 *                  CanonicalizedResource ("/<account><path>", then "\n<name>:<value>" for
 *                  each query parameter, names lower-cased and sorted, values decoded)
 *
 * This is what @azure/batch 10.2.0's BatchSharedKeyCredentials signs. One
 * wrinkle: for Content-Length that client signs the header's value when it set
 * one, else the body's length, else "0" for a POST and "" otherwise; so a body-less
 * POST is signed with "0" while other clients sign "" for a zero length (as
 * Storage's 2015-02-21 rule has it). Both forms are accepted for a zero length,
 * as the service evidently accepts both clients. Either account key may sign.
 * Requests whose ocp-date (or Date) is more than 15 minutes off are refused.
 */
import * as crypto from "node:crypto";
import { ServiceError, type AzureRequest } from "../http";

const STANDARD_HEADERS = ["content-encoding", "content-language", "content-length", "content-md5", "content-type", "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"];

const AUTH_FAILED_MESSAGE = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

function header(req: AzureRequest, name: string): string {
  const v = req.headers[name];
  if (v === undefined) return "";
  return Array.isArray(v) ? v.join(",") : String(v);
}

/** Decodes a query component as the client's URL parser (querystringify) does: '+' is a space. */
function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** "/<account><path>" and the sorted, decoded query parameters; the first of a repeated name wins. */
export function canonicalizedResource(account: string, rawUrl: string): string {
  const q = rawUrl.indexOf("?");
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? "" : rawUrl.slice(q + 1);
  const params = new Map<string, string>();
  for (const part of query.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? "" : decodeComponent(part.slice(eq + 1));
    if (!params.has(name)) params.set(name, value);
  }
  let out = `/${account}${path || "/"}`;
  for (const name of [...params.keys()].sort()) out += `\n${name}:${params.get(name)}`;
  return out;
}

function canonicalizedHeaders(req: AzureRequest): string {
  return Object.keys(req.headers)
    .map((h) => h.toLowerCase())
    .filter((h) => h.startsWith("ocp-"))
    .sort()
    .map((h) => ({ h, v: header(req, h) }))
    .filter(({ v }) => v !== "")
    .map(({ h, v }) => `${h}:${v}\n`)
    .join("");
}

/** The strings a genuine client may have signed for this request (see the Content-Length note). */
export function stringsToSign(req: AzureRequest, account: string, rawUrl: string): string[] {
  const lengthHeader = header(req, "content-length");
  const lengths = new Set<string>([lengthHeader]);
  if (lengthHeader === "0") lengths.add("");
  if (lengthHeader === "" && req.body.length === 0 && req.method === "POST") lengths.add("0");
  const tail = canonicalizedHeaders(req) + canonicalizedResource(account, rawUrl);
  return [...lengths].map((length) => {
    const standard = STANDARD_HEADERS.map((h) => (h === "content-length" ? length : header(req, h)));
    return `${req.method}\n${standard.join("\n")}\n${tail}`;
  });
}

export function sign(key: string, stringToSign: string): string {
  return crypto.createHmac("sha256", Buffer.from(key, "base64")).update(stringToSign, "utf8").digest("base64");
}

function authFailed(detail: string): ServiceError {
  return new ServiceError(403, "AuthenticationFailed", AUTH_FAILED_MESSAGE, { values: [{ key: "AuthenticationErrorDetail", value: detail }] });
}

/**
 * Verifies a SharedKey Authorization header against the account's keys.
 * `keysFor` returns the account's two keys, or undefined for an unknown account.
 */
export function verifySharedKey(req: AzureRequest, rawUrl: string, keysFor: (account: string) => string[] | undefined): string {
  const m = /^SharedKey\s+([^:\s]+):(\S+)$/.exec(header(req, "authorization"));
  if (!m) throw new ServiceError(400, "InvalidAuthenticationInfo", "The authentication information was not provided in the correct format. Verify the value of Authorization header.");
  const [, account, signature] = m;
  const keys = keysFor(account);
  if (!keys) throw authFailed(`The account '${account}' is not served by this endpoint.`);
  const dateValue = header(req, "ocp-date") || header(req, "date");
  const date = Date.parse(dateValue);
  if (!dateValue || Number.isNaN(date)) throw authFailed("The request has no valid ocp-date or Date header.");
  if (Math.abs(Date.now() - date) > 15 * 60_000) throw authFailed(`Request date header too old: '${dateValue}'.`);
  const candidates = stringsToSign(req, account, rawUrl);
  const given = Buffer.from(signature);
  for (const key of keys) {
    for (const s of candidates) {
      const expected = Buffer.from(sign(key, s));
      if (expected.length === given.length && crypto.timingSafeEqual(expected, given)) return account;
    }
  }
  throw authFailed(`The MAC signature found in the HTTP request '${signature}' is not the same as any computed signature. Server used following string to sign: '${candidates[0]}'.`);
}
