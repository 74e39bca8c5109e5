/**
 * Deterministic application trees for the benchmarks: the same seed gives the
 * same paths, sizes and bytes on every machine, so runs compare.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { seededRandom } from "../test/local-azure/faults";

/** The local Azure's seeded generator: floats in [0, 1). */
export const prng = seededRandom;

export interface TreeFile {
  relativePath: string;
  size: number;
  /** Text files hold printable bytes; binary ones, pseudo-random bytes. */
  text: boolean;
}

export interface TreeSpec {
  seed: number;
  files: TreeFile[];
}

const TEXT_EXT = [".py", ".json", ".txt", ".yaml", ".cfg", ".md"];
const SMALL_BIN_EXT = [".pyc", ".dat"];
const MEDIUM_EXT = [".so", ".pyc", ".bin", ".dat", ".zip"];
const LARGE_EXT = [".bin", ".onnx", ".whl", ".tar"];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

/** Log-uniform between lo and hi (many small, few big). */
function logUniform(rand: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

/** A folder 1 to 4 levels deep, from a fixed vocabulary. */
function folder(rand: () => number): string {
  const top = ["app", "lib", "lib/site-packages", "models", "config", "data", "bin", "tools"];
  const mid = ["core", "io", "net", "util", "plugins", "schemas", "native", "vendor", "kernels", "assets"];
  const depth = Math.floor(rand() * 3);
  const parts = [pick(rand, top)];
  for (let i = 0; i < depth; i++) parts.push(`${pick(rand, mid)}${Math.floor(rand() * 6)}`);
  return parts.join("/");
}

/**
 * The application tree: 2,000 files, about 200 MB. Mostly small source and
 * config files, a share of medium libraries, and a few model files of several MB.
 */
export function appTreeSpec(seed = 20240601): TreeSpec {
  const rand = prng(seed);
  const files: TreeFile[] = [];
  const used = new Set<string>();
  const add = (size: number, ext: string, text: boolean) => {
    let rel: string;
    do rel = `${folder(rand)}/f${files.length.toString().padStart(4, "0")}_${Math.floor(rand() * 1e6).toString(36)}${ext}`;
    while (used.has(rel));
    used.add(rel);
    files.push({ relativePath: rel, size, text });
  };
  for (let i = 0; i < 1600; i++) {
    const text = rand() < 0.75;
    add(logUniform(rand, 200, 32 * 1024), text ? pick(rand, TEXT_EXT) : pick(rand, SMALL_BIN_EXT), text);
  }
  for (let i = 0; i < 380; i++) add(logUniform(rand, 32 * 1024, 1024 * 1024), pick(rand, MEDIUM_EXT), false);
  // A few of several MB; some above the 8 MB block size, so they go up in blocks.
  for (let i = 0; i < 20; i++) add(Math.round((2 + rand() * (i < 3 ? 10 : 4)) * 1024 * 1024), pick(rand, LARGE_EXT), false);
  return { seed, files };
}

/** Fewer, bigger files: `count` files of `size` bytes each (the memory check). */
export function bigTreeSpec(count: number, size: number, seed = 7): TreeSpec {
  const files: TreeFile[] = [];
  for (let i = 0; i < count; i++) files.push({ relativePath: `models/part${Math.floor(i / 50)}/shard${i.toString().padStart(4, "0")}.bin`, size, text: false });
  return { seed, files };
}

/** The file's bytes: AES-256-CTR keystream keyed by seed, path and version (fast and reproducible). */
export function fileContent(spec: TreeSpec, file: TreeFile, version = 0): Buffer {
  const key = crypto.createHash("sha256").update(`${spec.seed}:${version}:${file.relativePath}`).digest();
  const cipher = crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const bytes = cipher.update(Buffer.alloc(file.size));
  if (file.text) {
    // Printable ASCII with line breaks, like source code.
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 64 === 63 ? 10 : 32 + (bytes[i] % 95);
  }
  return bytes;
}

export function writeTree(root: string, spec: TreeSpec): { files: number; bytes: number } {
  let bytes = 0;
  for (const file of spec.files) {
    const abs = path.join(root, file.relativePath);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, fileContent(spec, file));
    bytes += file.size;
  }
  return { files: spec.files.length, bytes };
}

/** `count` distinct files picked by a seeded draw (the "changed since last release" set). */
export function pickChanged(spec: TreeSpec, count: number, seed = 99): TreeFile[] {
  const rand = prng(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, spec.files.length)) chosen.add(Math.floor(rand() * spec.files.length));
  return [...chosen].sort((a, b) => a - b).map((i) => spec.files[i]);
}

/** Rewrites the files with new bytes of the same size (so only the MD5 tells them apart), or back to version 0. */
export function rewrite(root: string, spec: TreeSpec, files: TreeFile[], version: number): void {
  for (const file of files) fs.writeFileSync(path.join(root, file.relativePath), fileContent(spec, file, version));
}

/** Many small files: `count` files of about `size` bytes (±20%), a few folders deep (the per-file overhead check). */
export function smallFilesTreeSpec(count = 800, size = 100 * 1024, seed = 800): TreeSpec {
  const rand = prng(seed);
  const files: TreeFile[] = [];
  for (let i = 0; i < count; i++) {
    files.push({ relativePath: `app/mod${Math.floor(i / 100)}/sub${i % 7}/f${i.toString().padStart(4, "0")}.dat`, size: Math.round(size * (0.8 + rand() * 0.4)), text: false });
  }
  return { seed, files };
}
