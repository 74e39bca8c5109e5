/**
 * An Agent over a plain environment map, read the way azure-pipelines-task-lib
 * reads the agent's variables, for testing runtime code in-process.
 */
import type { Agent } from "../../runtime/agent";

export interface RecordingAgent extends Agent {
  secrets: string[];
  outputs: Record<string, string>;
  log: string[];
}

export function envAgent(env: Record<string, string>, inputs: Record<string, string> = {}): RecordingAgent {
  const get = (name: string) => env[name] ?? env[Object.keys(env).find((k) => k.toUpperCase() === name.toUpperCase()) ?? ""];
  const auth = (id: string) => {
    const raw = get(`ENDPOINT_AUTH_${id}`);
    return raw ? (JSON.parse(raw) as { scheme: string; parameters: Record<string, string> }) : undefined;
  };
  const agent: RecordingAgent = {
    secrets: [],
    outputs: {},
    log: [],
    getInput: (name) => inputs[name],
    getVariable: (name) => get(name.replace(/\./g, "_").toUpperCase()) ?? get(`SECRET_${name.replace(/\./g, "_").toUpperCase()}`),
    getEndpointUrl: (id) => get(`ENDPOINT_URL_${id}`),
    getEndpointAuthorizationScheme: (id) => get(`ENDPOINT_AUTH_SCHEME_${id}`) ?? auth(id)?.scheme,
    getEndpointAuthorizationParameter: (id, key) => {
      const parameters = auth(id)?.parameters ?? {};
      const match = Object.keys(parameters).find((k) => k.toLowerCase() === key.toLowerCase());
      return match ? parameters[match] : undefined;
    },
    getEndpointDataParameter: (id, key) => get(`ENDPOINT_DATA_${id}_${key.toUpperCase()}`),
    setSecret: (v) => void agent.secrets.push(v),
    setOutput: (n, v) => void (agent.outputs[n] = v),
    setProgress: () => undefined,
    info: (m) => void agent.log.push(m),
    debug: () => undefined,
    warning: (m) => void agent.log.push(`warning: ${m}`),
    error: (m) => void agent.log.push(`error: ${m}`),
    uploadSummary: () => undefined,
    setFailed: (m) => void agent.log.push(`failed: ${m}`),
    setSucceeded: (m) => void agent.log.push(`succeeded: ${m}`),
  };
  return agent;
}
