import { describe, expect, it } from "vitest";
import { type PageWindow, pageConfig } from "#functions/dashboard/page";
import { parseWindows } from "#shared/windows/windows";
import { type FakeAnswer, fakeFetch } from "#test/support/fakes/fetch";

/** The page's API module (plain browser JavaScript), loaded as a module. */
interface PageApi {
  queryApi(options: { windows: readonly PageWindow[]; now: () => number; fetchImpl: (url: string) => Promise<Response> }): {
    leaderboard(
      dimension: string,
      options?: { window?: string; final?: boolean; limit?: number },
    ): Promise<{
      window: { name: string | null; start: string | null; status: string | null };
      entries: { value: string; orders: number; sales: string }[];
      completeness: unknown;
      basis: string;
    }>;
    series(
      dimension: string,
      value: string,
      options: { window: string; points: number },
    ): Promise<{ range: { from: string; to: string }; windows: { start: string; sales: string }[]; total: string | null }>;
  };
  centsOf(decimal: string): bigint;
  chartPlan(
    boardWindow: string,
    windows: readonly PageWindow[],
  ): { window: string; points: number; caption: string; dates: boolean } | null;
}
const modulePath = "../../../functions/dashboard/page/api.mjs";
const api = (await import(/* @vite-ignore */ modulePath)) as PageApi;

const NOW = Date.parse("2026-12-01T22:07:30Z");
/** Windows as the dashboard function serves them in config.json, from a WINDOWS value. */
const served = (windows: string) => pageConfig({ auth: "iam", windows: parseWindows(windows) }).windows;
const WINDOWS = served("1m,10m/5m,1h,1d,1w,all");
/** The API module over a fake API answering by the request's path and query; `asked` is what it was asked. */
function fakeApi(answer: (url: URL) => FakeAnswer, now = NOW) {
  const { fetchImpl, calls } = fakeFetch(answer, "http://dashboard.test");
  return { asked: calls, client: api.queryApi({ windows: WINDOWS, now: () => now, fetchImpl }) };
}

const board = (start: string, status: string, entries: { value: string; orders: number; sales: string }[], extra = {}) => ({
  status: 200,
  body: { dimension: "country", window: { name: "10m/5m", start, end: "", status }, entries, ...extra },
});
const error = (status: number, code: string) => ({ status, body: { error: { code, message: `${code} here` } } });

describe("the dashboard's API module", () => {
  it("takes the current window from an API that answers it by default (it reports completeness)", async () => {
    const completeness = { watermarkLagMs: 1200, idlePartitions: [3, 4] };
    const { asked, client } = fakeApi(() =>
      board("2026-12-01T22:05:00.000Z", "open", [{ value: "France", orders: 2, sales: "0.30" }], { completeness }),
    );
    const view = await client.leaderboard("country");
    expect(view).toMatchObject({
      basis: "current",
      completeness,
      window: { status: "open" },
      entries: [{ value: "France", sales: "0.30" }],
    });
    expect(asked).toEqual(["/leaderboard/country?window=10m/5m&limit=10"]);
  });

  it("with the earlier API (404 while no window closed) asks for the window holding now, then the one before while that is empty", async () => {
    const { asked, client } = fakeApi((url) => {
      const at = url.searchParams.get("at");
      if (at === null) return error(404, "NO_CLOSED_WINDOW");
      return at === "2026-12-01T22:07:30.000Z"
        ? board("2026-12-01T22:05:00.000Z", "open", [])
        : board("2026-12-01T22:00:00.000Z", "open", [{ value: "India", orders: 1, sales: "4.99" }]);
    });
    const view = await client.leaderboard("country");
    expect(view).toMatchObject({ basis: "current", completeness: null, window: { start: "2026-12-01T22:00:00.000Z" } });
    expect(view.entries).toEqual([{ value: "India", orders: 1, sales: "4.99" }]);
    expect(asked).toEqual([
      "/leaderboard/country?window=10m/5m&limit=10",
      "/leaderboard/country?window=10m/5m&limit=10&at=2026-12-01T22:07:30.000Z",
      "/leaderboard/country?window=10m/5m&limit=10&at=2026-12-01T22:02:30.000Z",
    ]);
  });

  it("asks final=true for final figures, and falls back to the earlier API's default (the latest closed window)", async () => {
    const newer = fakeApi(() => board("2026-12-01T21:55:00.000Z", "closed", []));
    expect(await newer.client.leaderboard("region", { final: true })).toMatchObject({ basis: "final", window: { status: "closed" } });
    expect(newer.asked).toEqual(["/leaderboard/region?window=10m/5m&limit=10&final=true"]);
    const earlier = fakeApi((url) => (url.searchParams.has("final") ? error(400, "UNKNOWN_PARAMETER") : error(404, "NO_CLOSED_WINDOW")));
    expect(await earlier.client.leaderboard("region", { final: true })).toMatchObject({
      basis: "final",
      entries: [],
      window: { start: null },
    });
    expect(earlier.asked).toHaveLength(2);
  });

  it("passes other refusals on with the API's code", async () => {
    const { client } = fakeApi(() => error(400, "UNKNOWN_WINDOW"));
    await expect(client.leaderboard("country", { window: "2m" })).rejects.toMatchObject({ status: 400, code: "UNKNOWN_WINDOW" });
  });

  it("asks a series on the window grid up to the window holding now, and reports the range the API says it used", async () => {
    const { asked, client } = fakeApi(() => ({
      status: 200,
      body: {
        window: "1m",
        range: { from: "2026-12-01T21:08:00.000Z", to: "2026-12-01T22:08:00.000Z" },
        windows: [{ start: "2026-12-01T22:07:00.000Z", end: "", orders: 1, sales: "1.99", status: "open" }],
        total: { sales: "1.99" },
      },
    }));
    const series = await client.series("region", "Asia & Pacific", { window: "1m", points: 60 });
    expect(asked).toEqual(["/series/region/Asia & Pacific?window=1m&from=2026-12-01T21:08:00.000Z&to=2026-12-01T22:08:00.000Z"]);
    expect(series).toMatchObject({ total: "1.99", range: { from: "2026-12-01T21:08:00.000Z" }, windows: [{ sales: "1.99" }] });
    const hopping = fakeApi(() => ({ status: 200, body: { from: "a", to: "b", windows: [], total: null } }));
    expect(await hopping.client.series("all", "all", { window: "10m/5m", points: 3 })).toMatchObject({
      range: { from: "a", to: "b" },
      total: null,
    });
    expect(hopping.asked[0]).toContain("from=2026-12-01T21:55:00.000Z&to=2026-12-01T22:15:00.000Z");
  });

  it("asks a week's series on Monday-started weeks, the grid the config serves", async () => {
    // Wednesday 2026-12-02: its week began on Monday 2026-11-30; 3 weeks end on the next Monday.
    const { asked, client } = fakeApi(() => ({ status: 200, body: { windows: [], total: null } }), Date.parse("2026-12-02T10:00:00Z"));
    await client.series("all", "all", { window: "1w", points: 3 });
    expect(asked).toEqual(["/series/all/all?window=1w&from=2026-11-16T00:00:00.000Z&to=2026-12-07T00:00:00.000Z"]);
    await expect(client.series("all", "all", { window: "2m", points: 3 })).rejects.toThrow(
      'the API has no window "2m"; it has 1m, 10m/5m, 1h, 1d, 1w, all',
    );
  });

  it("charts under each board the coarsest tumbling window no longer than its advance, from the configured windows", () => {
    const plan = (board: string, windows = WINDOWS) => api.chartPlan(board, windows);
    expect(plan("1m")).toEqual({ window: "1m", points: 60, caption: "last 60 minutes, by minute", dates: false });
    expect(plan("10m/5m")).toMatchObject({ window: "1m", points: 60 });
    expect(plan("1h")).toEqual({ window: "1h", points: 24, caption: "last 24 hours, by hour", dates: false });
    expect(plan("1d")).toEqual({ window: "1d", points: 30, caption: "last 30 days, by day", dates: true });
    expect(plan("1w")).toEqual({ window: "1w", points: 52, caption: "last 52 weeks, by week", dates: true });
    expect(plan("all")).toMatchObject({ window: "1w" });
    expect(plan("all", served("1m,10m/5m,1h,1d,all"))).toMatchObject({ window: "1d", points: 30 });
    // Other sizes: a plain caption; a hopping board with no finer tumbling window charts itself.
    expect(plan("15m", served("15m,all"))).toEqual({ window: "15m", points: 60, caption: "last 60 15m windows", dates: false });
    expect(plan("10m/5m", served("10m/5m,all"))).toMatchObject({ window: "10m/5m", caption: "last 60 10m/5m windows" });
    expect(plan("all", served("all"))).toBeNull();
  });

  it("reads money as exact cents for bar lengths only", () => {
    expect(api.centsOf("90071992547409.93")).toBe(9_007_199_254_740_993n);
    expect(api.centsOf("0.1")).toBe(10n);
    expect(api.centsOf("-2.05")).toBe(-205n);
  });
});
