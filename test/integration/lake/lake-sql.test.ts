import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CopyObjectCommand } from "@aws-sdk/client-s3";
import { LocalRuntime, localClients, paths, startTrino, trinoQuery } from "@sales-stream-analytics/local-aws";
import { stopProcess } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bigCentsOf, formatCents } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import { postSales, request } from "#test/support/http";
import { eventually } from "#test/support/pipeline";
import { listKeys } from "#test/support/s3";
import { sampleSales } from "#tools/sales/generator";

/**
 * The lake as Athena reads it: a real Trino (the engine behind Athena v3) with its Hive connector on
 * the local Glue catalog and S3, through the template's table (partition projection, no partition
 * registered) and view. Sales over several event dates go through the API of a private copy of the
 * stack; the business questions of docs/lake.md, asked in SQL, must equal the query API's figures
 * and the posted tally to the cent. Then a Parquet object is written twice (as a retried Firehose
 * delivery can): the table counts it twice, the view once.
 */
const clients = localClients();
let runtime: LocalRuntime;
let trinoState: "started" | "running";
let database: string;
let table: string;
let view: string;

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
const HOUR = 3_600_000;
/** A 4-hour promotion in the United States. */
const promotion = { from: Date.parse("2022-08-12T14:00:00Z"), to: Date.parse("2022-08-12T18:00:00Z") };
const countries = ["India", "United States", "France", "Germany", "Spain", "Italy", "Japan", "Brazil"];

/** The sales: a seeded spread over six days around August, and the edges each question must get right. */
function theSales(): Sale[] {
  const base = 70_000_000 + Math.floor(Math.random() * 1e6) * 1000;
  const days = ["2022-07-31", "2022-08-01", "2022-08-12", "2022-08-20", "2022-08-31", "2022-09-01"];
  const spread = days.flatMap((iso, i) =>
    sampleSales(60, { seed: 40 + i, startMs: day(iso), meanGapMs: 20 * 60_000, countries, firstPaymentId: base + i * 100 }),
  );
  const edge = (offset: number, country: string, at: number, amount: string): Sale => ({
    payment_id: base + 900 + offset,
    customer_id: 7,
    amount,
    payment_date: at,
    city: null,
    district: null,
    country,
    channel: "store",
  });
  const edges = [
    edge(0, "India", day("2022-08-01") - 1, "99999999.99"),
    edge(1, "India", day("2022-08-01"), "0.10"),
    edge(2, "India", day("2022-09-01") - 1, "0.20"),
    edge(3, "India", day("2022-09-01"), "1234.56"),
    edge(4, "United States", promotion.from - 1, "50.00"),
    edge(5, "United States", promotion.from, "0.01"),
    edge(6, "United States", promotion.to - 1, "0.02"),
    edge(7, "United States", promotion.to, "70.00"),
  ];
  // In event-time order, so no partition's watermark passes a sale before it lands (nothing late).
  return [...spread, ...edges].filter((s) => s.payment_date < day("2022-09-02")).sort((a, b) => a.payment_date - b.payment_date);
}

interface Figure {
  orders: number;
  sales: string;
}
const figureOf = (sales: readonly Sale[]): Figure => ({
  orders: sales.length,
  sales: formatCents(sales.reduce((sum, s) => sum + bigCentsOf(s.amount), 0n)),
});
const dateOf = (sale: Sale) => new Date(sale.payment_date).toISOString().slice(0, 10);

/** The query API's total of a series (a dimension value over a range). */
async function apiTotal(path: string, window: string, from: number, to: number): Promise<Figure> {
  const url = `${runtime.apiUrl}/series/${path}?window=${window}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  const response = await request(url);
  const body = (await response.json()) as { total: Figure; windows: ({ start: string } & Figure)[] };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return { orders: body.total.orders, sales: body.total.sales };
}

/** The API's figures per UTC date. */
async function apiPerDate(from: number, to: number): Promise<Map<string, Figure>> {
  const url = `${runtime.apiUrl}/series/all/all?window=1d&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  const body = (await (await request(url)).json()) as { windows: ({ start: string } & Figure)[] };
  return new Map(body.windows.filter((w) => w.orders > 0).map((w) => [w.start.slice(0, 10), { orders: w.orders, sales: w.sales }]));
}

const sql = async (text: string) => (await trinoQuery(text, { schema: database })).rows;
const figureRow = (row: readonly unknown[] | undefined): Figure => ({ orders: Number(row?.[0] ?? 0), sales: String(row?.[1] ?? "0.00") });

/** The SQL block of docs/lake.md marked `<!-- lake-sql:<name> -->`: the test runs the docs' queries as written. */
function docQuery(name: string): string {
  const text = readFileSync(join(paths.projectRoot, "docs", "lake.md"), "utf8");
  const marker = `<!-- lake-sql:${name} -->\n\`\`\`sql\n`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`docs/lake.md has no SQL block marked lake-sql:${name}`);
  return text.slice(at + marker.length, text.indexOf("\n```", at + marker.length));
}

/** The questions of docs/lake.md, as Athena runs them, on the view (as written) or on the raw table. */
async function sqlAnswers(source: "view" | "table") {
  const run = (name: string) => sql(source === "view" ? docQuery(name) : docQuery(name).replaceAll("FROM sales_once", `FROM ${table}`));
  const perDate = new Map((await run("per-date")).map((row) => [String(row[0]), figureRow(row.slice(1))]));
  const [india] = await run("india-in-august");
  const [promo] = await run("us-promotion");
  const europe = new Map((await run("france-vs-europe")).map((row) => [String(row[0]), figureRow(row.slice(1))]));
  return {
    perDate,
    indiaInAugust: figureRow(india),
    usPromotion: figureRow(promo),
    france: europe.get("France") ?? figureRow(undefined),
    restOfEurope: europe.get("rest of Europe") ?? figureRow(undefined),
  };
}

beforeAll(async () => {
  runtime = await LocalRuntime.start({ namespace: `sql-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
  trinoState = await startTrino();
  database = runtime.resourceName("LakeDatabase");
  table = runtime.resourceName("SalesTable");
  view = runtime.resourceName("SalesOnceView");
}, 300_000);
afterAll(async () => {
  await runtime?.stop();
  // Trino holds a GB: stopped again when this file started it.
  if (trinoState === "started") await stopProcess("trino");
}, 120_000);

describe("the lake in SQL through the Glue catalog (Trino, as Athena)", { timeout: 300_000 }, () => {
  it("answers docs/lake.md's questions as the query API and the tally do, to the cent, and the view counts a twice-written object once", async () => {
    const sales = theSales();
    for (let i = 0; i < sales.length; i += 100) {
      const response = await postSales(runtime.apiUrl, sales.slice(i, i + 100));
      expect(response.status, await response.text()).toBe(202);
    }
    const dates = [...new Set(sales.map(dateOf))].sort();
    // The questions of docs/lake.md are about August 2022; the sales around it test the edges.
    const august = { from: day("2022-08-01"), to: day("2022-09-01") };
    const inAugust = (s: Sale) => s.payment_date >= august.from && s.payment_date < august.to;
    const augustDates = dates.filter((d) => d.startsWith("2022-08"));

    // The tally of what was accepted, computed here from the posted sales.
    const tally = {
      perDate: new Map(augustDates.map((d) => [d, figureOf(sales.filter((s) => dateOf(s) === d))])),
      indiaInAugust: figureOf(sales.filter((s) => s.country === "India" && inAugust(s))),
      usPromotion: figureOf(
        sales.filter((s) => s.country === "United States" && s.payment_date >= promotion.from && s.payment_date < promotion.to),
      ),
      france: figureOf(sales.filter((s) => s.country === "France" && inAugust(s))),
      restOfEurope: figureOf(sales.filter((s) => regionOf(s.country) === "Europe" && s.country !== "France" && inAugust(s))),
    };

    // The query API (aggregates and rollups of this private stack), once it counts every sale.
    const everyDate = { from: day(dates[0] as string), to: day(dates.at(-1) as string) + 24 * HOUR };
    await eventually(async () => {
      const counted = await apiPerDate(everyDate.from, everyDate.to);
      return [...counted.values()].reduce((n, f) => n + f.orders, 0) >= sales.length;
    }, 120_000);
    const franceApi = await apiTotal("country/France", "1d", august.from, august.to);
    const europeApi = await apiTotal("region/Europe", "1d", august.from, august.to);
    const api = {
      perDate: await apiPerDate(august.from, august.to),
      indiaInAugust: await apiTotal("country/India", "1d", august.from, august.to),
      usPromotion: await apiTotal("country/United%20States", "1h", promotion.from, promotion.to),
      france: franceApi,
      restOfEurope: {
        orders: europeApi.orders - franceApi.orders,
        sales: formatCents(bigCentsOf(europeApi.sales) - bigCentsOf(franceApi.sales)),
      },
    };

    // The lake, once Firehose delivered every sale (the raw table, before anything is written twice).
    const firehose = runtime.firehoses[0];
    await eventually(async () => {
      await firehose?.flush();
      const [row] = await sql(`SELECT count(*) FROM ${table} WHERE dt BETWEEN '${dates[0]}' AND '${dates.at(-1)}'`);
      return Number(row?.[0]) >= sales.length;
    }, 120_000);
    const fromTable = await sqlAnswers("table");
    const fromView = await sqlAnswers("view");

    const show = (f: Figure) => `${String(f.orders).padStart(4)} orders ${f.sales.padStart(14)}`;
    const lines = [
      `${"question".padEnd(26)} ${"SQL (Trino, view)".padEnd(30)} ${"query API".padEnd(30)} tally`,
      ...augustDates.map(
        (d) =>
          `${`date ${d}`.padEnd(26)} ${show(fromView.perDate.get(d) ?? figureRow(undefined)).padEnd(30)} ${show(api.perDate.get(d) ?? figureRow(undefined)).padEnd(30)} ${show(tally.perDate.get(d) as Figure)}`,
      ),
      ...(["indiaInAugust", "usPromotion", "france", "restOfEurope"] as const).map(
        (q) => `${q.padEnd(26)} ${show(fromView[q]).padEnd(30)} ${show(api[q]).padEnd(30)} ${show(tally[q])}`,
      ),
    ];
    console.log(`lake SQL against the query API:\n${lines.join("\n")}`);

    for (const answers of [fromTable, fromView]) {
      expect(answers).toEqual(tally);
    }
    expect(api).toEqual(tally);
    // Every sale carries its region and exact amount and time through the table's types.
    const [types] = await sql(
      `SELECT typeof(amount), typeof(payment_date), typeof(region), typeof(sum(amount) OVER ()) FROM ${view} WHERE dt = '2022-08-12' LIMIT 1`,
    );
    expect(types).toEqual(["decimal(10,2)", "timestamp(3)", "varchar", "decimal(38,2)"]);

    // A delivery written twice (as a retried Firehose delivery can): one object copied under its dt prefix.
    const bucket = runtime.resourceName("LakeBucket");
    const keys = (await listKeys(clients.s3, bucket, "sales/dt=2022-08-12/")).filter((key) => key.endsWith(".parquet"));
    expect(keys.length).toBeGreaterThan(0);
    const copied = keys[0] as string;
    await clients.s3.send(
      new CopyObjectCommand({ Bucket: bucket, CopySource: `${bucket}/${copied}`, Key: copied.replace(/\.parquet$/, "-retried.parquet") }),
    );
    const [objectRows] = await sql(`SELECT count(*) FROM ${table} WHERE dt = '2022-08-12' AND "$path" LIKE '%${copied.split("/").at(-1)}'`);
    const twice = Number(objectRows?.[0]);
    expect(twice).toBeGreaterThan(0);
    const rawAfter = await sqlAnswers("table");
    const onceAfter = await sqlAnswers("view");
    const tallyDay = tally.perDate.get("2022-08-12") as Figure;
    console.log(
      `a delivery written twice (${twice} rows again under dt=2022-08-12): table ${show(rawAfter.perDate.get("2022-08-12") as Figure)}, view ${show(onceAfter.perDate.get("2022-08-12") as Figure)}, tally ${show(tallyDay)}`,
    );
    expect(rawAfter.perDate.get("2022-08-12")?.orders).toBe(tallyDay.orders + twice);
    expect(onceAfter).toEqual(tally);
  });
});
