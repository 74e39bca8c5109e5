import { strict as assert } from "node:assert";
import { InputReader } from "../../runtime/inputs";
import { pollUntil } from "../../runtime/poll";
import { describeError, InputError, TimeoutError, CancelledError } from "../../runtime/errors";
import { TransferProgress, formatBytes, formatDuration } from "../../runtime/progress";
import { renderMarkdown } from "../../runtime/summary";
import { DEFAULT_RETRY_OPTIONS, isThrottled, retryAfterMs, retryDelayMs } from "../../runtime/retry";

describe("runtime: inputs, polling, errors, progress, summary", () => {
  const manifest = { inputs: [{ name: "count", label: "Count" }, { name: "mode", label: "Mode", defaultValue: "sync" }, { name: "flag", label: "Flag" }] };
  const reader = (values: Record<string, string>) => new InputReader({ getInput: (n) => values[n] }, manifest);

  it("reads typed inputs, with defaults from task.json", () => {
    const r = reader({ count: " 12 ", flag: "True" });
    assert.equal(r.int("count", { min: 1, max: 20 }), 12);
    assert.equal(r.pick("mode", ["sync", "copy"] as const), "sync");
    assert.equal(r.bool("flag"), true);
  });

  it("names the input, its label, the value and what is valid", () => {
    assert.throws(() => reader({ count: "abc" }).int("count"), (e: Error) => e instanceof InputError && /^Input 'count' \(Count\): 'abc' is not a whole number\.$/.test(e.message));
    assert.throws(() => reader({ count: "99" }).int("count", { min: 1, max: 20 }), /Input 'count' \(Count\): 99 is out of range\. Use a whole number from 1 to 20\./);
    assert.throws(() => reader({ mode: "mirror" }).pick("mode", ["sync", "copy"]), /Input 'mode' \(Mode\): 'mirror' is not one of 'sync', 'copy'\./);
    assert.throws(() => reader({ flag: "maybe" }).bool("flag"), /'maybe' is not a boolean/);
    assert.throws(() => reader({}).string("count"), /Input 'count' \(Count\): a value is required\./);
  });

  it("polls with back-off until done", async () => {
    const delays: number[] = [];
    let last = Date.now();
    let n = 0;
    const value = await pollUntil({
      description: "the thing",
      timeoutMs: 5000,
      initialDelayMs: 20,
      backoff: 2,
      check: async () => {
        delays.push(Date.now() - last);
        last = Date.now();
        return ++n === 4 ? { done: true, value: "ready" } : { done: false, status: `step ${n}` };
      },
    });
    assert.equal(value, "ready");
    // The waits asked for are 20, 40 and 80 ms. A timer never fires early, while a busy machine can only make it late,
    // so lower bounds prove the back-off without depending on how loaded the machine is.
    const [, first = 0, second = 0, third = 0] = delays;
    assert.ok(first >= 19 && second >= 38 && third >= 76, `backs off (20, 40, 80 ms asked): ${delays.join(", ")}`);
  });

  it("times out with the last status, and stops on cancellation", async () => {
    await assert.rejects(
      pollUntil({ description: "pool 'p' to be steady", timeoutMs: 100, initialDelayMs: 30, check: async () => ({ done: false, status: "resizing" }) }),
      (e: Error) => e instanceof TimeoutError && /pool 'p' to be steady \(last status: resizing\)/.test(e.message),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await assert.rejects(
      pollUntil({ description: "x", timeoutMs: 60_000, initialDelayMs: 10_000, signal: controller.signal, check: async () => ({ done: false }) }),
      (e: Error) => e instanceof CancelledError,
    );
    assert.ok(Date.now() - started < 1000, "cancellation does not wait out the delay");
  });

  it("describes Azure errors as code, status, message and request id, without headers", () => {
    const error = Object.assign(new Error("The specified container does not exist.\nRequestId:abc\nTime:now"), {
      statusCode: 404,
      code: "ContainerNotFound",
      response: { headers: { get: (n: string) => (n === "x-ms-request-id" ? "req-1" : undefined) } },
      request: { headers: { authorization: "Bearer secret-token" } },
    });
    const text = describeError(error);
    assert.equal(text, "ContainerNotFound (HTTP 404): The specified container does not exist. [request id req-1]");
    assert.ok(!text.includes("secret-token"));
  });

  it("reports progress with rate and time left", () => {
    let now = 0;
    const lines: string[] = [];
    const percents: number[] = [];
    const p = new TransferProgress({ info: (l) => lines.push(l), setProgress: (v) => percents.push(v) }, { operation: "Syncing", totalItems: 10, totalBytes: 10 * 1024 * 1024, intervalMs: 1000, now: () => now });
    now = 2000;
    p.addBytes(4 * 1024 * 1024);
    p.itemDone();
    assert.equal(lines.at(-1), "Syncing: 0/10 files, 4.0 MB of 10.0 MB (2.0 MB/s, about 3 s left)");
    assert.equal(percents.at(-1), 40);
  });

  it("renders the summary table in Markdown, escaping pipes", () => {
    const md = renderMarkdown({ title: "Copy", rows: [["Target", "a|b"], ["Uploaded", "3"]] });
    assert.equal(md, "### Copy\n\n| | |\n|---|---|\n| Target | a\\|b |\n| Uploaded | 3 |\n");
  });
});

describe("runtime: the retry decision", () => {
  const headers = (values: Record<string, string>) => ({ get: (n: string) => values[n.toLowerCase()] });
  const mid = () => 0.5; // no jitter

  it("waits what Retry-After asks on 429 and 503 (seconds, HTTP date, retry-after-ms), capped", () => {
    assert.deepEqual(retryDelayMs(1, { status: 429, headers: headers({ "retry-after": "7" }) }, {}, mid), { delayMs: 7000, throttled: true, reason: "HTTP 429" });
    assert.equal(retryDelayMs(1, { status: 503, headers: headers({ "retry-after": "0" }) }, {}, mid)?.delayMs, 0);
    assert.equal(retryDelayMs(1, { status: 429, headers: headers({ "retry-after-ms": "250" }) }, {}, mid)?.delayMs, 250);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const byDate = retryDelayMs(1, { status: 429, headers: headers({ "retry-after": inTenSeconds }) }, {}, mid)?.delayMs ?? 0;
    assert.ok(byDate > 8000 && byDate <= 10_000, String(byDate));
    assert.equal(retryDelayMs(1, { status: 429, headers: headers({ "retry-after": "3600" }) }, {}, mid)?.delayMs, DEFAULT_RETRY_OPTIONS.maxRetryAfterMs, "bounded");
  });

  it("backs off exponentially on transient failures, with jitter, up to the cap", () => {
    assert.deepEqual(retryDelayMs(1, { status: 500 }, {}, mid), { delayMs: 500, throttled: false, reason: "HTTP 500" });
    assert.equal(retryDelayMs(3, { status: 503 }, {}, mid)?.delayMs, 2000, "503 without Retry-After is transient");
    assert.equal(retryDelayMs(2, { errorCode: "ECONNRESET" }, {}, mid)?.reason, "ECONNRESET");
    assert.equal(retryDelayMs(1, { status: 429 }, {}, mid)?.delayMs, 500, "429 without Retry-After backs off");
    assert.equal(retryDelayMs(1, { status: 502 }, {}, () => 0)?.delayMs, 400, "-20%");
    assert.equal(retryDelayMs(1, { status: 502 }, {}, () => 1)?.delayMs, 600, "+20%");
    assert.equal(retryDelayMs(5, { status: 500 }, { maxDelayMs: 3000 }, mid)?.delayMs, 3000);
  });

  it("stops on answers that are final and when the budget is spent", () => {
    for (const status of [200, 400, 401, 403, 404, 409, 412, 501]) assert.equal(retryDelayMs(1, { status }, {}, mid), undefined, `HTTP ${status}`);
    assert.equal(retryDelayMs(1, { errorCode: "ENOTFOUND" }, {}, mid), undefined, "a name that does not resolve is not transient");
    assert.ok(retryDelayMs(5, { status: 500 }, {}, mid));
    assert.equal(retryDelayMs(6, { status: 500 }, {}, mid), undefined, "5 transient retries");
    assert.ok(retryDelayMs(7, { status: 429 }, {}, mid));
    assert.equal(retryDelayMs(8, { status: 429 }, {}, mid), undefined, "7 throttle retries");
    assert.equal(retryDelayMs(2, { status: 429 }, { maxThrottleRetries: 1 }, mid), undefined);
  });

  it("reads Retry-After and throttling from an SDK error", () => {
    const throttled = Object.assign(new Error("busy"), { statusCode: 503, response: { headers: headers({ "retry-after": "2" }) } });
    assert.equal(retryAfterMs(throttled), 2000);
    assert.ok(isThrottled(throttled));
    assert.ok(!isThrottled(Object.assign(new Error("x"), { statusCode: 503, response: { headers: headers({}) } })));
    assert.ok(isThrottled(Object.assign(new Error("x"), { statusCode: 429 })));
  });
});

describe("runtime: formatting", () => {
  it("formats bytes and durations for people", () => {
    assert.equal(formatBytes(902.43), "902 B");
    assert.equal(formatBytes(1536), "1.5 KB");
    assert.equal(formatBytes(5 * 1024 ** 3), "5.0 GB");
    assert.equal(formatDuration(59_400), "59 s");
    assert.equal(formatDuration(125_000), "2 min 5 s");
    assert.equal(formatDuration(3_900_000), "1 h 5 min");
  });
});
