/**
 * The inputs of BatchPoolAutoscale@1 checked into one typed object, before
 * anything is sent to Batch. Plain logic: the entry hands in each input's raw
 * text (and a file reader for `formulaFile`); every error names the input and
 * says what would be valid.
 *
 * Which formula: `formula` (inline) or `formulaFile`, at most one of them;
 * either replaces the template. Without them, `formulaTemplate` picks the
 * template (`scaleFromZero`, the default). The agent fills in a picklist's
 * default, so a template name beside a formula cannot be told from the
 * default and is not an error; the template's own inputs (`maxNodes`,
 * `samplingMinutes`, ...) with a non-default value beside a formula are,
 * because they would be silently ignored. For that to work, task.json gives
 * those inputs no defaultValue: the defaults live here (TEMPLATE_DEFAULTS).
 */
import type { ResourceFile, StartTask } from "../../runtime/batch-data";
import { InputError } from "../../runtime/errors";
import { formatFinding, lintFormula, type LintFinding } from "./lint";
import { LOW_PRIORITY_MODES, scaleFromZeroFormula, type LowPriorityMode, type ScaleFromZeroSettings } from "./template";

/** What the entry hands in: the raw text of an input (undefined or blank when not set). */
export interface InputSource {
  get(name: string): string | undefined;
  /** `'name' (Label)` for messages; the plain name when not given. */
  describe?(name: string): string;
  /** Reads `formulaFile` (a path as the user wrote it); throws when it cannot. */
  readFile?(path: string): string;
}

export const TEMPLATES = ["scaleFromZero", "none"] as const;
export type FormulaTemplate = (typeof TEMPLATES)[number];

export type FormulaSource = { kind: "template"; template: "scaleFromZero"; settings: ScaleFromZeroSettings } | { kind: "inline" } | { kind: "file"; path: string };

export interface ApplicationPackageSpec {
  application: string;
  /** Omitted: the application's default version. */
  version?: string;
}

export interface AutoscaleSettings {
  /** The formula to evaluate and apply, exactly as it will be sent. */
  formula: string;
  formulaSource: FormulaSource;
  /** Lint warnings, for the log (errors have already stopped the task). */
  lintWarnings: LintFinding[];
  evaluationIntervalMinutes: number;
  /** As Batch takes it: PT5M. */
  evaluationInterval: string;
  dryRun: boolean;
  /** Undefined: the pool's start task is left as it is. */
  startTask?: StartTask;
  /** Undefined: the pool's application packages are left as they are. */
  applicationPackages?: ApplicationPackageSpec[];
  /** Values the entry must mask (a SAS in a resource file container URL). */
  secrets: string[];
}

export const TEMPLATE_DEFAULTS = {
  maxNodes: 10,
  samplingMinutes: 5,
  averageTaskSeconds: 60,
  targetSeconds: 600,
  lowPriority: "none" as LowPriorityMode,
  mixDedicatedNodes: 1,
};

/** Bounds, with the reason for each in the messages. */
export const LIMITS = {
  /** Batch: 5 minutes to 168 hours (PoolEnableAutoScaleParameter.autoScaleEvaluationInterval). */
  evaluationIntervalMinutes: { min: 5, max: 168 * 60 },
  /** A guard against typos; a bigger pool can use its own formula. */
  maxNodes: { min: 1, max: 1000 },
  /** Samples arrive every 30 s and take about a minute to appear: shorter windows rarely hold 70 % of theirs. */
  samplingMinutes: { min: 2, max: 24 * 60 },
  taskSeconds: { max: 7 * 24 * 3600 },
  /** Batch: -1 (no limit) or a count; more than 100 retries of a start task is a mistake. */
  startTaskMaxRetries: { min: -1, max: 100 },
  /** Batch: at most 10 package references on a pool. */
  applicationPackages: 10,
};

const APPLICATION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const APPLICATION_VERSION = /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,63}$/;
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const START_TASK_INPUTS = [
  "startTaskElevated",
  "startTaskWaitForSuccess",
  "startTaskMaxRetries",
  "startTaskResourceContainer",
  "startTaskResourcePrefix",
  "startTaskResourcePath",
] as const;

class Reader {
  constructor(readonly source: InputSource) {}

  describe(name: string): string {
    return this.source.describe?.(name) ?? `'${name}'`;
  }

  fail(name: string, message: string): never {
    throw new InputError(name, `Input ${this.describe(name)}: ${message}`);
  }

  value(name: string): string | undefined {
    const v = this.source.get(name);
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  /** The text with line endings kept (for a formula and multi-line inputs). */
  text(name: string): string | undefined {
    const v = this.source.get(name);
    return v === undefined || v.trim() === "" ? undefined : v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (/^(true|yes|1)$/i.test(v)) return true;
    if (/^(false|no|0)$/i.test(v)) return false;
    return this.fail(name, `'${v}' is not a boolean. Use true or false.`);
  }

  int(name: string, fallback: number, range: { min: number; max: number }, why = ""): number {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (!/^[+-]?\d+$/.test(v)) this.fail(name, `'${v}' is not a whole number. Use a whole number from ${range.min} to ${range.max}${why}.`);
    const n = Number(v);
    if (n < range.min || n > range.max) this.fail(name, `${n} is out of range. Use a whole number from ${range.min} to ${range.max}${why}.`);
    return n;
  }

  positive(name: string, fallback: number, max: number, unit: string): number {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (!/^\+?(?:\d+(?:\.\d+)?|\.\d+)$/.test(v)) this.fail(name, `'${v}' is not a number. Use a positive number of ${unit} (for example 60 or 2.5), at most ${max}.`);
    const n = Number(v);
    if (!(n > 0)) this.fail(name, `${v} is not positive. Use a positive number of ${unit}, at most ${max}.`);
    if (n > max) this.fail(name, `${v} is too large. Use at most ${max} ${unit}.`);
    if (n < 0.001) this.fail(name, `${v} is too small. Use at least 0.001 ${unit}.`);
    return n;
  }

  pick<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.value(name);
    if (v === undefined) return fallback;
    const match = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (!match) this.fail(name, `'${v}' is not one of ${allowed.map((a) => `'${a}'`).join(", ")}.`);
    return match;
  }
}

const TEMPLATE_INPUTS = ["maxNodes", "samplingMinutes", "averageTaskSeconds", "targetSeconds", "lowPriority", "mixDedicatedNodes"] as const;

/** Reads and checks every input; throws InputError on the first bad one. */
export function readAutoscaleInputs(source: InputSource): AutoscaleSettings {
  const r = new Reader(source);
  const secrets: string[] = [];

  const evaluationIntervalMinutes = r.int("evaluationIntervalMinutes", 5, LIMITS.evaluationIntervalMinutes, " (Batch evaluates a formula at most every 5 minutes and at least every 168 hours)");
  const dryRun = r.bool("dryRun", false);

  const { formula, formulaSource, input } = readFormula(r);
  const lint = lintFormula(formula);
  if (lint.errors.length > 0) {
    const shown = lint.errors.slice(0, 10).map(formatFinding);
    const more = lint.errors.length > shown.length ? [`... and ${lint.errors.length - shown.length} more.`] : [];
    r.fail(input, `the autoscale formula has ${lint.errors.length === 1 ? "an error" : `${lint.errors.length} errors`}:\n${[...shown, ...more].map((l) => `  ${l}`).join("\n")}`);
  }

  const startTask = readStartTask(r, secrets);
  const applicationPackages = parseApplicationPackages(r.text("applicationPackages"), (m) => r.fail("applicationPackages", m));

  return {
    formula,
    formulaSource,
    lintWarnings: lint.warnings,
    evaluationIntervalMinutes,
    evaluationInterval: `PT${evaluationIntervalMinutes}M`,
    dryRun,
    startTask,
    applicationPackages,
    secrets,
  };
}

function readFormula(r: Reader): { formula: string; formulaSource: FormulaSource; input: string } {
  const inline = r.text("formula");
  const file = r.value("formulaFile");
  const template = r.pick("formulaTemplate", TEMPLATES, "scaleFromZero");
  if (inline !== undefined && file !== undefined) {
    r.fail("formulaFile", "set either formula (the formula itself) or formulaFile (a file holding it), not both.");
  }
  if (inline !== undefined || file !== undefined) {
    const input = inline !== undefined ? "formula" : "formulaFile";
    for (const name of TEMPLATE_INPUTS) {
      const v = r.value(name);
      if (v !== undefined && v.toLowerCase() !== String(TEMPLATE_DEFAULTS[name]).toLowerCase()) {
        r.fail(name, `it applies only to formulaTemplate: scaleFromZero, but ${input} is set. Remove ${name}, or remove ${input} to use the template.`);
      }
    }
    if (inline !== undefined) return { formula: inline, formulaSource: { kind: "inline" }, input };
    let text: string;
    try {
      if (!r.source.readFile) throw new Error("no file reader");
      text = r.source.readFile(file!);
    } catch (e) {
      return r.fail("formulaFile", `cannot read '${file}': ${e instanceof Error ? e.message : String(e)}. Give the path of a text file holding the formula.`);
    }
    if (text.trim() === "") r.fail("formulaFile", `'${file}' is empty. It should hold the autoscale formula.`);
    return { formula: text.replace(/^\uFEFF/, ""), formulaSource: { kind: "file", path: file! }, input };
  }
  if (template === "none") {
    r.fail("formulaTemplate", "with 'none', set formula (the formula itself) or formulaFile (a file holding it); or use 'scaleFromZero'.");
  }
  const maxNodes = r.int("maxNodes", TEMPLATE_DEFAULTS.maxNodes, LIMITS.maxNodes, " (a pool needing more nodes can use its own formula)");
  const samplingMinutes = r.int(
    "samplingMinutes",
    TEMPLATE_DEFAULTS.samplingMinutes,
    LIMITS.samplingMinutes,
    " (samples come every 30 seconds and take about a minute to appear, so a shorter window seldom holds the 70% of samples the formula needs)",
  );
  const averageTaskSeconds = r.positive("averageTaskSeconds", TEMPLATE_DEFAULTS.averageTaskSeconds, LIMITS.taskSeconds.max, "seconds");
  const targetSeconds = r.positive("targetSeconds", TEMPLATE_DEFAULTS.targetSeconds, LIMITS.taskSeconds.max, "seconds");
  const lowPriority = r.pick("lowPriority", LOW_PRIORITY_MODES, TEMPLATE_DEFAULTS.lowPriority);
  const settings: ScaleFromZeroSettings = { maxNodes, samplingMinutes, averageTaskSeconds, targetSeconds, lowPriority };
  if (lowPriority === "mix") {
    settings.mixDedicatedNodes = r.int("mixDedicatedNodes", TEMPLATE_DEFAULTS.mixDedicatedNodes, { min: 1, max: maxNodes }, ` (at most maxNodes, ${maxNodes}; for no dedicated nodes use lowPriority: all)`);
  } else {
    const v = r.value("mixDedicatedNodes");
    if (v !== undefined && v !== String(TEMPLATE_DEFAULTS.mixDedicatedNodes)) r.fail("mixDedicatedNodes", `it applies only to lowPriority: mix (lowPriority is '${lowPriority}').`);
  }
  return { formula: scaleFromZeroFormula(settings), formulaSource: { kind: "template", template: "scaleFromZero", settings }, input: "formulaTemplate" };
}

/** Parses `app` or `app:version`, one per line (blank lines and `#` comments skipped); undefined when there are none. */
export function parseApplicationPackages(text: string | undefined, fail: (message: string) => never): ApplicationPackageSpec[] | undefined {
  if (text === undefined) return undefined;
  const specs: ApplicationPackageSpec[] = [];
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  lines.forEach((line, index) => {
    if (line === "" || line.startsWith("#")) return;
    const where = `line ${index + 1}, '${line}'`;
    const colon = line.indexOf(":");
    const application = (colon === -1 ? line : line.slice(0, colon)).trim();
    const version = colon === -1 ? undefined : line.slice(colon + 1).trim();
    if (!APPLICATION_NAME.test(application)) {
      fail(`${where}: '${application}' is not an application name (1-64 letters, digits, '-' and '_'). Write 'app' or 'app:version', one per line.`);
    }
    if (version !== undefined && !APPLICATION_VERSION.test(version)) {
      fail(`${where}: '${version}' is not a version (1-64 letters, digits, '-', '_' and '.', not starting with '.'). Write 'app' for the default version or 'app:version'.`);
    }
    const duplicate = specs.find((s) => s.application.toLowerCase() === application.toLowerCase());
    if (duplicate) fail(`${where}: application '${application}' is listed twice; a pool references each application once.`);
    specs.push(version === undefined ? { application } : { application, version });
  });
  if (specs.length > LIMITS.applicationPackages) {
    fail(`${specs.length} packages are listed; Batch allows at most ${LIMITS.applicationPackages} on a pool.`);
  }
  return specs.length > 0 ? specs : undefined;
}

function readStartTask(r: Reader, secrets: string[]): StartTask | undefined {
  const commandLine = r.value("startTaskCommandLine");
  if (commandLine === undefined) {
    const defaults: Record<string, string> = { startTaskElevated: "false", startTaskWaitForSuccess: "true", startTaskMaxRetries: "0" };
    for (const name of START_TASK_INPUTS) {
      const v = r.value(name);
      if (v !== undefined && v.toLowerCase() !== defaults[name]) r.fail(name, "it applies to the start task, but startTaskCommandLine is not set. Set startTaskCommandLine, or remove this input.");
    }
    return undefined;
  }
  if (/[\r\n]/.test(commandLine)) {
    r.fail("startTaskCommandLine", "the command line must be one line. For several commands use a shell, for example /bin/bash -c \"apt-get update && apt-get install -y python3\".");
  }
  const elevated = r.bool("startTaskElevated", false);
  const waitForSuccess = r.bool("startTaskWaitForSuccess", true);
  const maxTaskRetryCount = r.int("startTaskMaxRetries", 0, LIMITS.startTaskMaxRetries, " (-1 retries without limit, which Batch does not recommend for a start task)");
  const startTask: StartTask = {
    commandLine,
    // Pool scope: what the start task installs is there for the pool's tasks too.
    userIdentity: { autoUser: { scope: "pool", elevationLevel: elevated ? "admin" : "nonadmin" } },
    maxTaskRetryCount,
    waitForSuccess,
  };
  const container = r.value("startTaskResourceContainer");
  const prefix = r.value("startTaskResourcePrefix");
  const filePath = r.value("startTaskResourcePath");
  if (container === undefined) {
    if (prefix !== undefined) r.fail("startTaskResourcePrefix", "it selects blobs in startTaskResourceContainer, which is not set.");
    if (filePath !== undefined) r.fail("startTaskResourcePath", "it places the files of startTaskResourceContainer, which is not set.");
    return startTask;
  }
  const resourceFile: ResourceFile = {};
  if (/^[a-z][a-z0-9+.-]*:/i.test(container)) {
    let url: URL;
    try {
      url = new URL(container);
    } catch {
      return r.fail("startTaskResourceContainer", "it is neither a container name nor a valid URL.");
    }
    if (url.protocol !== "https:") r.fail("startTaskResourceContainer", `use an https:// container URL, not ${url.protocol}//.`);
    if (url.search) secrets.push(container, url.search.slice(1));
    resourceFile.storageContainerUrl = container;
  } else {
    if (!CONTAINER_NAME.test(container)) {
      r.fail(
        "startTaskResourceContainer",
        `'${container}' is not a container name (3-63 lowercase letters, digits and single hyphens) of the Batch account's auto-storage account, nor an https:// container URL.`,
      );
    }
    resourceFile.autoStorageContainerName = container;
  }
  if (prefix !== undefined) {
    if (prefix.startsWith("/")) r.fail("startTaskResourcePrefix", `'${prefix}' starts with '/': a blob prefix is relative to the container (for example 'setup/').`);
    resourceFile.blobPrefix = prefix;
  }
  if (filePath !== undefined) {
    if (/^([\\/]|[a-zA-Z]:)/.test(filePath) || filePath.split(/[\\/]/).includes("..")) {
      r.fail("startTaskResourcePath", `'${filePath}' must be a relative folder inside the start task's working directory (no leading '/', drive or '..').`);
    }
    resourceFile.filePath = filePath;
  }
  startTask.resourceFiles = [resourceFile];
  return startTask;
}
