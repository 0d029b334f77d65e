import { randomUUID } from "node:crypto";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillRollups } from "#functions/rollup/backfill";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { centsOf, formatCents } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import { createPrivateAggregatesTable, getEvent, kafkaEvent, keyedRecords, localFunction, salesEncoders } from "#test/support/aggregates";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
const PARTITIONS = 6;
const topic = `bq-${randomUUID().slice(0, 6)}`;
const countries = [
  "France",
  "Germany",
  "Spain",
  "Italy",
  "India",
  "Japan",
  "United States",
  "Canada",
  "Brazil",
  "Kenya",
  "Egypt",
  "Israel",
  // Kafka's partitioner puts none of the above on partition 1; a window closes only once every
  // partition has moved past it, so the month needs a country there.
  "Australia",
];
const promotion = { from: Date.UTC(2022, 7, 12, 14), to: Date.UTC(2022, 7, 12, 18) };
let table: { name: string; drop: () => Promise<void> };
let aggregateFn: LocalFunction;
let queryFn: LocalFunction;
let sales: Sale[];

/** A month of sales (August 2022) plus a US promotion burst, in event-time order. */
function dataset(): Sale[] {
  const month = sampleSales(6000, {
    seed: 31,
    startMs: Date.UTC(2022, 7, 1),
    meanGapMs: 440_000,
    countries,
    unknownCountryShare: 0,
  }).filter((s) => s.payment_date < Date.UTC(2022, 8, 1));
  const burst = sampleSales(130, {
    seed: 32,
    startMs: promotion.from - 60_000,
    meanGapMs: 120_000,
    countries: ["United States"],
    unknownCountryShare: 0,
    firstPaymentId: 900_000,
  });
  return [...month, ...burst].sort((a, b) => a.payment_date - b.payment_date);
}

const sumCents = (items: Sale[]) => items.reduce((total, s) => total + centsOf(s.amount), 0);
const between = (s: Sale, from: number, to: number) => s.payment_date >= from && s.payment_date < to;

async function query(path: string, parameters: Record<string, string>, pathParameters: Record<string, string>) {
  const outcome = await queryFn.invoke(getEvent(path, parameters, pathParameters));
  if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  const response = outcome.result as { statusCode: number; body: string };
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body);
}

beforeAll(async () => {
  // No stream: the month's rollups are backfilled below (DynamoDB Local's stream emulation slows
  // every write several times, and this month is 20,000 slice writes).
  table = await createPrivateAggregatesTable(clients.dynamodb, { stream: false });
  aggregateFn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name });
  queryFn = localFunction("QueryFunction", {
    AGGREGATES_TABLE: table.name,
    SALES_TOPIC: topic,
    SALES_TOPIC_PARTITIONS: String(PARTITIONS),
    // However long the rollups below take on a busy machine, no partition turns idle before the
    // queries (an idle partition would close every August window on the wall clock).
    IDLE_TIMEOUT: "1d",
  });
  const encode = await salesEncoders();
  sales = dataset();
  // Keyed by country as the producer does (Kafka's default partitioner): each country on one partition, in order.
  const records = keyedRecords(sales, PARTITIONS, encode);
  for (let i = 0; i < records.length; i += 1000) {
    const outcome = await aggregateFn.invoke(kafkaEvent(topic, records.slice(i, i + 1000)));
    if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  }
  // Region and overall series are rollups; here they are written by `npm run rollups`' core (the
  // same code RollupFunction runs; the stream path itself is test/integration/rollup/rollup.test.ts).
  const started = Date.now();
  const rolled = await backfillRollups(createRollupStore(clients.dynamodb, table.name, PARTITIONS), {
    partitions: PARTITIONS,
  });
  if (rolled.failedWindows > 0) throw new Error(`${rolled.failedWindows} windows failed to roll up`);
  console.log(`rolled up ${rolled.slices} slices into ${rolled.written} rollups in ${Date.now() - started} ms`);
}, 600_000);

afterAll(async () => {
  await Promise.all([aggregateFn.stop(), queryFn.stop()]);
  await table.drop();
});

describe("the business questions, answered by the query API on a seeded month", () => {
  const august = { from: "2022-08-01T00:00:00Z", to: "2022-09-01T00:00:00Z" };

  it("India in August: orders and sales to the cent, day by day", async () => {
    const india = sales.filter((s) => s.country === "India");
    const result = await query("/series/country/India", { window: "1d", ...august }, { dimension: "country", value: "India" });
    expect(result.windows).toHaveLength(31);
    expect(result.total.orders).toBe(india.length);
    expect(result.total.sales).toBe(formatCents(sumCents(india)));
    const fifth = india.filter((s) => between(s, Date.UTC(2022, 7, 5), Date.UTC(2022, 7, 6)));
    expect(result.windows[4]).toMatchObject({
      start: "2022-08-05T00:00:00.000Z",
      orders: fifth.length,
      sales: formatCents(sumCents(fifth)),
    });
  });

  it("France against the rest of Europe in August", async () => {
    const france = sales.filter((s) => s.country === "France");
    const restOfEurope = sales.filter((s) => regionOf(s.country) === "Europe" && s.country !== "France");
    const [fr, europe] = await Promise.all([
      query("/series/country/France", { window: "1d", ...august }, { dimension: "country", value: "France" }),
      query("/series/region/Europe", { window: "1d", ...august }, { dimension: "region", value: "Europe" }),
    ]);
    expect(fr.total.sales).toBe(formatCents(sumCents(france)));
    expect(BigInt(centsOf(europe.total.sales)) - BigInt(centsOf(fr.total.sales))).toBe(BigInt(sumCents(restOfEurope)));
    expect(europe.total.orders - fr.total.orders).toBe(restOfEurope.length);
  });

  it("the United States during a 4-hour promotion, in hours and in minutes alike", async () => {
    const us = sales.filter((s) => s.country === "United States" && between(s, promotion.from, promotion.to));
    expect(us.length).toBeGreaterThan(100);
    const range = { from: new Date(promotion.from).toISOString(), to: new Date(promotion.to).toISOString() };
    const [hours, minutes] = await Promise.all([
      query("/series/country/United%20States", { window: "1h", ...range }, { dimension: "country", value: "United States" }),
      query("/series/country/United%20States", { window: "1m", ...range }, { dimension: "country", value: "United States" }),
    ]);
    expect(hours.windows).toHaveLength(4);
    expect(minutes.windows).toHaveLength(240);
    for (const result of [hours, minutes]) expect(result.total).toMatchObject({ orders: us.length, sales: formatCents(sumCents(us)) });
  });

  it("top countries in the last closed 10 minutes (final=true)", async () => {
    // Independently: the window closes once every partition's max event time is 10 min past its end
    // (every partition has just delivered a batch, so none is idle).
    const lastByPartition = new Map<number, number>();
    for (const s of sales) lastByPartition.set(partitionOfKey(s.country, PARTITIONS), s.payment_date);
    const closedUntil = Math.min(...lastByPartition.values()) - 600_000;
    const start = Math.floor((closedUntil - 600_000) / 300_000) * 300_000;
    const inWindow = sales.filter((s) => between(s, start, start + 600_000));
    const expected = new Map<string, number>();
    for (const s of inWindow) expected.set(s.country, (expected.get(s.country) ?? 0) + centsOf(s.amount));
    const top = [...expected].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);

    const board = await query("/leaderboard/country", { window: "10m/5m", limit: "3", final: "true" }, { dimension: "country" });
    expect(board.window).toMatchObject({ start: new Date(start).toISOString(), status: "closed" });
    expect(board.entries.map((e: { value: string; sales: string }) => [e.value, e.sales])).toEqual(
      top.map(([c, cents]) => [c, formatCents(cents)]),
    );
  });

  it("the current window by default: the one holding the latest sale, still open", async () => {
    const latest = Math.max(...sales.map((s) => s.payment_date));
    const start = Math.floor(latest / 300_000) * 300_000;
    const inWindow = sales.filter((s) => between(s, start, start + 600_000));
    const board = await query("/leaderboard/all", { window: "10m/5m" }, { dimension: "all" });
    expect(board.window).toMatchObject({ start: new Date(start).toISOString(), status: "open" });
    expect(board.entries).toMatchObject([{ value: "all", orders: inWindow.length, sales: formatCents(sumCents(inWindow)) }]);
    expect(board.completeness).toMatchObject({ partitions: PARTITIONS, idle: 0 });
  });

  it("France against the rest of Europe, all time (window=all)", async () => {
    const france = sales.filter((s) => s.country === "France");
    const restOfEurope = sales.filter((s) => regionOf(s.country) === "Europe" && s.country !== "France");
    const [fr, regions] = await Promise.all([
      query("/series/country/France", { window: "all" }, { dimension: "country", value: "France" }),
      query("/leaderboard/region", { window: "all" }, { dimension: "region" }),
    ]);
    const europe = regions.entries.find((e: { value: string }) => e.value === "Europe");
    expect(fr.total.sales).toBe(formatCents(sumCents(france)));
    expect(BigInt(centsOf(europe.sales)) - BigInt(centsOf(fr.total.sales))).toBe(BigInt(sumCents(restOfEurope)));
  });
});
