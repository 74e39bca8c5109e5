/**
 * Deterministic fault injection: rules per service and route, drawn from a
 * seeded generator so a failing test fails the same way every time.
 */
import type { ServiceName } from "./http";

export type FaultKind = "429" | "500" | "503" | "reset" | "slow";

export interface FaultRule {
  service: ServiceName;
  kind: FaultKind;
  /** Share of matching requests that fail, 0..1 (default 1). */
  rate?: number;
  method?: string;
  /** Matched against the request path. */
  path?: RegExp;
  /** Stop after this many injected faults. */
  count?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
}

interface ActiveRule extends FaultRule {
  injected: number;
}

/** mulberry32: tiny, fast and good enough to make draws repeatable (benchmarks use it for their trees too). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  /** Adds a rule; returns a function that removes it. */
  add(rule: FaultRule): () => void {
    const active: ActiveRule = { ...rule, injected: 0 };
    this.rules.push(active);
    return () => {
      this.rules = this.rules.filter((r) => r !== active);
    };
  }

  reset(seed?: number): void {
    this.rules = [];
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  /** How many faults each rule has injected, in the order added. */
  counts(): number[] {
    return this.rules.map((r) => r.injected);
  }

  pick(service: ServiceName, method: string, path: string): ActiveRule | undefined {
    for (const rule of this.rules) {
      if (rule.service !== service) continue;
      if (rule.method && rule.method !== method) continue;
      if (rule.path && !rule.path.test(path)) continue;
      if (rule.count !== undefined && rule.injected >= rule.count) continue;
      if (this.random() >= (rule.rate ?? 1)) continue;
      rule.injected++;
      return rule;
    }
    return undefined;
  }
}
