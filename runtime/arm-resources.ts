/**
 * Finds an ARM resource by name (searched in the connection's subscription)
 * or by full resource id. Failures are typed: NotFoundError says what the
 * connection can see, NotAuthorizedError which role or action is missing;
 * the task entry maps them to its input (see rethrowForInput).
 */
import { errorStatus, NotAuthorizedError, NotFoundError } from "./errors";
import type { AzureSession } from "./session";

export interface ArmResourceLookup<T extends { id?: string; name?: string }> {
  /** For messages: "storage account", "Batch account". */
  kind: string;
  /** Matches a resource id; group 1 is the resource group, group 2 the name. */
  idPattern: RegExp;
  /** The action that reading it needs, e.g. Microsoft.Batch/batchAccounts/read. */
  readAction: string;
  get(resourceGroup: string, name: string): Promise<T>;
  list(): AsyncIterable<T>;
}

export interface FoundArmResource<T> {
  resource: T;
  name: string;
  resourceGroup: string;
  id: string;
}

export async function findArmResource<T extends { id?: string; name?: string }>(session: AzureSession, nameOrId: string, lookup: ArmResourceLookup<T>): Promise<FoundArmResource<T>> {
  const byId = lookup.idPattern.exec(nameOrId);
  const subscription = `subscription '${session.connection.subscriptionName ?? session.connection.subscriptionId}'`;
  let resource: T | undefined;
  try {
    if (byId) {
      resource = await lookup.get(byId[1] ?? "", byId[2] ?? "");
    } else {
      const seen: string[] = [];
      for await (const candidate of lookup.list()) {
        if (candidate.name?.toLowerCase() === nameOrId.toLowerCase()) {
          resource = candidate;
          break;
        }
        seen.push(candidate.name ?? "");
      }
      if (!resource) {
        throw new NotFoundError({ kind: lookup.kind, name: nameOrId, where: subscription, visible: seen, whenNoneVisible: "it needs at least the Reader role" });
      }
    }
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    if (errorStatus(e) === 404) throw new NotFoundError({ kind: lookup.kind, name: nameOrId, byId: byId !== null, cause: e });
    if (errorStatus(e) === 403) {
      throw new NotAuthorizedError({
        operation: `read ${lookup.kind} '${nameOrId}'`,
        role: "Reader",
        action: lookup.readAction,
        scope: "on it (or its resource group)",
        cause: e,
      });
    }
    throw e;
  }
  const id = resource.id ?? "";
  return { resource, name: resource.name ?? nameOrId, resourceGroup: lookup.idPattern.exec(id)?.[1] ?? "", id };
}
