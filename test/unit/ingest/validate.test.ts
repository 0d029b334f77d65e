import { describe, expect, it } from "vitest";
import { parseSalesJson, readRecords } from "#functions/ingest/parse";
import { validateSales } from "#functions/ingest/validate";
import { HttpError } from "#shared/http/errors";

const valid = { payment_id: 1, customer_id: 2, amount: "4.99", payment_date: "2022-08-01T10:15:00Z", country: "France" };
const limits = { maxRecords: 3, maxBodyBytes: 200 };

function statusOf(run: () => unknown): number | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return (error as HttpError).status;
  }
}

describe("reading a POST /sales body", () => {
  it("keeps JSON-number amounts as their exact source text", () => {
    expect(parseSalesJson('{"amount": 0.10, "nested": {"amount": 12345678.99}, "other": 0.1}')).toEqual({
      amount: "0.10",
      nested: { amount: "12345678.99" },
      other: 0.1,
    });
  });

  it("accepts one object or an array, with or without a charset", () => {
    const roomy = { ...limits, maxBodyBytes: 10_000 };
    expect(
      readRecords({ body: JSON.stringify(valid), isBase64Encoded: false, contentType: "application/json; charset=utf-8" }, roomy),
    ).toHaveLength(1);
    expect(
      readRecords(
        { body: Buffer.from(JSON.stringify([valid, valid])).toString("base64"), isBase64Encoded: true, contentType: "application/json" },
        roomy,
      ),
    ).toHaveLength(2);
  });

  it("maps each bad request to its status", () => {
    expect(statusOf(() => readRecords({ body: "{}", isBase64Encoded: false, contentType: undefined }, limits))).toBe(415);
    expect(statusOf(() => readRecords({ body: "x".repeat(201), isBase64Encoded: false, contentType: "application/json" }, limits))).toBe(
      413,
    );
    expect(
      statusOf(() => readRecords({ body: JSON.stringify([1, 2, 3, 4]), isBase64Encoded: false, contentType: "application/json" }, limits)),
    ).toBe(413);
    expect(statusOf(() => readRecords({ body: " ", isBase64Encoded: false, contentType: "application/json" }, limits))).toBe(400);
    expect(statusOf(() => readRecords({ body: "[]", isBase64Encoded: false, contentType: "application/json" }, limits))).toBe(400);
    expect(statusOf(() => readRecords({ body: "{", isBase64Encoded: false, contentType: "application/json" }, limits))).toBe(400);
  });
});

describe("validating sales", () => {
  it("normalises amounts to two places and dates to epoch milliseconds, defaults the rest", () => {
    const { sales, issues } = validateSales([
      { ...valid, amount: "5" },
      { ...valid, amount: "-0.5", payment_date: 1659348900000, city: "Lyon", channel: "web" },
      { ...valid, amount: "0007.10", payment_date: "2022-08-01T12:15:00.123+02:00" },
    ]);
    expect(issues).toEqual([]);
    expect(sales.map((s) => [s.amount, s.payment_date, s.city, s.channel])).toEqual([
      ["5.00", Date.parse("2022-08-01T10:15:00Z"), null, "store"],
      ["-0.50", 1659348900000, "Lyon", "web"],
      ["7.10", Date.parse("2022-08-01T10:15:00.123Z"), null, "store"],
    ]);
  });

  it("names every invalid field of every invalid record, and only those", () => {
    const { issues } = validateSales([
      valid,
      { ...valid, payment_id: 1.5, amount: "1.999", payment_date: "2022-08-01T10:15:00" },
      "not an object",
      { ...valid, country: "", channel: "phone", extra: true },
      { ...valid, amount: "1e3", customer_id: "2" },
    ]);
    expect(issues.map((i) => `${i.index}:${i.path}`)).toEqual([
      "1:payment_id",
      "1:amount",
      "1:payment_date",
      "2:(record)",
      "3:country",
      "3:channel",
      "3:extra",
      "4:customer_id",
      "4:amount",
    ]);
    expect(issues.find((i) => i.path === "payment_date")?.message).toMatch(/ISO-8601 with a zone/);
    expect(issues.find((i) => i.path === "extra")?.message).toMatch(/unknown field/);
  });

  it("refuses the country name the aggregates reserve for countries a window does not name", () => {
    expect(validateSales([{ ...valid, country: "(other countries)" }]).issues).toEqual([
      { index: 0, path: "country", message: expect.stringMatching(/reserved/) },
    ]);
    expect(validateSales([{ ...valid, country: "(other)" }]).issues).toEqual([]);
  });

  it("refuses event times more than 5 minutes ahead, which would make later sales late", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(validateSales([{ ...valid, payment_date: now + 4 * 60_000 }], now).issues).toEqual([]);
    expect(validateSales([{ ...valid, payment_date: now + 6 * 60_000 }], now).issues).toHaveLength(1);
    expect(validateSales([{ ...valid, payment_date: "9999-12-31T00:00:00Z" }], now).issues).toEqual([
      { index: 0, path: "payment_date", message: expect.stringMatching(/5 minutes in the future/) },
    ]);
  });

  it("refuses dates that do not exist instead of rolling them over", () => {
    for (const date of [
      "2022-02-30T00:00:00Z",
      "2023-02-29T12:00:00Z",
      "2022-04-31T00:00:00Z",
      "2022-08-01T24:00:00Z",
      "2022-08-01T10:60Z",
    ]) {
      expect(validateSales([{ ...valid, payment_date: date }]).issues, date).toEqual([
        { index: 0, path: "payment_date", message: expect.stringMatching(/a date that exists/) },
      ]);
    }
    expect(validateSales([{ ...valid, payment_date: "2024-02-29T00:00:00Z" }]).sales[0]?.payment_date).toBe(Date.UTC(2024, 1, 29));
  });

  it("refuses ISO dates before 1970 as it refuses negative epochs", () => {
    for (const date of ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:30:00+01:00", -1]) {
      expect(validateSales([{ ...valid, payment_date: date }]).issues, String(date)).toEqual([
        { index: 0, path: "payment_date", message: expect.stringMatching(/from 1970/) },
      ]);
    }
    expect(validateSales([{ ...valid, payment_date: "1970-01-01T01:00:00+01:00" }]).sales[0]?.payment_date).toBe(0);
  });

  it("refuses more than 8 integer digits (decimal(10,2))", () => {
    expect(validateSales([{ ...valid, amount: "123456789.00" }]).issues).toHaveLength(1);
    expect(validateSales([{ ...valid, amount: "99999999.99" }]).issues).toHaveLength(0);
  });
});
