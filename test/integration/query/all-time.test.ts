import { randomUUID } from "node:crypto";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillRollups } from "#functions/rollup/backfill";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
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
import { sampleSales } from "#tools/sales/generator";

/**
 * The seed question of docs/api.md, "current total all-time sales for France compared to the rest of
 * Europe", answered by the built QueryFunction from the all-time window that the built
 * AggregateFunction keeps per partition and the rollup core adds up, on DynamoDB Local.
 */
const clients = localClients();
const PARTITIONS = 6;
const topic = `alltime-${randomUUID().slice(0, 6)}`;
const countries = ["France", "Germany", "Spain", "Italy", "Poland", "India", "Japan", "United States", "Brazil", "Kenya"];
let table: { name: string; drop: () => Promise<void> };
let aggregateFn: LocalFunction;
let queryFn: LocalFunction;
let sales: Sale[];

const cents = (items: Sale[]) => items.reduce((total, s) => total + BigInt(centsOf(s.amount)), 0n);
const money = (value: bigint) => formatCents(value);

async function query(path: string, parameters: Record<string, string>, pathParameters: Record<string, string>) {
  const outcome = await queryFn.invoke(getEvent(path, parameters, pathParameters));
  if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  const response = outcome.result as { statusCode: number; body: string };
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body);
}

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb, { stream: false });
  // Days and all time only: seven years of scattered sales would otherwise write ~15,000 fine slices.
  aggregateFn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name, WINDOWS: "1d,all" });
  queryFn = localFunction("QueryFunction", {
    WINDOWS: "1d,all",
    AGGREGATES_TABLE: table.name,
    SALES_TOPIC: topic,
    SALES_TOPIC_PARTITIONS: String(PARTITIONS),
  });
  const encode = await salesEncoders();
  // Seven years of sales in event-time order, then a handful dated years back: late for every
  // bounded window (their partitions' watermarks are years ahead), never for all time.
  const history = sampleSales(3000, { seed: 77, startMs: Date.UTC(2019, 0, 1), meanGapMs: 70_000_000, countries, unknownCountryShare: 0 });
  const stragglers = sampleSales(40, {
    seed: 78,
    startMs: Date.UTC(2019, 5, 1),
    meanGapMs: 3_600_000,
    countries,
    unknownCountryShare: 0,
    firstPaymentId: 800_000,
  });
  sales = [...history, ...stragglers];
  const records = keyedRecords(sales, PARTITIONS, encode);
  const batches: EventRecordInput[][] = [];
  for (let i = 0; i < records.length; i += 700) batches.push(records.slice(i, i + 700));
  // The mapping delivers at least once: the second batch comes again, whole, after the third.
  const deliveries = [batches[0], batches[1], batches[2], batches[1], ...batches.slice(3)];
  for (const batch of deliveries) {
    const outcome = await aggregateFn.invoke(kafkaEvent(topic, batch ?? []));
    if (!outcome.ok) throw new Error(outcome.error.errorMessage);
  }
  const rolled = await backfillRollups(createRollupStore(clients.dynamodb, table.name, PARTITIONS), {
    partitions: PARTITIONS,
  });
  if (rolled.failedWindows > 0) throw new Error(`${rolled.failedWindows} windows failed to roll up`);
}, 600_000);

afterAll(async () => {
  await Promise.all([aggregateFn.stop(), queryFn.stop()]);
  await table.drop();
});

describe("all-time totals (window=all) on DynamoDB Local", () => {
  it("France against the rest of Europe, all time, to the cent, from one leaderboard and one series", async () => {
    const france = sales.filter((s) => s.country === "France");
    const europe = sales.filter((s) => regionOf(s.country) === "Europe");
    const restOfEurope = europe.filter((s) => s.country !== "France");
    expect(france.length).toBeGreaterThan(100);
    const [regions, fr] = await Promise.all([
      query("/leaderboard/region", { window: "all" }, { dimension: "region" }),
      query("/series/country/France", { window: "all" }, { dimension: "country", value: "France" }),
    ]);
    expect(regions.window).toEqual({ name: "all", start: "1970-01-01T00:00:00.000Z", end: null, status: "open" });
    const eu = regions.entries.find((e: { value: string }) => e.value === "Europe");
    expect(eu).toMatchObject({ orders: europe.length, sales: money(cents(europe)), late: 0 });
    expect(fr.range).toEqual({ from: "1970-01-01T00:00:00.000Z", to: null });
    expect(fr.total).toMatchObject({ orders: france.length, sales: money(cents(france)), late: 0 });
    expect(BigInt(centsOf(eu.sales)) - BigInt(centsOf(fr.total.sales))).toBe(cents(restOfEurope));
    expect(eu.orders - fr.total.orders).toBe(restOfEurope.length);
    console.log(
      `all time: Europe ${JSON.stringify(eu)}, France ${JSON.stringify(fr.total)}, rest of Europe ${restOfEurope.length} orders ${money(cents(restOfEurope))}`,
    );
  });

  it("lists every country's all-time figures in one request, and the rolled-up region series agrees", async () => {
    const board = await query("/leaderboard/country", { window: "all", limit: "1000" }, { dimension: "country" });
    const expected = countries
      .map((country) => {
        const of = sales.filter((s) => s.country === country);
        return { value: country, orders: of.length, sales: money(cents(of)) };
      })
      .sort((a, b) => Number(BigInt(centsOf(b.sales)) - BigInt(centsOf(a.sales))) || a.value.localeCompare(b.value));
    expect(
      board.entries.map((e: { value: string; orders: number; sales: string }) => ({ value: e.value, orders: e.orders, sales: e.sales })),
    ).toEqual(expected);
    const [europe, everything] = await Promise.all([
      query("/series/region/Europe", { window: "all" }, { dimension: "region", value: "Europe" }),
      query("/series/all/all", { window: "all" }, { dimension: "all", value: "all" }),
    ]);
    const european = sales.filter((s) => regionOf(s.country) === "Europe");
    expect(europe.total).toMatchObject({ orders: european.length, sales: money(cents(european)) });
    expect(everything.total).toMatchObject({ orders: sales.length, sales: money(cents(sales)), late: 0 });
  });

  it("counts the stragglers all time while the bounded windows count them late", async () => {
    const straggler = sales[sales.length - 1] as Sale;
    const day = new Date(Math.floor(straggler.payment_date / 86_400_000) * 86_400_000).toISOString();
    const daily = await query("/leaderboard/all", { window: "1d", at: day }, { dimension: "all" });
    expect(daily.entries[0]?.late ?? 0).toBeGreaterThan(0);
  });
});
