/**
 * A Markdown summary for the run's summary tab, and the same table in the log.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Agent } from "./agent";

export interface SummaryTable {
  title: string;
  rows: [string, string][];
  notes?: string[];
}

const escapeCell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n|\r/g, " ");

export function renderMarkdown(table: SummaryTable): string {
  const lines = [`### ${table.title}`, "", "| | |", "|---|---|", ...table.rows.map(([k, v]) => `| ${escapeCell(k)} | ${escapeCell(v)} |`)];
  if (table.notes?.length) lines.push("", ...table.notes.map((n) => `- ${n}`));
  return `${lines.join("\n")}\n`;
}

export function renderText(table: SummaryTable): string {
  const width = Math.max(...table.rows.map(([k]) => k.length));
  // A value never breaks the table's lines (text from files or Azure may hold line breaks).
  const oneLine = (s: string) => s.replace(/\r/g, "\\r").replace(/\n/g, "\\n");
  return [oneLine(table.title), ...table.rows.map(([k, v]) => `  ${oneLine(k).padEnd(width)}  ${oneLine(v)}`), ...(table.notes ?? []).map((n) => `  ${oneLine(n)}`)].join("\n");
}

/** Prints the table (one log line per row: each message is one line) and uploads it to the summary tab (when the agent gave a temp folder). */
export function publishSummary(agent: Pick<Agent, "info" | "uploadSummary">, tempDirectory: string | undefined, fileStem: string, table: SummaryTable): void {
  for (const line of renderText(table).split("\n")) agent.info(line);
  if (!tempDirectory) return;
  const file = path.join(tempDirectory, `${fileStem}-${process.pid}-${Date.now()}.md`);
  fs.mkdirSync(tempDirectory, { recursive: true });
  fs.writeFileSync(file, renderMarkdown(table));
  agent.uploadSummary(file);
}
