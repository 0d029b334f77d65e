import { type AttributeValue, BatchWriteItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { localClients, startTrino } from "@sales-stream-analytics/local-aws";
import { stopProcess } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRebuild, type RebuildProgress, type RebuildSummary } from "#functions/aggregate/rebuild";
import { unmarshalSlice } from "#shared/aggregates/table";
import { bigCentsOf, formatCents } from "#shared/money/cents";
import type { Sale } from "#shared/sales/schema";
import { parseWindows, type WindowSpec, windowStarts } from "#shared/windows/windows";
import { tableFigures } from "#test/support/aggregates";
import { request } from "#test/support/http";
import { eventually } from "#test/support/pipeline";
import { startRebuildStack } from "#test/support/rebuild-stack";
import { expectedFromSlices, rollupFigures } from "#test/support/rollups";
import { sampleSales } from "#tools/sales/generator";

/**
 * `npm run rebuild` on the local stack: sales go through the API of a private copy of the stack
 * (Kafka, the aggregate and rollup functions, Firehose to the Parquet lake), and the rebuild reads
 * the lake with a real Trino (the engine behind Athena) through the Glue catalog. One Trino serves
 * every test of this file; each test has its own stack copy, so its partitions' watermarks are its own.
 */
const { dynamodb } = localClients();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const countries = ["India", "France", "Germany", "Brazil", "Japan", "United States"];
let trinoState: "started" | "running";

beforeAll(async () => {
  trinoState = await startTrino();
}, 300_000);
afterAll(async () => {
  if (trinoState === "started") await stopProcess("trino");
}, 120_000);

/** A private copy of the stack; its rebuild's progress as timestamped lines. */
const stackCopy = (seen?: (progress: RebuildProgress) => void) =>
  startRebuildStack((p) => {
    step(
      `rebuild ${p.window} round ${p.round}: ${p.done}/${p.instances}, ${p.rebuilt} rebuilt, ${p.deferred} deferred (${p.deferredBy.live} live past the cut, ${p.deferredBy.lake} lake behind, ${p.deferredBy.conflict} conflicts)`,
    );
    seen?.(p);
  });

/**
 * The table's figures once every window counts each sale in its all#all figures once per instance
 * that holds it (applied or late: each is one or the other). The live path writes each window's
 * slices on their own, so the all-time total that `counted` waits for can lead the others by a
 * moment (seconds on a loaded machine), and a snapshot taken then would miss sales the rebuild restores.
 */
async function everyWindowCounted(table: string, windows: readonly WindowSpec[], sales: readonly Sale[]) {
  const expected = Object.fromEntries(
    windows.map((spec) => [spec.name, sales.reduce((n, sale) => n + windowStarts(spec, sale.payment_date).length, 0)]),
  );
  let figures = await tableFigures(dynamodb, table);
  const counts = () =>
    Object.fromEntries(
      windows.map((spec) => [
        spec.name,
        Object.entries(figures)
          .filter(([id]) => id.startsWith(`${spec.name}@`))
          .reduce((n, [, values]) => {
            const [orders, , , , late] = (values["all#all"] ?? "0/0/0/0/0").split("/");
            return n + Number(orders) + Number(late);
          }, 0),
      ]),
    );
  await eventually(async () => {
    figures = await tableFigures(dynamodb, table);
    const now = counts();
    return windows.every((spec) => (now[spec.name] ?? 0) >= (expected[spec.name] ?? 0));
  }, 180_000);
  expect(counts()).toEqual(expected);
  return figures;
}

/** Deletes the slices a predicate picks (every partition's); resolves how many. */
async function deleteSlices(table: string, pick: (window: string, start: number) => boolean): Promise<number> {
  const keys: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const item of page.Items ?? []) {
      if (item.sk?.S !== "slice") continue;
      const slice = unmarshalSlice(item);
      if (pick(slice.window, slice.start)) keys.push({ pk: item.pk as AttributeValue, sk: item.sk });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  for (let i = 0; i < keys.length; i += 25)
    await dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })) } }),
    );
  return keys.length;
}

const began = Date.now();
/** A timestamped line of how far a test got (a slow step shows where). */
const step = (what: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${what}`);

const show = (summary: RebuildSummary, seconds: number) => describeRebuild(summary, seconds).slice(0, 12).join("\n  ");

/** Live sales of the last half hour, and history from `historyStart`, over the same countries (so the same partitions). */
function liveThenHistory(o: { seed: number; live: number; historyStart: number; history: number; historyGapMs: number }) {
  const first = 60_000_000 + Math.floor(Math.random() * 1e7) * 100;
  const live = sampleSales(o.live, {
    seed: o.seed,
    startMs: Date.now() - 30 * 60_000,
    meanGapMs: 10_000,
    countries,
    firstPaymentId: first,
  });
  const history = sampleSales(o.history, {
    seed: o.seed + 1,
    startMs: o.historyStart,
    meanGapMs: o.historyGapMs,
    countries,
    firstPaymentId: first + o.live,
  });
  return { live, history, first };
}

/** Figures of the API's 1d series of everything: date -> "orders/sales/late" and revision. */
async function apiDays(apiUrl: string, from: number, to: number) {
  const url = `${apiUrl}/series/all/all?window=1d&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  const body = (await (await request(url)).json()) as {
    windows: { start: string; orders: number; sales: string; late: number; revised?: { at: string; reason: string } }[];
  };
  return body.windows;
}

describe("npm run rebuild: the figures recomputed from the lake (Trino, as Athena)", { timeout: 600_000 }, () => {
  it("reproduces every live window instance of every dimension to the cent by the live rule, late and out-of-order sales included, and fills a window the stack never had", async () => {
    const stack = await stackCopy();
    try {
      const base = Date.parse("2021-03-01T00:00:00Z");
      const first = 50_000_000 + Math.floor(Math.random() * 1e6) * 100;
      const inOrder = sampleSales(400, { seed: 3, startMs: base, meanGapMs: 30_000, countries, firstPaymentId: first });
      const top = Math.max(...inOrder.map((s) => s.payment_date));
      // Behind the watermark but within the lateness (applied), then hours behind (late for all but 1d).
      const shuffled = sampleSales(60, { seed: 4, startMs: top - 8 * 60_000, meanGapMs: 5_000, countries, firstPaymentId: first + 1000 });
      const late = sampleSales(60, { seed: 5, startMs: top - 3 * HOUR, meanGapMs: 60_000, countries, firstPaymentId: first + 2000 });
      const all = [...inOrder, ...shuffled.reverse(), ...late];
      step("posting");
      await stack.post(inOrder);
      await stack.post(shuffled);
      await stack.post(late);
      step("posted");
      await stack.counted(all.length);
      step("counted live");
      await stack.landed(all.length, base, top);

      step("landed in the lake");
      const live = await everyWindowCounted(stack.table, stack.settings.windows, all);
      const lateCounted = Object.values(live)
        .flatMap((values) => Object.values(values))
        .filter((f) => !f.endsWith("/0"));
      expect(lateCounted.length, "the live path counted late sales").toBeGreaterThan(0);

      // Every slice gone (a lost table), then rebuilt by the live rule: the same figures, every
      // one, the all-time window's too (read from the lake's first date, not from 1970).
      const windows = stack.settings.windows;
      expect(windows.some((spec) => spec.unbounded)).toBe(true);
      const deleted = await deleteSlices(stack.table, () => true);
      const range = { from: base, to: top + 1 };
      step(`deleted ${deleted} slices`);
      const started = Date.now();
      const summary = await stack.run({ ...range, restate: false, windows });
      const seconds = (Date.now() - started) / 1000;
      console.log(`rebuild by the live rule after deleting ${deleted} slices:\n  ${show(summary, seconds)}`);
      expect(summary.salesRead).toBe(all.length);
      expect(summary.deferred).toEqual([]);
      expect(await tableFigures(dynamodb, stack.table)).toEqual(live);
      // The rollups follow from the table's stream, though the rebuilt slices start their versions over.
      const rolled = await eventually(
        async () =>
          JSON.stringify(await rollupFigures(dynamodb, stack.table)) === JSON.stringify(await expectedFromSlices(dynamodb, stack.table)),
        60_000,
      );
      if (!rolled) expect(await rollupFigures(dynamodb, stack.table)).toEqual(await expectedFromSlices(dynamodb, stack.table));
      // A rerun finds nothing to change.
      const again = await stack.run({ ...range, restate: false, windows });
      expect([again.rebuilt, again.changes.length]).toEqual([0, 0]);

      // A 2h window, which the stack did not have when the sales were posted (a 1w window once
      // shared/windows has one), restated: each instance holds every sale of its two hours.
      const twoHours = parseWindows("2h")[0] as WindowSpec;
      const filled = await stack.run({ ...range, restate: true, windows: [twoHours] });
      expect(filled.rebuilt).toBeGreaterThan(0);
      const figures = await tableFigures(dynamodb, stack.table);
      const tally = new Map<string, { orders: number; cents: bigint }>();
      for (const sale of all) {
        const id = `2h@${new Date(Math.floor(sale.payment_date / (2 * HOUR)) * 2 * HOUR).toISOString()}`;
        const t = tally.get(id) ?? { orders: 0, cents: 0n };
        tally.set(id, { orders: t.orders + 1, cents: t.cents + bigCentsOf(sale.amount) });
      }
      const got = Object.fromEntries(
        Object.entries(figures)
          .filter(([id]) => id.startsWith("2h@"))
          .map(([id, values]) => [id, (values["all#all"] ?? "").split("/").slice(0, 2).join("/")]),
      );
      expect(got).toEqual(Object.fromEntries([...tally].map(([id, t]) => [id, `${t.orders}/${t.cents}`])));
    } finally {
      await stack.runtime.stop();
    }
  });
  it("imports history after going live: late at first, restated into the figures equal to the lake's recount, and a deleted day rebuilt as it was", async () => {
    const stack = await stackCopy();
    try {
      const historyStart = Date.UTC(2021, 4, 10);
      // Ten hours of one day's history (the restatement rebuilds every instance of it, 1m ones too).
      const { live, history } = liveThenHistory({ seed: 11, live: 150, historyStart, history: 300, historyGapMs: 2 * 60_000 });
      const historyEnd = Math.max(...history.map((s) => s.payment_date)) + 1;
      const days = { from: historyStart, to: historyStart + DAY };
      const span = { from: historyStart, to: historyEnd };
      step("posting live sales, then the history");
      await stack.post(live);
      await stack.counted(live.length);
      await stack.post(history);
      await stack.counted(live.length + history.length);

      // The history arrived late: in no day's figures, every sale counted as late. The live path
      // writes each window's slices on their own, so the all-time total that \`counted\` waits for can
      // lead the day windows' slices by a moment (seconds on a loaded machine): wait for the days.
      let before = await apiDays(stack.runtime.apiUrl, days.from, days.to);
      await eventually(async () => {
        before = await apiDays(stack.runtime.apiUrl, days.from, days.to);
        return before.reduce((n, w) => n + w.late, 0) >= history.length;
      }, 60_000);
      expect(before.reduce((n, w) => n + w.orders, 0)).toBe(0);
      expect(before.reduce((n, w) => n + w.late, 0)).toBe(history.length);
      step("history counted as late; waiting for the lake");
      await stack.landed(history.length, days.from, days.to);

      // The lake's recount of each day, in SQL.
      const dates = [days.from, days.to - 1].map((ms) => `'${new Date(ms).toISOString().slice(0, 10)}'`);
      const recount = new Map(
        (
          await stack.sql(
            `SELECT dt, count(*), CAST(sum(amount) AS varchar) FROM ${stack.tables.once} WHERE dt BETWEEN ${dates[0]} AND ${dates[1]} GROUP BY dt`,
          )
        ).map((row) => [String(row[0]), `${Number(row[1])}/${String(row[2])}`]),
      );
      const apiByDay = (windows: Awaited<ReturnType<typeof apiDays>>) =>
        new Map(windows.filter((w) => w.orders > 0).map((w) => [w.start.slice(0, 10), `${w.orders}/${w.sales}`]));

      const windows = stack.settings.windows.filter((spec) => !spec.unbounded);
      const started = Date.now();
      const restated = await stack.run({ ...span, restate: true, windows });
      const seconds = (Date.now() - started) / 1000;
      console.log(`restating the imported history:\n  ${show(restated, seconds)}`);
      expect(restated.salesRead).toBe(history.length);
      expect(restated.deferred).toEqual([]);
      const ok = await eventually(async () => {
        const after = await apiDays(stack.runtime.apiUrl, days.from, days.to);
        return JSON.stringify([...apiByDay(after)].sort()) === JSON.stringify([...recount].sort());
      }, 60_000);
      const after = await apiDays(stack.runtime.apiUrl, days.from, days.to);
      expect(ok ? new Map() : apiByDay(after)).toEqual(ok ? new Map() : recount);
      expect(after.reduce((n, w) => n + w.late, 0)).toBe(0);
      expect(after.filter((w) => w.orders > 0).every((w) => w.revised?.reason === "restated: late sales folded in")).toBe(true);
      // A country's leaderboard of a restated day says so too.
      const day = new Date(days.from).toISOString();
      const board = (await (await request(`${stack.runtime.apiUrl}/leaderboard/country?window=1d&at=${day}&limit=50`)).json()) as {
        window: { revised?: unknown };
        entries: { value: string; orders: number; sales: string }[];
      };
      expect(board.window.revised).toBeDefined();
      step(`restated in ${seconds.toFixed(1)} s (${Math.round(history.length / seconds)} sales/s)`);

      // Every slice of the first day deleted, then rebuilt: the day's figures come back equal.
      const deleted = await deleteSlices(stack.table, (window, start) => window !== "all" && start >= days.from && start < days.from + DAY);
      const empty = (await (await request(`${stack.runtime.apiUrl}/leaderboard/country?window=1d&at=${day}&limit=50`)).json()) as {
        entries: unknown[];
      };
      expect(empty.entries).toEqual([]);
      const again = Date.now();
      const rebuilt = await stack.run({ ...span, restate: true, windows });
      const rebuiltSeconds = (Date.now() - again) / 1000;
      console.log(`rebuilding a deleted day (${deleted} slices):\n  ${show(rebuilt, rebuiltSeconds)}`);
      const back = (await (await request(`${stack.runtime.apiUrl}/leaderboard/country?window=1d&at=${day}&limit=50`)).json()) as {
        entries: { value: string; orders: number; sales: string }[];
      };
      expect(back.entries).toEqual(board.entries);
      const dayBack = await eventually(async () => {
        const figures = apiByDay(await apiDays(stack.runtime.apiUrl, days.from, days.from + DAY));
        return figures.get(day.slice(0, 10)) === recount.get(day.slice(0, 10));
      }, 60_000);
      expect(dayBack).toBe(true);
    } finally {
      await stack.runtime.stop();
    }
  });

  it("restates while live sales flow, losing none and counting none twice: every window equals the lake's recount", async () => {
    const rounds: RebuildProgress[] = [];
    const stack = await stackCopy((p) => rounds.push(p));
    let flowing = true;
    try {
      const now = Date.now();
      // History of two days ago (late: the partitions have seen now), so the range restated is short.
      const historyStart = Math.floor((now - 2 * DAY) / HOUR) * HOUR;
      const { live, history, first } = liveThenHistory({ seed: 21, live: 100, historyStart, history: 200, historyGapMs: 5 * 60_000 });
      await stack.post(live);
      await stack.post(history);
      await stack.counted(live.length + history.length);
      await stack.landed(history.length, historyStart, historyStart + 2 * DAY);

      // Live sales keep arriving, on time, into the range being restated (its last hour is now).
      let posted = live.length + history.length;
      let next = first + 5000;
      const flow = (async () => {
        while (flowing) {
          const batch = sampleSales(10, { seed: next, startMs: Date.now() - 5_000, meanGapMs: 300, countries, firstPaymentId: next });
          next += 10;
          await stack.post(batch);
          posted += batch.length;
          await stack.runtime.firehoses[0]?.flush();
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      })();
      const range = { from: historyStart, to: Date.now() + HOUR };
      const windows = stack.settings.windows.filter((spec) => spec.name === "1h" || spec.name === "1d");
      const running = stack.run({ ...range, restate: true, windows }, { pollMs: 2_000, lakeWaitMs: 240_000 });
      // Sales flow until a round has met live sales applied past its cuts (the race this test is
      // for, asserted below), not for a fixed time: on a loaded machine round 1 can take its cuts
      // after any fixed time, once the flow has stopped. Or until the rebuild ends, whichever first.
      let ended = false;
      const end = () => {
        ended = true;
      };
      void running.then(end, end);
      await eventually(async () => ended || rounds.some((p) => p.deferredBy.live > 0), 300_000);
      flowing = false;
      await flow;
      step("live sales stopped");
      // Round 1 reads its cuts while sales flow: it defers the current hour and day (live sales
      // applied past the cut), and the history's instances too when the live path is still writing
      // the history's batch (slices first, the partitions' watermark items last). Later rounds take
      // new cuts and swap them (docs/rebuild.md, "Why a round defers"). Firehose is flushed, so the
      // lake keeps up with what the live path applied.
      const lakeCatchesUp = setInterval(() => void stack.runtime.firehoses[0]?.flush(), 2_000);
      const summary = await running.finally(() => clearInterval(lakeCatchesUp));
      console.log(`restating while ${posted - live.length - history.length} live sales flowed:\n  ${show(summary, 0)}`);
      expect(summary.deferred).toEqual([]);
      // The race this test is for took place: a round met live sales applied past its cuts.
      expect(rounds.some((p) => p.deferredBy.live > 0)).toBe(true);
      await stack.counted(posted);
      await stack.landed(posted - history.length, now - DAY, Date.now() + HOUR);

      // Every 1h window instance per country, against the lake's recount in SQL.
      const recount = Object.fromEntries(
        (
          await stack.sql(
            `SELECT country, date_trunc('hour', payment_date), count(*), CAST(sum(amount) AS varchar) FROM ${stack.tables.once}
             WHERE dt BETWEEN '${new Date(historyStart).toISOString().slice(0, 10)}' AND '${new Date(Date.now() + HOUR).toISOString().slice(0, 10)}'
             GROUP BY 1, 2`,
          )
        ).map((row) => [
          `1h@${new Date(`${String(row[1]).replace(" ", "T")}Z`).toISOString()}#${String(row[0])}`,
          `${Number(row[2])}/${String(row[3])}/0`,
        ]),
      );
      const figures = await tableFigures(dynamodb, stack.table);
      const ours = Object.fromEntries(
        Object.entries(figures)
          .filter(([id]) => id.startsWith("1h@"))
          .flatMap(([id, values]) =>
            Object.entries(values)
              .filter(([key]) => key.startsWith("country#"))
              .map(([key, f]) => {
                const [orders, sales, , , late] = f.split("/");
                return [`${id}#${key.slice("country#".length)}`, `${orders}/${formatCents(BigInt(sales ?? "0"))}/${late}`];
              }),
          ),
      );
      expect(ours).toEqual(recount);
    } finally {
      flowing = false;
      await stack.runtime.stop();
    }
  });
});
