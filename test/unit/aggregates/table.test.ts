import { describe, expect, it } from "vitest";
import type { Metrics } from "#shared/aggregates/metrics";
import { emptySlice, type SliceItem } from "#shared/aggregates/slices";
import { itemBytes, marshalSlice, sliceKey, sliceRefOfKey, tableChangeOf, unmarshalSlice } from "#shared/aggregates/table";
import { metricsOf } from "#test/support/metrics";

const m = metricsOf;
const T0 = Date.UTC(2022, 7, 1, 10);

function slice(tp: string, values: Record<string, Metrics>, version = 1): SliceItem {
  return { ...emptySlice("1h", T0, T0 + 3_600_000, tp), version, offset: 41, values: new Map(Object.entries(values)) };
}

describe("slices in DynamoDB attributes", () => {
  it("round-trip exactly, countries, regions and the total in their own maps", () => {
    const item = slice("sales-3", { "country#Côte d'Ivoire": m(2, 12_345_678_901_234), "region#Africa": m(2, 3), "all#all": m(2, 3) });
    const attributes = marshalSlice(item);
    expect(attributes.pk).toEqual({ S: "1h#2022-08-01T10:00:00.000Z#sales-3" });
    expect(attributes.spk).toEqual({ S: "1h#sales-3" });
    expect(Object.keys(attributes.c?.M ?? {})).toEqual(["Côte d'Ivoire"]);
    expect(attributes.c?.M?.["Côte d'Ivoire"]?.M?.s).toEqual({ N: "123456789012.34" });
    expect(unmarshalSlice(attributes)).toEqual(item);
    expect(() => unmarshalSlice({ ...attributes, ws: { S: "x" } })).toThrow(/ws is not a number/);
  });

  it("refuses a value key that names no dimension", () => {
    expect(() => marshalSlice(slice("sales-0", { "city#Paris": m(1, 1) }))).toThrow(/value key "city#Paris" names no dimension of c, r, a/);
  });

  it("sizes items about as DynamoDB does", () => {
    expect(itemBytes({ pk: { S: "abc" } })).toBe(5);
    const big = marshalSlice(
      slice("sales-0", Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`country#${"x".repeat(90)}${i}`, m(1, 1)]))),
    );
    expect(itemBytes(big)).toBeGreaterThan(500 * 100);
    expect(itemBytes(big)).toBeLessThan(400 * 1024);
  });
});

describe("stream records as table changes", () => {
  it("names the slice a write or an expiry touched, and calls any other item other", () => {
    const keys = sliceKey("10m/5m", T0, "my.topic-name-11");
    expect(tableChangeOf({ eventName: "MODIFY", sequenceNumber: "5", keys })).toEqual({
      kind: "written",
      window: "10m/5m",
      start: T0,
      topicPartition: "my.topic-name-11",
      sequenceNumber: "5",
    });
    expect(tableChangeOf({ eventName: "INSERT", sequenceNumber: "6", keys }).kind).toBe("written");
    expect(tableChangeOf({ eventName: "REMOVE", sequenceNumber: "7", keys }).kind).toBe("removed");
    expect(
      tableChangeOf({ eventName: "MODIFY", sequenceNumber: "8", keys: { pk: { S: "watermark#sales-0" }, sk: { S: "watermark" } } }),
    ).toEqual({
      kind: "other",
      sequenceNumber: "8",
    });
    // A slice's sort key with a partition key that is no slice id.
    expect(sliceRefOfKey({ pk: { S: "not a slice" }, sk: { S: "slice" } })).toBeUndefined();
  });
});
