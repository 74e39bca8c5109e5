/** An activity's policy.timeout as the local Data Factory reads it (ADF's TimeSpan text, its default, a bad value). */
import { strict as assert } from "node:assert";
import { activityTimeoutSeconds, DEFAULT_ACTIVITY_TIMEOUT_SECONDS, parseTimeSpan } from "../datafactory/policy";

describe("local Data Factory: activity policy.timeout", () => {
  it("reads [d.]hh:mm:ss, defaults to 12 hours, and refuses text that is not a timespan", () => {
    assert.equal(parseTimeSpan("0.12:00:00"), 12 * 3600);
    assert.equal(parseTimeSpan("7.00:00:00"), 7 * 86400);
    assert.equal(parseTimeSpan("00:10:00"), 600);
    assert.equal(parseTimeSpan("1.02:03:04.5"), 86400 + 2 * 3600 + 3 * 60 + 4.5);
    assert.equal(parseTimeSpan("10 minutes"), undefined);
    assert.equal(parseTimeSpan("0.12:61:00"), undefined);
    assert.deepEqual(activityTimeoutSeconds(undefined), { seconds: DEFAULT_ACTIVITY_TIMEOUT_SECONDS, text: "0.12:00:00" });
    assert.deepEqual(activityTimeoutSeconds("0.00:30:00"), { seconds: 1800, text: "0.00:30:00" });
    assert.deepEqual(activityTimeoutSeconds("PT30M"), { error: "The activity policy timeout 'PT30M' is not a valid timespan; use [d.]hh:mm:ss, for example 0.12:00:00." });
  });
});
