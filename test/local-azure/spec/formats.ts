/**
 * The `format`s Azure specs use. ajv-formats covers the JSON Schema ones
 * (date-time, date, uuid, uri, ...); the Swagger/Azure ones are added here.
 */
import type Ajv from "ajv";
import addFormats from "ajv-formats";

const INT32 = 2 ** 31;

// .NET TimeSpan values such as P10675199DT2H48M5.4775807S carry fractional seconds.
const ISO_DURATION = /^-?P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$/;
const RFC1123 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const ARM_ID = /^\/subscriptions\/|^\/providers\//i;

export function addAzureFormats(ajv: Ajv): void {
  addFormats(ajv);
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("double", { type: "number", validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat("float", { type: "number", validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat("decimal", { type: "number", validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("duration", ISO_DURATION);
  ajv.addFormat("date-time-rfc1123", RFC1123);
  ajv.addFormat("byte", BASE64);
  ajv.addFormat("base64url", BASE64URL);
  ajv.addFormat("arm-id", ARM_ID);
  for (const free of ["password", "binary", "char", "url"]) ajv.addFormat(free, true);
}
