import { describe, expect, it } from "vitest";
import { type AggregationSettings, aggregate, type SaleRecord } from "#functions/aggregate/aggregate";
import { describeSummary, emptySummary, parseQueueMessage, planRedrive, progressLine } from "#functions/aggregate/redrive-core";
import { OTHER_COUNTRIES } from "#shared/aggregates/metrics";
import { type SliceItem, sliceId } from "#shared/aggregates/slices";
import type { Sale } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { saleAt, T0 } from "#test/support/sales";

const settings: AggregationSettings = {
  windows: parseWindows("1m,10m/5m,1h,1d"),
  allowedLatenessMs: 10 * 60_000,
  ttlSeconds: new Map([
    ["1m", 2 * 86_400],
    ["10m/5m", 7 * 86_400],
  ]),
  maxCountriesPerWindow: 10,
};
const HOURS = 3_600_000;

const sale = saleAt;

/** Slices as the aggregator leaves them after applying `sales` at offsets 10.. on sales-0 (stored: version 1). */
function storedAfter(sales: Sale[]): Map<string, SliceItem> {
  const records: SaleRecord[] = sales.map((s, i) => ({ topicPartition: "sales-0", offset: 10 + i, sale: s }));
  // Written as the sales happened: their slices expire WindowTtl after T0's windows.
  const result = aggregate(records, new Map(), new Map(), { ...settings, now: () => T0 });
  return new Map(result.items.map((item) => [sliceId(item.window, item.start, item.topicPartition), { ...item, version: 1 }]));
}

const letter = {
  topic: "sales",
  partition: 0,
  offset: 4,
  timestamp: 1,
  value: "AwA=",
  reason: { code: "UNKNOWN_SCHEMA_VERSION", message: "schema version x is not in the registry" },
  source: "aggregate",
};

describe("parseQueueMessage", () => {
  it("reads an aggregate dead letter, inline or with its value in S3", () => {
    expect(parseQueueMessage(JSON.stringify(letter))).toEqual({ kind: "record", letter });
    const { value: _value, ...rest } = letter;
    const ref = { ...rest, valueRef: { bucket: "b", key: "dead-letters/aggregate/sales/0/4/value", bytes: 9, sha256: "ab" } };
    expect(parseQueueMessage(JSON.stringify(ref))).toMatchObject({ kind: "record", letter: { valueRef: { bytes: 9 } } });
  });

  it("tells the rollup mapping's and the Kafka mapping's failure records apart from records, with what to run", () => {
    const stream = parseQueueMessage(JSON.stringify({ requestContext: {}, DDBStreamBatchInfo: { shardId: "s" } }));
    expect(stream).toMatchObject({ kind: "other", what: "rollup stream batch" });
    expect(stream.kind === "other" && stream.hint).toContain("npm run rollups");
    expect(parseQueueMessage(JSON.stringify({ KafkaBatchInfo: { batchSize: 3 } }))).toMatchObject({
      kind: "other",
      what: "skipped Kafka batch",
    });
  });

  it("leaves anything else alone: not JSON, another source, no value, a wrong shape", () => {
    expect(parseQueueMessage("{not json")).toMatchObject({ kind: "other", what: "not JSON" });
    expect(parseQueueMessage(undefined)).toMatchObject({ kind: "other", what: "not JSON" });
    expect(parseQueueMessage(JSON.stringify({ ...letter, source: "ingest" }))).toMatchObject({ kind: "other", what: "ingest dead letter" });
    const { value: _value, ...noValue } = letter;
    expect(parseQueueMessage(JSON.stringify(noValue))).toMatchObject({ kind: "other", what: "unknown message" });
    expect(parseQueueMessage(JSON.stringify({ ...letter, offset: "4" }))).toMatchObject({ kind: "other", what: "unknown message" });
    expect(parseQueueMessage(JSON.stringify([1, 2]))).toMatchObject({ kind: "other", what: "unknown message" });
  });
});

describe("planRedrive", () => {
  const redriven: SaleRecord = { topicPartition: "sales-0", offset: 4, sale: sale("France", "0.10") };

  it("adds a record below the slices' offsets exactly once per window, to the cent, keeping offsets and versions", () => {
    const stored = storedAfter([sale("France", "0.20"), sale("Japan", "0.30", 1)]);
    const plan = planRedrive(redriven, stored, T0 + 2 * 60_000, settings, T0);
    // 1m + two 10m/5m + 1h + 1d: every window instance the aggregator would have put it in.
    expect(plan.items.map((i) => sliceId(i.window, i.start, i.topicPartition)).sort()).toEqual(
      [
        "1m#2022-08-01T10:15:00.000Z#sales-0",
        "10m/5m#2022-08-01T10:10:00.000Z#sales-0",
        "10m/5m#2022-08-01T10:15:00.000Z#sales-0",
        "1h#2022-08-01T10:00:00.000Z#sales-0",
        "1d#2022-08-01T00:00:00.000Z#sales-0",
      ].sort(),
    );
    const day = plan.items.find((i) => i.window === "1d") as SliceItem;
    const before = stored.get(sliceId("1d", Date.parse("2022-08-01T00:00:00Z"), "sales-0")) as SliceItem;
    expect(day.version).toBe(before.version); // the transaction's condition: nobody wrote it since
    expect(day.offset).toBe(11); // never moved back below what the slice applied
    expect(day.values.get("all#all")).toEqual({ orders: 3n, sales: 60n, min: 10n, max: 30n, late: 0n });
    expect(day.values.get("country#France")).toEqual({ orders: 2n, sales: 30n, min: 10n, max: 20n, late: 0n });
    expect(day.values.get("region#Europe")).toMatchObject({ orders: 2n, sales: 30n });
    expect(plan).toMatchObject({ closedWindows: 0, expiredWindows: 0, folded: 0 });
  });

  it("creates missing slices at the record's offset with the window's TTL", () => {
    const plan = planRedrive(redriven, new Map(), Number.NEGATIVE_INFINITY, settings, T0);
    const minute = plan.items.find((i) => i.window === "1m") as SliceItem;
    expect(minute).toMatchObject({ version: 0, offset: 4, expiresAt: (T0 + 60_000) / 1000 + 2 * 86_400 });
    expect(minute.values.get("all#all")).toEqual({ orders: 1n, sales: 10n, min: 10n, max: 10n, late: 0n });
  });

  it("amends closed windows (counted, never as late) and skips windows whose slices expired", () => {
    const stored = storedAfter([sale("France", "0.20")]);
    // Three days on, the watermark far ahead: every window is closed, the 1m slices have expired.
    const plan = planRedrive(redriven, stored, T0 + 72 * HOURS, settings, T0 + 72 * HOURS);
    expect(plan.expiredWindows).toBe(1);
    expect(plan.items.map((i) => i.window).sort()).toEqual(["10m/5m", "10m/5m", "1d", "1h"]);
    expect(plan.closedWindows).toBe(4);
    for (const item of plan.items) expect(item.values.get("all#all")).toMatchObject({ orders: 2n, sales: 30n, late: 0n });
  });

  it("folds a country into OTHER_COUNTRIES when the slice is full, as the aggregator does", () => {
    const full = storedAfter(Array.from({ length: 10 }, (_, i) => sale(`Country ${i}`, "1.00")));
    const plan = planRedrive(redriven, full, T0, settings, T0);
    const hour = plan.items.find((i) => i.window === "1h") as SliceItem;
    expect(hour.values.get("country#France")).toBeUndefined();
    expect(hour.values.get(`country#${OTHER_COUNTRIES}`)).toMatchObject({ orders: 1n, sales: 10n });
    expect(plan.folded).toBe(5);
  });
});

describe("the summary", () => {
  it("says when the queue was empty, and when nothing was applied", () => {
    expect(describeSummary(emptySummary())[0]).toBe("The dead-letter queue is empty: nothing to redrive.");
    const rerun = { ...emptySummary(), messages: 3, alreadyApplied: 3 };
    expect(describeSummary(rerun)).toEqual(
      expect.arrayContaining(["Nothing applied (3 messages looked at).", "applied: 0", "already applied (deleted): 3"]),
    );
  });

  it("lists still failing records by reason and non-records with what to do, and says how it keeps exactly once", () => {
    const summary = {
      ...emptySummary(),
      messages: 9,
      applied: 4,
      closedWindowsAmended: 2,
      stillFailing: { UNKNOWN_SCHEMA_VERSION: 2, CORRUPT_BODY: 1 },
      skipped: { "rollup stream batch": 2 },
      hints: { "rollup stream batch": "run npm run rollups" },
    };
    const lines = describeSummary(summary);
    expect(lines).toContain("still failing (left in the queue): 3 - CORRUPT_BODY 1, UNKNOWN_SCHEMA_VERSION 2");
    expect(lines).toContain("  2 rollup stream batch: run npm run rollups");
    expect(lines[0]).toMatch(/^applied: 4 \(closed windows amended: 2,/);
    expect(lines.at(-1)).toMatch(/at most once .*closed windows too/);
    expect(progressLine(summary)).toBe("9 messages: 4 applied, 0 already applied, 3 still failing, 2 not records");
  });
});
