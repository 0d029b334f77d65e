import { randomUUID } from "node:crypto";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import type { DynamoDbStreamEventSourceMapping } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { rollupOf } from "#functions/rollup/rollup";
import { centsOf, formatCents } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import {
  createPrivateAggregatesTable,
  type EventRecordInput,
  getEvent,
  kafkaEvent,
  keyedRecords,
  localFunction,
  salesEncoders,
} from "#test/support/aggregates";
import { createPrivateQueue, type PrivateQueue } from "#test/support/queues";
import { expectedFromSlices, rollupFigures } from "#test/support/rollups";
import { startStreamMapping } from "#test/support/streams";
import { sampleSales } from "#tools/sales/generator";

/**
 * RollupFunction on its real trigger: the private aggregates table's stream on DynamoDB Local,
 * read by the template's mapping (filter, batching, partial failures) while the built aggregator
 * writes slices from four partitions.
 */
const clients = localClients();
const PARTITIONS = 4;
const T0 = Date.UTC(2022, 7, 1, 10, 0);
const topic = `rollup-${randomUUID().slice(0, 6)}`;
let table: { name: string; drop: () => Promise<void> };
let queue: PrivateQueue;
let aggregateFn: LocalFunction;
let rollupFn: LocalFunction;
let queryFn: LocalFunction;
const rollupLogs: string[] = [];
const mappings: DynamoDbStreamEventSourceMapping[] = [];
let sales: Sale[];

/** Written, stale and record counts the rollup logged since line `from`. */
function rollupCounts(from: number) {
  const lines = rollupLogs
    .slice(from)
    .filter((line) => line.includes('"slice changes rolled up"'))
    .map((line) => JSON.parse(line) as { written: number; stale: number; failedWindows: number });
  return {
    written: lines.reduce((n, l) => n + l.written, 0),
    stale: lines.reduce((n, l) => n + l.stale, 0),
    failed: lines.reduce((n, l) => n + l.failedWindows, 0),
  };
}

const startRollups = async () => {
  const mapping = await startStreamMapping("RollupFunction", table.name, rollupFn, clients, {
    overrides: { onFailureQueue: queue.name },
  });
  mappings.push(mapping);
  return mapping;
};

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb);
  queue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  aggregateFn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name });
  rollupFn = localFunction("RollupFunction", { AGGREGATES_TABLE: table.name, SALES_TOPIC_PARTITIONS: String(PARTITIONS) }, rollupLogs);
  queryFn = localFunction("QueryFunction", {
    AGGREGATES_TABLE: table.name,
    SALES_TOPIC: topic,
    SALES_TOPIC_PARTITIONS: String(PARTITIONS),
  });
  const encode = await salesEncoders();
  sales = sampleSales(800, { seed: 41, startMs: T0, meanGapMs: 13_500, unknownCountryShare: 0 });
  const byPartition: EventRecordInput[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const record of keyedRecords(sales, PARTITIONS, encode)) byPartition[record.partition]?.push(record);
  expect(byPartition.filter((records) => records.length > 0)).toHaveLength(PARTITIONS);

  // One mapping polls from the start; a second one joins half-way (two pollers of one stream, as
  // two shards' invocations or a retried batch overlap on AWS) and reads from the trim horizon.
  await startRollups();
  const rounds = Math.max(...byPartition.map((records) => Math.ceil(records.length / 50)));
  for (let round = 0; round < rounds; round++) {
    if (round === Math.floor(rounds / 2)) await startRollups();
    // Every partition's next batch of 50, in its own invocation, as the Kafka mapping delivers them.
    for (const records of byPartition) {
      const batch = records.slice(round * 50, round * 50 + 50);
      if (batch.length === 0) continue;
      const outcome = await aggregateFn.invoke(kafkaEvent(topic, batch));
      if (!outcome.ok) throw new Error(outcome.error.errorMessage);
    }
  }
  await Promise.all(mappings.map((mapping) => mapping.drain()));
}, 300_000);

afterAll(async () => {
  await Promise.all(mappings.splice(0).map((mapping) => mapping.stop()));
  await Promise.all([aggregateFn.stop(), rollupFn.stop(), queryFn.stop()]);
  await table.drop();
  await queue.drop();
});

describe("RollupFunction on the aggregates table's stream", () => {
  it("holds, for every window instance, every partition's region and overall figures added up to the cent", async () => {
    const expected = await expectedFromSlices(clients.dynamodb, table.name);
    expect(Object.keys(expected).length).toBeGreaterThan(100);
    expect(await rollupFigures(clients.dynamodb, table.name)).toEqual(expected);
    expect(rollupCounts(0).failed).toBe(0);
    for (const mapping of mappings) expect(mapping.stats.sentToDestination).toBe(0);
  });

  it("changes no rollup when the whole stream is replayed, and writes none (each is already the latest read)", async () => {
    const before = await rollupFigures(clients.dynamodb, table.name);
    const from = rollupLogs.length;
    const replay = await startRollups();
    await replay.drain();
    expect(replay.stats.records).toBeGreaterThan(0);
    expect(await rollupFigures(clients.dynamodb, table.name)).toEqual(before);
    const counts = rollupCounts(from);
    expect(counts.written).toBe(0);
    expect(counts.stale).toBeGreaterThan(0);
  });

  it("never lets a rollup over fewer partitions replace one over more, whatever its sum of versions (DynamoDB's condition)", async () => {
    const store = createRollupStore(clients.dynamodb, table.name, 2);
    const ref = { window: "1d", start: Date.UTC(2022, 7, 1), topic, partitionsSeen: 1 };
    // The configured 2 partitions are not trusted: the stored rollup covered 4.
    const [read] = await store.slices([ref]);
    expect(read?.partitions).toBe(PARTITIONS);
    const rollup = rollupOf(ref, read?.slices ?? [], PARTITIONS);
    expect(await store.put({ ...rollup, seen: rollup.seen + 1_000n, partitions: 2 })).toBe("stale");
    expect(await store.put({ ...rollup, seen: rollup.seen + 1_000n })).toBe("written");
  });

  it("answers a region's and the overall hourly series through the query API, equal to the sales themselves", async () => {
    const range = { window: "1h", from: "2022-08-01T10:00:00Z", to: "2022-08-01T13:00:00Z" };
    const hourOf = (sale: Sale) => Math.floor((sale.payment_date - T0) / 3_600_000);
    for (const [dimension, value, keep] of [
      ["region", "Europe", (sale: Sale) => regionOf(sale.country) === "Europe"],
      ["all", "all", () => true],
    ] as const) {
      const outcome = await queryFn.invoke(getEvent(`/series/${dimension}/${value}`, range, { dimension, value }));
      if (!outcome.ok) throw new Error(outcome.error.errorMessage);
      const body = JSON.parse((outcome.result as { body: string }).body) as { windows: { orders: number; sales: string }[] };
      const hours = [0, 1, 2].map((hour) => sales.filter((sale) => keep(sale) && hourOf(sale) === hour));
      expect(hours.every((hour) => hour.length > 0)).toBe(true);
      expect(body.windows.map((w) => [w.orders, w.sales])).toEqual(
        hours.map((hour) => [hour.length, formatCents(BigInt(hour.reduce((sum, sale) => sum + centsOf(sale.amount), 0)))]),
      );
    }
  });
});
