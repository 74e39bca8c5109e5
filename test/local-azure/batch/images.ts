/**
 * The VM images and node agent SKUs the local Batch knows. A pool names an
 * image (publisher, offer, sku, version) and the node agent SKU that runs on
 * it; Batch refuses a node agent SKU it does not support, shows an image
 * reference without a version as `latest`, and reports on each node the
 * exact version the node was created from.
 */
import type { Json } from "./state";

/** Node agent SKUs of Batch's supported Linux and Windows images (Account_ListSupportedImages), lower-cased. */
export const NODE_AGENT_SKUS = [
  "batch.node.ubuntu 20.04",
  "batch.node.ubuntu 22.04",
  "batch.node.ubuntu 24.04",
  "batch.node.el 8",
  "batch.node.el 9",
  "batch.node.debian 11",
  "batch.node.debian 12",
  "batch.node.mariner 2.0",
  "batch.node.azurelinux 3.0",
  "batch.node.windows amd64",
];

/** The latest version of well-known marketplace images, as `latest` resolves to them. */
const LATEST: Record<string, string> = {
  "canonical/0001-com-ubuntu-server-focal/20_04-lts": "20.04.202410020",
  "canonical/0001-com-ubuntu-server-jammy/22_04-lts": "22.04.202410020",
  "canonical/ubuntu-24_04-lts/server": "24.04.202410090",
  "microsoft-azure-batch/ubuntu-server-container/20-04-lts": "1.0.20241001",
  "microsoftwindowsserver/windowsserver/2022-datacenter": "20348.2762.241009",
};

export function isKnownNodeAgentSku(sku: unknown): boolean {
  return typeof sku === "string" && NODE_AGENT_SKUS.includes(sku.toLowerCase());
}

/** The image reference as Batch shows it: `version` is `latest` when the pool named none. */
export function withImageDefaults(vm: Json | undefined): Json | undefined {
  const image = vm?.imageReference as Json | undefined;
  if (!vm || !image || image.virtualMachineImageId || image.version !== undefined) return vm;
  return { ...vm, imageReference: { ...image, version: "latest" } };
}

/** The exact version a node runs: the pool's version when it names one, else what `latest` is for that image. */
export function exactVersionOf(image: Json): string | undefined {
  if (image.virtualMachineImageId) return undefined;
  const version = String(image.version ?? "latest");
  if (version.toLowerCase() !== "latest") return version;
  const key = [image.publisher, image.offer, image.sku].map((x) => String(x ?? "").toLowerCase()).join("/");
  return LATEST[key] ?? "1.0.0";
}
