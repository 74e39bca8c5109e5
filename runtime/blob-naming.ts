/**
 * Azure's naming rules for containers, prefixes and blobs, and the one mapping
 * from a source file's relative path to its blob name. A name the service
 * would refuse or store differently (it turns '\' into '/', drops a trailing
 * dot) is refused up front: uploading it would write a blob under another
 * name, which a sync would then see as stale and delete.
 */

export const MAX_BLOB_NAME_LENGTH = 1024;
export const MAX_BLOB_NAME_SEGMENTS = 254;

/** Azure's container naming rules. */
export function containerNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "it must be 3 to 63 characters long";
  if (!/^[a-z0-9-]+$/.test(name)) return "it may hold only lowercase letters, digits and hyphens";
  if (!/^[a-z0-9]/.test(name) || name.endsWith("-")) return "it must start and end with a letter or digit";
  if (name.includes("--")) return "it may not hold two hyphens in a row";
  return undefined;
}

// C0 and C1 controls and DEL: Azure refuses some and they cannot be printed safely.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a blob name (or a prefix's segments) would be refused or rewritten by the service. */
export function blobNameProblem(name: string): string | undefined {
  if (name.includes("\\")) return "it holds a backslash, which Blob storage turns into '/'";
  if (CONTROL.test(name)) return "it holds a control character (such as a line break or tab)";
  const segments = name.split("/");
  if (segments.some((s) => s.endsWith(".") || s.endsWith(" "))) return "a folder or file name ends with a dot or a space, which Blob storage drops";
  if (name.length > MAX_BLOB_NAME_LENGTH) return `with the prefix it is ${name.length} characters long, more than the ${MAX_BLOB_NAME_LENGTH} Blob storage allows`;
  if (segments.length > MAX_BLOB_NAME_SEGMENTS) return `it has ${segments.length} path segments, more than the ${MAX_BLOB_NAME_SEGMENTS} Blob storage allows`;
  return undefined;
}

/** Returns the prefix normalised (empty, or ending in exactly one '/'), or a reason it cannot be used. */
export function normaliseBlobPrefix(raw: string): { prefix: string } | { problem: string } {
  const prefix = raw.trim();
  if (prefix === "") return { prefix: "" };
  if (prefix.startsWith("/")) return { problem: "it may not start with '/'; write it relative to the container, e.g. 'app/1.2.0/'" };
  if (prefix.includes("\\")) return { problem: "use '/' between folders, not '\\'" };
  const segments = prefix.replace(/\/+$/, "").split("/");
  if (segments.some((s) => s === "..")) return { problem: "it may not contain '..'" };
  if (segments.some((s) => s === "." || s === "")) return { problem: "it may not contain '.' or empty segments ('//')" };
  if (CONTROL.test(prefix)) return { problem: "it may not contain control characters" };
  if (segments.some((s) => s.endsWith(".") || s.endsWith(" "))) return { problem: "a folder name may not end with a dot or a space (Blob storage drops them)" };
  if (prefix.length > 900) return { problem: "it is longer than 900 characters, leaving too little of the 1,024 allowed for blob names" };
  return { prefix: `${segments.join("/")}/` };
}

/**
 * The blob name (below the prefix) of a source file, from its relative path
 * with '/' between folders. The only place that maps one to the other.
 */
export function blobNameOf(relativePath: string): string {
  return relativePath;
}

export interface NamedFile<T> {
  file: T;
  /** Below the prefix. */
  name: string;
}

export interface NameCheck<T> {
  named: NamedFile<T>[];
  refused: { relativePath: string; problem: string }[];
}

/** Maps every file to its blob name under `prefix`, and lists those Azure would refuse or rewrite. */
export function nameFiles<T extends { relativePath: string }>(prefix: string, files: readonly T[]): NameCheck<T> {
  const named: NamedFile<T>[] = [];
  const refused: NameCheck<T>["refused"] = [];
  for (const file of files) {
    const name = blobNameOf(file.relativePath);
    const problem = blobNameProblem(prefix + name);
    if (problem) refused.push({ relativePath: file.relativePath, problem });
    else named.push({ file, name });
  }
  return { named, refused };
}

/** A blob path for a URL: each segment percent-encoded ('#', '?', '%', space ...), '/' kept. */
export function encodeBlobPath(blobPath: string): string {
  return blobPath.split("/").map(encodeURIComponent).join("/");
}
