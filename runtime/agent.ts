/**
 * The one place that talks to the agent. Task entries read inputs and the
 * service connection through this interface; the logic below them never sees
 * azure-pipelines-task-lib or process.env.
 *
 * Every message printed through it passes through escapeLogText, so text from
 * files or Azure can never form a logging command; the task's own commands
 * (outputs, progress, secrets, the result) are sent by task-lib itself.
 */
import type * as TaskLib from "azure-pipelines-task-lib/task";
import { escapeLogText } from "./log-escape";

export interface Agent {
  getInput(name: string): string | undefined;
  getVariable(name: string): string | undefined;
  getEndpointUrl(id: string): string | undefined;
  getEndpointAuthorizationScheme(id: string): string | undefined;
  getEndpointAuthorizationParameter(id: string, key: string): string | undefined;
  getEndpointDataParameter(id: string, key: string): string | undefined;
  /** Masks a value in every later log line. */
  setSecret(value: string): void;
  setOutput(name: string, value: string, options?: { secret?: boolean }): void;
  setProgress(percent: number, operation: string): void;
  info(message: string): void;
  debug(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  uploadSummary(markdownPath: string): void;
  setFailed(message: string): void;
  setSucceeded(message: string): void;
}

export interface TaskLibAgentOptions {
  /** Inputs that carry secrets (a SAS token, a key): masked before anything reads them, and never debug-printed. */
  secretInputs?: readonly string[];
  /**
   * Inputs whose text may hold a secret among other text (a SecureString
   * pipeline parameter in a parameters object): never debug-printed, and not
   * masked as a whole (the task masks the secret parts once it knows them).
   */
  quietInputs?: readonly string[];
  /** The process environment (default process.env); read once, before task-lib loads and empties the INPUT_ variables. */
  env?: NodeJS.ProcessEnv;
}

/** The environment variable the agent passes an input in. */
export function inputVariableName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/**
 * The agent as azure-pipelines-task-lib presents it. task-lib is loaded here,
 * after the secret inputs have been taken from the environment: on load it
 * moves every INPUT_ variable into its vault, and its getInput debug-prints
 * `name=value`, so a secret read through it would reach the log.
 */
export function taskLibAgent(options: TaskLibAgentOptions = {}): Agent {
  const env = options.env ?? process.env;
  const secretInputs = new Map<string, string | undefined>();
  for (const name of options.secretInputs ?? []) secretInputs.set(name.toLowerCase(), env[inputVariableName(name)]);
  const quietInputs = new Map<string, string | undefined>();
  for (const name of options.quietInputs ?? []) quietInputs.set(name.toLowerCase(), env[inputVariableName(name)]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tl = require("azure-pipelines-task-lib/task") as typeof TaskLib;
  for (const value of secretInputs.values()) {
    if (value) for (const line of value.split(/\r?\n/)) if (line.trim()) tl.setSecret(line.trim());
  }
  return {
    getInput: (name) => {
      const key = name.toLowerCase();
      if (secretInputs.has(key)) return secretInputs.get(key);
      return quietInputs.has(key) ? quietInputs.get(key) : tl.getInput(name, false);
    },
    getVariable: (name) => tl.getVariable(name),
    getEndpointUrl: (id) => tl.getEndpointUrl(id, true),
    getEndpointAuthorizationScheme: (id) => tl.getEndpointAuthorizationScheme(id, true),
    // Read from the whole authorization object: task-lib's per-parameter getter
    // writes the value to the debug log, and these values are secrets.
    getEndpointAuthorizationParameter: (id, key) => {
      const parameters = tl.getEndpointAuthorization(id, true)?.parameters ?? {};
      const match = Object.keys(parameters).find((k) => k.toLowerCase() === key.toLowerCase());
      return match === undefined || parameters[match] === "" ? undefined : parameters[match];
    },
    getEndpointDataParameter: (id, key) => tl.getEndpointDataParameter(id, key, true),
    setSecret: (value) => {
      if (value) tl.setSecret(value);
    },
    setOutput: (name, value, opts) => tl.setVariable(name, value, opts?.secret ?? false, true),
    setProgress: (percent, operation) => tl.setProgress(Math.max(0, Math.min(100, Math.round(percent))), escapeLogText(operation)),
    info: (message) => console.log(escapeLogText(message)),
    debug: (message) => tl.debug(escapeLogText(message)),
    warning: (message) => tl.warning(escapeLogText(message)),
    error: (message) => tl.error(escapeLogText(message)),
    uploadSummary: (markdownPath) => tl.uploadSummary(markdownPath),
    setFailed: (message) => tl.setResult(tl.TaskResult.Failed, escapeLogText(message)),
    setSucceeded: (message) => tl.setResult(tl.TaskResult.Succeeded, escapeLogText(message)),
  };
}
