import { randomUUID } from "node:crypto";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQueryStore } from "#functions/query/dynamodb-store";
import { leaderboard, type QueryDeps } from "#functions/query/query";
import { partitionOfKey } from "#shared/kafka/partitioner";
import type { Sale } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { createPrivateAggregatesTable, type EventRecordInput, kafkaEvent, localFunction, salesEncoders } from "#test/support/aggregates";

/**
 * Windows close on idle partitions and stay open on lagging ones, judged from the watermark items
 * the built AggregateFunction writes into DynamoDB Local, read back by the query core's real store.
 * The clock handed to the query is set from the batch times stored on the items, so nothing here
 * depends on how fast the machine is.
 */
const clients = localClients();
const PARTITIONS = 3;
const M = 60_000;
const topic = `closing-${randomUUID().slice(0, 6)}`;
const started = Date.now();
let table: { name: string; drop: () => Promise<void> };
let aggregateFn: LocalFunction;

/** A country Kafka's partitioner puts on `partition` (records are keyed by country). */
function countryOn(partition: number): string {
  for (const country of ["France", "Germany", "Spain", "Italy", "India", "Japan", "Kenya", "Brazil", "Canada", "Egypt", "Peru", "Chile"])
    if (partitionOfKey(country, PARTITIONS) === partition) return country;
  throw new Error(`no sample country on partition ${partition}`);
}
const reporting = countryOn(0);
const lagging = countryOn(1);
// Partition 2 receives nothing: idle from the start.

// The 1m window that holds the lagging partition's only sale.
const windowStart = Math.floor((started - 30 * M) / M) * M;
const at = new Date(windowStart + 1000).toISOString();
// Partition 0's last sale, the greatest watermark, lies in this one.
const lastWindowStart = Math.floor((started + 5 * M) / M) * M;

const sale = (country: string, time: number, id: number): Sale => ({
  payment_id: id,
  customer_id: 7,
  amount: "12.34",
  payment_date: time,
  city: null,
  district: null,
  country,
  channel: "web",
});

function deps(now: number): QueryDeps {
  return {
    store: createQueryStore(clients.dynamodb, table.name, topic, PARTITIONS),
    windows: parseWindows("1m,10m/5m,1h,1d,all"),
    allowedLatenessMs: 10 * M,
    idleTimeoutMs: 5 * M,
    partitions: PARTITIONS,
    maxSeriesWindows: 1500,
    now: () => now,
  };
}

let batchTimes: number[];

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb, { stream: false });
  aggregateFn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name });
  const encode = await salesEncoders();
  const sales = [
    // Partition 0: in the window, and then a sale well past its end + lateness: it has passed it.
    { partition: 0, sale: sale(reporting, windowStart + 2000, 1) },
    { partition: 0, sale: sale(reporting, started + 5 * M, 2) },
    // Partition 1: only the window's sale, so its watermark stays in the window: behind.
    { partition: 1, sale: sale(lagging, windowStart + 3000, 3) },
  ];
  const records: EventRecordInput[] = sales.map(({ partition, sale: s }, i) => ({
    partition,
    offset: i,
    value: encode(s, i),
    key: s.country,
  }));
  const outcome = await aggregateFn.invoke(kafkaEvent(topic, records));
  if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  const marks = await createQueryStore(clients.dynamodb, table.name, topic, PARTITIONS).watermarks();
  batchTimes = [0, 1].map((p) => {
    const batchAt = marks.get(p)?.lastBatchAt;
    if (batchAt === undefined) throw new Error(`partition ${p}'s watermark item carries no batch time`);
    return batchAt;
  });
  expect(marks.has(2)).toBe(false);
}, 180_000);

afterAll(async () => {
  await aggregateFn.stop();
  await table.drop();
});

describe("closing windows on DynamoDB Local: idle partitions do not hold them, lagging ones do", () => {
  it("records each partition's batch time on its watermark item, from the aggregator's own clock", () => {
    for (const batchAt of batchTimes) {
      expect(batchAt).toBeGreaterThanOrEqual(started);
      expect(batchAt).toBeLessThanOrEqual(Date.now());
    }
  });

  it("keeps the window open while the lagging partition still delivers, the empty partition not counting", async () => {
    // Just after the batch: partition 1 delivered a moment ago and has not passed the window.
    const now = Math.max(...batchTimes) + 1000;
    const board = await leaderboard({ dimension: "country", window: "1m", at }, deps(now));
    expect(board.window).toMatchObject({ start: new Date(windowStart).toISOString(), status: "open" });
    expect(board.completeness).toMatchObject({ partitions: 3, reporting: 1, lagging: 1, idle: 1, waitingFor: 1 });
    expect(board.completeness.leastWatermark).toBe(new Date(windowStart + 3000).toISOString());
    expect(board.entries.map((e) => [e.value, e.orders, e.sales])).toEqual(
      [
        [lagging, 1, "12.34"],
        [reporting, 1, "12.34"],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // The latest closed window is older than the lagging partition's watermark minus the lateness.
    const final = await leaderboard({ dimension: "country", window: "1m", final: "true" }, deps(now));
    expect(Date.parse(final.window.start)).toBeLessThan(windowStart);
    expect(final.window.status).toBe("closed");
  });

  it("closes the window once the lagging partition has gone idle too, lateness + idle timeout after its end", async () => {
    // Every partition idle, and partition 0's last window (the latest with figures) past its end + lateness + idle timeout too.
    const now = Math.max(Math.max(...batchTimes) + 5 * M, lastWindowStart + M + 15 * M);
    const board = await leaderboard({ dimension: "country", window: "1m", at }, deps(now));
    expect(board.window.status).toBe("closed");
    expect(board.completeness).toMatchObject({ reporting: 0, lagging: 0, idle: 3, waitingFor: 0 });
    // Now final=true answers it: the latest closed window that has figures (none after partition 0's last sale has any).
    const final = await leaderboard({ dimension: "country", window: "1m", final: "true" }, deps(now));
    expect(final.window).toMatchObject({ start: new Date(lastWindowStart).toISOString(), status: "closed" });
    expect(final.entries.map((e) => e.value)).toEqual([reporting]);
  });

  it("answers the latest window that has figures by default, open, and the current one for all time", async () => {
    const now = Math.max(...batchTimes) + 1000;
    const board = await leaderboard({ dimension: "all", window: "1m" }, deps(now));
    expect(board.window).toMatchObject({ start: new Date(lastWindowStart).toISOString(), status: "open" });
    expect(board.entries).toMatchObject([{ value: "all", orders: 1, sales: "12.34" }]);
    const allTime = await leaderboard({ dimension: "all", window: "all" }, deps(now));
    expect(allTime.window).toMatchObject({ start: "1970-01-01T00:00:00.000Z", end: null, status: "open" });
    expect(allTime.entries).toMatchObject([{ value: "all", orders: 3, sales: "37.02" }]);
  });
});
