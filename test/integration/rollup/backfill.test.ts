import { randomUUID } from "node:crypto";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillRollups } from "#functions/rollup/backfill";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { createPrivateAggregatesTable, kafkaEvent, keyedRecords, localFunction, salesEncoders } from "#test/support/aggregates";
import { expectedFromSlices, rollupFigures } from "#test/support/rollups";
import { sampleSales } from "#tools/sales/generator";

/**
 * `npm run rollups` on a table whose slices were written with no rollup function running (a stack
 * deployed before it): afterwards every window instance has its rollup, equal to its slices.
 */
const clients = localClients();
const PARTITIONS = 3;
let table: { name: string; drop: () => Promise<void> };
let aggregateFn: LocalFunction;

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb, { stream: false });
  aggregateFn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name });
  const encode = await salesEncoders();
  const sales = sampleSales(300, { seed: 52, startMs: Date.UTC(2022, 7, 2, 8), meanGapMs: 30_000, unknownCountryShare: 0 });
  const records = keyedRecords(sales, PARTITIONS, encode);
  const outcome = await aggregateFn.invoke(kafkaEvent(`backfill-${randomUUID().slice(0, 6)}`, records));
  if (!outcome.ok) throw new Error(outcome.error.errorMessage);
}, 120_000);

afterAll(async () => {
  await aggregateFn.stop();
  await table.drop();
});

describe("backfilling rollups (npm run rollups)", () => {
  it("writes every window instance's rollup from its slices, and nothing more when run again", async () => {
    expect(await rollupFigures(clients.dynamodb, table.name)).toEqual({});
    const store = createRollupStore(clients.dynamodb, table.name, PARTITIONS);
    const first = await backfillRollups(store, { partitions: PARTITIONS, pageSize: 100 });
    const expected = await expectedFromSlices(clients.dynamodb, table.name);
    expect(Object.keys(expected).length).toBeGreaterThan(50);
    expect(await rollupFigures(clients.dynamodb, table.name)).toEqual(expected);
    expect(first).toMatchObject({ failedWindows: 0, written: Object.keys(expected).length });

    const again = await backfillRollups(store, { partitions: PARTITIONS });
    expect(again).toMatchObject({ slices: first.slices, written: 0, failedWindows: 0 });
    expect(again.stale).toBe(Object.keys(expected).length);
  });
});
