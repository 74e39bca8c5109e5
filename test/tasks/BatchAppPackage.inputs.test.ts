import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputError } from "../../runtime/errors";
import { InputReader } from "../../runtime/inputs";
import { readPackageInputs, type PackageInputs, type PackageVariables } from "../../tasks/BatchAppPackage/inputs";
import manifest from "../../tasks/BatchAppPackage/task.json";

describe("BatchAppPackage inputs", () => {
  let checkout: string;
  let app: string;
  let zip: string;
  before(() => {
    checkout = fs.mkdtempSync(path.join(os.tmpdir(), "package-inputs-"));
    app = path.join(checkout, "drop", "app");
    fs.mkdirSync(app, { recursive: true });
    fs.writeFileSync(path.join(app, "app.py"), "print('hi')\n");
    zip = path.join(checkout, "drop", "app.zip");
    fs.writeFileSync(zip, "PK");
  });
  after(() => fs.rmSync(checkout, { recursive: true, force: true }));

  const base = () => ({ azureSubscription: "conn", batchAccountName: "contosobatch", applicationName: "worker" });
  function read(inputs: Record<string, string>, variables: PackageVariables = { buildNumber: "20240601.3", defaultWorkingDirectories: [checkout] }): PackageInputs {
    const values: Record<string, string> = { ...base(), ...inputs };
    return readPackageInputs(new InputReader({ getInput: (name) => values[name] }, manifest), variables);
  }
  function refused(inputs: Record<string, string>, input: string, message: string): void {
    assert.throws(
      () => read(inputs),
      (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        assert.equal(e.input, input);
        assert.equal(e.message, message);
        return true;
      },
    );
  }

  it("takes task.json's defaults: a folder, the build number as version, skip if identical, default version set, every version kept", () => {
    const i = read({ sourceFolder: app });
    assert.deepEqual(i.source, { kind: "folder", folder: app, include: ["**"], exclude: [] });
    assert.equal(i.versionStrategy, "buildNumber");
    assert.equal(i.version, "20240601.3");
    assert.equal(i.onExisting, "skipIfIdentical");
    assert.equal(i.setDefaultVersion, true);
    assert.deepEqual(i.poolIds, []);
    assert.equal(i.keepVersions, 0);
  });

  it("refuses an empty sourceFolder, which the agent hands over as the default working directory, instead of packaging the whole checkout", () => {
    const message =
      "Input 'sourceFolder' (Source folder): a value is required with packageSource: folder: the folder that holds the application, e.g. $(Pipeline.Workspace)/drop/app (the default working directory itself is never packaged whole).";
    refused({ sourceFolder: checkout }, "sourceFolder", message);
    refused({ sourceFolder: `${checkout}${path.sep}` }, "sourceFolder", message);
    refused({}, "sourceFolder", message);
  });

  it("refuses an empty zipFile (the default working directory) with what to give, not as 'not a file'", () => {
    refused(
      { packageSource: "zip", zipFile: checkout },
      "zipFile",
      "Input 'zipFile' (Zip file): a value is required with packageSource: zip: the path of the .zip to publish, e.g. $(Pipeline.Workspace)/drop/app.zip.",
    );
    assert.deepEqual(read({ packageSource: "zip", zipFile: zip }).source, { kind: "zip", file: zip });
  });

  it("still takes a folder or zip named inside the checkout, and any folder when the job's directories are unknown", () => {
    assert.equal((read({ sourceFolder: app }).source as { folder: string }).folder, app);
    assert.equal((read({ sourceFolder: checkout }, { buildNumber: "1" }).source as { folder: string }).folder, checkout);
  });
});
