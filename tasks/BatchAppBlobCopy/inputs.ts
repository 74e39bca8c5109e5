/**
 * BatchAppBlobCopy's inputs, read and checked into one typed object before
 * anything is sent to Azure.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputReader } from "../../runtime/inputs";
import type { BlobAuth } from "../../runtime/storage";

export interface BlobCopyInputs {
  connectionId: string;
  storageAccount: string;
  containerName: string;
  /** Normalised: empty, or ends with exactly one `/`. */
  blobPrefix: string;
  sourceFolder: string;
  include: string[];
  exclude: string[];
  mode: "sync" | "copy";
  deleteStale: boolean;
  maxDeletes: number;
  dryRun: boolean;
  auth: BlobAuth;
  concurrency: number;
  blockSizeBytes: number;
  readSasHours: number;
}

/** Azure's container naming rules. */
export function containerNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "it must be 3 to 63 characters long";
  if (!/^[a-z0-9-]+$/.test(name)) return "it may hold only lowercase letters, digits and hyphens";
  if (!/^[a-z0-9]/.test(name) || name.endsWith("-")) return "it must start and end with a letter or digit";
  if (name.includes("--")) return "it may not hold two hyphens in a row";
  return undefined;
}

/** Returns the prefix normalised, or a reason it cannot be used. */
export function normaliseBlobPrefix(raw: string): { prefix: string } | { problem: string } {
  const prefix = raw.trim();
  if (prefix === "") return { prefix: "" };
  if (prefix.startsWith("/")) return { problem: "it may not start with '/'; write it relative to the container, e.g. 'app/1.2.0/'" };
  if (prefix.includes("\\")) return { problem: "use '/' between folders, not '\\'" };
  const segments = prefix.replace(/\/+$/, "").split("/");
  if (segments.some((s) => s === "..")) return { problem: "it may not contain '..'" };
  if (segments.some((s) => s === "." || s === "")) return { problem: "it may not contain '.' or empty segments ('//')" };
  if (prefix.length > 900) return { problem: "it is longer than 900 characters, leaving too little of the 1,024 allowed for blob names" };
  return { prefix: `${segments.join("/")}/` };
}

export function readBlobCopyInputs(reader: InputReader): BlobCopyInputs {
  const connectionId = reader.string("azureSubscription");
  const sourceFolder = path.resolve(reader.string("sourceFolder"));
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(sourceFolder);
  } catch {
    reader.fail("sourceFolder", `'${sourceFolder}' does not exist. Point it at the folder that holds the application, e.g. $(Pipeline.Workspace)/drop/app.`);
  }
  if (!stat.isDirectory()) reader.fail("sourceFolder", `'${sourceFolder}' is a file, not a folder.`);

  const containerName = reader.string("containerName");
  const containerProblem = containerNameProblem(containerName);
  if (containerProblem) reader.fail("containerName", `'${containerName}' is not a valid container name: ${containerProblem}.`);

  const prefix = normaliseBlobPrefix(reader.optionalString("blobPrefix") ?? "");
  if ("problem" in prefix) reader.fail("blobPrefix", `'${reader.optionalString("blobPrefix")}' is not a valid prefix: ${prefix.problem}.`);

  const authKind = reader.pick("authType", ["entra", "accessKey", "sas"] as const);
  let auth: BlobAuth;
  if (authKind === "sas") {
    const token = reader.optionalString("sasToken");
    if (!token) reader.fail("sasToken", "a SAS token is required when authType is 'sas'.");
    if (!/(^|[?&])sig=/.test(token)) reader.fail("sasToken", "the value is not a SAS token (it has no 'sig=' parameter).");
    auth = { kind: "sas", token };
  } else {
    auth = { kind: authKind };
  }

  const readSasHours = reader.int("readSasHours", { min: 0, max: authKind === "entra" ? 168 : 8760 });
  if (readSasHours > 0 && authKind === "sas") {
    reader.fail("readSasHours", "a read SAS can only be made with authType 'entra' (user delegation) or 'accessKey'. Set it to 0, or change authType.");
  }
  const include = reader.lines("include");
  return {
    connectionId,
    storageAccount: reader.string("storageAccount"),
    containerName,
    blobPrefix: prefix.prefix,
    sourceFolder,
    include: include.length ? include : ["**"],
    exclude: reader.lines("exclude"),
    mode: reader.pick("mode", ["sync", "copy"] as const),
    deleteStale: reader.bool("deleteStale"),
    maxDeletes: reader.int("maxDeletes", { min: 0, max: 1_000_000 }),
    dryRun: reader.bool("dryRun"),
    auth,
    concurrency: reader.int("concurrency", { min: 1, max: 128 }),
    blockSizeBytes: reader.int("blockSizeMB", { min: 1, max: 100 }) * 1024 * 1024,
    readSasHours,
  };
}
