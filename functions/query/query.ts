import { addPartial, type Dimension, dimensions, type Metrics, mergeMetrics } from "#shared/aggregates/model";
import { badRequest, HttpError } from "#shared/http/errors";
import { formatCents } from "#shared/money/cents";
import { parseIsoInstant } from "#shared/time/instant";
import { latestWindowStart, type WindowSpec } from "#shared/windows/windows";

/**
 * Reads the aggregates table; DynamoDB in the handler, anything with the same shape in tests.
 * A window's figures come as per-partition partials (one slice per partition) that the
 * leaderboard adds up; a series comes as one point per window.
 */
export interface QueryStore {
  /** One dimension's figures in one window instance, one map by value per partition that has the window. */
  windowValues(window: string, start: number, dimension: Dimension): Promise<ReadonlyMap<string, Metrics>[]>;
  /**
   * One value's figures in the windows of a spec starting in [fromStart, toStart], at most one
   * point per start: a country's from its partition's slices, a region's or the total from the
   * rollups (every partition added up).
   */
  valueSeries(
    window: string,
    fromStart: number,
    toStart: number,
    dimension: Dimension,
    value: string,
  ): Promise<{ start: number; metrics: Metrics }[]>;
  /** Max event time seen on each partition of the topic, by partition number. */
  watermarks(): Promise<ReadonlyMap<number, number>>;
}

export interface QueryDeps {
  readonly store: QueryStore;
  readonly windows: readonly WindowSpec[];
  readonly allowedLatenessMs: number;
  /** Partitions of the sales topic: a window is closed only once every one has passed it. */
  readonly partitions: number;
  readonly maxSeriesWindows: number;
}

/** Metrics of one value in one window as the API returns them: money as decimal strings. */
export interface MetricsView {
  readonly orders: number;
  readonly sales: string;
  readonly min: string | null;
  readonly max: string | null;
  readonly average: string | null;
  readonly late: number;
}

export interface WindowView extends MetricsView {
  readonly start: string;
  readonly end: string;
  readonly status: "open" | "closed";
}

const iso = (ms: number) => new Date(ms).toISOString();

function view(metrics: Metrics | undefined): MetricsView {
  if (metrics === undefined) return { orders: 0, sales: "0.00", min: null, max: null, average: null, late: 0 };
  return {
    orders: Number(metrics.orders),
    sales: formatCents(metrics.sales),
    min: metrics.min === undefined ? null : formatCents(metrics.min),
    max: metrics.max === undefined ? null : formatCents(metrics.max),
    average: metrics.orders === 0n ? null : formatCents(roundedDivision(metrics.sales, metrics.orders)),
    late: Number(metrics.late),
  };
}

/** a / b rounded half away from zero, in integers. */
function roundedDivision(a: bigint, b: bigint): bigint {
  const negative = a < 0n !== b < 0n;
  const [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  const q = (2n * x + y) / (2n * y);
  return negative ? -q : q;
}

function windowSpec(deps: QueryDeps, name: string | undefined, fallback: string): WindowSpec {
  const wanted = name ?? fallback;
  const spec = deps.windows.find((candidate) => candidate.name === wanted);
  if (spec === undefined)
    throw badRequest("UNKNOWN_WINDOW", `window must be one of ${deps.windows.map((w) => w.name).join(", ")}; got "${wanted}"`);
  return spec;
}

function dimensionOf(text: string | undefined): Dimension {
  if (text === undefined || !(dimensions as readonly string[]).includes(text)) {
    throw badRequest("UNKNOWN_DIMENSION", `dimension must be one of ${dimensions.join(", ")}; got "${text ?? ""}"`);
  }
  return text as Dimension;
}

function instant(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseIsoInstant(text);
  if (ms === undefined) {
    throw badRequest(
      "INVALID_TIME",
      `${name} must be an existing ISO-8601 date-time with a zone, e.g. 2022-08-01T00:00:00Z; got "${text}"`,
    );
  }
  return ms;
}

/** The time before which every partition has moved on by more than the allowed lateness. */
async function closedBefore(deps: QueryDeps): Promise<number> {
  const watermarks = await deps.store.watermarks();
  let least = Number.POSITIVE_INFINITY;
  for (let partition = 0; partition < deps.partitions; partition++)
    least = Math.min(least, watermarks.get(partition) ?? Number.NEGATIVE_INFINITY);
  return least - deps.allowedLatenessMs;
}

/** Query-string parameters each route reads; anything else is refused, so a path parameter can never be overridden. */
export const queryParameters = {
  leaderboard: ["window", "at", "limit"],
  series: ["window", "from", "to"],
} as const;

/**
 * The query-string parameters of a route, only those it knows. Throws HttpError 400
 * (UNKNOWN_PARAMETER) naming every other parameter present, path parameter names included.
 */
export function knownParameters<const K extends string>(
  params: Readonly<Record<string, string | undefined>> | undefined,
  allowed: readonly K[],
): Partial<Record<K, string>> {
  const unknown = Object.keys(params ?? {}).filter((name) => !(allowed as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw badRequest(
      "UNKNOWN_PARAMETER",
      `unknown query parameter${unknown.length > 1 ? "s" : ""} ${unknown.map((name) => `"${name}"`).join(", ")}; allowed: ${allowed.join(", ")}`,
      { parameters: unknown },
    );
  }
  const known: Partial<Record<K, string>> = {};
  for (const name of allowed) {
    const value = params?.[name];
    if (value !== undefined) known[name] = value;
  }
  return known;
}

const statusOf = (end: number, closedUntil: number): "open" | "closed" => (end <= closedUntil ? "closed" : "open");

export interface LeaderboardQuery {
  readonly dimension: string | undefined;
  readonly window?: string;
  readonly at?: string;
  readonly limit?: string;
}

/**
 * Top values of a dimension by sales in one window: the latest window that contains `at`, or by
 * default the latest closed one. Throws HttpError 400 on bad parameters, 404 when no window has
 * closed yet.
 */
export async function leaderboard(query: LeaderboardQuery, deps: QueryDeps) {
  const dimension = dimensionOf(query.dimension);
  const spec = windowSpec(deps, query.window, "10m/5m");
  const limit = query.limit === undefined ? 10 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw badRequest("INVALID_LIMIT", `limit must be an integer from 1 to 100; got "${query.limit}"`);
  const closedUntil = await closedBefore(deps);
  const at = instant("at", query.at);
  let start: number;
  if (at !== undefined) start = latestWindowStart(spec, at);
  else {
    if (!Number.isFinite(closedUntil))
      throw new HttpError(404, "NO_CLOSED_WINDOW", `no ${spec.name} window has closed yet on every partition; pass at=<ISO-8601>`);
    start = latestWindowStart(spec, closedUntil - spec.sizeMs);
  }
  const end = start + spec.sizeMs;
  const merged = new Map<string, Metrics>();
  for (const partial of await deps.store.windowValues(spec.name, start, dimension))
    for (const [value, metrics] of partial) addPartial(merged, value, metrics);
  const entries = [...merged]
    .sort(([ka, a], [kb, b]) => (a.sales === b.sales ? ka.localeCompare(kb) : a.sales > b.sales ? -1 : 1))
    .slice(0, limit)
    .map(([value, metrics]) => ({ value, ...view(metrics) }));
  return { dimension, window: { name: spec.name, start: iso(start), end: iso(end), status: statusOf(end, closedUntil) }, entries };
}

export interface SeriesQuery {
  readonly dimension: string | undefined;
  readonly value: string | undefined;
  readonly window?: string;
  readonly from?: string;
  readonly to?: string;
}

/**
 * A value's windows with start in [from, to) and end at or before `to`, and their total (for
 * tumbling windows; hopping windows overlap, so their sum would count sales twice). `from` and
 * `to` must fall on the window's grid, so no window reaches outside the range.
 */
export async function series(query: SeriesQuery, deps: QueryDeps) {
  const dimension = dimensionOf(query.dimension);
  if (query.value === undefined || query.value === "")
    throw badRequest("MISSING_VALUE", "the path needs a value, e.g. /series/country/India");
  const spec = windowSpec(deps, query.window, "1h");
  const from = instant("from", query.from);
  const to = instant("to", query.to);
  if (from === undefined || to === undefined) throw badRequest("MISSING_RANGE", "from and to are required (ISO-8601 with a zone)");
  if (to <= from) throw badRequest("INVALID_RANGE", "to must be after from");
  if (from % spec.advanceMs !== 0 || to % spec.advanceMs !== 0) {
    throw badRequest(
      "UNALIGNED_RANGE",
      `from and to must be multiples of ${spec.name}'s advance (${spec.advanceMs / 60000} min) since the epoch; use a finer window for finer ranges`,
    );
  }
  const lastStart = to - spec.sizeMs;
  const count = lastStart < from ? 0 : (lastStart - from) / spec.advanceMs + 1;
  if (count > deps.maxSeriesWindows)
    throw badRequest("RANGE_TOO_LONG", `the range holds ${count} ${spec.name} windows; at most ${deps.maxSeriesWindows} per request`);
  const [points, closedUntil] = await Promise.all([
    count === 0 ? Promise.resolve([]) : deps.store.valueSeries(spec.name, from, lastStart, dimension, query.value),
    closedBefore(deps),
  ]);
  const byStart = new Map(points.map(({ start, metrics }) => [start, metrics]));
  const windows: WindowView[] = [];
  let total: Metrics | undefined;
  for (let start = from; start <= lastStart; start += spec.advanceMs) {
    const metrics = byStart.get(start);
    windows.push({
      start: iso(start),
      end: iso(start + spec.sizeMs),
      status: statusOf(start + spec.sizeMs, closedUntil),
      ...view(metrics),
    });
    total = mergeMetrics(total, metrics);
  }
  return {
    dimension,
    value: query.value,
    window: spec.name,
    from: iso(from),
    to: iso(to),
    windows,
    total: spec.tumbling ? view(total) : null,
  };
}
