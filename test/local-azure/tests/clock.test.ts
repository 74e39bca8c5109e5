/**
 * The simulated clock: a change of pace re-arms the steps already pending
 * (each keeps the simulated time it still had to wait), and the idle pace
 * applies while only background steps are pending. Bounds are generous: a
 * busy machine fires timers late, never early.
 */
import { strict as assert } from "node:assert";
import { SimClock } from "../clock";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the real milliseconds until the step ran. */
function timed(clock: SimClock, seconds: number, options?: { background?: boolean }): { fired: () => boolean; at: Promise<number>; cancel(): void } {
  const started = Date.now();
  let done = false;
  let resolve!: (ms: number) => void;
  const at = new Promise<number>((r) => (resolve = r));
  const timer = clock.after(seconds, () => {
    done = true;
    resolve(Date.now() - started);
  }, options);
  return { fired: () => done, at, cancel: () => timer.cancel() };
}

describe("local Azure: the simulated clock", () => {
  let clock: SimClock;
  afterEach(() => clock.close());

  it("speeds up a pending step when the pace quickens, and holds it back when the pace slows", async () => {
    clock = new SimClock(1000);
    const quickened = timed(clock, 10);
    await delay(50);
    clock.msPerSimulatedSecond = 5;
    // About 10 s × 5 ms left: far below the 10 s it had at real time.
    assert.ok((await quickened.at) < 3000, "the step ran at the new pace");

    clock.msPerSimulatedSecond = 5;
    const slowed = timed(clock, 20);
    clock.msPerSimulatedSecond = 1000;
    await delay(400);
    assert.equal(slowed.fired(), false, "at real time, 20 simulated seconds are not over after 0.4 s");
    clock.msPerSimulatedSecond = 5;
    assert.ok((await slowed.at) < 3000);
  });

  it("runs at the idle pace while only background steps are pending, at the busy pace as soon as work is", async () => {
    clock = new SimClock(5);
    clock.idleMsPerSimulatedSecond = 1000;
    const sample = timed(clock, 30, { background: true });
    await delay(300);
    assert.equal(sample.fired(), false, "alone, the background step waits at real time");

    const work = timed(clock, 60);
    // Work pending: both run at 5 ms per simulated second (30 s → 0.15 s, 60 s → 0.3 s).
    assert.ok((await sample.at) < 3000, "the background step ran at the busy pace once work was pending");
    assert.ok((await work.at) < 3000);

    const idle = timed(clock, 30, { background: true });
    const other = timed(clock, 60);
    other.cancel();
    await delay(300);
    assert.equal(idle.fired(), false, "cancelling the only work step brings the idle pace back");

    clock.idleMsPerSimulatedSecond = undefined;
    assert.ok((await idle.at) < 3000, "without an idle pace, background steps run at the busy pace");
  });

  it("nothing runs after close", async () => {
    clock = new SimClock(1);
    const step = timed(clock, 1);
    clock.close();
    await delay(50);
    assert.equal(step.fired(), false);
    const late = timed(clock, 0);
    await delay(20);
    assert.equal(late.fired(), false);
  });
});
