import { describe, expect, it } from "vitest";
import { leaderboard, type PartitionMark, type QueryDeps, type QueryStore, series } from "#functions/query/query";
import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { emptySlice, laterRevision, type Revision, type SliceItem } from "#shared/aggregates/slices";
import { HttpError } from "#shared/http/errors";
import { parseWindows } from "#shared/windows/windows";

const H = 3_600_000;
const M = 60_000;
const T0 = Date.parse("2022-08-01T00:00:00Z");
/** The wall clock of these tests: long after the figures (as when history is backfilled). */
const NOW = Date.parse("2026-12-01T12:00:00Z");
const m = (orders: number, cents: number, late = 0): Metrics => ({
  orders: BigInt(orders),
  sales: BigInt(cents),
  min: 1n,
  max: BigInt(cents),
  late: BigInt(late),
});

function item(window: string, start: number, size: number, values: Record<string, Metrics>, topicPartition = "sales-0"): SliceItem {
  return { ...emptySlice(window, start, start + size, topicPartition), version: 1, values: new Map(Object.entries(values)) };
}

/** A partition that delivered a batch at NOW (not idle) with this watermark, or the mark as given. */
type MarkInput = number | PartitionMark | undefined;
const markOf = (input: MarkInput): PartitionMark | undefined =>
  typeof input === "number" ? { eventTime: input, lastBatchAt: NOW } : input;

/**
 * A store over slices in memory, answering as the DynamoDB one does: a window's per-partition
 * partials, and a series with one point per window (a region's or the total's added up, as the
 * rollups hold them). `watermarks[p]` undefined: partition p never delivered anything.
 */
/** The latest revision among slices, as the stores answer it. */
function revisionOf(slices: readonly SliceItem[]): { revised?: Revision } {
  const revised = slices.reduce<Revision | undefined>((latest, slice) => laterRevision(latest, slice.revised), undefined);
  return revised === undefined ? {} : { revised };
}

function deps(items: SliceItem[], watermarks: MarkInput[], now = NOW): QueryDeps {
  const store: QueryStore = {
    windowValues: async (window, start, dimension) => {
      const found = items.filter((i) => i.window === window && i.start === start);
      return {
        partials: found.map(
          (i) => new Map([...i.values].filter(([k]) => k.startsWith(`${dimension}#`)).map(([k, m]) => [k.slice(dimension.length + 1), m])),
        ),
        ...revisionOf(found),
      };
    },
    valueSeries: async (window, from, to, dimension, value) => {
      const byStart = new Map<number, Metrics>();
      const revised = new Map<number, SliceItem[]>();
      for (const i of items) {
        const metrics = i.values.get(`${dimension}#${value}`);
        if (i.window === window && i.start >= from && i.start <= to && metrics !== undefined) {
          addPartial(byStart, i.start, metrics);
          revised.set(i.start, [...(revised.get(i.start) ?? []), i]);
        }
      }
      return [...byStart].map(([start, metrics]) => ({ start, metrics, ...revisionOf(revised.get(start) ?? []) }));
    },
    watermarks: async () =>
      new Map(watermarks.flatMap((input, partition) => (markOf(input) === undefined ? [] : [[partition, markOf(input) as PartitionMark]]))),
  };
  return {
    store,
    windows: parseWindows("1m,10m/5m,1h,1d,all"),
    allowedLatenessMs: 10 * M,
    idleTimeoutMs: 5 * M,
    partitions: watermarks.length,
    maxSeriesWindows: 100,
    now: () => now,
  };
}

const hours = [
  item("1h", T0, H, { "country#France": m(2, 1000), "country#Spain": m(1, 1500), "region#Europe": m(3, 2500) }),
  item("1h", T0 + H, H, { "country#France": m(1, 10), "region#Europe": m(1, 10) }),
  item("1h", T0 + 3 * H, H, { "country#France": m(4, 45_678_901_234), "region#Europe": m(4, 45_678_901_234) }),
];

async function status(run: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error instanceof HttpError ? error.status : -1;
  }
}

describe("leaderboard", () => {
  it("ranks one dimension by exact sales with derived averages, and marks the window's status", async () => {
    const d = deps(hours, [T0 + 2 * H, T0 + 3 * H]);
    const board = await leaderboard({ dimension: "country", window: "1h", at: "2022-08-01T00:30:00Z" }, d);
    expect(board.window).toEqual({ name: "1h", start: "2022-08-01T00:00:00.000Z", end: "2022-08-01T01:00:00.000Z", status: "closed" });
    expect(board.entries.map((e) => [e.value, e.sales, e.average])).toEqual([
      ["Spain", "15.00", "15.00"],
      ["France", "10.00", "5.00"],
    ]);
    const later = await leaderboard({ dimension: "country", window: "1h", at: "2022-08-01T03:59:59Z" }, d);
    expect(later.window.status).toBe("open");
  });

  it("defaults to the latest window that has figures, still open, and never answers 404 while figures exist", async () => {
    // Partition 1 has delivered only undecodable records: no window is closed anywhere.
    const d = deps(hours, [T0 + 3 * H + 20 * M, { eventTime: undefined, lastBatchAt: NOW }]);
    const board = await leaderboard({ dimension: "country", window: "1h" }, d);
    expect(board.window).toEqual({ name: "1h", start: "2022-08-01T03:00:00.000Z", end: "2022-08-01T04:00:00.000Z", status: "open" });
    expect(board.entries.map((e) => [e.value, e.sales])).toEqual([["France", "456789012.34"]]);
    expect(board.completeness).toEqual({
      asOf: "2026-12-01T12:00:00.000Z",
      partitions: 2,
      reporting: 0,
      lagging: 2,
      idle: 0,
      waitingFor: 2,
      leastWatermark: "2022-08-01T03:20:00.000Z",
      latestWatermark: "2022-08-01T03:20:00.000Z",
      lagMs: NOW - (T0 + 3 * H + 20 * M),
      pendingDeadLetters: 0,
    });
    expect(await status(() => leaderboard({ dimension: "country", window: "1h", final: "true" }, d))).toBe(404);
  });

  it("answers the window containing now, empty, before any sale", async () => {
    const board = await leaderboard({ dimension: "region", window: "1h" }, deps([], [undefined, undefined], T0 + 90 * M));
    expect(board.window).toMatchObject({ start: "2022-08-01T01:00:00.000Z", status: "open" });
    expect(board.entries).toEqual([]);
    expect(board.completeness).toMatchObject({ idle: 2, waitingFor: 2, leastWatermark: null, latestWatermark: null, lagMs: null });
  });

  it("answers the latest window closed on every partition with final=true", async () => {
    const board = await leaderboard({ dimension: "region", window: "1h", final: "true" }, deps(hours, [T0 + 2 * H + 10 * M, T0 + 5 * H]));
    expect(board.window).toMatchObject({ start: "2022-08-01T01:00:00.000Z", status: "closed" });
    expect(board.completeness.waitingFor).toBe(0);
    expect(board.entries).toEqual([{ value: "Europe", orders: 1, sales: "0.10", min: "0.01", max: "0.10", average: "0.10", late: 0 }]);
  });

  it("answers final=true with the last window that has figures once every partition has gone quiet", async () => {
    // Both partitions idle for days: windows up to NOW - lateness - idle timeout are closed, but
    // none after the greatest watermark has figures.
    const quiet = (eventTime: number): PartitionMark => ({ eventTime, lastBatchAt: T0 + 4 * H });
    const board = await leaderboard(
      { dimension: "country", window: "1h", final: "true" },
      deps(hours, [quiet(T0 + 3 * H + 5 * M), quiet(T0)]),
    );
    expect(board.window).toMatchObject({ start: "2022-08-01T03:00:00.000Z", status: "closed" });
    expect(board.entries.map((e) => e.value)).toEqual(["France"]);
  });

  it("answers 400 for unknown dimensions, windows, limits and final values, and for final with at", async () => {
    const d = deps(hours, [T0]);
    expect(await status(() => leaderboard({ dimension: "city" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", window: "2h" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", limit: "0", at: "2022-08-01T00:00:00Z" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", limit: "1001" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", limit: "1000" }, d))).toBeUndefined();
    expect(await status(() => leaderboard({ dimension: "country", at: "yesterday" }, d))).toBe(400);
    // A date that does not exist is refused, not rolled over to 2 March.
    expect(await status(() => leaderboard({ dimension: "country", at: "2022-02-30T00:00:00Z" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", final: "yes" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", final: "true", at: "2022-08-01T00:00:00Z" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", final: "true", window: "all" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", final: "false" }, d))).toBeUndefined();
  });
});

describe("closing windows when partitions go quiet", () => {
  // The 1h window 03:00-04:00 of `hours`: lateness 10 min, idle timeout 5 min.
  const end = T0 + 4 * H;
  const at = "2022-08-01T03:30:00Z";
  const passed = end + 10 * M; // a watermark that has passed end + lateness
  const board = (marks: MarkInput[], now: number) => leaderboard({ dimension: "country", window: "1h", at }, deps(hours, marks, now));

  it("lets an idle partition close a window lateness + idle timeout after its end, not before", async () => {
    const idle: PartitionMark = { eventTime: T0 + H, lastBatchAt: end - H };
    const marks = [{ eventTime: passed, lastBatchAt: end + 14 * M }, idle];
    const before = await board(marks, end + 15 * M - 1);
    expect(before.window.status).toBe("open");
    expect(before.completeness).toMatchObject({ reporting: 1, idle: 1, lagging: 0, waitingFor: 1 });
    const after = await board(marks, end + 15 * M);
    expect(after.window.status).toBe("closed");
    expect(after.completeness).toMatchObject({ waitingFor: 0, leastWatermark: new Date(passed).toISOString() });
  });

  it("lets a partition that never delivered anything close windows too", async () => {
    expect((await board([passed, undefined], end + 15 * M)).window.status).toBe("closed");
    expect((await board([passed, undefined], end + 15 * M - 1)).window.status).toBe("open");
    // Every partition silent: the window still closes, on the wall clock alone.
    expect((await board([undefined, undefined], end + 15 * M)).window.status).toBe("closed");
  });

  it("never lets a lagging partition (still delivering, behind) close a window, however late it gets", async () => {
    const now = end + 30 * 24 * H;
    const lagging: PartitionMark = { eventTime: end - 30 * M, lastBatchAt: now - 1000 };
    const result = await board([{ eventTime: now - M, lastBatchAt: now }, lagging], now);
    expect(result.window.status).toBe("open");
    expect(result.completeness).toMatchObject({
      reporting: 1,
      lagging: 1,
      idle: 0,
      waitingFor: 1,
      leastWatermark: "2022-08-01T03:30:00.000Z",
    });
    // Once it passes the window's end + lateness, it closes.
    const caughtUp = await board(
      [
        { eventTime: passed, lastBatchAt: now },
        { eventTime: passed, lastBatchAt: now },
      ],
      now,
    );
    expect(caughtUp.window.status).toBe("closed");
  });

  it("tells a reporting partition (recent sales) from a lagging one and from an idle one", async () => {
    const now = end + 12 * M;
    const result = await board(
      [
        { eventTime: now - 2 * M, lastBatchAt: now - 1000 }, // reporting: watermark within lateness of now
        { eventTime: now - 40 * M, lastBatchAt: now - 1000 }, // lagging: delivering, but behind
        { eventTime: now - 2 * M, lastBatchAt: now - 5 * M }, // idle: no batch for the idle timeout
      ],
      now,
    );
    expect(result.completeness).toMatchObject({ reporting: 1, lagging: 1, idle: 1 });
    expect(result.completeness.leastWatermark).toBe(new Date(now - 40 * M).toISOString());
    expect(result.completeness.lagMs).toBe(40 * M);
  });

  it("says how many dead-lettered records no window has yet, over every partition", async () => {
    const marks: PartitionMark[] = [
      { eventTime: passed, lastBatchAt: NOW, pendingDeadLetters: 3 },
      { eventTime: passed, lastBatchAt: NOW },
      { eventTime: passed, lastBatchAt: NOW, pendingDeadLetters: 2 },
    ];
    expect((await board(marks, NOW)).completeness.pendingDeadLetters).toBe(5);
    expect((await board([passed, passed], NOW)).completeness.pendingDeadLetters).toBe(0);
  });

  it("never counts a partition as idle when its item predates the batch clock (no lastBatchAt)", async () => {
    const old: PartitionMark = { eventTime: T0 + H, lastBatchAt: undefined };
    expect((await board([passed, old], end + 365 * 24 * H)).window.status).toBe("open");
  });
});

describe("all-time totals", () => {
  const allTime = (values: Record<string, Metrics>, tp: string) => item("all", 0, 8.64e15, values, tp);
  const slices = [
    allTime({ "country#France": m(3, 1001), "region#Europe": m(4, 1100), "all#all": m(4, 1100) }, "sales-0"),
    allTime({ "country#Spain": m(1, 99), "region#Europe": m(1, 99), "all#all": m(2, 150) }, "sales-1"),
  ];

  it("lists every value's all-time figures from one window that never ends or closes", async () => {
    const board = await leaderboard({ dimension: "region", window: "all" }, deps(slices, [T0, T0 + H]));
    expect(board.window).toEqual({ name: "all", start: "1970-01-01T00:00:00.000Z", end: null, status: "open" });
    expect(board.entries).toEqual([{ value: "Europe", orders: 5, sales: "11.99", min: "0.01", max: "11.00", average: "2.40", late: 0 }]);
    expect(board.completeness.waitingFor).toBe(2);
  });

  it("answers a series of the all-time window without a range, and with any range", async () => {
    const d = deps(slices, [T0]);
    const whole = await series({ dimension: "country", value: "France", window: "all" }, d);
    expect(whole).toMatchObject({ from: null, to: null, range: { from: "1970-01-01T00:00:00.000Z", to: null } });
    expect(whole.windows).toHaveLength(1);
    expect(whole.total).toMatchObject({ orders: 3, sales: "10.01" });
    const ranged = await series(
      { dimension: "all", value: "all", window: "all", from: "2022-08-01T10:00:00Z", to: "2022-08-02T00:00:00Z" },
      d,
    );
    expect(ranged.range).toEqual({ from: "1970-01-01T00:00:00.000Z", to: null });
    expect(ranged.total).toMatchObject({ orders: 6, sales: "12.50" });
  });
});

describe("series", () => {
  it("lists every window in the range, zeros where nothing sold, and an exact total", async () => {
    const result = await series(
      { dimension: "country", value: "France", window: "1h", from: "2022-08-01T00:00:00Z", to: "2022-08-01T04:00:00Z" },
      deps(hours, [T0 + 10 * H]),
    );
    expect(result.windows.map((w) => [w.start.slice(11, 16), w.orders, w.sales])).toEqual([
      ["00:00", 2, "10.00"],
      ["01:00", 1, "0.10"],
      ["02:00", 0, "0.00"],
      ["03:00", 4, "456789012.34"],
    ]);
    expect(result.total).toMatchObject({ orders: 7, sales: "456789022.44" });
  });

  it("gives no total for hopping windows, which overlap", async () => {
    const result = await series(
      { dimension: "all", value: "all", window: "10m/5m", from: "2022-08-01T00:00:00Z", to: "2022-08-01T00:30:00Z" },
      deps([], [T0]),
    );
    expect(result.windows).toHaveLength(5);
    expect(result.total).toBeNull();
  });

  it("answers week windows Monday to Monday: a Wednesday-to-Wednesday range widens to the Mondays around it", async () => {
    const week = 7 * 24 * H;
    const monday = Date.parse("2022-08-01T00:00:00Z");
    const weekly = { ...deps([item("1w", monday, week, { "country#France": m(2, 700) })], [T0]), windows: parseWindows("1w,all") };
    const result = await series(
      { dimension: "country", value: "France", window: "1w", from: "2022-08-03T00:00:00Z", to: "2022-08-10T00:00:00Z" },
      weekly,
    );
    expect(result.range).toEqual({ from: "2022-08-01T00:00:00.000Z", to: "2022-08-15T00:00:00.000Z" });
    expect(result.windows.map((w) => [w.start, w.end, w.sales])).toEqual([
      ["2022-08-01T00:00:00.000Z", "2022-08-08T00:00:00.000Z", "7.00"],
      ["2022-08-08T00:00:00.000Z", "2022-08-15T00:00:00.000Z", "0.00"],
    ]);
    const board = await leaderboard({ dimension: "country", window: "1w", at: "2022-08-07T23:59:59Z" }, weekly);
    expect(board.window).toMatchObject({ start: "2022-08-01T00:00:00.000Z", end: "2022-08-08T00:00:00.000Z" });
    expect(board.entries).toMatchObject([{ value: "France", sales: "7.00" }]);
  });

  it("widens a range off the window grid to the windows that cover it, and says which range it answered", async () => {
    const d = deps(hours, [T0]);
    const q = { dimension: "country", value: "France", window: "1h" };
    const result = await series({ ...q, from: "2022-08-01T00:30:00Z", to: "2022-08-01T02:00:00.001Z" }, d);
    expect(result).toMatchObject({
      from: "2022-08-01T00:30:00.000Z",
      to: "2022-08-01T02:00:00.001Z",
      range: { from: "2022-08-01T00:00:00.000Z", to: "2022-08-01T03:00:00.000Z" },
    });
    expect(result.windows.map((w) => [w.start.slice(11, 16), w.sales])).toEqual([
      ["00:00", "10.00"],
      ["01:00", "0.10"],
      ["02:00", "0.00"],
    ]);
    // A range inside one window answers that window; a range on the grid is answered as it is.
    const inside = await series({ ...q, from: "2022-08-01T01:10:00Z", to: "2022-08-01T01:20:00Z" }, d);
    expect(inside.range).toEqual({ from: "2022-08-01T01:00:00.000Z", to: "2022-08-01T02:00:00.000Z" });
    expect(inside.windows).toHaveLength(1);
    const aligned = await series({ ...q, from: "2022-08-01T01:00:00Z", to: "2022-08-01T03:00:00Z" }, d);
    expect(aligned.range).toEqual({ from: "2022-08-01T01:00:00.000Z", to: "2022-08-01T03:00:00.000Z" });
  });

  it("widens hopping ranges to the advance, at least one whole window", async () => {
    const d = deps([], [T0]);
    const q = { dimension: "all", value: "all", window: "10m/5m" };
    const short = await series({ ...q, from: "2022-08-01T00:02:00Z", to: "2022-08-01T00:04:00Z" }, d);
    expect(short.range).toEqual({ from: "2022-08-01T00:00:00.000Z", to: "2022-08-01T00:10:00.000Z" });
    expect(short.windows.map((w) => w.start.slice(11, 16))).toEqual(["00:00"]);
    const longer = await series({ ...q, from: "2022-08-01T00:02:00+00:00", to: "2022-08-01T00:31:00Z" }, d);
    expect(longer.range).toEqual({ from: "2022-08-01T00:00:00.000Z", to: "2022-08-01T00:35:00.000Z" });
    expect(longer.windows.map((w) => w.start.slice(11, 16))).toEqual(["00:00", "00:05", "00:10", "00:15", "00:20", "00:25"]);
  });

  it("refuses ranges reversed, missing, unreadable, too long once widened, or ending after 9999", async () => {
    const d = deps(hours, [T0]);
    const q = { dimension: "country", value: "France", window: "1h" };
    expect(await status(() => series({ ...q, from: "2022-08-01T02:00:00Z", to: "2022-08-01T01:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, from: "2022-08-01T02:00:00Z", to: "2022-08-01T02:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, from: "2022-08-01T02:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, from: "2022-08-01", to: "2022-08-02T00:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, window: "1m", from: "2022-08-01T00:00:00Z", to: "2022-08-02T00:00:00Z" }, d))).toBe(400);
    // 100 windows fit; widening the same range by a minute on each side makes 101.
    expect(await status(() => series({ ...q, window: "1m", from: "2022-08-01T00:00:00Z", to: "2022-08-01T01:40:00Z" }, d))).toBeUndefined();
    expect(await status(() => series({ ...q, window: "1m", from: "2022-08-01T00:00:00Z", to: "2022-08-01T01:40:00.001Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, window: "1d", from: "9999-12-31T01:00:00Z", to: "9999-12-31T02:00:00Z" }, d))).toBe(400);
  });
});

describe("partials of several partitions", () => {
  const split = [
    item("1h", T0, H, { "country#France": m(2, 1000), "region#Europe": m(2, 1000), "all#all": m(2, 1000) }, "sales-0"),
    item("1h", T0, H, { "country#Spain": m(1, 1500), "region#Europe": m(1, 1500), "all#all": m(1, 1500) }, "sales-1"),
    item("1h", T0, H, { "country#Japan": m(5, 5), "region#Asia & Pacific": m(5, 5), "all#all": m(5, 5) }, "sales-2"),
  ];

  it("adds every partition's partial of a region into one leaderboard entry", async () => {
    const board = await leaderboard({ dimension: "region", window: "1h", at: "2022-08-01T00:00:00Z" }, deps(split, [T0]));
    expect(board.entries.map((e) => [e.value, e.orders, e.sales, e.min, e.max])).toEqual([
      ["Europe", 3, "25.00", "0.01", "15.00"],
      ["Asia & Pacific", 5, "0.05", "0.01", "0.05"],
    ]);
  });

  it("answers a series window by window from the rolled-up figures, and totals them once", async () => {
    const result = await series(
      { dimension: "all", value: "all", window: "1h", from: "2022-08-01T00:00:00Z", to: "2022-08-01T02:00:00Z" },
      deps(split, [T0]),
    );
    expect(result.windows.map((w) => [w.orders, w.sales])).toEqual([
      [8, "25.05"],
      [0, "0.00"],
    ]);
    expect(result.total).toMatchObject({ orders: 8, sales: "25.05", average: "3.13" });
  });
});

describe("windows a rebuild revised", () => {
  const at = Date.parse("2026-11-30T08:00:00Z");
  const restated = { at, reason: "restated: late sales folded in" };
  const slices = [
    { ...item("1h", T0, H, { "country#France": m(2, 1000), "all#all": m(2, 1000) }, "sales-0"), revised: restated },
    { ...item("1h", T0, H, { "country#Spain": m(1, 500), "all#all": m(1, 500) }, "sales-1"), revised: { at: at - H, reason: "older" } },
    item("1h", T0 + H, H, { "country#Spain": m(1, 500), "all#all": m(1, 500) }, "sales-1"),
  ];

  it("says so on the leaderboard's window, with the latest revision's time and reason", async () => {
    const board = await leaderboard({ dimension: "country", window: "1h", at: "2022-08-01T00:00:00Z" }, deps(slices, [T0]));
    expect(board.window.revised).toEqual({ at: "2026-11-30T08:00:00.000Z", reason: "restated: late sales folded in" });
    const untouched = await leaderboard({ dimension: "country", window: "1h", at: "2022-08-01T01:00:00Z" }, deps(slices, [T0]));
    expect(untouched.window).not.toHaveProperty("revised");
  });

  it("says so on each revised window of a series, and only there", async () => {
    const result = await series(
      { dimension: "all", value: "all", window: "1h", from: "2022-08-01T00:00:00Z", to: "2022-08-01T02:00:00Z" },
      deps(slices, [T0]),
    );
    expect(result.windows.map((w) => w.revised?.reason ?? null)).toEqual(["restated: late sales folded in", null]);
  });
});
