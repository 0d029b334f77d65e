import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { venvBin } from "@sales-stream-analytics/local-aws/testing";
import { centsOf, formatCents } from "#shared/money/cents";
import type { Sale } from "#shared/sales/schema";
import { request } from "./http.ts";
import { downloadAll, listKeys } from "./s3.ts";

/** Orders and sales of one country in one minute window. */
export interface WindowFigure {
  readonly country: string;
  readonly start: number;
  readonly orders: number;
  readonly sales: string;
}

const key = (f: WindowFigure) => `${f.country}@${f.start}`;

/** The figures a set of sales should produce, by country and 1-minute window (computed here, independently). */
export function tally(sales: readonly Sale[]): Map<string, WindowFigure> {
  const cents = new Map<string, { country: string; start: number; orders: number; cents: number }>();
  for (const sale of sales) {
    const start = Math.floor(sale.payment_date / 60_000) * 60_000;
    const id = `${sale.country}@${start}`;
    const entry = cents.get(id) ?? { country: sale.country, start, orders: 0, cents: 0 };
    entry.orders++;
    entry.cents += centsOf(sale.amount);
    cents.set(id, entry);
  }
  return new Map([...cents].map(([id, e]) => [id, { country: e.country, start: e.start, orders: e.orders, sales: formatCents(e.cents) }]));
}

/** The same figures from the query API (1m series of each country over the range). */
export async function apiFigures(
  apiUrl: string,
  countries: readonly string[],
  from: number,
  to: number,
): Promise<Map<string, WindowFigure>> {
  const figures = new Map<string, WindowFigure>();
  for (const country of countries) {
    const url = `${apiUrl}/series/country/${encodeURIComponent(country)}?window=1m&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
    const body = (await (await request(url)).json()) as { windows: { start: string; orders: number; sales: string }[] };
    for (const w of body.windows) {
      if (w.orders === 0) continue;
      const figure = { country, start: Date.parse(w.start), orders: w.orders, sales: w.sales };
      figures.set(key(figure), figure);
    }
  }
  return figures;
}

/** The same figures recounted by DuckDB from the lake's Parquet files (downloaded from S3). */
export async function lakeFigures(
  s3: S3Client,
  bucket: string,
  countries: readonly string[],
): Promise<{ figures: Map<string, WindowFigure>; duplicates: number }> {
  const keys = (await listKeys(s3, bucket, "sales/")).filter((k) => k.endsWith(".parquet"));
  if (keys.length === 0) return { figures: new Map(), duplicates: 0 };
  const files = await downloadAll(s3, bucket, keys);
  const run = spawnSync(
    venvBin("python"),
    [fileURLToPath(new URL("./lake_recount.py", import.meta.url)), JSON.stringify(countries), ...files],
    {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (run.status !== 0) throw new Error(`DuckDB recount failed: ${run.stderr}`);
  const rows = JSON.parse(run.stdout) as (WindowFigure & { distinct: number })[];
  const figures = new Map<string, WindowFigure>();
  let duplicates = 0;
  for (const row of rows) {
    duplicates += row.orders - row.distinct;
    // DuckDB prints a DECIMAL(38,2) sum with exactly two places, e.g. "12.30".
    const figure = { country: row.country, start: row.start, orders: row.orders, sales: row.sales };
    figures.set(key(figure), figure);
  }
  return { figures, duplicates };
}

/** Polls `check` until it returns true or the timeout passes; returns whether it did. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}

/** Sums orders of a figures map. */
export const ordersOf = (figures: ReadonlyMap<string, WindowFigure>) => [...figures.values()].reduce((n, f) => n + f.orders, 0);
