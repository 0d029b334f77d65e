import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients, trinoQuery } from "@sales-stream-analytics/local-aws";
import { expect } from "vitest";
import type { AggregationSettings } from "#functions/aggregate/aggregate";
import { firstLakeDate, type RebuildProgress, type RebuildSummary, rebuild } from "#functions/aggregate/rebuild";
import type { RebuildRequest } from "#functions/aggregate/rebuild-core";
import type { Sale } from "#shared/sales/schema";
import { localRebuildTarget } from "#tools/rebuild-local";
import { postSales, request } from "./http.ts";
import { eventually } from "./pipeline.ts";

/** A private copy of the whole local stack (Firehose to its own lake included), and what a rebuild of it needs. */
export interface RebuildStack {
  readonly runtime: LocalRuntime;
  /** The aggregate function's settings, as the copy's template resolves them. */
  readonly settings: AggregationSettings;
  readonly table: string;
  readonly tables: { readonly raw: string; readonly once: string };
  /** One SQL statement on the copy's lake database, through Trino. */
  sql(text: string): Promise<readonly (readonly unknown[])[]>;
  /** Posts sales through the copy's API, 200 a request; fails the test on any answer but 202. */
  post(sales: readonly Sale[]): Promise<void>;
  /** Waits until the live path counted `count` sales (the all-time window counts every sale, however late). */
  counted(count: number): Promise<void>;
  /** Waits until the lake holds `count` sales, each once, dated from `from` to `to`'s date. */
  landed(count: number, from: number, to: number): Promise<void>;
  /** The product's rebuild on the copy (Trino as the lake engine). */
  run(req: Omit<RebuildRequest, "reason"> & { reason?: string }, extra?: { pollMs?: number; lakeWaitMs?: number }): Promise<RebuildSummary>;
}

/**
 * Starts a private copy of the stack (its own topic, tables, lake bucket and Glue database), so a
 * test owns every partition's watermark and every row of the lake it reads. Trino must be running
 * (startTrino). `onProgress` sees the rebuild's progress. Throws when the local stack refuses.
 */
export async function startRebuildStack(onProgress?: (progress: RebuildProgress) => void): Promise<RebuildStack> {
  const clients = localClients();
  const runtime = await LocalRuntime.start({ namespace: `rb-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
  const { settings, table, schema, tables, ...query } = localRebuildTarget(runtime);
  const sql = async (statement: string) => (await trinoQuery(statement, { schema })).rows;
  return {
    runtime,
    settings,
    table,
    tables,
    sql,
    async post(sales) {
      for (let i = 0; i < sales.length; i += 200) {
        const response = await postSales(runtime.apiUrl, sales.slice(i, i + 200));
        expect(response.status, await response.text()).toBe(202);
      }
    },
    async counted(count) {
      const ok = await eventually(async () => {
        const body = (await (await request(`${runtime.apiUrl}/series/all/all?window=all`)).json()) as { total: { orders: number } };
        return body.total?.orders >= count;
      }, 180_000);
      expect(ok, `the live path counted ${count} sales`).toBe(true);
    },
    async landed(count, from, to) {
      const ok = await eventually(
        async () => {
          await runtime.firehoses[0]?.flush();
          const dates = [from, to].map((ms) => `'${new Date(ms).toISOString().slice(0, 10)}'`);
          const [row] = await sql(`SELECT count(*) FROM ${tables.once} WHERE dt BETWEEN ${dates[0]} AND ${dates[1]}`);
          return Number(row?.[0]) >= count;
        },
        180_000,
        2_000,
      );
      expect(ok, `the lake holds ${count} sales`).toBe(true);
    },
    run: (req, extra = {}) =>
      rebuild(
        { reason: req.restate ? "restated: late sales folded in" : "rebuilt", ...req },
        {
          dynamodb: clients.dynamodb,
          table,
          lake: { rows: sql },
          tables,
          settings,
          topic: query.topic,
          partitions: query.partitions,
          // Small blocks, so the watermark's prefix over blocks is exercised, not only the running max in one.
          blockSize: 7,
          pollMs: extra.pollMs ?? 1_000,
          lakeWaitMs: extra.lakeWaitMs ?? 120_000,
          firstLakeDate: firstLakeDate(clients, { database: schema, table: tables.raw }),
          ...(onProgress !== undefined && { onProgress }),
        },
      ),
  };
}
