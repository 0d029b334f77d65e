import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import type { PartitionMark, QueryStore } from "#functions/query/query";
import { createHandler, productionDeps } from "#functions/query/wiring";
import { emptySlice, type SliceItem } from "#shared/aggregates/slices";
import type { HttpResponse } from "#shared/http/responses";
import { parseWindows } from "#shared/windows/windows";
import { captureLogs, eventFile, instruments, lambdaContext } from "#test/support/lambda";

// The fake below stands in for the table (the DynamoDB store has a test of its own).

const T0 = Date.parse("2022-08-01T10:15:00Z");
let items: SliceItem[] = [];
let watermarks = new Map<number, PartitionMark>();
let failWith: Error | undefined;
const store = {
  windowValues: async (window, start, dimension) => {
    if (failWith !== undefined) throw failWith;
    const partials = items
      .filter((item) => item.window === window && item.start === start)
      .map(
        (item) =>
          new Map([...item.values].filter(([k]) => k.startsWith(`${dimension}#`)).map(([k, m]) => [k.slice(dimension.length + 1), m])),
      );
    return { partials };
  },
  valueSeries: async (window, from, to, dimension, value) =>
    items.flatMap((item) => {
      const metrics = item.values.get(`${dimension}#${value}`);
      return item.window === window && item.start >= from && item.start <= to && metrics !== undefined
        ? [{ start: item.start, metrics }]
        : [];
    }),
  watermarks: async () => watermarks,
} satisfies QueryStore;

// The function's defaults (functions/query/config.ts), on a one-partition topic.
const settings = {
  table: "unit-aggregates",
  topic: "sales",
  partitions: 1,
  windows: parseWindows("1m,10m/5m,1h,1d,all"),
  allowedLatenessMs: 600_000,
  idleTimeoutMs: 300_000,
  maxSeriesWindows: 1500,
};
const { logger, tracer } = instruments("query");
const handler = createHandler({ logger, tracer, query: { ...productionDeps(settings).query, store } });
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  items = [];
  watermarks = new Map();
  failWith = undefined;
  logs = captureLogs();
  return () => logs.stop();
});

function event(file: string, change: (event: APIGatewayProxyEventV2) => void = () => undefined): APIGatewayProxyEventV2 {
  const parsed = eventFile<APIGatewayProxyEventV2>(file);
  change(parsed);
  return parsed;
}

const body = (response: HttpResponse) =>
  JSON.parse(response.body) as Record<string, unknown> & { error: { code: string; message: string } };

describe("query handler (GET /leaderboard, GET /series)", () => {
  it("builds its production deps from the function's settings without touching DynamoDB", () => {
    const deps = productionDeps(settings);
    expect(deps.query).toMatchObject({ partitions: 1, allowedLatenessMs: 600_000, maxSeriesWindows: 1500, now: Date.now });
    expect(Object.keys(deps.query.store).sort()).toEqual(["counts", "valueSeries", "watermarks", "windowValues"]);
  });

  it("answers a series from the store, path parameters deciding dimension and value", async () => {
    items = [
      {
        ...emptySlice("1m", T0, T0 + 60_000, "sales-0"),
        version: 1,
        values: new Map([["region#Europe", { orders: 2n, sales: 1099n, min: 100n, max: 999n, late: 0n }]]),
      },
    ];
    const response = await handler(event("api-get-series.json"), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(response.headers["cache-control"]).toBe("max-age=5");
    const series = body(response) as unknown as { dimension: string; value: string; windows: { sales: string }[] };
    expect(series.dimension).toBe("region");
    expect(series.value).toBe("Europe");
    expect(series.windows.map((w) => w.sales)).toEqual(["10.99", "0.00", "0.00"]);
  });

  it("refuses a query string that tries to override a path parameter, naming it", async () => {
    const response = await handler(
      event("api-get-series.json", (e) => {
        e.queryStringParameters = { ...e.queryStringParameters, value: "France", dimension: "country" };
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(body(response).error.code).toBe("UNKNOWN_PARAMETER");
    expect(body(response).error.message).toContain('"value", "dimension"');
  });

  it("refuses ?dimension= on a leaderboard instead of answering for another dimension", async () => {
    const response = await handler(
      event("api-get-leaderboard.json", (e) => {
        e.queryStringParameters = { ...e.queryStringParameters, dimension: "region" };
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(body(response).error).toMatchObject({ code: "UNKNOWN_PARAMETER", message: expect.stringContaining('"dimension"') });
  });

  it("answers 404 for a route it does not serve", async () => {
    const response = await handler(
      event("api-get-leaderboard.json", (e) => {
        e.rawPath = "/nowhere";
        e.requestContext.http.path = "/nowhere";
      }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(404);
    expect(body(response).error.code).toBe("NOT_FOUND");
  });

  it("answers a generic 500 when the table fails, and logs the detail under the request id", async () => {
    watermarks = new Map([[0, { eventTime: T0 + 3_600_000, lastBatchAt: Date.now() }]]);
    failWith = Object.assign(new Error("Throughput exceeds the current capacity"), { name: "ProvisionedThroughputExceededException" });
    const response = await handler(event("api-get-leaderboard.json"), lambdaContext());
    expect(response.statusCode).toBe(500);
    expect(body(response).error.code).toBe("INTERNAL_ERROR");
    expect(response.body).not.toContain("Throughput");
    const logged = logs.lines.map((line) => JSON.parse(line) as { level: string; message: string; error?: { name: string } });
    expect(logged.find((line) => line.level === "ERROR")).toMatchObject({
      message: "request failed",
      error: { name: "ProvisionedThroughputExceededException" },
    });
  });
});
