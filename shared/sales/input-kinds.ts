import * as v from "valibot";
import { parseDecimal } from "../money/decimal.ts";
import { eventTime } from "../time/instant.ts";

/*
 * The validators of each field kind in schemas/sale-input.ts. shared/sales/input-fields.ts (generated
 * by `npm run gen`) applies them to the sale's fields; a new kind is added here and in the generator.
 */

const MAX_ID = Number.MAX_SAFE_INTEGER;
const dateMessage =
  "expected payment_date as ISO-8601 with a zone (2022-08-01T10:15:00Z) naming a date that exists, or epoch milliseconds; from 1970 to year 9999";

/** A whole number from 1 to Number.MAX_SAFE_INTEGER; issues name `name`. Never throws. */
export const idField = (name: string) =>
  v.pipe(
    v.number(`expected ${name} to be a number`),
    v.integer(`expected ${name} to be a whole number`),
    v.minValue(1, `expected ${name} >= 1`),
    v.maxValue(MAX_ID, `expected ${name} <= ${MAX_ID}`),
  );

/** The text an Avro decimal(precision, scale) takes as input: an optional minus, no exponent. */
export const decimalPattern = (precision: number, scale: number): RegExp =>
  new RegExp(`^-?\\d{1,${precision - scale}}(\\.\\d{1,${scale}})?$`);

/** Exact decimal text (a JSON number arrives as its own text) normalised to `scale` places; never throws. */
export const decimalField = (name: string, precision: number, scale: number) =>
  v.pipe(
    v.string(`expected ${name} as a decimal number or string`),
    v.regex(
      decimalPattern(precision, scale),
      `expected ${name} as a plain decimal with at most ${scale} places and ${precision - scale} integer digits, e.g. 4.99`,
    ),
    v.transform((text) => parseDecimal(text, scale, precision).canonical),
  );

/** An ISO-8601 instant with a zone or epoch milliseconds, as epoch milliseconds; never throws. */
export const instantField = () =>
  v.pipe(
    v.union([v.number(), v.string()], dateMessage),
    v.check((value) => eventTime(value) !== undefined, dateMessage),
    v.transform((value) => eventTime(value) as number),
  );

/** Text of `min`..`max` characters; never throws. */
export const textField = (name: string, min: number, max: number) =>
  v.pipe(
    v.string(`expected ${name} to be a string`),
    min === 1 ? v.nonEmpty(`expected a non-empty ${name}`) : v.minLength(min, `expected ${name} of at least ${min} characters`),
    v.maxLength(max, `expected ${name} of at most ${max} characters`),
  );

/** Text of at most `max` characters or null, null when absent; never throws. */
export const optionalTextField = (name: string, max: number) =>
  v.optional(
    v.nullable(
      v.pipe(v.string(`expected ${name} to be a string or null`), v.maxLength(max, `expected ${name} of at most ${max} characters`)),
    ),
    null,
  );

/** One of `values`, `fallback` when absent; never throws. */
export const enumField = <const T extends readonly [string, ...string[]]>(name: string, values: T, fallback: T[number]) =>
  v.optional(v.picklist(values, `expected ${name} to be one of ${values.join(", ")}`), fallback);
