/**
 * Signs in with the task's service connection: the connection, its cloud's
 * endpoints and one TokenCredential that every client of the run shares.
 */
import type { TokenCredential } from "@azure/identity";
import type { Agent } from "./agent";
import type { InputReader } from "./inputs";
import { readAzureConnection, type AzureConnection } from "./connection";
import { createCredential } from "./credential";

export interface AzureSession {
  connection: AzureConnection;
  credential: TokenCredential;
  /** Masks a value in all later output. */
  setSecret(value: string): void;
}

/**
 * Fails on the connection input when the job has no such service connection
 * (a wrong name, or a pipeline not authorized to use it), before anything is read from it.
 */
export function requireServiceConnection(agent: Agent, reader: InputReader, inputName: string, connectionId: string): void {
  if (agent.getEndpointUrl(connectionId) === undefined && agent.getEndpointAuthorizationScheme(connectionId) === undefined) {
    reader.fail(
      inputName,
      `no service connection '${connectionId}' is available to this job. Check its name (Project settings > Service connections) and that this pipeline is authorized to use it.`,
    );
  }
}

export function signIn(agent: Agent, reader: InputReader, inputName: string, connectionId: string): AzureSession {
  requireServiceConnection(agent, reader, inputName, connectionId);
  const connection = readAzureConnection(agent, (message) => reader.fail(inputName, message), connectionId);
  const setSecret = (value: string) => agent.setSecret(value);
  return { connection, credential: createCredential(connection, { setSecret }), setSecret };
}
