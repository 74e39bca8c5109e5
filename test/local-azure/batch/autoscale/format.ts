/**
 * How values print in `AutoScaleRun.results`. Documented: `$name=value`
 * pairs joined by `;`, timestamps as `2016-10-13T19:18:47.805Z`, vectors as
 * `[1,1,1]`, keywords bare. Unconfirmed: fractional doubles (printed here as
 * .NET's default Double.ToString, 15 significant digits, so 10 * 1.1 shows
 * as 11) and time intervals (printed as .NET's TimeSpan, `00:05:00`).
 */

/** A double as .NET Framework's Double.ToString() ("G15") writes it. */
export function formatDouble(value: number): string {
  if (Object.is(value, -0)) return "0";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const exp = Number(value.toExponential(14).split("e")[1]);
  if (exp >= -4 && exp < 15) return String(Number(value.toPrecision(15)));
  const [mantissa, e] = Number(value.toPrecision(15)).toExponential().split("e");
  const sign = e.startsWith("-") ? "-" : "+";
  return `${mantissa}E${sign}${e.replace(/^[+-]/, "").padStart(2, "0")}`;
}

/** A time interval (seconds) as .NET's TimeSpan "c" format: `[-][d.]hh:mm:ss[.fffffff]`. */
export function formatTimeInterval(seconds: number): string {
  const ticks = Math.round(Math.abs(seconds) * 1e7);
  const sign = seconds < 0 && ticks > 0 ? "-" : "";
  const totalSeconds = Math.floor(ticks / 1e7);
  const fraction = ticks - totalSeconds * 1e7;
  const days = Math.floor(totalSeconds / 86400);
  const h = Math.floor((totalSeconds % 86400) / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${sign}${days ? `${days}.` : ""}${two(h)}:${two(m)}:${two(s)}${fraction ? `.${String(fraction).padStart(7, "0")}` : ""}`;
}

/** A timestamp (ms since the epoch) as the docs' sample results show it. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
