import * as v from "valibot";
import { OTHER_COUNTRIES } from "#shared/aggregates/model";
import type { Sale } from "#shared/sales/schema";

/** One problem of one posted record, as the 400 response lists it. */
export interface RecordIssue {
  readonly index: number;
  readonly path: string;
  readonly message: string;
}

const MAX_ID = Number.MAX_SAFE_INTEGER;
const dateMessage = "expected payment_date as ISO-8601 with a zone (2022-08-01T10:15:00Z) or epoch milliseconds (0 to year 9999)";
/** Event time may run ahead of the clock by this much (clock skew); further ahead would push the watermark and make later sales late. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;
const futureMessage = "payment_date is more than 5 minutes in the future";
const plainDecimal = /^-?\d{1,8}(\.\d{1,2})?$/;
const isoWithZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

const id = (name: string) =>
  v.pipe(
    v.number(`expected ${name} to be a number`),
    v.integer(`expected ${name} to be a whole number`),
    v.minValue(1, `expected ${name} >= 1`),
    v.maxValue(MAX_ID, `expected ${name} <= ${MAX_ID}`),
  );

const optionalText = (name: string, max: number) =>
  v.optional(
    v.nullable(
      v.pipe(v.string(`expected ${name} to be a string or null`), v.maxLength(max, `expected ${name} of at most ${max} characters`)),
    ),
    null,
  );

/**
 * A posted sale. `amount` arrives as text whether the client sent a JSON number or string
 * (see parseSalesJson), so it is checked as an exact decimal; `payment_date` is ISO-8601
 * with a zone, or epoch milliseconds.
 */
const SaleInput = v.strictObject(
  {
    payment_id: id("payment_id"),
    customer_id: id("customer_id"),
    amount: v.pipe(
      v.string("expected amount as a decimal number or string"),
      v.regex(plainDecimal, "expected amount as a plain decimal with at most 2 places and 8 integer digits, e.g. 4.99"),
    ),
    payment_date: v.union(
      [
        v.pipe(v.number(), v.integer(dateMessage), v.minValue(0, dateMessage), v.maxValue(253402300799999, dateMessage)),
        v.pipe(
          v.string(),
          v.regex(isoWithZone, dateMessage),
          v.check((text) => !Number.isNaN(Date.parse(text)), dateMessage),
        ),
      ],
      dateMessage,
    ),
    city: optionalText("city", 200),
    district: optionalText("district", 200),
    country: v.pipe(
      v.string("expected country to be a string"),
      v.nonEmpty("expected a non-empty country"),
      v.maxLength(100, "expected country of at most 100 characters"),
      v.check((country) => country !== OTHER_COUNTRIES, `"${OTHER_COUNTRIES}" is reserved for the countries a window does not name`),
    ),
    channel: v.optional(v.picklist(["store", "web", "kiosk"], "expected channel to be one of store, web, kiosk"), "store"),
  },
  "unknown field; allowed: payment_id, customer_id, amount, payment_date, city, district, country, channel",
);

function toSale(input: v.InferOutput<typeof SaleInput>): Sale {
  const payment_date = typeof input.payment_date === "number" ? input.payment_date : Date.parse(input.payment_date);
  const negative = input.amount.startsWith("-");
  const [whole = "0", fraction = ""] = input.amount.replace("-", "").split(".");
  const amount = `${negative ? "-" : ""}${String(Number(whole))}.${fraction.padEnd(2, "0")}`;
  return {
    payment_id: input.payment_id,
    customer_id: input.customer_id,
    amount: amount === "-0.00" ? "0.00" : amount,
    payment_date,
    city: input.city,
    district: input.district,
    country: input.country,
    channel: input.channel,
  };
}

/** Validates every record; returns all sales, or every issue of every invalid record. */
export function validateSales(records: readonly unknown[], now = Date.now()): { sales: Sale[]; issues: RecordIssue[] } {
  const sales: Sale[] = [];
  const issues: RecordIssue[] = [];
  records.forEach((record, index) => {
    const result = v.safeParse(SaleInput, record, { abortPipeEarly: true });
    if (result.success) {
      const sale = toSale(result.output);
      if (sale.payment_date > now + MAX_FUTURE_MS) issues.push({ index, path: "payment_date", message: futureMessage });
      else sales.push(sale);
      return;
    }
    for (const issue of result.issues) {
      const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
      issues.push({
        index,
        path: path === "" ? "(record)" : path,
        message: path === "" && issue.expected === "Object" ? "expected a JSON object" : issue.message,
      });
    }
  });
  return { sales, issues };
}
