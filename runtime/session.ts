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

export function signIn(agent: Agent, reader: InputReader, inputName: string, connectionId: string): AzureSession {
  const connection = readAzureConnection(agent, (message) => reader.fail(inputName, message), connectionId);
  const setSecret = (value: string) => agent.setSecret(value);
  return { connection, credential: createCredential(connection, { setSecret }), setSecret };
}
