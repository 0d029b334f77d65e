import { describe, expect, it } from "vitest";
import { type RollupStore, rollUp, rollupOf, type WindowRef } from "#functions/rollup/rollup";
import type { Metrics } from "#shared/aggregates/metrics";
import { parseSliceId, type RollupItem, type SliceTotals, sliceId, splitTopicPartition, type TableChange } from "#shared/aggregates/slices";
import { marshalRollup, marshalSlice, rollupReadItem, tableChangeOf } from "#shared/aggregates/table";
import { DependencyError, DependencyErrorCode, InvariantError } from "#shared/errors/internal-errors";
import { RecordError, RecordErrorCode } from "#shared/errors/record-error";

const T0 = Date.parse("2022-08-01T10:15:00Z");
const m = (orders: number, cents: number, extremes: [number, number] = [cents, cents]): Metrics => ({
  orders: BigInt(orders),
  sales: BigInt(cents),
  min: BigInt(extremes[0]),
  max: BigInt(extremes[1]),
  late: 0n,
});
const totals = (version: number, values: Record<string, Metrics>, expiresAt: number | undefined = 1_000): SliceTotals => ({
  end: T0 + 60_000,
  version: BigInt(version),
  values: new Map(Object.entries(values)),
  expiresAt,
});
let sequence = 0;
/** A stream record of a slice write, decoded as the handler decodes it. */
const record = (window: string, start: number, tp: string, eventName = "MODIFY"): TableChange =>
  tableChangeOf({ eventName, sequenceNumber: String(++sequence), keys: { pk: { S: sliceId(window, start, tp) }, sk: { S: "slice" } } });

/** Slices by window instance and partition, and rollups stored the way the DynamoDB store keeps them (largest `seen`). */
function memoryStore() {
  const slices = new Map<string, SliceTotals[]>();
  const rollups = new Map<string, RollupItem>();
  const reads: WindowRef[] = [];
  const groups: number[] = [];
  /** Window instances whose read throws, and what it throws. */
  const failing = new Map<string, () => unknown>();
  /** Window instances whose rollup write throws, and what it throws. */
  const failingPuts = new Map<string, () => unknown>();
  const id = (window: string, start: number) => `${window}@${start}`;
  const store: RollupStore = {
    async slices(refs) {
      groups.push(refs.length);
      reads.push(...refs);
      for (const ref of refs) {
        const failure = failing.get(id(ref.window, ref.start));
        if (failure !== undefined) throw failure();
      }
      return refs.map((ref) => ({ slices: slices.get(id(ref.window, ref.start)) ?? [], partitions: 4 }));
    },
    async put(rollup) {
      const failure = failingPuts.get(id(rollup.window, rollup.start));
      if (failure !== undefined) throw failure();
      const stored = rollups.get(id(rollup.window, rollup.start));
      if (stored !== undefined && (stored.seen >= rollup.seen || stored.partitions > rollup.partitions)) return "stale";
      rollups.set(id(rollup.window, rollup.start), rollup);
      return "written";
    },
  };
  return { store, slices, rollups, reads, groups, failing, failingPuts, id };
}

describe("rollupOf", () => {
  it("adds every partition's region and overall figures to the cent, keeps min and max, and sums slice versions", () => {
    const rollup = rollupOf(
      { window: "1m", start: T0 },
      [
        totals(3, { "region#Europe": m(2, 1999, [499, 1500]), "all#all": m(2, 1999, [499, 1500]) }, 2_000),
        totals(5, { "region#Europe": m(1, 1, [1, 1]), "region#Asia": m(4, 40000), "all#all": m(5, 40001, [1, 40000]) }, 3_000),
      ],
      6,
    );
    expect(rollup.values.get("region#Europe")).toEqual(m(3, 2000, [1, 1500]));
    expect(rollup.values.get("region#Asia")).toEqual(m(4, 40000));
    expect(rollup.values.get("all#all")).toEqual(m(7, 42000, [1, 40000]));
    expect(rollup).toMatchObject({ seen: 8n, slices: 2, partitions: 6, expiresAt: 3_000, end: T0 + 60_000 });
  });

  it("stores region and overall figures only", () => {
    const rollup = rollupOf({ window: "1m", start: T0 }, [totals(1, { "all#all": m(1, 100) })], 1);
    expect(marshalRollup(rollup).a?.M?.all?.M?.s).toEqual({ N: "1.00" });
    expect(() => marshalRollup({ ...rollup, values: new Map([["country#France", m(1, 100)]]) })).toThrow(
      'value key "country#France" names no dimension of r, a',
    );
  });

  it("keeps the window (no expiry) when any slice of it has none", () => {
    expect(
      rollupOf({ window: "1d", start: T0 }, [totals(1, {}, 5), { ...totals(1, {}), expiresAt: undefined }], 4).expiresAt,
    ).toBeUndefined();
  });

  it("refuses a window with no slices", () => {
    expect(() => rollupOf({ window: "1m", start: T0 }, [], 4)).toThrow(/has no slices/);
  });
});

describe("rollupReadItem", () => {
  it("reads the region and overall figures of a projected slice, leaving countries out", () => {
    const attributes = marshalSlice({
      window: "1m",
      start: T0,
      end: T0 + 60_000,
      topicPartition: "sales-2",
      version: 4,
      offset: 10,
      values: new Map([
        ["country#France", m(1, 100)],
        ["region#Europe", m(1, 100)],
        ["all#all", m(1, 100)],
      ]),
      expiresAt: 99,
    });
    const read = rollupReadItem(attributes);
    if (read?.kind !== "slice") throw new TypeError(`read a ${read?.kind} item`);
    expect(read.ref).toEqual({ window: "1m", start: T0, topicPartition: "sales-2" });
    expect([...read.totals.values.keys()]).toEqual(["region#Europe", "all#all"]);
    expect(read.totals).toMatchObject({ version: 4n, end: T0 + 60_000, expiresAt: 99 });
  });
});

describe("slice keys", () => {
  it("reads a slice's window, start and partition back from its key, and nothing from other keys", () => {
    expect(parseSliceId(sliceId("10m/5m", T0, "my.topic-name-11"))).toEqual({
      window: "10m/5m",
      start: T0,
      topicPartition: "my.topic-name-11",
    });
    expect(splitTopicPartition("my.topic-name-11")).toEqual({ topic: "my.topic-name-11".slice(0, -3), partition: 11 });
    for (const pk of [
      "watermark#sales-1",
      "series#1m",
      "1m#2022-08-01T10:15:00Z#sales-1",
      "1m#not-a-date#sales-1",
      "1m#2022-08-01T10:15:00.000Z#sales",
      "#2022-08-01T10:15:00.000Z#sales-1",
    ])
      expect(parseSliceId(pk), pk).toBeUndefined();
  });
});

describe("rollUp", () => {
  it("reads each window instance a batch touched once, however many partitions' records name it", async () => {
    const { store, slices, rollups, reads, id } = memoryStore();
    slices.set(id("1m", T0), [totals(1, { "all#all": m(1, 100) }), totals(2, { "all#all": m(2, 250) })]);
    slices.set(id("1h", T0), [totals(1, { "all#all": m(3, 350) })]);
    const records = [record("1m", T0, "sales-0"), record("1m", T0, "sales-4"), record("1h", T0, "sales-0"), record("1m", T0, "sales-0")];
    const { summary, retryFrom } = await rollUp(records, store);
    expect(reads.map((r) => `${r.window}/${r.topic}/${r.partitionsSeen}`).sort()).toEqual(["1h/sales/1", "1m/sales/5"]);
    expect(summary).toMatchObject({ records: 4, skipped: 0, windows: 2, written: 2, stale: 0, failedWindows: 0 });
    expect(retryFrom).toBeUndefined();
    expect(rollups.get(id("1m", T0))?.values.get("all#all")).toEqual({ ...m(3, 350), min: 100n, max: 250n });
  });

  it("reads windows in groups of windowsPerRead, concurrency groups at a time", async () => {
    const { store, slices, groups, rollups, id } = memoryStore();
    const records = Array.from({ length: 7 }, (_, i) => record("1m", T0 + i * 60_000, "sales-0"));
    for (let i = 0; i < 7; i++) slices.set(id("1m", T0 + i * 60_000), [totals(1, { "all#all": m(1, i) })]);
    const { summary } = await rollUp(records, store, { windowsPerRead: 3, concurrency: 2 });
    expect(groups).toEqual([3, 3, 1]);
    expect(summary).toMatchObject({ windows: 7, written: 7 });
    expect([...rollups.values()].map((r) => r.values.get("all#all")?.sales).sort()).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  });

  it("skips expiries, watermarks and its own rollups, counting them", async () => {
    const { store, reads } = memoryStore();
    const { summary } = await rollUp(
      [
        record("1m", T0, "sales-0", "REMOVE"),
        ...[
          { sequenceNumber: "1", keys: { pk: { S: "watermark#sales-0" }, sk: { S: "watermark" } } },
          { sequenceNumber: "2", keys: { pk: { S: "series#1m" }, sk: { S: new Date(T0).toISOString() } } },
          { sequenceNumber: "3", keys: { pk: { S: "not a slice" }, sk: { S: "slice" } } },
        ].map(tableChangeOf),
      ],
      store,
    );
    expect(summary).toMatchObject({ records: 4, skipped: 4, windows: 0, written: 0 });
    expect(reads).toHaveLength(0);
  });

  it("changes nothing when a batch comes again, and never lets an earlier read overwrite a later one", async () => {
    const { store, slices, rollups, id } = memoryStore();
    slices.set(id("1m", T0), [totals(1, { "all#all": m(1, 100) })]);
    const batch = [record("1m", T0, "sales-0")];
    await rollUp(batch, store);
    slices.set(id("1m", T0), [totals(2, { "all#all": m(2, 300) }), totals(1, { "all#all": m(1, 1) })]);
    expect((await rollUp(batch, store)).summary.written).toBe(1);
    const latest = rollups.get(id("1m", T0));
    expect((await rollUp(batch, store)).summary).toMatchObject({ written: 0, stale: 1 });
    // A slow invocation that read the slices before the last write comes in after it.
    expect(await store.put(rollupOf({ window: "1m", start: T0 }, [totals(1, { "all#all": m(1, 100) })], 4))).toBe("stale");
    expect(rollups.get(id("1m", T0))).toBe(latest);
    expect(latest?.values.get("all#all")?.sales).toBe(301n);
  });

  it("writes what it can when a window fails on a data error, and resumes from the failed window's first record (sequence numbers compared as numbers)", async () => {
    const { store, slices, rollups, failing, id } = memoryStore();
    slices.set(id("1m", T0), [totals(1, { "all#all": m(1, 100) })]);
    slices.set(id("1h", T0), [totals(1, { "all#all": m(1, 100) })]);
    failing.set(id("1h", T0), () => new RecordError(RecordErrorCode.outOfRange, "a slice whose window no figure can hold"));
    const records: TableChange[] = [
      { ...record("1m", T0, "sales-0"), sequenceNumber: "900" },
      { ...record("1h", T0, "sales-1"), sequenceNumber: "1000" },
      { ...record("1h", T0, "sales-0"), sequenceNumber: "999" },
    ];
    const errors: string[] = [];
    const { summary, retryFrom } = await rollUp(records, store, { onError: (ref) => errors.push(ref.window) });
    expect(summary).toMatchObject({ windows: 2, written: 1, failedWindows: 1 });
    expect(retryFrom).toBe("999");
    expect(errors).toEqual(["1h"]);
    expect(rollups.has(id("1m", T0))).toBe(true);
  });

  it("fails the whole batch on a retriable error (DynamoDB throttled past its retries): it throws it, and starts no further read", async () => {
    const { store, slices, failing, reads, id } = memoryStore();
    for (const window of ["1m", "1h", "1d"]) slices.set(id(window, T0), [totals(1, { "all#all": m(1, 100) })]);
    const throttled = new DependencyError(DependencyErrorCode.dynamodbUnprocessed, "DynamoDB left 3 keys unprocessed after 9 attempts");
    failing.set(id("1m", T0), () => throttled);
    const errors: string[] = [];
    const records = ["1m", "1h", "1d"].map((window) => record(window, T0, "sales-0"));
    // One group at a time: the failed first group stops the others.
    await expect(rollUp(records, store, { concurrency: 1, onError: (ref) => errors.push(ref.window) })).rejects.toBe(throttled);
    expect(reads.map((ref) => ref.window)).toEqual(["1m"]);
    expect(errors).toEqual(["1m"]);
  });

  it("fails the whole batch on a bug (a TypeError while writing), in preference to a retriable error met beside it", async () => {
    const { store, slices, failing, failingPuts, rollups, id } = memoryStore();
    for (const window of ["1m", "1h", "1d"]) slices.set(id(window, T0), [totals(1, { "all#all": m(1, 100) })]);
    const bug = new TypeError("Cannot read properties of undefined (reading 'sales')");
    failing.set(id("1m", T0), () => new DependencyError(DependencyErrorCode.dynamodbUnprocessed, "unprocessed"));
    failingPuts.set(id("1h", T0), () => bug);
    const records = ["1m", "1h", "1d"].map((window) => record(window, T0, "sales-0"));
    // Windows read one per group, all groups at once: the 1m read fails, the 1h write throws the bug, the 1d one is written.
    await expect(rollUp(records, store, { concurrency: 3 })).rejects.toBe(bug);
    expect(rollups.has(id("1d", T0))).toBe(true);
  });

  it("never sets a window aside for an InvariantError (an item nobody asked for): it is thrown, not a batch item failure", async () => {
    const { store, failing, id } = memoryStore();
    failing.set(id("1m", T0), () => new InvariantError("DynamoDB answered an item that was not asked for (pk x)"));
    await expect(rollUp([record("1m", T0, "sales-0")], store)).rejects.toBeInstanceOf(InvariantError);
  });

  it("writes nothing for a window whose slices have all expired since", async () => {
    const { store, rollups } = memoryStore();
    const { summary } = await rollUp([record("1m", T0, "sales-0")], store);
    expect(summary).toMatchObject({ windows: 1, written: 0, stale: 0, failedWindows: 0 });
    expect(rollups.size).toBe(0);
  });
});
