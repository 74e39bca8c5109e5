/**
 * Microsoft.Resources on the local ARM: subscriptions (list, get) and
 * resource groups (list, get, check existence), in ARM's shapes. There is
 * the primary subscription and, optionally, others in the same tenant; each
 * group lists under its own subscription.
 *
 * - `GET /subscriptions` is tenant-level: a token from any tenant is accepted
 *   and sees the subscriptions of its own tenant (`tid`) that it may read; a
 *   principal denied `Microsoft.Resources/subscriptions/read` does not see
 *   the subscription. `GET /subscriptions/{id}` with a token from another
 *   tenant is 401 InvalidAuthenticationTokenTenant, as for any subscription
 *   route.
 * - The resource group list holds the groups the principal may read
 *   (`Microsoft.Resources/subscriptions/resourceGroups/read` at the group's
 *   scope). HEAD on a group is 204 when it exists and 404 when it does not,
 *   with no body.
 */
import { armSubscriptions, isDenied, sameSubscription, type ApiVersions, type ArmResourceGroup, type ArmService, type ArmSubscription } from "./core";
import type { AzureRequest, AzureResponse } from "../http";

/**
 * The api-versions Microsoft.Resources serves, as ARM lists them in
 * InvalidApiVersionParameter (a 2024 answer, quoted in public issue
 * reports), plus the stable versions of the Microsoft.Resources REST specs
 * it lacks (2024-07-01, 2024-11-01, 2025-03-01 and 2025-04-01, which
 * @azure/arm-resources 8 sends).
 * @azure/arm-resources-subscriptions 3 sends 2022-12-01. All are answered:
 * the shapes served here are the same in each.
 */
export const RESOURCES_API_VERSIONS: ApiVersions = {
  served: [
    "2025-04-01", "2025-03-01", "2024-11-01", "2024-08-01", "2024-07-01", "2024-06-01-preview", "2024-03-01", "2023-07-01",
    "2023-07-01-preview", "2023-03-01-preview", "2022-12-01", "2022-11-01-preview", "2022-09-01", "2022-06-01", "2022-05-01",
    "2022-03-01-preview", "2022-01-01", "2021-04-01", "2021-01-01", "2020-10-01", "2020-09-01", "2020-08-01", "2020-07-01", "2020-06-01",
    "2020-05-01", "2020-01-01", "2019-11-01", "2019-10-01", "2019-09-01", "2019-08-01", "2019-07-01", "2019-06-01", "2019-05-10",
    "2019-05-01", "2019-03-01", "2018-11-01", "2018-09-01", "2018-08-01", "2018-07-01", "2018-06-01", "2018-05-01", "2018-02-01",
    "2018-01-01", "2017-12-01", "2017-08-01", "2017-06-01", "2017-05-10", "2017-05-01", "2017-03-01", "2016-09-01", "2016-07-01",
    "2016-06-01", "2016-02-01", "2015-11-01", "2015-01-01", "2014-04-01-preview", "2014-04-01", "2014-01-01",
  ],
};

const SUBSCRIPTION_READ = "Microsoft.Resources/subscriptions/read";
const GROUP_READ = "Microsoft.Resources/subscriptions/resourceGroups/read";

export function registerResources(arm: ArmService): void {
  const state = arm.state;
  const subscriptionScope = (subscriptionId: string) => `/subscriptions/${subscriptionId}`;
  const groupScope = (rg: ArmResourceGroup) => `${subscriptionScope(rg.subscriptionId ?? state.subscriptionId)}/resourceGroups/${rg.name}`;
  const findSubscription = (id: string) => armSubscriptions(state).find((s) => sameSubscription(s.subscriptionId, id))!;
  const renderSubscription = (s: ArmSubscription) => ({
    id: subscriptionScope(s.subscriptionId),
    authorizationSource: "RoleBased",
    managedByTenants: [],
    subscriptionId: s.subscriptionId,
    tenantId: arm.tenantId,
    displayName: s.subscriptionName,
    state: "Enabled",
    subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId: "PayAsYouGo_2014-09-01", spendingLimit: "Off" },
  });
  const renderGroup = (rg: ArmResourceGroup) => ({
    id: groupScope(rg),
    name: rg.name,
    type: "Microsoft.Resources/resourceGroups",
    location: rg.location,
    properties: { provisioningState: "Succeeded" },
  });
  const canRead = (req: AzureRequest, action: string, scope: string) => !isDenied(state.denyRules, req.principal!.oid, action, scope);
  const versions = RESOURCES_API_VERSIONS;
  const groupPath = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}";

  arm
    .add("GET", "/subscriptions", { action: SUBSCRIPTION_READ, versions, tenantLevel: true }, (req): AzureResponse => {
      const sameTenant = req.principal?.tenantId?.toLowerCase() === arm.tenantId.toLowerCase();
      const value = sameTenant ? armSubscriptions(state).filter((s) => canRead(req, SUBSCRIPTION_READ, subscriptionScope(s.subscriptionId))).map(renderSubscription) : [];
      return { status: 200, body: { value, count: { type: "Total", value: value.length } } };
    })
    // The front door answers an unknown subscription 404 SubscriptionNotFound before these run.
    .add("GET", "/subscriptions/{subscriptionId}", { action: SUBSCRIPTION_READ, versions }, (req): AzureResponse => ({ status: 200, body: renderSubscription(findSubscription(req.params.subscriptionId)) }))
    .add("GET", "/subscriptions/{subscriptionId}/resourcegroups", { action: GROUP_READ, versions }, (req): AzureResponse => ({
      status: 200,
      body: {
        value: [...state.resourceGroups.values()]
          .filter((rg) => sameSubscription(rg.subscriptionId ?? state.subscriptionId, req.params.subscriptionId) && canRead(req, GROUP_READ, groupScope(rg)))
          .map(renderGroup),
      },
    }))
    .add("GET", groupPath, { action: GROUP_READ, versions }, (req): AzureResponse => ({
      status: 200,
      body: renderGroup(arm.findResourceGroup(req.params.resourceGroupName, req.params.subscriptionId)!),
    }))
    // The front door answers a missing group 404 before this runs; HEAD sends no body either way.
    .add("HEAD", groupPath, { action: GROUP_READ, versions }, (): AzureResponse => ({ status: 204 }));
}
