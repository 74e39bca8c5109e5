/**
 * Pre-flight checks of a pipeline's Custom activities, before the run starts,
 * for the mistakes that make a Custom activity fail obscurely or never finish:
 * - a command with leading or trailing spaces (the run then never completes;
 *   MicrosoftDocs/azure-docs#56989);
 * - a `resourceLinkedService` that is not the storage the Azure Batch linked
 *   service stages through (its `linkedServiceName`; Azure/Azure-DataFactory#187),
 *   compared by name and, where the linked services show it, by account;
 * - a `folderPath` that does not exist or is empty (error 2507), or holds two
 *   files of the same name in different folders (error 2508: ADF flattens it);
 * - a Batch pool that does not exist or cannot get nodes (no autoscale and a
 *   target of 0 nodes: the activity would wait in the queue until it times out).
 * Fields holding expressions are worked out from the run's parameters where
 * they are simple; a check that needs one that is not is skipped with a note.
 * Storage listing and pool reading are injected, so this stays plain logic.
 */
import type {
  ActivityUnion,
  AzureBatchLinkedService,
  CustomActivity,
  ForEachActivity,
  IfConditionActivity,
  LinkedServiceResource,
  PipelineResource,
  SwitchActivity,
  UntilActivity,
} from "@azure/arm-datafactory";
import type { Pool as ArmPool } from "@azure/arm-batch";
import type { BatchPool } from "../../runtime/batch-data";
import { describeError, errorCode, errorStatus } from "../../runtime/errors";
import { expressionSource, resolveField, templateParts, type ExpressionScope, type Resolution } from "./expressions";

export type Severity = "error" | "warning" | "info";

export type PreflightCheck = "command" | "resourceLinkedService" | "folderPath" | "pool" | "definition";

export interface PreflightFinding {
  /** The Custom activity's name. */
  activity: string;
  check: PreflightCheck;
  severity: Severity;
  message: string;
  /** What to change, when there is something to change. */
  fix?: string;
}

/** What pre-flight needs to know of a Batch pool, from either Batch API. */
export interface PoolFacts {
  enableAutoScale: boolean;
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  /** False for a CloudServiceConfiguration pool, which ADF cannot use; undefined when not known. */
  virtualMachineConfiguration?: boolean;
  allocationState?: string;
}

export interface BatchPoolRef {
  accountName: string;
  /** `https://<account>.<region>.batch.azure.com`, as the linked service has it. */
  batchUri?: string;
  poolName: string;
}

/** Reads a pool; undefined when the account has no such pool. Throws when it cannot tell. */
export type PoolReader = (pool: BatchPoolRef) => Promise<PoolFacts | undefined>;

export interface StorageRef {
  linkedServiceName: string;
  /** The storage account, when the linked service shows it. */
  accountName?: string;
}

/**
 * Lists blob names under `prefix` in `container` (a few thousand at most is
 * plenty). A container that does not exist may throw 404 ContainerNotFound.
 */
export type BlobLister = (container: string, prefix: string, storage: StorageRef) => Promise<string[]>;

export interface PreflightOptions {
  pipelineName: string;
  factoryName: string;
  pipeline: PipelineResource;
  /** The factory's linked services (Linked Services - List By Factory). */
  linkedServices: readonly LinkedServiceResource[];
  /** The run's parameters with the declared defaults (see effectiveParameters). */
  parameters: Record<string, unknown>;
  globalParameters?: Record<string, unknown>;
  listBlobs: BlobLister;
  readPool: PoolReader;
  /** Turn warnings into errors. */
  strict: boolean;
}

export interface PreflightResult {
  findings: PreflightFinding[];
  /** The findings that stop the task: warnings too when strict. */
  blocking: PreflightFinding[];
  /** Names of the Custom activities checked (nested ones included). */
  customActivities: string[];
}

export interface FoundActivity {
  activity: CustomActivity;
  /** Containers it sits in, outermost first: `ForEach 'each file'`. */
  within: string[];
}

/** Every Custom activity of a pipeline, also inside ForEach, Until, If Condition and Switch. */
export function findCustomActivities(activities: readonly ActivityUnion[] | undefined, within: string[] = []): FoundActivity[] {
  const found: FoundActivity[] = [];
  for (const activity of activities ?? []) {
    if (activity.type === "Custom") {
      found.push({ activity: activity as CustomActivity, within });
      continue;
    }
    const here = [...within, `${activity.type} '${activity.name}'`];
    switch (activity.type) {
      case "ForEach":
        found.push(...findCustomActivities((activity as ForEachActivity).activities, here));
        break;
      case "Until":
        found.push(...findCustomActivities((activity as UntilActivity).activities, here));
        break;
      case "IfCondition": {
        const a = activity as IfConditionActivity;
        found.push(...findCustomActivities(a.ifTrueActivities, [...here, "true"]), ...findCustomActivities(a.ifFalseActivities, [...here, "false"]));
        break;
      }
      case "Switch": {
        const a = activity as SwitchActivity;
        for (const c of a.cases ?? []) found.push(...findCustomActivities(c.activities, [...here, `case '${c.value ?? ""}'`]));
        found.push(...findCustomActivities(a.defaultActivities, [...here, "default"]));
        break;
      }
      default:
        break;
    }
  }
  return found;
}

/** What pre-flight reads of a pool from the Batch data plane (runtime/batch-data's BatchPool has all of it). */
export type DataPlanePool = Partial<Pick<BatchPool, "id" | "enableAutoScale" | "targetDedicatedNodes" | "targetLowPriorityNodes" | "virtualMachineConfiguration" | "cloudServiceConfiguration" | "allocationState">>;

export function poolFactsFromBatch(pool: DataPlanePool): PoolFacts {
  return {
    enableAutoScale: pool.enableAutoScale === true,
    targetDedicatedNodes: pool.targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: pool.targetLowPriorityNodes ?? 0,
    virtualMachineConfiguration: pool.virtualMachineConfiguration ? true : pool.cloudServiceConfiguration ? false : undefined,
    allocationState: pool.allocationState,
  };
}

export function poolFactsFromArm(pool: ArmPool): PoolFacts {
  const fixed = pool.scaleSettings?.fixedScale;
  const deployment = pool.deploymentConfiguration;
  return {
    enableAutoScale: pool.scaleSettings?.autoScale !== undefined,
    targetDedicatedNodes: fixed?.targetDedicatedNodes ?? 0,
    targetLowPriorityNodes: fixed?.targetLowPriorityNodes ?? 0,
    virtualMachineConfiguration: deployment?.virtualMachineConfiguration ? true : deployment?.cloudServiceConfiguration ? false : undefined,
    allocationState: pool.allocationState,
  };
}

const MASKED = /^\*+$/;

function secretText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && (value as { type?: unknown }).type === "SecureString") {
    const v = (value as { value?: unknown }).value;
    return typeof v === "string" ? v : undefined;
  }
  return undefined;
}

function accountFromUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    // https://<account>.blob.<suffix>/…; a local endpoint (http://127.0.0.1:10000/<account>) puts it first in the path.
    if (/^\d+\.\d+\.\d+\.\d+$|^localhost$/.test(u.hostname)) return u.pathname.split("/").filter(Boolean)[0];
    return u.hostname.split(".")[0] || undefined;
  } catch {
    return undefined;
  }
}

/** The storage account a Blob or Storage linked service points at, or why that is not visible. */
export function storageAccountOf(linkedService: LinkedServiceResource | undefined): { accountName?: string; reason?: string } {
  if (!linkedService) return { reason: "the linked service does not exist" };
  const tp = linkedService.properties as unknown as Record<string, unknown>;
  const connection = secretText(tp.connectionString);
  if (connection && !MASKED.test(connection)) {
    const m = /(?:^|;)\s*AccountName\s*=\s*([^;]+)/i.exec(connection);
    if (m?.[1]) return { accountName: m[1].trim().toLowerCase() };
    const endpoint = /(?:^|;)\s*BlobEndpoint\s*=\s*([^;]+)/i.exec(connection);
    if (endpoint?.[1]) {
      const account = accountFromUrl(endpoint[1].trim());
      if (account) return { accountName: account.toLowerCase() };
    }
  }
  for (const key of ["serviceEndpoint", "sasUri", "containerUri"]) {
    const text = secretText(tp[key]);
    if (text && !MASKED.test(text) && !text.startsWith("@")) {
      const account = accountFromUrl(text);
      if (account) return { accountName: account.toLowerCase() };
    }
  }
  if (tp.connectionString && typeof tp.connectionString === "object" && (tp.connectionString as { type?: unknown }).type === "AzureKeyVaultSecret") {
    return { reason: "its connection string is kept in Key Vault" };
  }
  return { reason: "its definition does not show the account (the secret parts are masked)" };
}

/** True when the linked service signs with the account key (a connection string), which ADF needs to make SAS URLs (error 2505). */
function usesAccountKey(linkedService: LinkedServiceResource): boolean | undefined {
  const tp = linkedService.properties as unknown as Record<string, unknown>;
  if (tp.connectionString !== undefined) return true;
  if (tp.serviceEndpoint !== undefined || tp.sasUri !== undefined || tp.credential !== undefined) return false;
  return undefined;
}

function splitFolderPath(folderPath: string): { container: string; prefix: string } {
  const trimmed = folderPath.replace(/^\/+/, "");
  const slash = trimmed.indexOf("/");
  if (slash < 0) return { container: trimmed, prefix: "" };
  const rest = trimmed.slice(slash + 1).replace(/\/+$/, "");
  return { container: trimmed.slice(0, slash), prefix: rest ? `${rest}/` : "" };
}

function quoted(text: string): string {
  return `'${text.replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/\t/g, "\\t")}'`;
}

/** Leading/trailing whitespace in the literal ends of a template whose middle is not known. */
function edgeSpaces(field: unknown): { leading: boolean; trailing: boolean } | undefined {
  const source = expressionSource(field);
  if (!("expression" in source) || (source.expression.startsWith("@") && !source.expression.startsWith("@{"))) return undefined;
  const parts = templateParts(source.expression);
  const first = parts[0];
  const last = parts[parts.length - 1];
  return { leading: first?.literal !== undefined && /^\s/.test(first.literal), trailing: last?.literal !== undefined && /\s$/.test(last.literal) };
}

/**
 * The Batch pool a Custom activity runs on, from its Azure Batch linked
 * service, or why it is not known (no such linked service, an expression).
 */
export function batchPoolOf(
  activity: Pick<CustomActivity, "linkedServiceName">,
  linkedServices: readonly LinkedServiceResource[],
  scope: ExpressionScope,
): { pool: BatchPoolRef; linkedServiceName: string } | { reason: string } {
  const name = activity.linkedServiceName?.referenceName;
  if (!name) return { reason: "the activity names no Azure Batch linked service" };
  const ls = linkedServices.find((l) => l.name === name) ?? linkedServices.find((l) => l.name?.toLowerCase() === name.toLowerCase());
  if (!ls) return { reason: `its linked service '${name}' does not exist` };
  if (ls.properties.type !== "AzureBatch") return { reason: `its linked service '${name}' is not an Azure Batch linked service` };
  const batch = ls.properties as AzureBatchLinkedService;
  const account = resolveField(batch.accountName, scope);
  if (!account.resolved) return { reason: account.reason };
  const poolName = resolveField(batch.poolName, scope);
  if (!poolName.resolved) return { reason: poolName.reason };
  const batchUri = resolveField(batch.batchUri, scope);
  return {
    linkedServiceName: name,
    pool: { accountName: String(account.value), poolName: String(poolName.value), batchUri: batchUri.resolved && typeof batchUri.value === "string" ? batchUri.value : undefined },
  };
}

export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
  const scope: ExpressionScope = {
    parameters: options.parameters,
    globalParameters: options.globalParameters,
    pipelineName: options.pipelineName,
    factoryName: options.factoryName,
  };
  const byName = new Map(options.linkedServices.map((ls) => [ls.name ?? "", ls]));
  const findLinkedService = (name: string) => byName.get(name) ?? [...byName.entries()].find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  const findings: PreflightFinding[] = [];
  const found = findCustomActivities(options.pipeline.activities);
  const poolCache = new Map<string, Promise<{ facts?: PoolFacts; error?: unknown }>>();
  const listCache = new Map<string, Promise<{ names?: string[]; error?: unknown }>>();

  for (const { activity } of found) {
    const add = (check: PreflightCheck, severity: Severity, message: string, fix?: string) => findings.push({ activity: activity.name, check, severity, message, fix });
    if (activity.state === "Inactive") {
      add("definition", "info", "The activity is deactivated (state Inactive); not checked.");
      continue;
    }
    const notResolved = (check: PreflightCheck, what: string, r: Extract<Resolution, { resolved: false }>) => add(check, "info", `${what} not checked: ${r.reason}.`);

    // 1. The command.
    const command = resolveField(activity.command, scope);
    if (command.resolved) {
      if (typeof command.value !== "string") {
        add("command", "warning", `The command is not a string (it is ${command.value === null ? "null" : typeof command.value}).`, "Set typeProperties.command to the command line as text.");
      } else if (command.value.trim() === "") {
        add("command", "warning", "The command is empty.", "Set typeProperties.command to the command line to run, e.g. /bin/sh -c 'python3 app.py'.");
      } else if (/^\s|\s$/.test(command.value)) {
        add(
          "command",
          "warning",
          `The command ${quoted(command.value)} has ${/^\s/.test(command.value) ? (/\s$/.test(command.value) ? "leading and trailing" : "leading") : "trailing"} spaces; Data Factory's run then never completes (MicrosoftDocs/azure-docs#56989).`,
          `Remove them: ${quoted(command.value.trim())}.`,
        );
      }
    } else {
      const edges = edgeSpaces(activity.command);
      if (edges && (edges.leading || edges.trailing)) {
        add(
          "command",
          "warning",
          `The command has ${edges.leading ? (edges.trailing ? "leading and trailing" : "leading") : "trailing"} spaces; Data Factory's run then never completes (MicrosoftDocs/azure-docs#56989).`,
          "Remove the spaces at the start and end of typeProperties.command.",
        );
      } else {
        notResolved("command", "The command", command);
      }
    }

    // 2. The Batch linked service, and the storage it stages through.
    const batchName = activity.linkedServiceName?.referenceName;
    const batchLs = batchName ? findLinkedService(batchName) : undefined;
    let batch: AzureBatchLinkedService | undefined;
    if (!batchName) {
      add("definition", "warning", "The activity names no Azure Batch linked service (linkedServiceName).", "Set linkedServiceName to the Azure Batch linked service that runs it.");
    } else if (!batchLs) {
      add("definition", "warning", `Its linked service '${batchName}' does not exist in factory '${options.factoryName}'.`, "Create it, or point linkedServiceName at the factory's Azure Batch linked service.");
    } else if (batchLs.properties.type !== "AzureBatch") {
      add("definition", "warning", `Its linked service '${batchName}' is of type ${batchLs.properties.type}, not AzureBatch.`, "Point linkedServiceName at an Azure Batch linked service.");
    } else {
      batch = batchLs.properties as AzureBatchLinkedService;
    }
    const stagingName = batch?.linkedServiceName?.referenceName;

    const resource = activity.resourceLinkedService?.referenceName;
    const folderField = activity.folderPath;
    if (resource && (folderField === undefined || folderField === "")) {
      add("folderPath", "warning", `resourceLinkedService '${resource}' is set but folderPath is not; both are needed to copy the application to the node.`, "Set folderPath to container/folder of the application, or remove resourceLinkedService.");
    } else if (!resource && folderField !== undefined && folderField !== "") {
      add("resourceLinkedService", "warning", "folderPath is set but resourceLinkedService is not; both are needed to copy the application to the node.", stagingName ? `Set resourceLinkedService to '${stagingName}'.` : "Set resourceLinkedService to the storage linked service that holds the folder.");
    }

    let resourceStorage: StorageRef | undefined;
    if (resource) {
      const resourceLs = findLinkedService(resource);
      if (!resourceLs) {
        add("resourceLinkedService", "warning", `resourceLinkedService '${resource}' does not exist in factory '${options.factoryName}'.`, stagingName ? `Set it to '${stagingName}', the storage the Batch linked service uses.` : undefined);
      } else {
        const type = resourceLs.properties.type;
        if (type !== "AzureBlobStorage" && type !== "AzureStorage") {
          add("resourceLinkedService", "warning", `resourceLinkedService '${resource}' is of type ${type}; a Custom activity reads its files only from Azure Blob storage.`, "Point it at an Azure Blob storage linked service.");
        }
        const resourceAccount = storageAccountOf(resourceLs);
        resourceStorage = { linkedServiceName: resource, accountName: resourceAccount.accountName };
        if (usesAccountKey(resourceLs) === false) {
          add(
            "resourceLinkedService",
            "warning",
            `resourceLinkedService '${resource}' does not sign with the account key; Data Factory then cannot make the SAS URLs for the resource files (error 2505, "Cannot create Shared Access Signature unless Account Key credentials are used").`,
            "Use a connection string with the account key (it may come from Key Vault) in that linked service.",
          );
        }
        // Linked service names are case-insensitive in a factory.
        if (batch && stagingName && resource.toLowerCase() !== stagingName.toLowerCase()) {
          const stagingLs = findLinkedService(stagingName);
          const stagingAccount = storageAccountOf(stagingLs);
          const staging = `the storage that Batch linked service '${batchName}' uses ('${stagingName}'${stagingAccount.accountName ? `, account ${stagingAccount.accountName}` : ""})`;
          if (resourceAccount.accountName && stagingAccount.accountName) {
            if (resourceAccount.accountName !== stagingAccount.accountName) {
              add(
                "resourceLinkedService",
                "warning",
                `resourceLinkedService '${resource}' (account ${resourceAccount.accountName}) is not ${staging}; the activity then fails with an obscure error (Azure/Azure-DataFactory#187).`,
                `Set resourceLinkedService to '${stagingName}' and deploy the application to account ${stagingAccount.accountName}, or point the Batch linked service's linkedServiceName at '${resource}'.`,
              );
            } else {
              add("resourceLinkedService", "info", `resourceLinkedService '${resource}' and '${stagingName}' (used by Batch linked service '${batchName}') are different linked services for the same account ${resourceAccount.accountName}.`);
            }
          } else {
            add(
              "resourceLinkedService",
              "warning",
              `resourceLinkedService '${resource}' is not ${staging}, and the accounts cannot be compared (${resourceAccount.reason ?? stagingAccount.reason}); a different account makes the activity fail obscurely (Azure/Azure-DataFactory#187).`,
              `Set resourceLinkedService to '${stagingName}', unless both are the same storage account.`,
            );
          }
        }
      }
    }

    // 3. The folder of the application.
    if (resourceStorage && folderField !== undefined && folderField !== "") {
      const folder = resolveField(folderField, scope);
      if (!folder.resolved) notResolved("folderPath", "folderPath", folder);
      else if (typeof folder.value !== "string" || folder.value.trim() === "") {
        add("folderPath", "warning", "folderPath is empty.", "Set it to container/folder, e.g. apps/app/1.2.0.");
      } else {
        const { container, prefix } = splitFolderPath(folder.value.trim());
        const key = `${resourceStorage.linkedServiceName}\n${container}\n${prefix}`;
        if (!listCache.has(key)) {
          listCache.set(
            key,
            options.listBlobs(container, prefix, resourceStorage).then(
              (names) => ({ names }),
              (error: unknown) => ({ error }),
            ),
          );
        }
        const listed = await listCache.get(key)!;
        const shown = `'${container}/${prefix}'`;
        const deployHint = `Deploy the application there first (for example BatchAppBlobCopy@1 with containerName '${container}' and blobPrefix '${prefix}'), or correct folderPath.`;
        if (listed.error !== undefined) {
          if (errorStatus(listed.error) === 404 || errorCode(listed.error) === "ContainerNotFound") {
            add("folderPath", "warning", `Container '${container}' does not exist in ${resourceStorage.accountName ? `account ${resourceStorage.accountName}` : `the storage of '${resource}'`}, so folderPath ${shown} is missing (the activity would fail with error 2507).`, deployHint);
          } else {
            add("folderPath", "info", `folderPath ${shown} not checked: the folder could not be listed (${describeError(listed.error)}).`);
          }
        } else if (listed.names!.length === 0) {
          add("folderPath", "warning", `folderPath ${shown} does not exist or is empty (the activity would fail with error 2507, "The folder path does not exist or is empty").`, deployHint);
        } else {
          const seen = new Map<string, string>();
          const clashes: string[] = [];
          for (const name of listed.names!) {
            const base = name.slice(name.lastIndexOf("/") + 1);
            const other = seen.get(base.toLowerCase());
            if (other !== undefined && clashes.length < 3) clashes.push(`'${other}' and '${name}'`);
            else seen.set(base.toLowerCase(), name);
          }
          if (clashes.length) {
            add(
              "folderPath",
              "warning",
              `folderPath ${shown} holds files of the same name in different folders (${clashes.join(", ")}); Data Factory copies them all into one folder and fails with error 2508.`,
              "Ship the application as one archive and unpack it in the command, or rename the files.",
            );
          }
        }
      }
    }

    // 4. The pool.
    if (batch) {
      const located = batchPoolOf(activity, options.linkedServices, scope);
      if ("reason" in located) add("pool", "info", `The Batch pool not checked: ${located.reason}.`);
      else {
        const ref = located.pool;
        const key = `${ref.accountName}\n${ref.poolName}`;
        if (!poolCache.has(key)) {
          poolCache.set(
            key,
            options.readPool(ref).then(
              (facts) => ({ facts }),
              (error: unknown) => ({ error }),
            ),
          );
        }
        const read = await poolCache.get(key)!;
        const pool = `Pool '${ref.poolName}' of Batch account '${ref.accountName}'`;
        if (read.error !== undefined) {
          add("pool", "info", `${pool} not checked: it could not be read (${describeError(read.error)}).`);
        } else if (!read.facts) {
          add("pool", "warning", `${pool} (Batch linked service '${batchName}') does not exist; the activity would fail with error 2501.`, `Create the pool, or set poolName in linked service '${batchName}' to an existing pool.`);
        } else {
          const f = read.facts;
          if (f.virtualMachineConfiguration === false) {
            add("pool", "warning", `${pool} uses CloudServiceConfiguration; Data Factory runs Custom activities only on VirtualMachineConfiguration pools.`, "Use a pool created with a virtual machine configuration.");
          }
          if (!f.enableAutoScale && f.targetDedicatedNodes + f.targetLowPriorityNodes === 0) {
            add(
              "pool",
              "warning",
              `${pool} can get no nodes: autoscale is off and its target is 0 dedicated and 0 low-priority nodes, so the activity would wait in the queue until it times out.`,
              "Resize the pool to at least one node, or enable autoscale (BatchPoolAutoscale@1).",
            );
          }
        }
      }
    }
  }

  const blocking = findings.filter((f) => f.severity === "error" || (options.strict && f.severity === "warning"));
  if (options.strict) for (const f of blocking) f.severity = "error";
  return { findings, blocking, customActivities: found.map((f) => f.activity.name) };
}

/** One log line: `Warning: Custom activity 'Run app': <message> Fix: <fix>`. */
export function formatFinding(finding: PreflightFinding): string {
  const label = finding.severity === "error" ? "Error" : finding.severity === "warning" ? "Warning" : "Note";
  return `${label}: Custom activity '${finding.activity}': ${finding.message}${finding.fix ? ` Fix: ${finding.fix}` : ""}`;
}
