/**
 * Reads a task's inputs through the agent into typed values. Every failure
 * names the input by its YAML name and its label, shows the value, and says
 * what would be valid, before anything is sent to Azure.
 */
import type { Agent } from "./agent";
import { InputError, NotFoundError } from "./errors";

export interface TaskManifest {
  inputs?: { name: string; label: string; defaultValue?: string | boolean; options?: Record<string, string | undefined>; required?: boolean }[];
}

export class InputReader {
  constructor(
    private readonly agent: Pick<Agent, "getInput">,
    private readonly manifest: TaskManifest,
  ) {}

  /** `'name' (Label)`, as the error messages name an input. */
  describe(name: string): string {
    const label = this.manifest.inputs?.find((i) => i.name === name)?.label;
    return label ? `'${name}' (${label})` : `'${name}'`;
  }

  fail(name: string, message: string, options: { cause?: unknown } = {}): never {
    throw new InputError(name, `Input ${this.describe(name)}: ${message}`, options);
  }

  private raw(name: string): string | undefined {
    const value = this.agent.getInput(name);
    if (value === undefined || value.trim() === "") {
      const fallback = this.manifest.inputs?.find((i) => i.name === name)?.defaultValue;
      return fallback === undefined || fallback === "" ? undefined : String(fallback);
    }
    return value.trim();
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  string(name: string): string {
    const value = this.raw(name);
    if (value === undefined) this.fail(name, "a value is required.");
    return value;
  }

  bool(name: string): boolean {
    const value = this.raw(name);
    if (value === undefined) return false;
    if (/^(true|yes|1)$/i.test(value)) return true;
    if (/^(false|no|0)$/i.test(value)) return false;
    return this.fail(name, `'${value}' is not a boolean. Use true or false.`);
  }

  int(name: string, range: { min?: number; max?: number } = {}): number {
    const value = this.string(name);
    if (!/^[+-]?\d+$/.test(value)) this.fail(name, `'${value}' is not a whole number.`);
    const n = Number(value);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (n < min || n > max) this.fail(name, `${n} is out of range. Use a whole number from ${min} to ${max}.`);
    return n;
  }

  optionalInt(name: string, range: { min?: number; max?: number } = {}): number | undefined {
    return this.raw(name) === undefined ? undefined : this.int(name, range);
  }

  /** One of the options declared in task.json (matched case-insensitively). */
  pick<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.string(name);
    const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (!match) this.fail(name, `'${value}' is not one of ${allowed.map((a) => `'${a}'`).join(", ")}.`);
    return match;
  }

  /** A multi-line input: one entry per line, blank lines and `#` comments skipped. */
  lines(name: string): string[] {
    const value = this.agent.getInput(name) ?? "";
    return value
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
  }
}

/**
 * What a lookup's error means for the input that named the thing: a
 * NotFoundError becomes an InputError naming the input (the lookup's error
 * kept as its cause); anything else, a missing role included (the input is
 * right, the connection lacks a grant), passes through unchanged. For
 * `.catch`: `resolveBatchAccount(session, name).catch(rethrowForInput(reader, "batchAccount"))`.
 */
export function rethrowForInput(reader: Pick<InputReader, "fail">, inputName: string): (error: unknown) => never {
  return (error: unknown): never => {
    if (error instanceof NotFoundError) return reader.fail(inputName, error.detail, { cause: error });
    throw error;
  };
}
