import { describe, expect, it } from "vitest";
import { eventTime, parseIsoInstant } from "#shared/time/instant";
import { parseSqlTimestamp, sqlTimestamp } from "#shared/time/sql-timestamp";

describe("instants from text", () => {
  it("reads ISO-8601 with a zone to the millisecond, offsets included", () => {
    expect(parseIsoInstant("2022-08-01T10:15Z")).toBe(Date.UTC(2022, 7, 1, 10, 15));
    expect(parseIsoInstant("2022-08-01T10:15:00.5+05:30")).toBe(Date.UTC(2022, 7, 1, 4, 45, 0, 500));
    expect(parseIsoInstant("2022-08-01T00:00:00-01:00")).toBe(Date.UTC(2022, 7, 1, 1));
    expect(parseIsoInstant("0099-03-01T00:00:00Z")).toBe(new Date("0099-03-01T00:00:00Z").getTime());
  });

  it("refuses what names no existing time, where Date.parse would roll it over", () => {
    for (const text of [
      "2022-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2022-13-01T00:00:00Z",
      "2022-00-10T00:00:00Z",
      "2022-06-31T00:00:00Z",
      "2022-08-01T23:59:60Z",
      "2022-08-01T00:00:00+24:00",
      "2022-08-01T10:15:00",
    ]) {
      expect(parseIsoInstant(text), text).toBeUndefined();
    }
    expect(parseIsoInstant("2000-02-29T00:00:00Z")).toBe(Date.UTC(2000, 1, 29));
  });

  it("takes event times from 1970 to year 9999 only, as text or epoch milliseconds", () => {
    expect(eventTime(0)).toBe(0);
    expect(eventTime("9999-12-31T23:59:59.999Z")).toBe(253_402_300_799_999);
    for (const value of [-1, 1.5, 253_402_300_800_000, "1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z"]) {
      expect(eventTime(value), String(value)).toBeUndefined();
    }
  });

  it("reads back the SQL timestamps it writes, and refuses others", () => {
    const ms = Date.UTC(2022, 7, 1, 10, 15, 0, 123);
    expect(parseSqlTimestamp(sqlTimestamp(ms))).toBe(ms);
    expect(() => parseSqlTimestamp("2022-02-30 00:00:00.000")).toThrow(/not a UTC timestamp/);
    expect(() => parseSqlTimestamp("yesterday")).toThrow(/not a UTC timestamp/);
  });
});
