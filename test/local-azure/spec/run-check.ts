/**
 * The end-of-run spec check: records every in-scope exchange the local Azure
 * serves during the mocha run (a listener on the request log, so tests that
 * clear the log lose nothing), then checks them all and reports each distinct
 * mismatch once with how often it occurred and the first test that hit it.
 *
 * Mode: LOCAL_AZURE_SPEC_CHECK=strict|report|off, default DEFAULT_SPEC_CHECK_MODE.
 * "report" prints the mismatches; "strict" also fails the run.
 */
import type { RequestLog, RequestLogEntry } from "../http";
import { checkExchange, findOperation, pollingPathsOf, specScope, type ExchangeRecord, type Mismatch } from "./check-exchange";
import { recordPending } from "../../shared-files";
import { specsUnavailable, type LoadedSpecs } from "./load";
import { OperationIndex } from "./operations";
import { specValidator } from "./validate";

export type SpecCheckMode = "strict" | "report" | "off";

/** A mismatch fails the run; LOCAL_AZURE_SPEC_CHECK=report only prints while a new route is reconciled. */
export const DEFAULT_SPEC_CHECK_MODE: SpecCheckMode = "strict";

export function specCheckMode(env: NodeJS.ProcessEnv = process.env): SpecCheckMode {
  const value = env.LOCAL_AZURE_SPEC_CHECK?.trim().toLowerCase();
  return value === "strict" || value === "report" || value === "off" ? value : DEFAULT_SPEC_CHECK_MODE;
}

export class ExchangeRecorder {
  readonly records: ExchangeRecord[] = [];
  /** Full title of the running test, stamped on each record. */
  currentTest?: string;

  /** Turns capture on and keeps the in-scope exchanges of this log (not when the check is off). */
  attach(log: RequestLog, mode: SpecCheckMode = specCheckMode()): void {
    if (mode === "off") return;
    log.capture = true;
    log.listeners.push((entry) => this.observe(entry));
  }

  observe(entry: RequestLogEntry): void {
    if (!entry.exchange || !specScope(entry)) return;
    this.records.push({
      service: entry.service,
      method: entry.method,
      path: entry.path,
      query: entry.query,
      status: entry.status,
      route: entry.route,
      fault: entry.fault,
      exchange: entry.exchange,
      test: this.currentTest,
    });
  }
}

export interface SpecCheckResult {
  checked: number;
  mismatches: Mismatch[];
  /** Spec operations (spec:operationId) the exchanges reached, with how many exchanges each. */
  covered: Map<string, number>;
  durationMs: number;
}

export async function checkRecords(records: ExchangeRecord[]): Promise<SpecCheckResult> {
  const started = Date.now();
  const validator = await specValidator();
  const ctx = { operations: operationIndex(validator.specs), validator, pollingPaths: pollingPathsOf(records) };
  const mismatches = records.flatMap((record) => checkExchange(ctx, record));
  const covered = new Map<string, number>();
  for (const record of records) {
    const scope = specScope(record);
    const found = scope ? findOperation(ctx, scope, record.method, record.path) : undefined;
    if (found?.kind === "found") {
      const key = `${found.operation.spec}:${found.operation.operationId}`;
      covered.set(key, (covered.get(key) ?? 0) + 1);
    }
  }
  return { checked: records.length, mismatches, covered, durationMs: Date.now() - started };
}

const indexes = new WeakMap<LoadedSpecs, OperationIndex>();
function operationIndex(specs: LoadedSpecs): OperationIndex {
  let index = indexes.get(specs);
  if (!index) {
    index = new OperationIndex(specs);
    indexes.set(specs, index);
  }
  return index;
}

/** One line per distinct mismatch: route, status, part, pointer, message, count and first test. */
export function formatMismatches(mismatches: Mismatch[]): string {
  const groups = new Map<string, { first: Mismatch; count: number }>();
  for (const m of mismatches) {
    const key = [m.service, m.route, m.status, m.part, m.pointer, m.message].join("\u0000");
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { first: m, count: 1 });
  }
  const lines = [...groups.values()]
    .sort((a, b) => a.first.route.localeCompare(b.first.route) || a.first.status - b.first.status)
    .map(({ first: m, count }) => {
      const where = m.pointer === "" ? "" : ` ${m.pointer}`;
      const times = count > 1 ? ` (x${count})` : "";
      const example = m.route.includes(m.path) ? "" : ` [${m.method} ${m.path}]`;
      return `  [${m.service}] ${m.route} -> ${m.status} ${m.part}${where}: ${m.message}${times}${example}${m.test ? `\n      first in: ${m.test}` : ""}`;
    });
  return lines.join("\n");
}

/** Mocha root hooks: stamp test titles, check every recorded exchange after the last test. */
export function specCheckHooks(recorder: ExchangeRecorder, mode: () => SpecCheckMode = specCheckMode) {
  return {
    beforeEach(this: Mocha.Context): void {
      recorder.currentTest = this.currentTest?.fullTitle();
    },
    async afterAll(this: Mocha.Context): Promise<void> {
      const current = mode();
      if (current === "off") return;
      const unavailable = specsUnavailable();
      if (unavailable) {
        console.log(`\nREST spec check (${current}): skipped: ${unavailable} (${recorder.records.length} Batch / Data Factory exchanges not checked)`);
        recordPending({ what: "REST spec check after the last test", tests: 0, reason: unavailable });
        return;
      }
      if (recorder.records.length === 0) return;
      this.timeout(60_000);
      const result = await checkRecords(recorder.records);
      if (result.mismatches.length === 0) {
        console.log(
          `\nREST spec check (${current}): ${result.checked} Batch / Data Factory exchanges over ${result.covered.size} spec operations match the specs (checked in ${result.durationMs} ms)`,
        );
        return;
      }
      const summary = `REST spec check: ${result.mismatches.length} mismatch(es) in ${result.checked} exchanges with Batch / Data Factory over ${result.covered.size} spec operations (checked in ${result.durationMs} ms)`;
      const details = formatMismatches(result.mismatches);
      if (current === "strict") throw new Error(`${summary}\n${details}`);
      console.warn(`\n${summary} [report mode: not failing the run; LOCAL_AZURE_SPEC_CHECK=strict fails it]\n${details}\n`);
    },
  };
}
