/**
 * Progress for long work: the agent's progress bar plus a log line at most
 * every few seconds with counts, rate and time left.
 */
import type { Agent } from "./agent";

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export interface ProgressOptions {
  operation: string;
  totalItems: number;
  totalBytes: number;
  /** Minimum time between log lines. */
  intervalMs?: number;
  now?: () => number;
}

export class TransferProgress {
  private items = 0;
  private bytes = 0;
  private readonly started: number;
  private lastLine = 0;
  private readonly now: () => number;

  constructor(
    private readonly agent: Pick<Agent, "info" | "setProgress">,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** Bytes moved inside an item (large files report as their blocks go). */
  addBytes(bytes: number): void {
    this.bytes += bytes;
    this.maybeReport();
  }

  itemDone(): void {
    this.items++;
    this.maybeReport();
  }

  line(): string {
    const elapsed = Math.max(1, this.now() - this.started);
    const rate = (this.bytes / elapsed) * 1000;
    const { totalItems, totalBytes } = this.options;
    const left = rate > 0 ? ((totalBytes - this.bytes) / rate) * 1000 : undefined;
    return (
      `${this.options.operation}: ${this.items}/${totalItems} files, ${formatBytes(this.bytes)} of ${formatBytes(totalBytes)}` +
      ` (${formatBytes(rate)}/s${left !== undefined && this.bytes < totalBytes ? `, about ${formatDuration(left)} left` : ""})`
    );
  }

  private maybeReport(force = false): void {
    const now = this.now();
    if (!force && now - this.lastLine < (this.options.intervalMs ?? 5000)) return;
    this.lastLine = now;
    const { totalItems, totalBytes } = this.options;
    const fraction = totalBytes > 0 ? this.bytes / totalBytes : totalItems > 0 ? this.items / totalItems : 1;
    this.agent.setProgress(fraction * 100, this.options.operation);
    this.agent.info(this.line());
  }

  finish(): void {
    this.maybeReport(true);
  }
}
