import { strict as assert } from "node:assert";
import type { ActivityRun } from "@azure/arm-datafactory";
import { LiveLogs, type BatchTaskFiles, type TaskFileName } from "../../tasks/DataFactoryRun/live-logs";
import type { BatchTaskSummary } from "../../tasks/DataFactoryRun/logtail";

const started = new Date("2024-05-01T10:00:00Z");
const command = "/bin/sh -c 'python3 app.py'";
const guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const runApp = (status: string, extra: Record<string, unknown> = {}): ActivityRun => ({
  activityRunId: "ar-1",
  activityName: "Run app",
  activityType: "Custom",
  status,
  activityRunStart: started,
  input: { command },
  ...extra,
});

/** A Batch job whose tasks' files grow as the test writes. */
class FakeBatch implements BatchTaskFiles {
  tasks: BatchTaskSummary[] = [];
  files = new Map<string, Buffer>();
  calls: string[] = [];
  failWith?: Error;
  write(taskId: string, file: TaskFileName, text: string): void {
    const key = `${taskId}/${file}`;
    this.files.set(key, Buffer.concat([this.files.get(key) ?? Buffer.alloc(0), Buffer.from(text, "utf8")]));
  }
  async listTasks(jobId: string): Promise<BatchTaskSummary[]> {
    this.calls.push(`list ${jobId}`);
    if (this.failWith) throw this.failWith;
    return this.tasks;
  }
  async fileLength(jobId: string, taskId: string, file: TaskFileName): Promise<number | undefined> {
    this.calls.push(`length ${jobId}/${taskId}/${file}`);
    if (this.failWith) throw this.failWith;
    return this.files.get(`${taskId}/${file}`)?.length;
  }
  async readRange(jobId: string, taskId: string, file: TaskFileName, start: number, end: number): Promise<Buffer> {
    this.calls.push(`read ${file} ${start}-${end}`);
    return (this.files.get(`${taskId}/${file}`) ?? Buffer.alloc(0)).subarray(start, end + 1);
  }
}

function live(batch: FakeBatch, options: { matchAttempts?: number } = {}) {
  const printed: string[] = [];
  const notes: string[] = [];
  const logs = new LiveLogs({
    files: batch,
    poolOf: () => ({ accountName: "releasebatch", poolName: "adf-pool" }),
    print: (l) => printed.push(l),
    note: (n) => notes.push(n),
    ...options,
  });
  return { logs, printed, notes };
}

describe("DataFactoryRun live log of Custom activities", () => {
  it("prints the task's new lines while the activity runs, each once and in order, and the rest when it ends", async () => {
    const batch = new FakeBatch();
    const { logs, printed, notes } = live(batch);
    await logs.step([runApp("InProgress")]);
    assert.deepEqual(printed, [], "no task yet");
    batch.tasks = [{ id: "task-7", commandLine: command, creationTime: new Date(started.getTime() + 3000) }];
    await logs.step([runApp("InProgress")]);
    batch.write("task-7", "stdout.txt", "reading input\nrow 1");
    await logs.step([runApp("InProgress")]);
    batch.write("task-7", "stdout.txt", "\nrow 2\n");
    batch.write("task-7", "stderr.txt", "warning: slow disk\n");
    await logs.step([runApp("InProgress")]);
    await logs.step([runApp("InProgress")]);
    assert.deepEqual(printed, ["[Run app] reading input", "[Run app] row 1", "[Run app] row 2", "[Run app stderr] warning: slow disk"]);
    batch.write("task-7", "stdout.txt", "done (no newline)");
    await logs.step([runApp("Succeeded")]);
    await logs.step([runApp("Succeeded")]);
    assert.deepEqual(printed, ["[Run app] reading input", "[Run app] row 1", "[Run app] row 2", "[Run app stderr] warning: slow disk", "[Run app] done (no newline)"]);
    assert.deepEqual(notes, []);
    assert.equal(logs.streamed("ar-1"), true);
    assert.deepEqual(batch.calls.filter((c) => c.startsWith("list")), ["list adfv2-adf-pool", "list adfv2-adf-pool"]);
  });

  it("says once that the live log is off when Batch refuses the connection, and stops asking", async () => {
    const batch = new FakeBatch();
    batch.failWith = Object.assign(new Error("Server failed to authorize the request."), { statusCode: 403, code: "AuthorizationFailure" });
    const { logs, notes } = live(batch);
    await logs.step([runApp("InProgress")]);
    await logs.step([runApp("InProgress")]);
    assert.deepEqual(notes, [
      "The live log is off: the Batch account cannot be read with this service connection (AuthorizationFailure (HTTP 403): Server failed to authorize the request.); Custom activities' stdout and stderr are shown from the blobs when they end.",
    ]);
    assert.equal(batch.calls.length, 1);
    assert.equal(logs.streamed("ar-1"), false);
  });

  it("says once when the activity's task cannot be found, and leaves it to the blobs", async () => {
    const batch = new FakeBatch();
    batch.tasks = [{ id: "someone-else", commandLine: "other", creationTime: started }];
    const { logs, notes } = live(batch, { matchAttempts: 3 });
    for (let i = 0; i < 5; i++) await logs.step([runApp("InProgress")]);
    assert.deepEqual(notes, [
      "No live log for activity 'Run app': its Batch task in job 'adfv2-adf-pool' was not found (no task in the job runs the activity's command since it started); its stdout and stderr are shown from the blobs when it ends.",
    ]);
    assert.equal(batch.calls.filter((c) => c.startsWith("list")).length, 3);
    assert.equal(logs.streamed("ar-1"), false);
  });

  it("prints the whole log of a Custom activity that ended between two polls, found through its output folder", async () => {
    const batch = new FakeBatch();
    batch.tasks = [{ id: guid, commandLine: "wrapped by ADF", creationTime: started }];
    batch.write(guid, "stdout.txt", "a\nb\n");
    const { logs, printed } = live(batch);
    await logs.step([runApp("Failed", { output: { outputs: [`https://s.blob.core.windows.net/adfjobs/${guid}/output/stdout.txt`] } })]);
    assert.deepEqual(printed, ["[Run app] a", "[Run app] b"]);
    assert.equal(logs.streamed("ar-1"), true);
  });

  it("leaves other activity types alone", async () => {
    const batch = new FakeBatch();
    const { logs } = live(batch);
    await logs.step([{ activityRunId: "w", activityName: "Wait", activityType: "Wait", status: "InProgress" }]);
    assert.deepEqual(batch.calls, []);
  });
});
