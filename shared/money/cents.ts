import { AppError } from "../errors/app-error.ts";
import { DecimalError, decimalParts, formatDecimal, parseDecimal } from "./decimal.ts";

/**
 * Money as integer cents. Per-record amounts and a batch's deltas are integer Numbers (exact up
 * to 2^53 cents, about 90 trillion, checked); stored totals are BigInt. Never a binary fraction.
 */
/** Cents of a canonical two-place decimal ("4.99" -> 499). Throws DecimalError on any other text or past 2^53 cents. Hot path: no regex. */
export function centsOf(amount: string): number {
  const length = amount.length;
  const negative = amount.charCodeAt(0) === 45; // "-"
  let cents = 0;
  let i = negative ? 1 : 0;
  const dot = length - 3;
  if (dot <= i || amount.charCodeAt(dot) !== 46) return centsBySlowPath(amount);
  for (; i < length; i++) {
    if (i === dot) continue;
    const digit = amount.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return centsBySlowPath(amount);
    cents = cents * 10 + digit;
  }
  if (!Number.isSafeInteger(cents)) throw new DecimalError(`"${amount}" is too large to add exactly`, "AMOUNT_TOO_LARGE");
  return negative ? -cents : cents;
}

function centsBySlowPath(amount: string): number {
  const parts = decimalParts(amount);
  if (parts === undefined || parts.fraction.length !== 2) throw new DecimalError(`"${amount}" is not a two-place decimal amount`);
  const cents = Number(parts.whole) * 100 + Number(parts.fraction);
  if (!Number.isSafeInteger(cents)) throw new DecimalError(`"${amount}" is too large to add exactly`, "AMOUNT_TOO_LARGE");
  return parts.negative ? -cents : cents;
}

/** Adds integer cents; throws AppError(CENTS_OVERFLOW, not retriable) instead of losing exactness. */
export function addCents(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum))
    throw new AppError("a cents sum passed 2^53; it can no longer be exact", { code: "CENTS_OVERFLOW", retriable: false });
  return sum;
}

/** DynamoDB numbers have at most 38 significant digits. */
const MAX_STORED_DIGITS = 38;

/** Cents of any decimal text with at most two places (DynamoDB returns "12.5" for 12.50). Throws DecimalError on anything else. */
export function bigCentsOf(text: string): bigint {
  return parseDecimal(text, 2, MAX_STORED_DIGITS).unscaled;
}

/** "1234.50" from 123450n (or 123450). */
export function formatCents(cents: bigint | number): string {
  return formatDecimal(BigInt(cents), 2);
}
