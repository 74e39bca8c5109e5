/**
 * The one place that talks to the agent. Task entries read inputs and the
 * service connection through this interface; the logic below them never sees
 * azure-pipelines-task-lib or process.env.
 */
import * as tl from "azure-pipelines-task-lib/task";

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

/** The agent as azure-pipelines-task-lib presents it. */
export function taskLibAgent(): Agent {
  return {
    getInput: (name) => tl.getInput(name, false),
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
    setOutput: (name, value, options) => tl.setVariable(name, value, options?.secret ?? false, true),
    setProgress: (percent, operation) => tl.setProgress(Math.max(0, Math.min(100, Math.round(percent))), operation),
    info: (message) => console.log(message),
    debug: (message) => tl.debug(message),
    warning: (message) => tl.warning(message),
    error: (message) => tl.error(message),
    uploadSummary: (markdownPath) => tl.uploadSummary(markdownPath),
    setFailed: (message) => tl.setResult(tl.TaskResult.Failed, message),
    setSucceeded: (message) => tl.setResult(tl.TaskResult.Succeeded, message),
  };
}
