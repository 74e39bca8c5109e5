/**
 * An activity's `policy.timeout` as ADF reads it: a .NET TimeSpan
 * `[d.]hh:mm:ss` (the SDK types it "string (or Expression with resultType
 * string), pattern: ((\d+)\.)?(\d\d):(60|([0-5][0-9])):(60|([0-5][0-9]))").
 * Without one the activity gets ADF's default, 12 hours (the activity-policy
 * table of concepts-pipelines-activities; the SDK documents 7 days, so the
 * default is unconfirmed). The documented limits (10 minutes to 7 days) are
 * not enforced: whether ADF refuses a shorter timeout on save is unconfirmed.
 *
 * A timed-out attempt fails with errorCode `ActionTimedOut`, the code users
 * report for it (MicrosoftDocs/azure-docs#61509); the message is chosen
 * (unconfirmed). A retry policy applies to timed-out attempts as to failed ones.
 */
import type { ScriptedError } from "./activities";
import type { Json } from "./types";

export const DEFAULT_ACTIVITY_TIMEOUT_SECONDS = 12 * 3600;

/** Seconds of a TimeSpan `[d.]hh:mm:ss[.fff]`; undefined when the text is not one. */
export function parseTimeSpan(value: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):([0-5]?\d|60):([0-5]?\d|60)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) return undefined;
  const [, d, h, min, s, frac] = m;
  return (Number(d ?? 0) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(s) + (frac ? Number(`0.${frac}`) : 0);
}

/** The attempt's timeout in seconds, from the evaluated `policy.timeout`. */
export function activityTimeoutSeconds(timeout: Json | undefined): { seconds: number; text: string } | { error: string } {
  if (timeout === undefined || timeout === null || timeout === "") return { seconds: DEFAULT_ACTIVITY_TIMEOUT_SECONDS, text: "0.12:00:00" };
  const text = String(timeout);
  const seconds = parseTimeSpan(text);
  if (seconds === undefined) return { error: `The activity policy timeout '${text}' is not a valid timespan; use [d.]hh:mm:ss, for example 0.12:00:00.` };
  return { seconds, text };
}

export function timeoutError(activityName: string, timeoutText: string): ScriptedError {
  return { errorCode: "ActionTimedOut", message: `Activity '${activityName}' timed out after ${timeoutText} (its policy.timeout).`, failureType: "UserError" };
}
