/** The run's summary table: application, version, package, upload, default, pools, retention. */
import { formatBytes, formatDuration } from "../../runtime/progress";
import type { SummaryTable } from "../../runtime/summary";
import type { PublishResult } from "./publish";
import type { PackageFile } from "./source";

const ACTION: Record<PublishResult["action"], string> = {
  create: "published (new version)",
  resume: "published (a pending version completed)",
  overwrite: "published (package replaced)",
  skip: "nothing published (identical package)",
};

export function packageSummary(result: PublishResult, pkg: PackageFile, run: { accountName: string; durationMs: number }): SummaryTable {
  const changedPools = result.pools.filter((p) => p.changed).map((p) => p.poolId);
  const samePools = result.pools.filter((p) => !p.changed).map((p) => p.poolId);
  const rows: [string, string][] = [
    ["Application", `${result.applicationName}${result.applicationCreated ? " (created)" : ""} in Batch account ${run.accountName}`],
    ["Version", `${result.version}: ${ACTION[result.action]}`],
    ["Package", `${formatBytes(pkg.size)}, ${pkg.entries} files${pkg.zipped ? ` (zipped from ${formatBytes(pkg.sourceBytes)})` : ""}`],
    ["SHA-256", pkg.sha256],
    [
      "Upload",
      result.upload
        ? `${formatBytes(result.upload.bytes)} ${result.upload.auth === "sas" ? "with the storageUrl's SAS" : "with the service connection's Entra identity"}`
        : result.alreadyUploaded
          ? "none: the pending version's blob held this package"
          : "none",
    ],
    ["Default version", result.defaultVersion ? `${result.defaultVersion}${result.previousDefault ? ` (was ${result.previousDefault.version ?? "none"})` : ""}` : "none"],
    ["Pools updated", changedPools.length ? changedPools.join(", ") : "none"],
  ];
  if (samePools.length) rows.push(["Pools already on this version", samePools.join(", ")]);
  rows.push(["Versions pruned", result.pruned.length ? result.pruned.map((p) => p.version).join(", ") : "none"]);
  if (result.spared.length) rows.push(["Versions kept beyond keepVersions", result.spared.map((s) => `${s.version} (${s.reason})`).join("; ")]);
  rows.push(["Duration", formatDuration(run.durationMs)]);
  return { title: `Batch application package: ${result.applicationName} ${result.version}`, rows, notes: [`${result.reason.charAt(0).toUpperCase()}${result.reason.slice(1)}.`] };
}
