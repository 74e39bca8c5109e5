/**
 * The package to publish: the source folder zipped (deterministic, streamed,
 * with progress), or an existing zip checked and hashed. Problems with the
 * source are reported through `fail`, naming the input.
 */
import * as path from "node:path";
import { selectFiles } from "../../runtime/files";
import { inspectZip, zipFiles } from "../../runtime/zip";
import type { PackageSource } from "./inputs";

export interface PackageFile {
  path: string;
  /** Hex SHA-256 of the zip. */
  sha256: string;
  /** Base64 MD5, as Blob storage keeps Content-MD5. */
  md5: string;
  size: number;
  entries: number;
  /** Bytes of the source files (a folder source), or the zip's size. */
  sourceBytes: number;
  /** Made by this run (else the zip given). */
  zipped: boolean;
}

export interface BuildPackageOptions {
  /** Where a zip of the folder is written. */
  outputDir: string;
  /** File name of the zip, e.g. `<application>.zip`. */
  fileName: string;
  signal?: AbortSignal;
  fail(input: string, message: string): never;
  onWarning(message: string): void;
  onInfo(message: string): void;
  /** Source bytes zipped so far, of `total`. */
  onZipProgress?(bytesDone: number, total: number, entriesDone: number, totalEntries: number): void;
}

const list = (items: string[], max = 10) => `${items.slice(0, max).join(", ")}${items.length > max ? `, and ${items.length - max} more` : ""}`;

export async function buildPackage(source: PackageSource, options: BuildPackageOptions): Promise<PackageFile> {
  if (source.kind === "zip") {
    const zip = await inspectZip(source.file, "zipFile", options.signal);
    return { path: zip.path, sha256: zip.sha256, md5: zip.md5, size: zip.size, entries: zip.entries, sourceBytes: zip.size, zipped: false };
  }
  const { folder } = source;
  const selection = await selectFiles(folder, source.include, source.exclude);
  if (selection.scanned === 0) {
    options.fail("sourceFolder", `'${folder}' is empty: there is nothing to package. An empty folder is almost always a wrong path (check the artifact download step).`);
  }
  if (selection.unmatchedIncludes.length) {
    options.fail("include", `${selection.unmatchedIncludes.map((p) => `'${p}'`).join(", ")} matched no file under '${folder}'. Check the patterns (they are relative to the source folder).`);
  }
  if (selection.files.length === 0) options.fail("exclude", `the exclude patterns leave no files to package from '${folder}'.`);
  for (const pattern of selection.unmatchedExcludes) options.onWarning(`Exclude pattern '${pattern}' matched no file.`);
  if (selection.skipped.length) {
    options.onWarning(
      `${selection.skipped.length} path(s) in '${folder}' are not regular files and were left out of the package: ${list(selection.skipped.map((p) => `'${p.relativePath}' (${p.reason})`))}.`,
    );
  }
  if (selection.outsideLinks.length) {
    options.onWarning(
      `${selection.outsideLinks.length} symbolic link(s) lead outside '${folder}'; what they point to is packaged: ${list(selection.outsideLinks.map((l) => `'${l.relativePath}' -> '${l.target}'`))}.`,
    );
  }
  const output = path.join(options.outputDir, options.fileName);
  const zip = await zipFiles(selection.files, output, {
    signal: options.signal,
    onProgress: (p) => options.onZipProgress?.(p.bytes, p.totalBytes, p.entries, p.totalEntries),
  });
  options.onInfo(`Zipped ${zip.entries} files (${zip.deflated} deflated, ${zip.stored} stored) from '${folder}' with zlib ${zip.zlib}.`);
  return { path: zip.path, sha256: zip.sha256, md5: zip.md5, size: zip.size, entries: zip.entries, sourceBytes: zip.sourceBytes, zipped: true };
}
