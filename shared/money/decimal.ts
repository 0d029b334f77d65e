import { RecordError } from "../errors/record-error.ts";

/**
 * The product's one reading of decimal text ("-12.30", "5", "007.5"): the Avro codec, the
 * ingest contract and the cents arithmetic all parse through here, so they agree on what a
 * decimal is. Exact throughout: digits become BigInt, never a binary float.
 */
/** A decimal text that is not one the product accepts: a data error of the record carrying it (400 at the API). */
export class DecimalError extends RecordError {
  constructor(message: string, code = "INVALID_DECIMAL") {
    super(code, message, { status: 400 });
  }
}

const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;

/** The sign and digits of a plain decimal text, or undefined for anything else (exponents, spaces, "+", ".5"). */
export function decimalParts(text: string): { readonly negative: boolean; readonly whole: string; readonly fraction: string } | undefined {
  const match = decimalPattern.exec(text);
  if (match === null) return undefined;
  return { negative: match[1] === "-", whole: match[2] as string, fraction: match[3] ?? "" };
}

/** "-12.30" from -1230n at scale 2; "-0" never appears. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const sign = negative ? "-" : "";
  return scale === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * Parses "123.4" into its canonical form ("123.40") and unscaled integer (12340n) for `scale`.
 * Throws DecimalError when the text is not a plain decimal, has more fraction digits than
 * `scale` (money is never rounded silently) or more significant digits than `precision`.
 */
export function parseDecimal(text: string, scale: number, precision: number): { canonical: string; unscaled: bigint } {
  const parts = decimalParts(text);
  if (parts === undefined) throw new DecimalError(`"${text}" is not a decimal number`);
  if (parts.fraction.length > scale) {
    throw new DecimalError(`"${text}" has ${parts.fraction.length} decimal places; at most ${scale} are allowed`);
  }
  const digits = `${parts.whole}${parts.fraction.padEnd(scale, "0")}`.replace(/^0+(?=\d)/, "");
  if (digits.length > precision) throw new DecimalError(`"${text}" has more than ${precision} significant digits`);
  const unscaled = BigInt(`${parts.negative ? "-" : ""}${digits}`);
  return { canonical: formatDecimal(unscaled, scale), unscaled };
}
