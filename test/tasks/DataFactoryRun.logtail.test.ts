import { strict as assert } from "node:assert";
import { adfJobId, linePrefix, matchBatchTask, outputFolderGuid, TaskFileTailer } from "../../tasks/DataFactoryRun/logtail";

/** A task file that grows as the application writes, read like Batch's ocp-range. */
class GrowingFile {
  content = Buffer.alloc(0);
  readonly ranges: [number, number][] = [];
  /** Bytes short of what was asked, to mimic a service returning less. */
  shortBy = 0;
  write(text: string | Buffer): void {
    this.content = Buffer.concat([this.content, typeof text === "string" ? Buffer.from(text, "utf8") : text]);
  }
  get length(): number {
    return this.content.length;
  }
  read = async (start: number, endInclusive: number): Promise<Buffer> => {
    this.ranges.push([start, endInclusive]);
    return this.content.subarray(start, Math.max(start, endInclusive + 1 - this.shortBy));
  };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("DataFactoryRun live log", () => {
  it("prints only complete lines, each once and in order, keeping a partial line until it is done", async () => {
    const file = new GrowingFile();
    const tail = new TaskFileTailer({ prefix: linePrefix("Run app", "stdout"), read: file.read });
    const printed: string[] = [];
    file.write("starting\nloading da");
    printed.push(...(await tail.poll(file.length)).lines);
    assert.deepEqual(printed, ["[Run app] starting"]);
    file.write("ta\r\nstep 1 of 2\n");
    printed.push(...(await tail.poll(file.length)).lines);
    file.write("done, no newline");
    printed.push(...(await tail.poll(file.length)).lines);
    assert.deepEqual(printed, ["[Run app] starting", "[Run app] loading data", "[Run app] step 1 of 2"]);
    printed.push(...(await tail.finish(file.length)));
    assert.deepEqual(printed, ["[Run app] starting", "[Run app] loading data", "[Run app] step 1 of 2", "[Run app] done, no newline"]);
    assert.deepEqual((await tail.poll(file.length + 10)).lines, [], "nothing after finish");
    // Only new bytes were asked for, back to back.
    assert.deepEqual(file.ranges, [
      [0, 18],
      [19, 34],
      [35, 50],
    ]);
  });

  it("never splits a UTF-8 character, wherever the reads cut the bytes (random growth, seeded)", async () => {
    const random = seeded(20240501);
    const words = ["données", "日本語", "ok", "🚀 launch", "naïve", "Grüße", "x"];
    const lines = Array.from({ length: 300 }, (_, i) => `${i}: ${Array.from({ length: 1 + Math.floor(random() * 6) }, () => words[Math.floor(random() * words.length)]).join(" ")}`);
    const bytes = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    const file = new GrowingFile();
    const tail = new TaskFileTailer({ prefix: "[a] ", read: file.read, maxReadBytes: 7 });
    const printed: string[] = [];
    let written = 0;
    while (written < bytes.length) {
      const n = Math.min(bytes.length - written, 1 + Math.floor(random() * 40));
      file.write(bytes.subarray(written, written + n));
      written += n;
      printed.push(...(await tail.poll(file.length)).lines);
    }
    printed.push(...(await tail.finish(file.length)));
    assert.deepEqual(printed, lines.map((l) => `[a] ${l}`));
    for (let i = 1; i < file.ranges.length; i++) assert.equal(file.ranges[i][0], file.ranges[i - 1][1] + 1, "each read starts where the last ended");
  });

  it("reads a large backlog in bounded chunks without waiting between them", async () => {
    const file = new GrowingFile();
    file.write("line\n".repeat(1000));
    const tail = new TaskFileTailer({ prefix: "", read: file.read, maxReadBytes: 1024 });
    const first = await tail.poll(file.length);
    assert.equal(first.nextDelayMs, 0);
    assert.equal(file.ranges[0][1] - file.ranges[0][0] + 1, 1024);
    let total = first.lines.length;
    for (;;) {
      const r = await tail.poll(file.length);
      total += r.lines.length;
      if (r.nextDelayMs > 0) break;
    }
    assert.equal(total, 1000);
  });

  it("backs off while nothing is new, and comes back to the shortest wait on new output", async () => {
    const file = new GrowingFile();
    const tail = new TaskFileTailer({ prefix: "", read: file.read, minDelayMs: 1000, maxDelayMs: 8000 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) delays.push((await tail.poll(0)).nextDelayMs);
    assert.deepEqual(delays, [2000, 4000, 8000, 8000, 8000]);
    assert.equal(file.ranges.length, 0, "no read when the length did not grow");
    file.write("x\n");
    assert.deepEqual(await tail.poll(file.length), { lines: ["x"], nextDelayMs: 1000 });
  });

  it("copes with the service returning fewer bytes than asked", async () => {
    const file = new GrowingFile();
    file.write("alpha\nbeta\ngamma\n");
    file.shortBy = 5;
    const tail = new TaskFileTailer({ prefix: "", read: file.read });
    const printed = [...(await tail.poll(file.length)).lines];
    file.shortBy = 0;
    printed.push(...(await tail.poll(file.length)).lines);
    assert.deepEqual(printed, ["alpha", "beta", "gamma"]);
  });

  it("prints an endless line in parts at character boundaries", async () => {
    const file = new GrowingFile();
    file.write("é".repeat(10));
    const tail = new TaskFileTailer({ prefix: "", read: file.read, maxLineBytes: 5 });
    const lines = [...(await tail.poll(file.length)).lines, ...(await tail.finish(file.length))];
    assert.equal(lines.join(""), "é".repeat(10));
    assert.ok(lines.every((l) => !l.includes("\uFFFD")), lines.join("|"));
  });

  it("prefixes stderr apart from stdout", () => {
    assert.equal(linePrefix("Run app", "stderr"), "[Run app stderr] ");
    assert.equal(adfJobId("adf-pool"), "adfv2-adf-pool");
  });
});

describe("DataFactoryRun Batch task of an activity run", () => {
  const guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
  const started = new Date("2024-05-01T10:00:00Z");
  const activityRun = { activityRunId: "11111111-2222-3333-4444-555555555555", activityRunStart: started, input: { command: "/bin/sh -c 'python3 app.py'" } };

  it("takes a task whose id is the activity run id", () => {
    assert.deepEqual(matchBatchTask(activityRun, [{ id: "other" }, { id: activityRun.activityRunId.toUpperCase() }]), { matched: true, taskId: activityRun.activityRunId.toUpperCase(), basis: "activityRunId" });
  });

  it("takes the task named by the adfjobs folder of the activity's outputs", () => {
    const output = { outputs: [`https://releasestore.blob.core.windows.net/adfjobs/${guid}/output/stdout.txt`] };
    assert.equal(outputFolderGuid(output), guid);
    assert.deepEqual(matchBatchTask({ ...activityRun, output }, [{ id: guid, commandLine: "something else" }]), { matched: true, taskId: guid, basis: "outputFolder" });
  });

  it("takes the one task running the activity's command since it started, and refuses to guess between two", () => {
    const tasks = [
      { id: "old", commandLine: "/bin/sh -c 'python3 app.py'", creationTime: new Date("2024-05-01T09:00:00Z") },
      { id: "new", commandLine: "/bin/sh -c 'python3 app.py'", creationTime: new Date("2024-05-01T10:00:05Z") },
      { id: "unrelated", commandLine: "other", creationTime: new Date("2024-05-01T10:00:05Z") },
    ];
    assert.deepEqual(matchBatchTask(activityRun, tasks), { matched: true, taskId: "new", basis: "commandLine" });
    const twice = [...tasks, { id: "new2", commandLine: "/bin/sh -c 'python3 app.py'", creationTime: new Date("2024-05-01T10:00:06Z") }];
    assert.deepEqual(matchBatchTask(activityRun, twice), {
      matched: false,
      reason: "2 tasks in the job run the same command in the same time window (new, new2); which one is this activity's cannot be told",
    });
    assert.deepEqual(matchBatchTask(activityRun, [tasks[0]]), { matched: false, reason: "no task in the job runs the activity's command since it started" });
    assert.deepEqual(matchBatchTask({ activityRunId: "x" }, tasks), { matched: false, reason: "the activity run shows no command to match its Batch task by" });
  });
});
