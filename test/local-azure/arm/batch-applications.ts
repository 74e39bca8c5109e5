/** Microsoft.Batch applications (create, get, update, list, delete) and application package versions (create, activate, get, list, delete). */
import * as crypto from "node:crypto";
import { jsonBody } from "../http";
import { newArmETag, now, type ApplicationRecord, type BatchAccountRecord, type Json, type PackageRecord } from "../batch/state";
import { ACCOUNT_TYPE, API_VERSIONS, BASE, batchError, type BatchArmContext } from "./batch-accounts";

export function registerBatchApplications(ctx: BatchArmContext): void {
  const { arm, getAccount, getApp, getPackage, serviceContainer, ensureContainer, storageUrlFor, inspectPackageBlob, appId, ok, page } = ctx;
  const renderApp = (a: BatchAccountRecord, app: ApplicationRecord) => ({
    id: appId(a, app.name),
    name: app.name,
    type: `${ACCOUNT_TYPE}/applications`,
    etag: app.etag,
    properties: { ...(app.displayName !== undefined ? { displayName: app.displayName } : {}), allowUpdates: app.allowUpdates, ...(app.defaultVersion ? { defaultVersion: app.defaultVersion } : {}) },
  });
  const renderPackage = (a: BatchAccountRecord, app: ApplicationRecord, pkg: PackageRecord, withUrl = true) => ({
    id: `${appId(a, app.name)}/versions/${pkg.version}`,
    name: pkg.version,
    type: `${ACCOUNT_TYPE}/applications/versions`,
    etag: pkg.etag,
    properties: {
      state: pkg.state,
      ...(pkg.format ? { format: pkg.format } : {}),
      ...(withUrl ? storageUrlFor(a, pkg) : {}),
      ...(pkg.lastActivationTime ? { lastActivationTime: pkg.lastActivationTime } : {}),
    },
  });
  // Applications.
  const APP = `${ACCOUNT_TYPE}/applications`;
  const checkDefaultVersion = (app: ApplicationRecord, version: string | undefined) => {
    if (version === undefined || version === null) return;
    const pkg = app.versions.get(String(version).toLowerCase());
    if (!pkg || pkg.state !== "Active") {
      throw batchError(409, "RequestedDefaultVersionNotActive", `The requested default version '${version}' is not an active version of the application.`);
    }
  };
  arm
    .add("GET", `${BASE}/{accountName}/applications`, { action: `${APP}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      return page(req, [...a.applications.values()].map((app) => renderApp(a, app)));
    })
    .add("GET", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      return ok(renderApp(a, app), app.etag);
    })
    .add("PUT", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const name = req.params.applicationName;
      if (!/^[\w-]{1,64}$/.test(name)) throw batchError(400, "InvalidApplicationName", "The application name may contain only letters, digits, hyphens and underscores, at most 64 characters.");
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      const existing = a.applications.get(name.toLowerCase());
      const app: ApplicationRecord = existing ?? { name, allowUpdates: true, etag: newArmETag(), versions: new Map() };
      if (props.defaultVersion !== undefined) checkDefaultVersion(app, props.defaultVersion as string);
      if (props.displayName !== undefined) app.displayName = props.displayName as string;
      if (props.allowUpdates !== undefined) app.allowUpdates = Boolean(props.allowUpdates);
      if (props.defaultVersion !== undefined) app.defaultVersion = (props.defaultVersion as string) ?? undefined;
      app.etag = newArmETag();
      a.applications.set(name.toLowerCase(), app);
      return ok(renderApp(a, app), app.etag);
    })
    .add("PATCH", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/write`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const props = (jsonBody<{ properties?: Json }>(req, "InvalidRequestContent").properties ?? {}) as Json;
      checkDefaultVersion(app, props.defaultVersion as string | undefined);
      if (props.displayName !== undefined) app.displayName = props.displayName as string;
      if (props.allowUpdates !== undefined) app.allowUpdates = Boolean(props.allowUpdates);
      if (props.defaultVersion !== undefined) app.defaultVersion = props.defaultVersion as string;
      app.etag = newArmETag();
      return ok(renderApp(a, app), app.etag);
    })
    .add("DELETE", `${BASE}/{accountName}/applications/{applicationName}`, { action: `${APP}/delete`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = a.applications.get(req.params.applicationName.toLowerCase());
      if (!app) return { status: 204 };
      if (app.versions.size > 0) throw batchError(409, "ApplicationPackagesNotEmpty", "The application has application packages; delete them before deleting the application.");
      a.applications.delete(app.name.toLowerCase());
      return { status: 200 };
    });

  // Application package versions.
  const VER = `${APP}/versions`;
  const VERSION_PATH = `${BASE}/{accountName}/applications/{applicationName}/versions/{versionName}`;
  arm
    .add("GET", `${BASE}/{accountName}/applications/{applicationName}/versions`, { action: `${VER}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      return page(req, [...app.versions.values()].map((p) => renderPackage(a, app, p)));
    })
    .add("GET", VERSION_PATH, { action: `${VER}/read`, apiVersions: API_VERSIONS }, (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = getPackage(app, req.params.versionName);
      return ok(renderPackage(a, app, pkg), pkg.etag);
    })
    .add("PUT", VERSION_PATH, { action: `${VER}/write`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const version = req.params.versionName;
      if (!/^[\w.-]{1,64}$/.test(version)) throw batchError(400, "InvalidApplicationPackageVersion", "The version may contain only letters, digits, hyphens, underscores and periods, at most 64 characters.");
      let pkg = app.versions.get(version.toLowerCase());
      if (pkg && pkg.state === "Active" && !app.allowUpdates) {
        throw batchError(409, "ApplicationPackageUpdatesNotAllowed", `The application '${app.name}' does not allow updates, and version '${pkg.version}' is already active.`);
      }
      if (!pkg) {
        const hash = crypto.createHash("sha256").update(`${a.name}/${app.name.toLowerCase()}`).digest("hex");
        const safe = app.name.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
        const container = `app-${safe}-${hash}`.slice(0, 63).replace(/-$/, "");
        pkg = {
          version,
          state: "Pending",
          etag: newArmETag(),
          container,
          blobName: `${app.name.toLowerCase()}-${version}-${crypto.randomUUID()}.zip`,
        };
        await ensureContainer(a, container);
        app.versions.set(version.toLowerCase(), pkg);
      }
      pkg.etag = newArmETag();
      return ok(renderPackage(a, app, pkg), pkg.etag);
    })
    .add("POST", `${VERSION_PATH}/activate`, { action: `${VER}/activate/action`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = getPackage(app, req.params.versionName);
      const format = jsonBody<{ format?: string }>(req, "InvalidRequestContent").format;
      if (!format) throw batchError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'format' is required.");
      if (format.toLowerCase() !== "zip") throw batchError(400, "InvalidApplicationPackageFormat", `The application package format '${format}' is not supported; only 'zip' is.`);
      const blob = await inspectPackageBlob(a, pkg);
      if (!blob) throw batchError(409, "ApplicationPackageBlobNotFound", "The application package blob was not found in the storage account. Upload the package to the storageUrl before activating it.");
      pkg.entries = blob.entries;
      pkg.state = "Active";
      pkg.format = "zip";
      pkg.lastActivationTime = now();
      pkg.etag = newArmETag();
      return ok(renderPackage(a, app, pkg, false), pkg.etag);
    })
    .add("DELETE", VERSION_PATH, { action: `${VER}/delete`, apiVersions: API_VERSIONS }, async (req) => {
      const a = getAccount(req);
      const app = getApp(a, req.params.applicationName);
      const pkg = app.versions.get(req.params.versionName.toLowerCase());
      if (!pkg) return { status: 204 };
      app.versions.delete(pkg.version.toLowerCase());
      if (app.defaultVersion?.toLowerCase() === pkg.version.toLowerCase()) app.defaultVersion = undefined;
      await serviceContainer(a, pkg.container).getBlobClient(pkg.blobName).deleteIfExists().catch(() => undefined);
      return { status: 200 };
    });
}
