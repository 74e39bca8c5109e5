/**
 * Finds an ARM resource that a task input names, by name (searched in the
 * connection's subscription) or by full resource id, with errors that say
 * what the connection can see and which role is missing.
 */
import { describeError, errorStatus, TaskError } from "./errors";
import type { InputReader } from "./inputs";
import type { AzureSession } from "./session";

export interface ArmResourceLookup<T extends { id?: string; name?: string }> {
  /** For messages: "storage account", "Batch account". */
  kind: string;
  /** Matches a resource id; group 1 is the resource group, group 2 the name. */
  idPattern: RegExp;
  get(resourceGroup: string, name: string): Promise<T>;
  list(): AsyncIterable<T>;
}

export interface FoundArmResource<T> {
  resource: T;
  name: string;
  resourceGroup: string;
  id: string;
}

export async function findArmResource<T extends { id?: string; name?: string }>(
  session: AzureSession,
  reader: InputReader,
  inputName: string,
  nameOrId: string,
  lookup: ArmResourceLookup<T>,
): Promise<FoundArmResource<T>> {
  const byId = lookup.idPattern.exec(nameOrId);
  let resource: T | undefined;
  try {
    if (byId) {
      resource = await lookup.get(byId[1], byId[2]);
    } else {
      const seen: string[] = [];
      for await (const candidate of lookup.list()) {
        seen.push(candidate.name ?? "");
        if (candidate.name?.toLowerCase() === nameOrId.toLowerCase()) {
          resource = candidate;
          break;
        }
      }
      if (!resource) {
        reader.fail(
          inputName,
          `no ${lookup.kind} named '${nameOrId}' in subscription '${session.connection.subscriptionName ?? session.connection.subscriptionId}'.` +
            (seen.length ? ` The service connection can see: ${seen.slice(0, 20).join(", ")}.` : ` The service connection sees no ${lookup.kind}s there; it needs at least the Reader role.`),
        );
      }
    }
  } catch (e) {
    if (errorStatus(e) === 404) reader.fail(inputName, `${lookup.kind} '${nameOrId}' was not found (${describeError(e)}).`);
    if (errorStatus(e) === 403) {
      throw new TaskError("AuthorizationFailed", `The service connection may not read ${lookup.kind} '${nameOrId}': ${describeError(e)}. Grant it the Reader role on it (or its resource group).`);
    }
    throw e;
  }
  const id = resource.id ?? "";
  return { resource, name: resource.name ?? nameOrId, resourceGroup: lookup.idPattern.exec(id)?.[1] ?? "", id };
}
