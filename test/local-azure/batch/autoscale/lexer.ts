/**
 * Lexer for the autoscale formula language: numbers, double-quoted strings,
 * names (`$` allowed as first character), operators, `;`, and comments
 * (`//` to end of line as documented; `/* *\/` blocks are accepted although no
 * Microsoft text shows them). Whitespace and line breaks are insignificant.
 */
import { AutoScaleErrorCode, FormulaError, type SourcePosition } from "./errors";

export type TokenKind = "number" | "string" | "name" | "op" | "eof";

export interface Token {
  kind: TokenKind;
  /** The text as written (for strings: the content without quotes). */
  text: string;
  /** Numeric value of a number token. */
  value?: number;
  pos: SourcePosition;
}

/** Longest first, so `<=` wins over `<`. */
const OPERATORS = ["&&", "||", "<=", ">=", "==", "!=", "+", "-", "*", "/", "!", "<", ">", "?", ":", "(", ")", ",", ".", ";", "="];

/** A decimal literal; an exponent (1e3) is accepted though no source shows one. Sticky, so it matches at `lastIndex`. */
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

const syntax = (detail: string, pos: SourcePosition) => new FormulaError(AutoScaleErrorCode.SyntaxError, detail, pos, "validation");

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const here = (): SourcePosition => ({ line, col: i - lineStart + 1 });
  const newline = () => {
    line++;
    lineStart = i;
  };

  while (i < source.length) {
    const c = source[i];
    if (c === "\n") {
      i++;
      newline();
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v") {
      i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const start = here();
      i += 2;
      while (i < source.length && !(source[i] === "*" && source[i + 1] === "/")) {
        i++;
        if (source[i - 1] === "\n") newline();
      }
      if (i >= source.length) throw syntax("Unterminated comment: '/*' has no closing '*/'", start);
      i += 2;
      continue;
    }
    const pos = here();
    if (isDigit(c) || (c === "." && isDigit(source[i + 1]))) {
      NUMBER.lastIndex = i;
      const text = NUMBER.exec(source)![0];
      i += text.length;
      if (i < source.length && isNameChar(source[i])) throw syntax(`Invalid number '${text}${source[i]}'`, pos);
      tokens.push({ kind: "number", text, value: Number(text), pos });
      continue;
    }
    if (c === '"') {
      const end = source.indexOf('"', i + 1);
      const nl = source.indexOf("\n", i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw syntax("Unterminated string: a '\"' has no closing '\"' on its line", pos);
      tokens.push({ kind: "string", text: source.slice(i + 1, end), pos });
      i = end + 1;
      continue;
    }
    if (isNameStart(c)) {
      let j = i + 1;
      while (j < source.length && isNameChar(source[j])) j++;
      const text = source.slice(i, j);
      if (text === "$") throw syntax("Expected a variable name after '$'", pos);
      tokens.push({ kind: "name", text, pos });
      i = j;
      continue;
    }
    let op: string | undefined;
    for (const o of OPERATORS) {
      if (source.startsWith(o, i)) {
        op = o;
        break;
      }
    }
    if (!op) {
      const hint = c === "&" ? " (logical and is '&&')" : c === "|" ? " (logical or is '||')" : c === "'" ? " (strings are double-quoted)" : "";
      throw syntax(`Unexpected character '${c}'${hint}`, pos);
    }
    tokens.push({ kind: "op", text: op, pos });
    i += op.length;
  }
  tokens.push({ kind: "eof", text: "", pos: here() });
  return tokens;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isNameStart = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_" || c === "$";
const isNameChar = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_" || isDigit(c);
