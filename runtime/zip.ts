/**
 * Deterministic, streamed zip archives of a source folder (Batch application
 * packages), and a check that an existing file really is a zip.
 *
 * The same selected files give the same bytes, and so the same SHA-256, on
 * every agent running the same Node (deflate output is zlib's):
 *  - entries sorted bytewise by their UTF-8 '/' name; files only (unzip makes
 *    the folders), no extra timestamp or owner fields;
 *  - every entry dated 1980-01-01 00:00 (the first DOS time);
 *  - 'version made by' Unix with the mode in the external attributes, reduced
 *    to 0644 or 0755 (any x bit), so executables stay executable on Linux
 *    nodes and nothing else of the agent's file system leaks in;
 *  - one compression level, and a store-or-deflate choice made from the
 *    content alone: known compressed formats, and files whose sampled bytes do
 *    not shrink, are stored; a deflated entry that does not shrink is stored.
 *
 * Entries are deflated in parallel (zlib's async calls run on the libuv
 * thread pool) within a bounded window of bytes, and written in order, so the
 * archive is never held in memory. Files above `streamAbove` are streamed
 * through deflate and carry a data descriptor. ZIP64 records are written when
 * an archive passes 65,535 entries or 4 GiB, or a file is near 4 GiB.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import CRC32 from "crc-32";
import { CancelledError, TaskError } from "./errors";
import { selectFiles, type SourceFile } from "./files";

/** One-shot raw deflate on the libuv thread pool. */
function deflateRaw(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => zlib.deflateRaw(data, { level }, (error, result) => (error ? reject(error) : resolve(result))));
}

/** CRC-32 of `data` continuing from `value`, in JavaScript (for a Node without zlib.crc32). */
export function crc32Portable(data: Buffer, value = 0): number {
  return CRC32.buf(data, value | 0) >>> 0;
}

// zlib.crc32 came with Node 20.15 and 22.2; older agents' Node 20 handlers lack it.
const nativeCrc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

export function crc32(data: Buffer, value = 0): number {
  return nativeCrc32 ? nativeCrc32(data, value) >>> 0 : crc32Portable(data, value);
}

/** 1980-01-01 00:00:00 in DOS date and time. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
const MADE_BY_UNIX = 3 << 8;
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const U32_MAX = 0xffff_ffff;
const U16_MAX = 0xffff;
const S_IFREG = 0o100000;
/** A streamed file this close to 4 GiB gets ZIP64 sizes: deflate may add a little. */
const ZIP64_FILE_MARGIN = 64 * 1024 * 1024;

/** Formats that are compressed already: deflating them again costs time and saves nothing. */
export const STORED_EXTENSIONS: ReadonlySet<string> = new Set([
  ".zip", ".jar", ".war", ".ear", ".whl", ".egg", ".nupkg", ".apk", ".aar", ".docx", ".xlsx", ".pptx", ".odt", ".ods",
  ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".lz4", ".lzma", ".7z", ".rar", ".z", ".br",
  ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".heic", ".mp3", ".mp4", ".m4a", ".mkv", ".webm", ".ogg", ".flac", ".woff", ".woff2",
]);

export interface ZipEntryInput {
  /** Name inside the archive: relative, '/'-separated. */
  name: string;
  absolutePath: string;
  /** Size when listed, to budget the window (the file is measured again when read). */
  size: number;
}

export interface ZipProgress {
  /** Source bytes written to the archive so far. */
  bytes: number;
  /** The files' sizes when listed. */
  totalBytes: number;
  entries: number;
  totalEntries: number;
}

export interface ZipOptions {
  /** zlib level 1-9; 6 unless told (Info-ZIP's default). */
  level?: number;
  /** Source bytes read and deflated ahead of the writer at most (default 16 MiB). */
  windowBytes?: number;
  /** Entries in flight at most (default 64). */
  windowEntries?: number;
  /** Files larger than this are streamed with a data descriptor instead of read whole (default 8 MiB). */
  streamAbove?: number;
  /** "always" writes ZIP64 records for every entry and the end record (for readers' tests); "auto" only when needed. */
  zip64?: "auto" | "always";
  onProgress?: (progress: ZipProgress) => void;
  signal?: AbortSignal;
}

export interface ZipResult {
  path: string;
  /** Hex SHA-256 of the archive. */
  sha256: string;
  /** Base64 MD5 of the archive, as Blob storage reports Content-MD5. */
  md5: string;
  size: number;
  entries: number;
  /** Entries stored as they are (empty, already compressed, or not shrinking). */
  stored: number;
  deflated: number;
  /** Source bytes. */
  sourceBytes: number;
  /** The zlib that deflated (Node's own): archives compare byte for byte between agents with the same one. */
  zlib: string;
}

export interface ZipFolderOptions extends ZipOptions {
  include?: string[];
  exclude?: string[];
}

/** A zip problem the user can fix (not a zip, truncated, encrypted, file changed while zipping). */
export class ZipError extends TaskError {
  constructor(message: string) {
    super("InvalidZip", message);
    this.name = "ZipError";
  }
}

/** Bytewise order of the UTF-8 names: the same on every OS and locale. */
export function compareEntryNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** 0o100755 when any execute bit is set, else 0o100644. */
export function normalisedMode(mode: number): number {
  return S_IFREG | (mode & 0o111 ? 0o755 : 0o644);
}

/** Zips the folder's selected files (runtime/files selection) into `output`. */
export async function zipFolder(folder: string, output: string, options: ZipFolderOptions = {}): Promise<ZipResult> {
  const selection = await selectFiles(folder, options.include?.length ? options.include : ["**"], options.exclude ?? []);
  if (selection.files.length === 0) throw new ZipError(`There are no files to zip in '${folder}' (${selection.scanned} found, none selected by the include and exclude patterns).`);
  return zipFiles(selection.files, output, options);
}

/** Zips files a caller selected already (with runtime/files selectFiles, having checked its patterns). */
export function zipFiles(files: readonly SourceFile[], output: string, options: ZipOptions = {}): Promise<ZipResult> {
  return writeZip(
    files.map((f) => ({ name: f.relativePath, absolutePath: f.absolutePath, size: f.size })),
    output,
    options,
  );
}

interface Prepared {
  input: ZipEntryInput;
  name: Buffer;
  mode: number;
  size: number;
  /** Undefined for a streamed entry. */
  data?: Buffer;
  crc: number;
  method: number;
}

interface CentralRecord {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  mode: number;
  zip64Local: boolean;
}

/** Sequential output with the archive's hashes, in chunks of about 1 MiB. */
class ArchiveOutput {
  readonly sha256 = crypto.createHash("sha256");
  readonly md5 = crypto.createHash("md5");
  offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly handle: fs.promises.FileHandle) {}

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.sha256.update(chunk);
    this.md5.update(chunk);
    this.offset += chunk.length;
    if (chunk.length >= 256 * 1024) {
      await this.flush();
      await this.writeAll(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= 1024 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.pendingBytes) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.writeAll(joined);
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let done = 0;
    while (done < buffer.length) done += (await this.handle.write(buffer, done, buffer.length - done)).bytesWritten;
  }
}

function isAscii(buffer: Buffer): boolean {
  for (const byte of buffer) if (byte > 0x7f) return false;
  return true;
}

function aborted(signal: AbortSignal | undefined): CancelledError {
  const reason = signal?.reason instanceof Error ? ` (${signal.reason.message})` : "";
  return new CancelledError(`Zipping was cancelled${reason}.`);
}

function changed(input: ZipEntryInput): ZipError {
  return new ZipError(`'${input.name}' changed or went away while it was being zipped; run again when nothing writes to the source folder.`);
}

/**
 * Deflates a sample (three 8 KiB slices: start, middle, end) at level 1 and
 * reports whether it shrank by at least 2%. Random or compressed bytes do
 * not, and deflating them whole would cost more than the rest of the archive.
 */
async function sampleShrinks(read: (position: number, length: number) => Promise<Buffer>, size: number): Promise<boolean> {
  const slice = 8 * 1024;
  const positions = [0, Math.floor(size / 2 - slice / 2), size - slice];
  const sample = Buffer.concat(await Promise.all(positions.map((p) => read(p, slice))));
  const deflated = await deflateRaw(sample, 1);
  return deflated.length < sample.length * 0.98;
}

/** Only files this big are sampled first; smaller ones are deflated and compared. */
const SAMPLE_ABOVE = 128 * 1024;

/** Files up to this size are read with one blocking call each: a thread-pool round trip costs more than the read. */
const READ_SYNC_UP_TO = 64 * 1024;
/** ...and deflated on the spot up to this size, where setting up an async deflate costs more than deflating. */
const DEFLATE_SYNC_UP_TO = 8 * 1024;

function readWholeSync(input: ZipEntryInput): { data: Buffer; mode: number } {
  const fd = fs.openSync(input.absolutePath, "r");
  try {
    const stat = fs.fstatSync(fd);
    // Listed small, now big: something is writing to the folder.
    if (stat.size > READ_SYNC_UP_TO) throw changed(input);
    const data = Buffer.allocUnsafe(stat.size);
    let done = 0;
    while (done < data.length) {
      const n = fs.readSync(fd, data, done, data.length - done, done);
      if (n === 0) throw changed(input);
      done += n;
    }
    return { data, mode: stat.mode };
  } finally {
    fs.closeSync(fd);
  }
}

async function prepare(input: ZipEntryInput, name: Buffer, level: number, streamAbove: number): Promise<Prepared> {
  const storeByName = STORED_EXTENSIONS.has(path.extname(input.name).toLowerCase());
  let data: Buffer;
  let mode: number;
  if (input.size <= READ_SYNC_UP_TO) {
    ({ data, mode } = readWholeSync(input));
  } else {
    const stat = await fs.promises.stat(input.absolutePath);
    if (stat.size > streamAbove) return { input, name, mode: normalisedMode(stat.mode), size: stat.size, crc: 0, method: storeByName ? METHOD_STORE : METHOD_DEFLATE };
    data = await fs.promises.readFile(input.absolutePath);
    if (data.length !== stat.size) throw changed(input);
    mode = stat.mode;
  }
  const size = data.length;
  const crc = crc32(data);
  const stored = { input, name, mode: normalisedMode(mode), size, data, crc, method: METHOD_STORE };
  if (size === 0 || storeByName) return stored;
  if (size > SAMPLE_ABOVE && !(await sampleShrinks(async (p, n) => data.subarray(p, p + n), size))) return stored;
  const deflated = size <= DEFLATE_SYNC_UP_TO ? zlib.deflateRawSync(data, { level }) : await deflateRaw(data, level);
  return deflated.length < size ? { ...stored, data: deflated, method: METHOD_DEFLATE } : stored;
}

function localHeader(entry: { name: Buffer; flags: number; method: number; crc: number; compressedSize: number; size: number; zip64: boolean }): Buffer {
  const extraLength = entry.zip64 ? 20 : 0;
  const header = Buffer.alloc(30 + entry.name.length + extraLength);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(entry.zip64 ? 45 : entry.method === METHOD_DEFLATE ? 20 : 10, 4);
  header.writeUInt16LE(entry.flags, 6);
  header.writeUInt16LE(entry.method, 8);
  header.writeUInt16LE(DOS_TIME, 10);
  header.writeUInt16LE(DOS_DATE, 12);
  header.writeUInt32LE(entry.crc, 14);
  header.writeUInt32LE(entry.zip64 ? U32_MAX : entry.compressedSize, 18);
  header.writeUInt32LE(entry.zip64 ? U32_MAX : entry.size, 22);
  header.writeUInt16LE(entry.name.length, 26);
  header.writeUInt16LE(extraLength, 28);
  entry.name.copy(header, 30);
  if (entry.zip64) {
    // Sizes follow in the data descriptor; a local ZIP64 field holds both, as zero.
    const at = 30 + entry.name.length;
    header.writeUInt16LE(0x0001, at);
    header.writeUInt16LE(16, at + 2);
  }
  return header;
}

function centralHeader(record: CentralRecord, forceZip64: boolean): Buffer {
  const sizeOver = forceZip64 || record.zip64Local || record.size >= U32_MAX;
  const compressedOver = forceZip64 || record.zip64Local || record.compressedSize >= U32_MAX;
  const offsetOver = forceZip64 || record.offset >= U32_MAX;
  const fields = [sizeOver ? record.size : undefined, compressedOver ? record.compressedSize : undefined, offsetOver ? record.offset : undefined].filter(
    (v): v is number => v !== undefined,
  );
  const zip64 = fields.length > 0;
  const extraLength = zip64 ? 4 + 8 * fields.length : 0;
  const header = Buffer.alloc(46 + record.name.length + extraLength);
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE(MADE_BY_UNIX | (zip64 ? 45 : 20), 4);
  header.writeUInt16LE(zip64 ? 45 : record.method === METHOD_DEFLATE ? 20 : 10, 6);
  header.writeUInt16LE(record.flags, 8);
  header.writeUInt16LE(record.method, 10);
  header.writeUInt16LE(DOS_TIME, 12);
  header.writeUInt16LE(DOS_DATE, 14);
  header.writeUInt32LE(record.crc, 16);
  header.writeUInt32LE(compressedOver ? U32_MAX : record.compressedSize, 20);
  header.writeUInt32LE(sizeOver ? U32_MAX : record.size, 24);
  header.writeUInt16LE(record.name.length, 28);
  header.writeUInt16LE(extraLength, 30);
  // comment length, disk number start, internal attributes: zero
  header.writeUInt32LE((record.mode << 16) >>> 0, 38);
  header.writeUInt32LE(offsetOver ? U32_MAX : record.offset, 42);
  record.name.copy(header, 46);
  if (zip64) {
    let at = 46 + record.name.length;
    header.writeUInt16LE(0x0001, at);
    header.writeUInt16LE(8 * fields.length, at + 2);
    at += 4;
    for (const value of fields) {
      header.writeBigUInt64LE(BigInt(value), at);
      at += 8;
    }
  }
  return header;
}

function endRecords(entries: number, centralOffset: number, centralSize: number, forceZip64: boolean): Buffer {
  const zip64 = forceZip64 || entries > U16_MAX - 1 || centralOffset >= U32_MAX || centralSize >= U32_MAX;
  const parts: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(MADE_BY_UNIX | 45, 12);
    record.writeUInt16LE(45, 14);
    // this disk, disk with the central directory: zero
    record.writeBigUInt64LE(BigInt(entries), 24);
    record.writeBigUInt64LE(BigInt(entries), 32);
    record.writeBigUInt64LE(BigInt(centralSize), 40);
    record.writeBigUInt64LE(BigInt(centralOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(centralOffset + centralSize), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? U16_MAX : entries, 8);
  end.writeUInt16LE(zip64 ? U16_MAX : entries, 10);
  end.writeUInt32LE(zip64 ? U32_MAX : centralSize, 12);
  end.writeUInt32LE(zip64 ? U32_MAX : centralOffset, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

/** Counts bytes and the CRC of what passes, and reports progress. */
class Tap extends Transform {
  crc = 0;
  bytes = 0;
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    callback(null, chunk);
  }
}

/**
 * Writes the entries, sorted by name, to `output` (through `output.partial`,
 * renamed when complete; nothing is left behind on failure or cancellation).
 */
export async function writeZip(inputs: ZipEntryInput[], output: string, options: ZipOptions = {}): Promise<ZipResult> {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`Compression level must be 1 to 9, not ${level}.`);
  const windowBytes = options.windowBytes ?? 16 * 1024 * 1024;
  const windowEntries = options.windowEntries ?? Math.max(16, 32 * (os.availableParallelism?.() ?? 2));
  const streamAbove = options.streamAbove ?? 8 * 1024 * 1024;
  const forceZip64 = options.zip64 === "always";
  const signal = options.signal;
  const named = inputs.map((input) => ({ input, name: Buffer.from(input.name, "utf8") }));
  named.sort((a, b) => Buffer.compare(a.name, b.name));
  const entries = named.map((n) => n.input);
  entries.forEach((entry, i) => {
    if (i > 0 && entry.name === entries[i - 1]?.name) throw new ZipError(`Two files would have the same name in the zip: '${entry.name}'.`);
  });
  if (signal?.aborted) throw aborted(signal);

  const partial = `${output}.partial`;
  const handle = await fs.promises.open(partial, "w");
  const out = new ArchiveOutput(handle);
  const central: CentralRecord[] = [];
  const progress: ZipProgress = { bytes: 0, totalBytes: entries.reduce((sum, e) => sum + e.size, 0), entries: 0, totalEntries: entries.length };
  let stored = 0;
  let deflated = 0;

  // The window: entries prepared ahead of the writer, in order.
  // The window: entries prepared ahead of the writer, in order. Each one
  // read whole holds its size until written; streamed ones hold nothing.
  const slots: { job: Promise<Prepared>; held: number }[] = [];
  let next = 0;
  let heldBytes = 0;
  let failed = false;
  const refill = () => {
    while (!failed && slots.length < windowEntries) {
      const input = entries[next];
      const nameBytes = named[next]?.name;
      if (!input || !nameBytes) break;
      const held = input.size > streamAbove ? 0 : input.size;
      if (slots.length > 0 && heldBytes + held > windowBytes) break;
      next++;
      heldBytes += held;
      const job = prepare(input, nameBytes, level, streamAbove).catch((error: unknown) => {
        throw (error as NodeJS.ErrnoException).code === "ENOENT" ? changed(input) : error;
      });
      job.catch(() => undefined);
      slots.push({ job, held });
    }
  };

  try {
    refill();
    while (slots.length) {
      if (signal?.aborted) throw aborted(signal);
      const slot = slots.shift()!;
      const entry = await slot.job;
      const offset = out.offset;
      const flags = isAscii(entry.name) ? 0 : FLAG_UTF8;
      if (entry.data) {
        await out.write(localHeader({ name: entry.name, flags, method: entry.method, crc: entry.crc, compressedSize: entry.data.length, size: entry.size, zip64: false }));
        await out.write(entry.data);
        central.push({ name: entry.name, flags, method: entry.method, crc: entry.crc, compressedSize: entry.data.length, size: entry.size, offset, mode: entry.mode, zip64Local: false });
        progress.bytes += entry.size;
        heldBytes -= slot.held;
        refill();
      } else {
        refill();
        const record = await streamEntry(entry, flags, offset, out, level, forceZip64, signal, (n) => {
          progress.bytes += n;
          options.onProgress?.({ ...progress });
        });
        central.push(record);
        heldBytes -= slot.held;
        refill();
      }
      if (central.at(-1)?.method === METHOD_STORE) stored++;
      else deflated++;
      progress.entries++;
      options.onProgress?.({ ...progress });
    }
    const centralOffset = out.offset;
    for (const record of central) await out.write(centralHeader(record, forceZip64));
    const centralSize = out.offset - centralOffset;
    await out.write(endRecords(central.length, centralOffset, centralSize, forceZip64));
    await out.flush();
    await handle.close();
    if (signal?.aborted) throw aborted(signal);
    await fs.promises.rename(partial, output);
    return {
      path: output,
      sha256: out.sha256.digest("hex"),
      md5: out.md5.digest("base64"),
      size: out.offset,
      entries: central.length,
      stored,
      deflated,
      sourceBytes: progress.bytes,
      zlib: process.versions.zlib,
    };
  } catch (error) {
    failed = true;
    // Let reads and deflates in flight finish before the file goes.
    await Promise.allSettled(slots.map((s) => s.job));
    await handle.close().catch(() => undefined);
    await fs.promises.rm(partial, { force: true });
    if (signal?.aborted && !(error instanceof CancelledError)) throw aborted(signal);
    throw error;
  }
}

async function streamEntry(
  entry: Prepared,
  flags: number,
  offset: number,
  out: ArchiveOutput,
  level: number,
  forceZip64: boolean,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<CentralRecord> {
  const file = await fs.promises.open(entry.input.absolutePath, "r");
  try {
    let method = entry.method;
    if (method === METHOD_DEFLATE) {
      const read = async (position: number, length: number) => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await file.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      };
      if (!(await sampleShrinks(read, entry.size))) method = METHOD_STORE;
    }
    const zip64 = forceZip64 || entry.size >= U32_MAX - ZIP64_FILE_MARGIN;
    const entryFlags = flags | FLAG_DATA_DESCRIPTOR;
    await out.write(localHeader({ name: entry.name, flags: entryFlags, method, crc: 0, compressedSize: 0, size: 0, zip64 }));
    const dataStart = out.offset;
    const tap = new Tap(onBytes);
    const source = file.createReadStream({ start: 0, highWaterMark: 1024 * 1024, autoClose: false });
    const sink = async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) await out.write(chunk);
    };
    if (method === METHOD_DEFLATE) await pipeline(source, tap, zlib.createDeflateRaw({ level, chunkSize: 256 * 1024 }), sink, { signal });
    else await pipeline(source, tap, sink, { signal });
    if (tap.bytes !== entry.size) throw changed(entry.input);
    const compressedSize = out.offset - dataStart;
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(tap.crc, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(compressedSize), 8);
      descriptor.writeBigUInt64LE(BigInt(entry.size), 16);
    } else {
      if (compressedSize >= U32_MAX) throw changed(entry.input);
      descriptor.writeUInt32LE(compressedSize, 8);
      descriptor.writeUInt32LE(entry.size, 12);
    }
    await out.write(descriptor);
    return { name: entry.name, flags: entryFlags, method, crc: tap.crc, compressedSize, size: entry.size, offset, mode: entry.mode, zip64Local: zip64 };
  } catch (error) {
    if (signal?.aborted) throw aborted(signal);
    throw error;
  } finally {
    await file.close();
  }
}

export interface ZipInspection {
  path: string;
  size: number;
  entries: number;
  sha256: string;
  /** Base64, as Blob storage reports Content-MD5. */
  md5: string;
}

/**
 * Checks that `file` is a zip a Batch node can extract (an end record, a
 * central directory whose entries all start where it says, no encryption, no
 * multi-disk archive) and hashes it. `label` names the input in errors.
 */
export async function inspectZip(file: string, label = "zipFile", signal?: AbortSignal): Promise<ZipInspection> {
  const fail = (why: string) => new ZipError(`${label}: '${file}' is not a usable zip archive: ${why}. Give a .zip file (for example made with 'zip -r'), or zip a folder with packageSource: folder.`);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    throw new ZipError(`${label}: '${file}' does not exist.`);
  }
  if (!stat.isFile()) throw fail("it is not a file");
  if (stat.size < 22) throw fail(`it is only ${stat.size} bytes, smaller than any zip`);
  const handle = await fs.promises.open(file, "r");
  let entries: number;
  try {
    const readAt = async (position: number, length: number) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead !== length) throw fail("it ends early (truncated)");
      return buffer;
    };
    const tailLength = Math.min(stat.size, 22 + U16_MAX);
    const tailStart = stat.size - tailLength;
    const tail = await readAt(tailStart, tailLength);
    let endAt = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50 && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        endAt = i;
        break;
      }
    }
    if (endAt < 0) throw fail("it has no end-of-central-directory record");
    let count = tail.readUInt16LE(endAt + 10);
    let centralSize = tail.readUInt32LE(endAt + 12);
    let centralOffset = tail.readUInt32LE(endAt + 16);
    if (tail.readUInt16LE(endAt + 4) !== 0 || tail.readUInt16LE(endAt + 6) !== 0) throw fail("it is split over several disks");
    const endOffset = tailStart + endAt;
    if (count === U16_MAX || centralSize === U32_MAX || centralOffset === U32_MAX) {
      if (endOffset < 20) throw fail("its ZIP64 locator is missing");
      const locator = await readAt(endOffset - 20, 20);
      if (locator.readUInt32LE(0) !== 0x07064b50) throw fail("its ZIP64 locator is missing");
      const recordAt = Number(locator.readBigUInt64LE(8));
      if (recordAt + 56 > stat.size) throw fail("its ZIP64 end record is out of range");
      const record = await readAt(recordAt, 56);
      if (record.readUInt32LE(0) !== 0x06064b50) throw fail("its ZIP64 end record is missing");
      count = Number(record.readBigUInt64LE(32));
      centralSize = Number(record.readBigUInt64LE(40));
      centralOffset = Number(record.readBigUInt64LE(48));
    }
    if (centralOffset + centralSize > endOffset) throw fail("its central directory lies outside the file");
    const directory = await readAt(centralOffset, centralSize);
    const signature = Buffer.alloc(4);
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (signal?.aborted) throw aborted(signal);
      if (at + 46 > directory.length || directory.readUInt32LE(at) !== 0x02014b50) throw fail(`central directory entry ${i + 1} of ${count} is damaged`);
      const flags = directory.readUInt16LE(at + 8);
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      const name = directory.subarray(at + 46, at + 46 + nameLength).toString(flags & FLAG_UTF8 ? "utf8" : "latin1");
      if (flags & 1) throw fail(`'${name}' is encrypted, which Batch cannot extract`);
      let localOffset = directory.readUInt32LE(at + 42);
      if (localOffset === U32_MAX) {
        // The offset is the last 8-byte value of the ZIP64 field.
        let x = at + 46 + nameLength;
        const end = x + extraLength;
        while (x + 4 <= end) {
          const id = directory.readUInt16LE(x);
          const length = directory.readUInt16LE(x + 2);
          if (id === 0x0001 && length >= 8) localOffset = Number(directory.readBigUInt64LE(x + 4 + length - 8));
          x += 4 + length;
        }
      }
      // One small blocking read per entry: a thread-pool round trip each would cost more.
      if (localOffset + 4 > centralOffset || fs.readSync(handle.fd, signature, 0, 4, localOffset) !== 4 || signature.readUInt32LE(0) !== 0x04034b50) {
        throw fail(`the data of '${name}' is not where the directory says`);
      }
      at += 46 + nameLength + extraLength + commentLength;
    }
    entries = count;
  } finally {
    await handle.close();
  }
  if (entries === 0) throw fail("it holds no files");
  const sha256 = crypto.createHash("sha256");
  const md5 = crypto.createHash("md5");
  await pipeline(
    fs.createReadStream(file, { highWaterMark: 1024 * 1024 }),
    async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) {
        sha256.update(chunk);
        md5.update(chunk);
      }
    },
    { signal },
  ).catch((error: unknown) => {
    throw signal?.aborted ? aborted(signal) : error;
  });
  return { path: file, size: stat.size, entries, sha256: sha256.digest("hex"), md5: md5.digest("base64") };
}
