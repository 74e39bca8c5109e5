/**
 * Loads the vendored Azure REST specifications with swagger-parser. Example
 * files named by `x-ms-examples` are mostly absent, so those keys are dropped
 * while each file is read; every other `$ref` (including the Data Factory
 * entity-type files) is resolved. The schemas are kept with their `$ref`s
 * (not dereferenced into an object graph): Data Factory's activities are
 * recursive, and ajv compiles recursive schemas only through references.
 * Each call reads the files afresh; `specValidator()` keeps the one prepared copy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import { azureSpecsDir, skipUnavailable } from "../../shared-files";

/** Where the specs are: AZURE_SPECS_DIR, ../shared/azure-specs or the fetched cache (test/shared-files.ts). */
const SPECS = azureSpecsDir();

/** The specs' folder (laid out like shared/azure-specs); when they are unavailable, where they were expected. */
export const SPEC_ROOT = SPECS.found ? SPECS.path : path.resolve(__dirname, "../../../../shared/azure-specs");

/** Why the specs cannot be read in this run, or undefined when they can. */
export function specsUnavailable(): string | undefined {
  return SPECS.found ? undefined : SPECS.reason;
}

/** In a suite's first `before` hook: its tests are pending, with the reason, when the specs are unavailable. */
export function skipWithoutSpecs(context: Mocha.Context): void {
  skipUnavailable(context, SPECS);
}

export type SpecName = "batch" | "batchManagement" | "dataFactory";

export const SPEC_FILES: Record<SpecName, string> = {
  batch: "batch/data-plane/Batch/stable/2022-10-01.16.0/BatchService.json",
  batchManagement: "batch/resource-manager/Microsoft.Batch/stable/2023-11-01/BatchManagement.json",
  dataFactory: "datafactory/resource-manager/Microsoft.DataFactory/stable/2018-06-01/datafactory.json",
};

/** A parsed JSON document (a spec file) as plain data. */
export type JsonObject = { [key: string]: unknown };

export interface SpecFile {
  /** Stable identifier used as the schema base URI, e.g. `spec:/batch/.../BatchService.json`. */
  uri: string;
  /** Absolute path on disk. */
  filePath: string;
  doc: JsonObject;
}

export interface LoadedSpecs {
  /** Every file the three specs reach, keyed by uri. */
  files: Map<string, SpecFile>;
  /** The top-level file of each spec. */
  top: Record<SpecName, SpecFile>;
  loadMs: number;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function dropExamples(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropExamples);
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) if (key !== "x-ms-examples") out[key] = dropExamples(child);
  return out;
}

function toFilePath(url: string): string {
  return url.startsWith("file:") ? fileURLToPath(url) : decodeURI(url);
}

/** The uri a file is known by: its path below SPEC_ROOT under a fixed scheme, so refs resolve relatively. */
export function specUri(filePath: string): string {
  return `spec:/${path.relative(SPEC_ROOT, filePath).split(path.sep).join("/")}`;
}

const specFileResolver = {
  order: 1,
  canRead: /\.json$/i,
  async read(file: { url: string }): Promise<string> {
    const text = await fs.promises.readFile(toFilePath(file.url), "utf8");
    return JSON.stringify(dropExamples(JSON.parse(text)));
  },
};

async function loadOne(name: SpecName, files: Map<string, SpecFile>): Promise<SpecFile> {
  const topPath = path.join(SPEC_ROOT, SPEC_FILES[name]);
  const refs = await SwaggerParser.resolve(topPath, { resolve: { file: specFileResolver, http: false, external: true } });
  const values = refs.values() as Record<string, unknown>;
  for (const [location, doc] of Object.entries(values)) {
    const filePath = path.resolve(toFilePath(location));
    const uri = specUri(filePath);
    if (!files.has(uri) && isJsonObject(doc)) files.set(uri, { uri, filePath, doc });
  }
  const top = files.get(specUri(topPath));
  if (!top) throw new Error(`spec ${name}: ${topPath} did not load`);
  return top;
}

/** The three specs and every file they reference. */
export async function loadSpecs(): Promise<LoadedSpecs> {
  const started = Date.now();
  const files = new Map<string, SpecFile>();
  const batch = await loadOne("batch", files);
  const batchManagement = await loadOne("batchManagement", files);
  const dataFactory = await loadOne("dataFactory", files);
  return { files, top: { batch, batchManagement, dataFactory }, loadMs: Date.now() - started };
}
