import { describe, expect, it } from "vitest";
import { formatUnscaled, parseUnscaled, unscaledToBytes } from "#shared/avro/decimal";
import { CodecError } from "#shared/avro/errors";
import { DecimalError, parseDecimal } from "#shared/money/decimal";

describe("exact decimals", () => {
  it("writes the shortest two's complement, as Java's BigInteger.toByteArray", () => {
    const vectors: [bigint, string][] = [
      [0n, "00"],
      [1n, "01"],
      [127n, "7f"],
      [128n, "0080"],
      [255n, "00ff"],
      [-1n, "ff"],
      [-128n, "80"],
      [-129n, "ff7f"],
      [499n, "01f3"],
      [2n ** 47n, "00800000000000"],
      [-(2n ** 63n), "8000000000000000"],
    ];
    for (const [value, hex] of vectors) expect(unscaledToBytes(value).toString("hex"), String(value)).toBe(hex);
  });

  it("round-trips values through bytes on both the number and the BigInt paths", () => {
    for (const text of ["0.00", "0.01", "-0.01", "4.99", "-4.99", "99999999.99", "-99999999.99", "1234567.80", "0.10"]) {
      const { unscaled, canonical } = parseDecimal(text, 2, 10);
      expect(formatUnscaled(unscaledToBytes(unscaled), 2, 10)).toBe(canonical);
    }
    const wide = parseDecimal("123456789012345678901234.56", 2, 38);
    expect(formatUnscaled(unscaledToBytes(wide.unscaled), 2, 38)).toBe("123456789012345678901234.56");
  });

  it("canonicalises to exactly `scale` places without ever rounding", () => {
    expect(parseDecimal("5", 2, 10).canonical).toBe("5.00");
    expect(parseDecimal("0.1", 2, 10).canonical).toBe("0.10");
    expect(parseDecimal("007.5", 2, 10).canonical).toBe("7.50");
    expect(parseDecimal("-0", 2, 10).canonical).toBe("0.00");
  });

  it("refuses more places than the scale, more digits than the precision, and non-decimal text", () => {
    for (const bad of ["1.234", "123456789.00", "1e3", "", "12,50", "NaN", "0x10", " 1.00", "1."]) {
      expect(() => parseDecimal(bad, 2, 10), bad).toThrow(DecimalError);
      expect(() => parseUnscaled(bad, 2, 10), bad).toThrow(CodecError);
    }
  });

  it("refuses empty bytes and more bytes than the precision needs", () => {
    expect(() => formatUnscaled(Buffer.alloc(0), 2, 10)).toThrow(/takes 1-5 bytes, got 0/);
    expect(() => formatUnscaled(Buffer.alloc(6, 1), 2, 10)).toThrow(/got 6/);
  });
});
