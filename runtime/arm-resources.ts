/**
 * Finds an ARM resource by name (searched in the connection's subscription)
 * or by full resource id, in the subscription the id names (which may be
 * another than the connection's). Failures are typed: NotFoundError says what
 * the connection can see, NotAuthorizedError which role or action is missing;
 * both name the id's subscription when it is not the connection's. The task
 * entry maps them to its input (see rethrowForInput).
 */
import { errorCode, errorStatus, NotAuthorizedError, NotFoundError } from "./errors";
import type { AzureSession } from "./session";

export interface ArmResourceLookup<T extends { id?: string; name?: string }> {
  /** For messages: "storage account", "Batch account". */
  kind: string;
  /** Matches a resource id; group 1 is the resource group, group 2 the name. */
  idPattern: RegExp;
  /** The action that reading it needs, e.g. Microsoft.Batch/batchAccounts/read. */
  readAction: string;
  /** Reads it in `subscriptionId` (the resource id's; build the client with `{ subscriptionId }`). */
  get(resourceGroup: string, name: string, subscriptionId: string): Promise<T>;
  /** Lists them in the connection's subscription. */
  list(): AsyncIterable<T>;
}

export interface FoundArmResource<T> {
  resource: T;
  name: string;
  resourceGroup: string;
  id: string;
  /** The subscription it is in: the resource id's, else the connection's. Later calls on it go there. */
  subscriptionId: string;
}

const SUBSCRIPTION_OF_ID = /^\/subscriptions\/([^/]+)\//i;

/** The subscription a resource id names, if it is one. */
export function subscriptionOfResourceId(id: string): string | undefined {
  return SUBSCRIPTION_OF_ID.exec(id)?.[1];
}

const sameSubscription = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export async function findArmResource<T extends { id?: string; name?: string }>(session: AzureSession, nameOrId: string, lookup: ArmResourceLookup<T>): Promise<FoundArmResource<T>> {
  const byId = lookup.idPattern.exec(nameOrId);
  const own = session.connection.subscriptionId;
  const ownLabel = `subscription '${session.connection.subscriptionName ?? own}'`;
  const subscriptionId = (byId && subscriptionOfResourceId(nameOrId)) || own;
  const elsewhere = !sameSubscription(subscriptionId, own);
  let resource: T | undefined;
  try {
    if (byId) {
      resource = await lookup.get(byId[1] ?? "", byId[2] ?? "", subscriptionId);
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
        throw new NotFoundError({ kind: lookup.kind, name: nameOrId, where: ownLabel, visible: seen, whenNoneVisible: "it needs at least the Reader role" });
      }
    }
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    if (errorStatus(e) === 404) {
      // ARM's answer for a subscription the token cannot see (it does not exist, or is in another tenant's directory).
      const advice =
        errorCode(e) === "SubscriptionNotFound"
          ? `The id names subscription '${subscriptionId}', which the service connection cannot see (its own is ${ownLabel}). The connection's identity must have access to that subscription (at least the Reader role on the ${lookup.kind}), or use a service connection for subscription '${subscriptionId}'.`
          : undefined;
      throw new NotFoundError({ kind: lookup.kind, name: nameOrId, byId: byId !== null, cause: e, ...(advice ? { advice } : {}) });
    }
    if (errorStatus(e) === 403) {
      throw new NotAuthorizedError(
        elsewhere
          ? {
              operation: `read ${lookup.kind} '${byId?.[2] ?? nameOrId}' in subscription '${subscriptionId}' (the resource id's; the connection's own is ${ownLabel})`,
              role: "Reader",
              action: lookup.readAction,
              scope: `on the ${lookup.kind}, its resource group or subscription '${subscriptionId}'`,
              alternative: `or use a service connection for subscription '${subscriptionId}'`,
              cause: e,
            }
          : {
              operation: `read ${lookup.kind} '${nameOrId}'`,
              role: "Reader",
              action: lookup.readAction,
              scope: "on it (or its resource group)",
              cause: e,
            },
      );
    }
    throw e;
  }
  const id = resource.id ?? "";
  const foundIn = subscriptionOfResourceId(id) ?? subscriptionId;
  // A lookup whose get() ignored the subscription would have read a namesake in the connection's.
  if (byId && !sameSubscription(foundIn, subscriptionId)) {
    throw new Error(`The ${lookup.kind} lookup read '${id}' for '${nameOrId}': its get() must use the subscription it is given.`);
  }
  return { resource, name: resource.name ?? nameOrId, resourceGroup: lookup.idPattern.exec(id)?.[1] ?? "", id, subscriptionId: foundIn };
}
