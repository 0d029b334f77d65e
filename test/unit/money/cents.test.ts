import { describe, expect, it } from "vitest";
import { bigCentsOf, centsOf, formatCents } from "#shared/money/cents";
import { DecimalError } from "#shared/money/decimal";

describe("cents", () => {
  it("reads cents through the same parser: stored totals of any width, per-record amounts of exactly two places", () => {
    expect(bigCentsOf("12.5")).toBe(1250n);
    expect(bigCentsOf("-0.07")).toBe(-7n);
    expect(bigCentsOf("12345678901234567890123456789012345.67")).toBe(1234567890123456789012345678901234567n);
    expect(() => bigCentsOf("1.234")).toThrow(DecimalError);
    expect(centsOf("4.99")).toBe(499);
    expect(centsOf("-004.99")).toBe(-499);
    expect(() => centsOf("4.9")).toThrow(/two-place/);
    expect(() => centsOf("99999999999999999.99")).toThrow(/too large/);
    expect(formatCents(-7n)).toBe("-0.07");
    expect(formatCents(123450)).toBe("1234.50");
  });
});
