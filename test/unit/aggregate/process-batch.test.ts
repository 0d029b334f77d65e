import { describe, expect, it } from "vitest";
import type { AggregationSettings } from "#functions/aggregate/aggregate";
import type { DeadLetter } from "#functions/aggregate/dead-letters";
import { type BatchDeps, type KafkaEventRecord, processBatch } from "#functions/aggregate/process-batch";
import { type SliceItem, type SliceRef, sliceId, type Watermark } from "#shared/aggregates/slices";
import { CodecError, RegistryUnavailableError } from "#shared/avro/errors";
import type { Sale } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";

const settings: AggregationSettings = {
  windows: parseWindows("1m,1h"),
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 100,
};
const T0 = Date.UTC(2022, 7, 1, 10);

/** Frames are JSON here; "bad:<code>" frames fail to decode with that code; "bug" frames hit a decoder bug. */
const decoder: BatchDeps["decoder"] = {
  load: async () => undefined,
  decode: (frame: Buffer) => {
    const text = frame.toString();
    if (text.startsWith("bad:")) throw new CodecError(text.slice(4) as never, `cannot decode: ${text}`);
    if (text === "bug") return (undefined as unknown as { sale: Sale }).sale; // a TypeError, as a real bug throws
    return JSON.parse(text) as Sale;
  },
};

function sale(country: string, amount: string, minute: number): Sale {
  return { payment_id: 1, customer_id: 1, amount, payment_date: T0 + minute * 60_000, city: null, district: null, country, channel: "web" };
}

function record(partition: number, offset: number, value: Sale | string | null): KafkaEventRecord {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return { topic: "sales", partition, offset, timestamp: 0, value: value === null ? null : Buffer.from(text).toString("base64") };
}

const batch = (records: KafkaEventRecord[]) => {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  for (const r of records) {
    grouped[`sales-${r.partition}`] ??= [];
    grouped[`sales-${r.partition}`]?.push(r);
  }
  return grouped;
};

/** An in-memory store with the DynamoDB store's semantics, and scripted trouble. */
function memoryStore(trouble: { conflictsBeforeWrite?: number; failWrites?: Error; failReads?: Error } = {}) {
  const slices = new Map<string, SliceItem>();
  const watermarks = new Map<string, Watermark>();
  let conflictsLeft = trouble.conflictsBeforeWrite ?? 0;
  const calls = { writes: 0, reads: 0 };
  const store: BatchDeps["store"] = {
    async readSlices(refs: readonly SliceRef[]) {
      calls.reads++;
      if (trouble.failReads) throw trouble.failReads;
      const found = new Map<string, SliceItem>();
      for (const r of refs) {
        const item = slices.get(sliceId(r.window, r.start, r.topicPartition));
        if (item) found.set(sliceId(r.window, r.start, r.topicPartition), item);
      }
      return found;
    },
    async writeSlice(item) {
      calls.writes++;
      if (trouble.failWrites) throw trouble.failWrites;
      const id = sliceId(item.window, item.start, item.topicPartition);
      if (conflictsLeft > 0) {
        conflictsLeft--;
        // Someone else wrote the slice meanwhile (a zombie retry of the same partition).
        slices.set(id, { ...item, version: item.version + 1, values: new Map(), offset: -1 });
        return "conflict";
      }
      if ((slices.get(id)?.version ?? 0) !== item.version) return "conflict";
      slices.set(id, { ...item, version: item.version + 1 });
      return "written";
    },
    async readWatermarks(tps) {
      return new Map(tps.flatMap((tp) => (watermarks.has(tp) ? [[tp, watermarks.get(tp) as Watermark]] : [])));
    },
    async writeWatermark(tp, wm) {
      watermarks.set(tp, wm);
    },
  };
  return { store, slices, watermarks, calls };
}

function deps(store: BatchDeps["store"], letters: DeadLetter[] = [], sendLetters?: () => Promise<unknown>): BatchDeps {
  return {
    decoder,
    store,
    settings,
    maxConflictRetries: 3,
    deadLetter: sendLetters ?? (async (l) => void letters.push(...l)),
  };
}

const hourOf = (m: ReturnType<typeof memoryStore>, tp: string) => m.slices.get(sliceId("1h", T0, tp))?.values;

describe("processBatch", () => {
  it("aggregates good records and dead-letters the bad ones with their reason, once", async () => {
    const m = memoryStore();
    const letters: DeadLetter[] = [];
    const records = [
      record(0, 5, sale("France", "1.10", 0)),
      record(0, 6, "bad:BAD_HEADER_VERSION"),
      record(0, 7, null),
      record(1, 3, sale("Japan", "2.00", 1)),
      record(1, 4, { ...sale("Japan", "1.00", 1), payment_date: 9e15 }),
    ];
    const summary = await processBatch(batch(records), deps(m.store, letters));
    expect(summary).toMatchObject({ records: 5, applied: 2, poison: 3, partitions: 2, conflicts: 0, advanced: 2 });
    expect(letters.map((l) => [l.partition, l.offset, l.reason.code])).toEqual([
      [0, 6, "BAD_HEADER_VERSION"],
      [0, 7, "EMPTY_VALUE"],
      [1, 4, "OUT_OF_RANGE"],
    ]);
    expect(hourOf(m, "sales-0")?.get("country#France")).toMatchObject({ orders: 1n, sales: 110n });
    expect(hourOf(m, "sales-1")?.get("all#all")).toMatchObject({ orders: 1n, sales: 200n });
    // Each watermark counts its partition's dead letters (what a redrive may still owe the figures).
    expect(m.watermarks.get("sales-0")).toEqual({ eventTime: T0, offset: 7, deadLettered: 2 });
    expect(m.watermarks.get("sales-1")).toMatchObject({ deadLettered: 1 });

    // Redelivered: nothing applied again, no dead letter sent or counted twice.
    const again = await processBatch(batch(records), deps(m.store, letters));
    expect(again).toMatchObject({ records: 5, applied: 0, duplicates: 5, poison: 0, advanced: 0 });
    expect(letters).toHaveLength(3);
    expect(m.watermarks.get("sales-0")).toMatchObject({ deadLettered: 2 });
    expect(m.watermarks.get("sales-1")).toMatchObject({ deadLettered: 1 });

    // A redelivery that reaches one new record on one partition moves that partition's watermark only.
    const longer = await processBatch(batch([...records, record(1, 5, sale("Japan", "4.00", 1))]), deps(m.store, letters));
    expect(longer).toMatchObject({ applied: 1, duplicates: 5, advanced: 1 });
  });

  it("never applies a dead-lettered record on a redelivery, even once it decodes: that is the redrive's, which marks it", async () => {
    const m = memoryStore();
    const letters: DeadLetter[] = [];
    const late = sale("Chile", "3.00", 2);
    await processBatch(batch([record(0, 1, sale("Chile", "1.00", 1)), record(0, 2, "bad:UNKNOWN_SCHEMA_VERSION")]), deps(m.store, letters));
    expect(letters).toHaveLength(1);
    // The schema is registered now, and the mapping redelivers the batch: offset 2 decodes.
    const again = await processBatch(batch([record(0, 1, sale("Chile", "1.00", 1)), record(0, 2, late)]), deps(m.store, letters));
    expect(again).toMatchObject({ applied: 0, duplicates: 2, poison: 0 });
    expect(hourOf(m, "sales-0")?.get("country#Chile")).toMatchObject({ orders: 1n, sales: 100n });
    expect(m.watermarks.get("sales-0")).toMatchObject({ offset: 2, deadLettered: 1 });
  });

  it("fails the batch on a bug-type error (a TypeError from the decoder): nothing dead-lettered, nothing written", async () => {
    const m = memoryStore();
    const letters: DeadLetter[] = [];
    const records = [record(0, 1, sale("France", "1.00", 0)), record(0, 2, "bad:CORRUPT_BODY"), record(0, 3, "bug")];
    await expect(processBatch(batch(records), deps(m.store, letters))).rejects.toBeInstanceOf(TypeError);
    expect(letters).toEqual([]);
    expect(m.calls.writes).toBe(0);
    expect(m.watermarks.size).toBe(0);
  });

  it("dead-letters an amount that is not exact cents with its own reason, not as a bug", async () => {
    const letters: DeadLetter[] = [];
    const summary = await processBatch(batch([record(0, 1, sale("France", "1.5", 0))]), deps(memoryStore().store, letters));
    expect(summary).toMatchObject({ applied: 0, poison: 1 });
    expect(letters.map((l) => l.reason.code)).toEqual(["INVALID_DECIMAL"]);
  });

  it("re-reads and re-merges a slice that someone wrote meanwhile, and counts the conflict", async () => {
    const m = memoryStore({ conflictsBeforeWrite: 1 });
    const summary = await processBatch(batch([record(0, 1, sale("France", "3.00", 0))]), deps(m.store));
    expect(summary.conflicts).toBe(1);
    expect(summary.itemsWritten).toBe(2);
    expect(hourOf(m, "sales-0")?.get("country#France")).toMatchObject({ orders: 1n, sales: 300n });
  });

  it("gives up after maxConflictRetries attempts with a retriable error naming the slices", async () => {
    const m = memoryStore({ conflictsBeforeWrite: 1000 });
    const error = await processBatch(batch([record(0, 1, sale("France", "3.00", 0))]), deps(m.store)).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "WRITE_CONFLICT",
      retriable: true,
      message: expect.stringMatching(/2 slices kept changing under 3 write attempts/),
    });
  });

  it("fails the batch (so the mapping retries it) when DynamoDB throttles, SQS refuses or the registry is down", async () => {
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "ProvisionedThroughputExceededException" });
    await expect(
      processBatch(batch([record(0, 1, sale("France", "1.00", 0))]), deps(memoryStore({ failWrites: throttled }).store)),
    ).rejects.toBe(throttled);
    await expect(
      processBatch(batch([record(0, 1, sale("France", "1.00", 0))]), deps(memoryStore({ failReads: throttled }).store)),
    ).rejects.toBe(throttled);

    const refused = new Error("SQS refused 1 dead letters: InvalidMessageContents");
    const m = memoryStore();
    await expect(
      processBatch(
        batch([record(0, 1, sale("France", "1.00", 0)), record(0, 2, "bad:CORRUPT_BODY")]),
        deps(m.store, [], () => Promise.reject(refused)),
      ),
    ).rejects.toBe(refused);
    // Nothing was written before the dead letters were safe: the retry starts clean.
    expect(m.calls.writes).toBe(0);

    const down = new RegistryUnavailableError("Glue unreachable", new Error("ECONNREFUSED"));
    await expect(
      processBatch(batch([record(0, 1, sale("France", "1.00", 0))]), {
        ...deps(memoryStore().store),
        decoder: { ...decoder, load: () => Promise.reject(down) },
      }),
    ).rejects.toBe(down);
  });
});
