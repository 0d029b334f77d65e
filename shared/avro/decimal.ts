import { DecimalError, decimalParts, formatDecimal, parseDecimal } from "../money/decimal.ts";
import { avro, type Schema, type Type } from "./avsc.ts";
import { CodecError, CodecErrorCode } from "./errors.ts";

/**
 * Exact decimals as canonical strings ("-12.30": always `scale` fraction digits), never
 * JS numbers. On the wire an Avro decimal is the unscaled value as big-endian two's
 * complement; we write the shortest form, as Java's BigInteger.toByteArray does.
 */

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
/** Unscaled values below 2^47 stay exact as doubles, so the common case avoids BigInt. */
const SAFE_UNSCALED = 2 ** 47;

/** Most bytes a decimal of this precision can take, plus one for a sign byte. */
export function maxDecimalBytes(precision: number): number {
  return Math.ceil((precision * Math.log2(10) + 1) / 8);
}

/** Formats an unscaled two's-complement integer as a decimal string. Throws CodecError when it is empty or too long. */
export function formatUnscaled(bytes: Buffer, scale: number, precision: number): string {
  const length = bytes.length;
  if (length === 0 || length > maxDecimalBytes(precision)) {
    throw new CodecError(
      CodecErrorCode.corruptBody,
      `decimal(${precision},${scale}) takes 1-${maxDecimalBytes(precision)} bytes, got ${length}`,
    );
  }
  if (length <= 6 && scale < POW10.length) {
    const value = bytes.readIntBE(0, length);
    const negative = value < 0;
    const magnitude = negative ? -value : value;
    const unit = POW10[scale] as number;
    const whole = Math.floor(magnitude / unit);
    const sign = negative ? "-" : "";
    if (scale === 0) return `${sign}${whole}`;
    return `${sign}${whole}.${String(magnitude - whole * unit).padStart(scale, "0")}`;
  }
  return formatDecimal(BigInt.asIntN(length * 8, BigInt(`0x${bytes.toString("hex")}`)), scale);
}

/**
 * The unscaled integer of a decimal text, for encoding: a number when it has at most 15 digits
 * (exact as a double), a BigInt beyond. Validated as parseDecimal does; throws CodecError (INVALID_VALUE).
 */
export function parseUnscaled(text: string, scale: number, precision: number): bigint | number {
  const parts = decimalParts(text);
  if (parts !== undefined) {
    const { negative, whole, fraction } = parts;
    const digits = whole.length + scale;
    if (fraction.length <= scale && digits <= 15 && digits <= precision) {
      return Number(`${negative ? "-" : ""}${whole}${fraction.padEnd(scale, "0")}`);
    }
  }
  try {
    return parseDecimal(text, scale, precision).unscaled;
  } catch (error) {
    if (error instanceof DecimalError) throw new CodecError(CodecErrorCode.invalidValue, error.message, { cause: error });
    throw error;
  }
}

/** Shortest big-endian two's complement of an integer (Java BigInteger.toByteArray). */
export function unscaledToBytes(value: bigint | number): Buffer {
  if (
    typeof value === "number"
      ? value >= -SAFE_UNSCALED && value < SAFE_UNSCALED
      : value >= -BigInt(SAFE_UNSCALED) && value < BigInt(SAFE_UNSCALED)
  ) {
    const n = Number(value);
    let length = 1;
    while (length < 6 && (n < -(2 ** (8 * length - 1)) || n >= 2 ** (8 * length - 1))) length++;
    const bytes = Buffer.allocUnsafe(length);
    bytes.writeIntBE(n, 0, length);
    return bytes;
  }
  value = BigInt(value);
  let length = 1;
  while (value < -(1n << BigInt(8 * length - 1)) || value >= 1n << BigInt(8 * length - 1)) length++;
  const hex = BigInt.asUintN(length * 8, value)
    .toString(16)
    .padStart(length * 2, "0");
  return Buffer.from(hex, "hex");
}

interface DecimalSchema {
  readonly type: string;
  readonly precision?: number;
  readonly scale?: number;
}

/**
 * avsc logical type for `{"type": "bytes", "logicalType": "decimal"}`: values are canonical
 * decimal strings. Resolves from another decimal of the same scale, or from plain bytes.
 */
export class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;

  constructor(schema: Schema, opts?: unknown) {
    super(schema, opts);
    const { precision, scale = 0 } = schema as DecimalSchema;
    if (this.underlyingType.typeName !== "bytes")
      throw new CodecError(CodecErrorCode.incompatibleSchema, "decimal logical type is supported on bytes only");
    if (precision === undefined || !Number.isInteger(precision) || precision < 1)
      throw new CodecError(CodecErrorCode.incompatibleSchema, "decimal needs an integer precision >= 1");
    if (!Number.isInteger(scale) || scale < 0 || scale > precision)
      throw new CodecError(CodecErrorCode.incompatibleSchema, "decimal scale must be an integer in [0, precision]");
    this.precision = precision;
    this.scale = scale;
  }

  protected override _fromValue(bytes: Buffer): string {
    return formatUnscaled(bytes, this.scale, this.precision);
  }

  protected override _toValue(value: unknown): Buffer {
    if (typeof value !== "string") throw new CodecError(CodecErrorCode.invalidValue, "a decimal must be given as a string");
    return unscaledToBytes(parseUnscaled(value, this.scale, this.precision));
  }

  protected override _resolve(writer: Type): ((value: never) => string) | undefined {
    if (writer instanceof DecimalType && writer.scale === this.scale) {
      // The writer already produced a canonical string of this scale; a wider writer precision is fine.
      return (value: never) => value;
    }
    if (writer.typeName === "bytes") return (bytes: never) => formatUnscaled(bytes as Buffer, this.scale, this.precision);
    return undefined;
  }

  protected override _export(schema: Schema): void {
    Object.assign(schema as object, { precision: this.precision, scale: this.scale });
  }
}

/** The logical types every codec of the product registers with avsc. */
export const logicalTypes = { decimal: DecimalType } as const;
