import * as v from "valibot";
import { OTHER_COUNTRIES } from "../aggregates/model.ts";
import { parseDecimal } from "../money/decimal.ts";
import { eventTime } from "../time/instant.ts";
import { CHANNELS, type Sale } from "./schema.ts";

const MAX_ID = Number.MAX_SAFE_INTEGER;
const dateMessage =
  "expected payment_date as ISO-8601 with a zone (2022-08-01T10:15:00Z) naming a date that exists, or epoch milliseconds; from 1970 to year 9999";
/** What docs/openapi.yaml promises for SaleInput.amount as a string; test/unit/ingest/contract.test.ts holds them together. */
export const AMOUNT_PATTERN = /^-?\d{1,8}(\.\d{1,2})?$/;
/** The Avro type of `amount` is decimal(10,2): 8 integer digits and 2 places. */
const AMOUNT_SCALE = 2;
const AMOUNT_PRECISION = 10;

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
 * A posted sale: the one definition of the ingest contract (docs/openapi.yaml's SaleInput is
 * checked against it field by field). `amount` arrives as text whether the client sent a JSON
 * number or string (see parseSalesJson), so it is checked and normalised as an exact decimal;
 * `payment_date` is an ISO-8601 instant with a zone, or epoch milliseconds.
 */
export const SaleInput = v.strictObject(
  {
    payment_id: id("payment_id"),
    customer_id: id("customer_id"),
    amount: v.pipe(
      v.string("expected amount as a decimal number or string"),
      v.regex(AMOUNT_PATTERN, "expected amount as a plain decimal with at most 2 places and 8 integer digits, e.g. 4.99"),
      v.transform((text) => parseDecimal(text, AMOUNT_SCALE, AMOUNT_PRECISION).canonical),
    ),
    payment_date: v.pipe(
      v.union([v.number(), v.string()], dateMessage),
      v.check((value) => eventTime(value) !== undefined, dateMessage),
      v.transform((value) => eventTime(value) as number),
    ),
    city: optionalText("city", 200),
    district: optionalText("district", 200),
    country: v.pipe(
      v.string("expected country to be a string"),
      v.nonEmpty("expected a non-empty country"),
      v.maxLength(100, "expected country of at most 100 characters"),
      v.check((country) => country !== OTHER_COUNTRIES, `"${OTHER_COUNTRIES}" is reserved for the countries a window does not name`),
    ),
    channel: v.optional(v.picklist(CHANNELS, `expected channel to be one of ${CHANNELS.join(", ")}`), "store"),
  },
  "unknown field; allowed: payment_id, customer_id, amount, payment_date, city, district, country, channel",
);

// A validated input is a Sale, field for field (the compiler checks both directions of the names).
type SaleOutput = v.InferOutput<typeof SaleInput>;
const _isSale = (input: SaleOutput): Sale => input;
const _namesEveryField: Record<keyof Sale, true> = {} as Record<keyof SaleOutput, true>;
void _isSale;
void _namesEveryField;
