/**
 * RunFilterParameters as ADF applies them: a required lastUpdated window,
 * filters (Equals/NotEquals/In/NotIn), orderBy, and paging by an opaque
 * continuation token.
 */
import { ServiceError } from "../http";

export interface RunQueryFilter {
  operand: string;
  operator: string;
  values: string[];
}

export interface RunFilterParameters {
  continuationToken?: string;
  lastUpdatedAfter?: string;
  lastUpdatedBefore?: string;
  filters?: RunQueryFilter[];
  orderBy?: { orderBy: string; order: string }[];
}

/** How a query reads one field of a record, by operand name. */
export type FieldReaders<T> = Record<string, (item: T) => string | number | undefined>;

const OPERATORS = ["Equals", "NotEquals", "In", "NotIn"];

function parseTime(value: string | undefined, name: string): number {
  if (!value) throw new ServiceError(400, "BadRequest", `The request is missing the required property '${name}'.`);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ServiceError(400, "BadRequest", `The value '${value}' of '${name}' is not a valid date-time.`);
  return t;
}

interface TokenBody {
  offset: number;
}

function decodeToken(token: string): TokenBody {
  try {
    const body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as TokenBody;
    if (typeof body.offset === "number" && body.offset >= 0) return body;
  } catch {
    // fall through
  }
  throw new ServiceError(400, "BadRequest", "The continuation token is not valid.");
}

export function queryRuns<T>(
  items: T[],
  params: RunFilterParameters,
  options: { lastUpdated: (item: T) => Date; fields: FieldReaders<T>; orderFields: FieldReaders<T>; defaultOrder: (a: T, b: T) => number; pageSize: number },
): { value: T[]; continuationToken?: string } {
  const after = parseTime(params.lastUpdatedAfter, "lastUpdatedAfter");
  const before = parseTime(params.lastUpdatedBefore, "lastUpdatedBefore");
  let result = items.filter((i) => {
    const t = options.lastUpdated(i).getTime();
    return t >= after && t <= before;
  });
  for (const filter of params.filters ?? []) {
    const reader = Object.entries(options.fields).find(([k]) => k.toLowerCase() === String(filter.operand).toLowerCase())?.[1];
    if (!reader) throw new ServiceError(400, "BadRequest", `The filter operand '${filter.operand}' is not supported. Supported operands are: ${Object.keys(options.fields).join(", ")}.`);
    const operator = OPERATORS.find((o) => o.toLowerCase() === String(filter.operator).toLowerCase());
    if (!operator) throw new ServiceError(400, "BadRequest", `The filter operator '${filter.operator}' is not supported. Supported operators are: ${OPERATORS.join(", ")}.`);
    const values = (filter.values ?? []).map((v) => String(v).toLowerCase());
    if ((operator === "Equals" || operator === "NotEquals") && values.length !== 1) {
      throw new ServiceError(400, "BadRequest", `The filter operator '${operator}' takes exactly one value.`);
    }
    const positive = operator === "Equals" || operator === "In";
    result = result.filter((i) => values.includes(String(reader(i) ?? "").toLowerCase()) === positive);
  }
  const orders = (params.orderBy ?? []).map((o) => {
    const reader = Object.entries(options.orderFields).find(([k]) => k.toLowerCase() === String(o.orderBy).toLowerCase())?.[1];
    if (!reader) throw new ServiceError(400, "BadRequest", `The order by field '${o.orderBy}' is not supported. Supported fields are: ${Object.keys(options.orderFields).join(", ")}.`);
    const order = String(o.order).toUpperCase();
    if (order !== "ASC" && order !== "DESC") throw new ServiceError(400, "BadRequest", `The order '${o.order}' is not supported; use ASC or DESC.`);
    return { reader, sign: order === "ASC" ? 1 : -1 };
  });
  result = [...result].sort((a, b) => {
    for (const { reader, sign } of orders) {
      const x = reader(a) ?? "";
      const y = reader(b) ?? "";
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return options.defaultOrder(a, b);
  });
  const offset = params.continuationToken ? decodeToken(params.continuationToken).offset : 0;
  const page = result.slice(offset, offset + options.pageSize);
  const next = offset + options.pageSize;
  return next < result.length ? { value: page, continuationToken: Buffer.from(JSON.stringify({ offset: next } satisfies TokenBody)).toString("base64url") } : { value: page };
}
