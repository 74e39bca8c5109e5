/**
 * "Did you mean …?" for names the user typed: parameters, factories,
 * pipelines. A small optimal-string-alignment distance (a swap of two
 * neighbouring letters counts as one edit, the commonest typo), compared
 * case-insensitively, with a case-only difference ranked closest of all;
 * only the closest names are suggested.
 */

import { InputError } from "../../runtime/errors";

/** Edits (insert, delete, substitute, swap neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rolling rows: two back is needed for the swap.
  let twoBack = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (twoBack[j - 2] ?? 0) + 1);
      current[j] = best;
    }
    [twoBack, previous, current] = [previous, current, twoBack];
  }
  return previous[b.length] ?? 0;
}

export interface ClosestNamesOptions {
  /** At most this many suggestions (default 3). */
  limit?: number;
}

/**
 * Candidates close enough to `name` to be what was meant, closest first: a
 * case-only difference, then by edit distance up to about a third of the
 * name's length (2 to 4 edits; 1 for names under 3 characters), then names
 * that contain it or are contained in it.
 */
export function closestNames(name: string, candidates: readonly string[], options: ClosestNamesOptions = {}): string[] {
  const wanted = name.toLowerCase();
  const allowed = wanted.length < 3 ? 1 : Math.min(4, Math.max(2, Math.floor(wanted.length / 3)));
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === name) continue;
    const lower = candidate.toLowerCase();
    let score: number | undefined;
    if (lower === wanted) score = 0;
    else {
      const distance = editDistance(wanted, lower);
      if (distance <= allowed) score = distance;
      else if (wanted.length >= 3 && (lower.includes(wanted) || wanted.includes(lower))) score = allowed + 1;
    }
    if (score !== undefined) scored.push({ candidate, score });
  }
  scored.sort((x, y) => x.score - y.score || x.candidate.localeCompare(y.candidate));
  // Only the closest: 'ingest-daily' for 'ingest-dayly', not 'ingest-hourly' as well.
  const closest = scored[0]?.score;
  return scored.filter((s) => s.score === closest).slice(0, options.limit ?? 3).map((s) => s.candidate);
}

/** `'a', 'b' and 'c'`, or `'a', 'b', … and 12 more` past `max`. */
export function quoteList(names: readonly string[], max = 20): string {
  const quoted = names.slice(0, max).map((n) => `'${n}'`);
  if (names.length > max) return `${quoted.join(", ")} and ${names.length - max} more`;
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

/** ` Did you mean 'x'?` (or `'x' or 'y'`), or empty when nothing is close. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const close = closestNames(name, candidates);
  if (close.length === 0) return "";
  return ` Did you mean ${close.map((c) => `'${c}'`).join(" or ")}?`;
}

export interface UnknownNameOptions {
  /** The input that named it, e.g. `pipelineName`. */
  input: string;
  /** What it is, singular and plural: `["pipeline", "pipelines"]`. */
  kind: [string, string];
  name: string;
  /** Where it was looked for: `factory 'release-adf'`. */
  scope: string;
  /** The names that do exist there. */
  available: readonly string[];
}

/**
 * The error for a factory, pipeline or other name that does not exist, with
 * the closest names and the full list (names sorted, at most 20 shown).
 */
export function unknownNameError(options: UnknownNameOptions): InputError {
  const [singular, plural] = options.kind;
  const sorted = [...options.available].sort((a, b) => a.localeCompare(b));
  const list = sorted.length === 0 ? `${capitalise(options.scope)} has no ${plural}.` : `${capitalise(options.scope)} has ${sorted.length === 1 ? `one ${singular}` : `${sorted.length} ${plural}`}: ${quoteList(sorted)}.`;
  return new InputError(
    options.input,
    `Input '${options.input}': ${singular} '${options.name}' does not exist in ${options.scope}.${didYouMean(options.name, sorted)} ${list}`,
  );
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
