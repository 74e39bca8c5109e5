/**
 * BatchAppBlobCopy's inputs, read and checked into one typed object before
 * anything is sent to Azure.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputReader } from "../../runtime/inputs";
import type { BlobAuth } from "../../runtime/storage";
import { containerNameProblem, normaliseBlobPrefix } from "../../runtime/blob-naming";
import { missingSasPermissions, parseSasToken } from "../../runtime/blob-sas";

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
  /** Lets deleteStale work on a whole container (empty blobPrefix). */
  allowContainerWideDelete: boolean;
  maxDeletes: number;
  dryRun: boolean;
  auth: BlobAuth;
  concurrency: number;
  blockSizeBytes: number;
  readSasHours: number;
  /** Follow symbolic links (links leading outside the folder are reported). */
  followSymlinks: boolean;
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
    // What the run needs, read from the token's own `sp`, before anything is uploaded.
    const sas = parseSasToken(token);
    const dryRun = reader.bool("dryRun");
    const needed = dryRun ? "rl" : `rwl${reader.bool("deleteStale") ? "d" : ""}`;
    const missing = missingSasPermissions(sas, needed);
    if (sas.permissions && missing.length) {
      const names: Record<string, string> = { r: "r (read)", w: "w (write)", l: "l (list)", d: "d (delete, for deleteStale)" };
      reader.fail(
        "sasToken",
        `the SAS grants sp=${sas.permissions}, which lacks ${missing.map((p) => names[p] ?? p).join(", ")}. Nothing was changed. Create a SAS with sp=${needed}${needed.includes("d") ? "" : " (and d if you turn on deleteStale)"}, or turn off deleteStale.`,
      );
    }
    if (sas.expiresOn && sas.expiresOn.getTime() < Date.now()) reader.fail("sasToken", `the SAS expired at ${sas.expiresOn.toISOString()} (its 'se'). Create a new one.`);
    auth = { kind: "sas", token };
  } else {
    auth = { kind: authKind };
  }

  const readSasHours = reader.int("readSasHours", { min: 0, max: authKind === "entra" ? 168 : 8760 });
  if (readSasHours > 0 && authKind === "sas") {
    reader.fail("readSasHours", "a read SAS can only be made with authType 'entra' (user delegation) or 'accessKey'. Set it to 0, or change authType.");
  }
  const include = reader.lines("include");
  const deleteStale = reader.bool("deleteStale");
  const allowContainerWideDelete = reader.bool("allowContainerWideDelete");
  if (deleteStale && prefix.prefix === "" && !allowContainerWideDelete) {
    reader.fail(
      "blobPrefix",
      "it is empty while deleteStale is true, so every blob in the container without a source file would be deleted, other applications' included. Set blobPrefix to this application's folder (e.g. 'app/'), or set allowContainerWideDelete: true if this container holds nothing else.",
    );
  }
  return {
    connectionId,
    storageAccount: reader.string("storageAccount"),
    containerName,
    blobPrefix: prefix.prefix,
    sourceFolder,
    include: include.length ? include : ["**"],
    exclude: reader.lines("exclude"),
    mode: reader.pick("mode", ["sync", "copy"] as const),
    deleteStale,
    allowContainerWideDelete,
    maxDeletes: reader.int("maxDeletes", { min: 0, max: 1_000_000 }),
    dryRun: reader.bool("dryRun"),
    auth,
    concurrency: reader.int("concurrency", { min: 1, max: 128 }),
    blockSizeBytes: reader.int("blockSizeMB", { min: 1, max: 100 }) * 1024 * 1024,
    readSasHours,
    followSymlinks: reader.bool("followSymlinks"),
  };
}
