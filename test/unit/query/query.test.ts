import { describe, expect, it } from "vitest";
import { leaderboard, type QueryDeps, type QueryStore, series } from "#functions/query/query";
import { addPartial, emptySlice, type Metrics, type SliceItem } from "#shared/aggregates/model";
import { HttpError } from "#shared/http/errors";
import { parseWindows } from "#shared/windows/windows";

const H = 3_600_000;
const T0 = Date.parse("2022-08-01T00:00:00Z");
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

/**
 * A store over slices in memory, answering as the DynamoDB one does: a window's per-partition
 * partials, and a series with one point per window (a region's or the total's added up, as the
 * rollups hold them).
 */
function deps(items: SliceItem[], watermarks: number[]): QueryDeps {
  const store: QueryStore = {
    windowValues: async (window, start, dimension) =>
      items
        .filter((i) => i.window === window && i.start === start)
        .map(
          (i) => new Map([...i.values].filter(([k]) => k.startsWith(`${dimension}#`)).map(([k, m]) => [k.slice(dimension.length + 1), m])),
        ),
    valueSeries: async (window, from, to, dimension, value) => {
      const byStart = new Map<number, Metrics>();
      for (const i of items) {
        const metrics = i.values.get(`${dimension}#${value}`);
        if (i.window === window && i.start >= from && i.start <= to && metrics !== undefined) addPartial(byStart, i.start, metrics);
      }
      return [...byStart].map(([start, metrics]) => ({ start, metrics }));
    },
    watermarks: async () => new Map(watermarks.map((wm, partition) => [partition, wm])),
  };
  return {
    store,
    windows: parseWindows("1m,10m/5m,1h,1d"),
    allowedLatenessMs: 600_000,
    partitions: watermarks.length,
    maxSeriesWindows: 100,
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

  it("defaults to the latest window closed on every partition", async () => {
    const board = await leaderboard({ dimension: "region", window: "1h" }, deps(hours, [T0 + 2 * H + 600_000, T0 + 5 * H]));
    expect(board.window.start).toBe("2022-08-01T01:00:00.000Z");
    expect(board.entries).toEqual([{ value: "Europe", orders: 1, sales: "0.10", min: "0.01", max: "0.10", average: "0.10", late: 0 }]);
  });

  it("answers 400 for unknown dimensions, windows and limits, 404 before any window closed", async () => {
    const d = deps(hours, [T0]);
    expect(await status(() => leaderboard({ dimension: "city" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", window: "2h" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", limit: "0", at: "2022-08-01T00:00:00Z" }, d))).toBe(400);
    expect(await status(() => leaderboard({ dimension: "country", at: "yesterday" }, d))).toBe(400);
    // A date that does not exist is refused, not rolled over to 2 March.
    expect(await status(() => leaderboard({ dimension: "country", at: "2022-02-30T00:00:00Z" }, d))).toBe(400);
    // Partitions 1 and 2 have no watermark yet, so no window is closed on every partition.
    expect(await status(() => leaderboard({ dimension: "country" }, { ...d, partitions: 3 }))).toBe(404);
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

  it("refuses ranges off the window grid, reversed, missing or too long", async () => {
    const d = deps(hours, [T0]);
    const q = { dimension: "country", value: "France", window: "1h" };
    expect(await status(() => series({ ...q, from: "2022-08-01T00:30:00Z", to: "2022-08-01T02:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, from: "2022-08-01T02:00:00Z", to: "2022-08-01T01:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, from: "2022-08-01T02:00:00Z" }, d))).toBe(400);
    expect(await status(() => series({ ...q, window: "1m", from: "2022-08-01T00:00:00Z", to: "2022-08-02T00:00:00Z" }, d))).toBe(400);
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
