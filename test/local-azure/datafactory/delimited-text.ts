/**
 * DelimitedText as Data Factory's Copy activity reads and writes it: the
 * dataset's format settings with ADF's defaults (column delimiter `,`, quote
 * `"`, escape `\`, no header, UTF-8, empty null value), whether two datasets'
 * settings are identical (then ADF copies the files as they are, without
 * parsing, and reports no row counts), and a parser / writer for the case
 * where they differ. On read, a row ends at `\r\n`, `\r` or `\n` unless the
 * dataset sets a row delimiter; on write the Copy activity ends rows with
 * `\r\n` (the documented default). A value is quoted on write when it holds
 * the delimiter, the quote, the escape or a line break.
 */
import type { Json, JsonObject } from "./types";

export interface DelimitedTextFormat {
  columnDelimiter: string;
  /** Undefined: any of \r\n, \r, \n on read; \r\n on write. */
  rowDelimiter?: string;
  quoteChar: string;
  escapeChar: string;
  firstRowAsHeader: boolean;
  encodingName: string;
  nullValue: string;
  compressionCodec?: string;
}

const str = (v: Json | undefined): string | undefined => (typeof v === "string" ? v : undefined);

export function delimitedTextFormat(typeProperties: JsonObject): DelimitedTextFormat {
  const header = typeProperties.firstRowAsHeader;
  return {
    columnDelimiter: str(typeProperties.columnDelimiter) ?? ",",
    rowDelimiter: str(typeProperties.rowDelimiter) || undefined,
    quoteChar: str(typeProperties.quoteChar) ?? '"',
    escapeChar: str(typeProperties.escapeChar) ?? "\\",
    firstRowAsHeader: header === true || (typeof header === "string" && header.toLowerCase() === "true"),
    encodingName: (str(typeProperties.encodingName) ?? "UTF-8").toUpperCase(),
    nullValue: str(typeProperties.nullValue) ?? "",
    compressionCodec: str(typeProperties.compressionCodec) || undefined,
  };
}

export function sameFormat(a: DelimitedTextFormat, b: DelimitedTextFormat): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What this emulator cannot read or write, by name; undefined when it can. */
export function unsupportedFormat(f: DelimitedTextFormat): string | undefined {
  if (f.compressionCodec && f.compressionCodec.toLowerCase() !== "none") return `compressionCodec '${f.compressionCodec}'`;
  if (f.encodingName !== "UTF-8" && f.encodingName !== "UTF8") return `encodingName '${f.encodingName}'`;
  if (f.columnDelimiter.length !== 1) return `a column delimiter of ${f.columnDelimiter.length} characters`;
  if (f.quoteChar.length > 1 || f.escapeChar.length > 1) return "a quote or escape character longer than one character";
  return undefined;
}

/** Splits a file into rows of values (quoted values unquoted, escapes applied). */
export function parseDelimited(text: string, f: DelimitedTextFormat): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let value = "";
  let quoted = false;
  let sawValue = false;
  const endRow = () => {
    row.push(value);
    rows.push(row);
    row = [];
    value = "";
    sawValue = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (f.escapeChar && c === f.escapeChar && f.escapeChar !== f.quoteChar && i + 1 < text.length) {
        value += text[++i];
      } else if (c === f.quoteChar) {
        if (text[i + 1] === f.quoteChar) {
          value += c;
          i++;
        } else quoted = false;
      } else value += c;
      continue;
    }
    if (f.quoteChar && c === f.quoteChar && value === "") {
      quoted = true;
      sawValue = true;
    } else if (c === f.columnDelimiter) {
      row.push(value);
      value = "";
      sawValue = true;
    } else if (f.rowDelimiter ? text.startsWith(f.rowDelimiter, i) : c === "\n" || c === "\r") {
      if (!f.rowDelimiter && c === "\r" && text[i + 1] === "\n") i++;
      else if (f.rowDelimiter) i += f.rowDelimiter.length - 1;
      endRow();
    } else if (f.escapeChar && c === f.escapeChar && i + 1 < text.length) {
      value += text[++i];
      sawValue = true;
    } else {
      value += c;
      sawValue = true;
    }
  }
  if (sawValue || value !== "" || row.length > 0) endRow();
  return rows;
}

function quoteIfNeeded(value: string, f: DelimitedTextFormat): string {
  const special = [f.columnDelimiter, f.quoteChar, f.escapeChar, "\r", "\n", ...(f.rowDelimiter ? [f.rowDelimiter] : [])].filter(Boolean);
  if (!special.some((s) => value.includes(s)) || !f.quoteChar) return value;
  const escape = f.escapeChar && f.escapeChar !== f.quoteChar ? f.escapeChar : f.quoteChar;
  let out = "";
  for (const ch of value) out += ch === f.quoteChar || (ch === f.escapeChar && escape === f.escapeChar) ? `${escape}${ch}` : ch;
  return `${f.quoteChar}${out}${f.quoteChar}`;
}

export function writeDelimited(rows: string[][], f: DelimitedTextFormat): string {
  const end = f.rowDelimiter ?? "\r\n";
  return rows.map((r) => r.map((v) => quoteIfNeeded(v, f)).join(f.columnDelimiter) + end).join("");
}

/**
 * Rewrites one file from the source format to the sink format. Header rows
 * follow the two datasets: kept, dropped, or (source without a header, sink
 * with one) named Prop_0, Prop_1, ... as ADF names unnamed columns.
 */
export function convertDelimited(text: string, source: DelimitedTextFormat, sink: DelimitedTextFormat): { output: string; rows: number } {
  const parsed = parseDelimited(text.replace(/^\uFEFF/, ""), source);
  const header = source.firstRowAsHeader ? parsed.shift() : undefined;
  const out: string[][] = [];
  if (sink.firstRowAsHeader) out.push(header ?? (parsed[0] ?? []).map((_, i) => `Prop_${i}`));
  out.push(...parsed);
  return { output: writeDelimited(out, sink), rows: parsed.length };
}
