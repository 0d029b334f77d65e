/**
 * The product's one reading of instants sent as text: ISO-8601 with a zone, as
 * `2022-08-01T10:15Z`, `2022-08-01T10:15:00.123+05:30`. Every part is checked against the
 * calendar (Date.parse would roll 2022-02-30 over to 2 March), so a date that does not exist is
 * refused instead of silently moved.
 */
/** The syntax alone, as docs/openapi.yaml states it (the calendar check is parseIsoInstant's). */
export const ISO_INSTANT_SYNTAX = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})$";
const isoWithZone = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** The latest instant the product stores (Avro timestamp-millis read back as a four-digit year). */
export const MAX_INSTANT_MS = 253_402_300_799_999;

const leap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) => (month === 2 ? (leap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

/** Epoch milliseconds of an ISO-8601 instant with a zone, or undefined when the text is not one or names a time that does not exist. */
export function parseIsoInstant(text: string): number | undefined {
  const match = isoWithZone.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s = "0", fraction = "", zulu, sign, oh = "0", om = "0"] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [offsetHours, offsetMinutes] = [Number(oh), Number(om)];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, Number(fraction.padEnd(3, "0")));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts them back where they were written.
  const ms = year < 100 ? new Date(utc).setUTCFullYear(year) : utc;
  const offset = zulu === undefined ? (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000 : 0;
  return ms - offset;
}

/**
 * Epoch milliseconds of an instant given as ISO-8601 text or as epoch milliseconds, within
 * [1970-01-01T00:00:00Z, 9999-12-31T23:59:59.999Z]. Returns undefined for anything else: an
 * impossible date, a time before 1970 (as a negative epoch is), a fraction of a millisecond.
 */
export function eventTime(value: string | number): number | undefined {
  const ms = typeof value === "number" ? value : parseIsoInstant(value);
  if (ms === undefined || !Number.isInteger(ms) || ms < 0 || ms > MAX_INSTANT_MS) return undefined;
  return ms;
}
