import { addPartial, type Dimension, dimensions, type Metrics, mergeMetrics } from "#shared/aggregates/metrics";
import type { Revision } from "#shared/aggregates/slices";
import { badRequest, HttpError } from "#shared/http/errors";
import { formatCents } from "#shared/money/cents";
import { MAX_INSTANT_MS, parseIsoInstant } from "#shared/time/instant";
import { coveringRange, latestWindowStart, type WindowSpec } from "#shared/windows/windows";
import { type CompletenessView, completenessOf, judgePartitions, type PartitionMark, type PartitionsView } from "./completeness.ts";

export type { PartitionMark } from "./completeness.ts";

/**
 * Reads the aggregates table; DynamoDB in the handler, anything with the same shape in tests.
 * A window's figures come as per-partition partials (one slice per partition) that the
 * leaderboard adds up; a series comes as one point per window.
 */
export interface QueryStore {
  /**
   * One dimension's figures in one window instance, one map by value per partition that has the
   * window, read as one snapshot (all old or all new figures of a rebuild), and the latest
   * revision among them.
   */
  windowValues(window: string, start: number, dimension: Dimension): Promise<WindowPartials>;
  /**
   * One value's figures in the windows of a spec starting in [fromStart, toStart], at most one
   * point per start: a country's from its partition's slices, a region's or the total from the
   * rollups (every partition added up).
   */
  valueSeries(window: string, fromStart: number, toStart: number, dimension: Dimension, value: string): Promise<SeriesPoint[]>;
  /** Each partition's watermark item (max event time seen, time of its last batch), by partition number. */
  watermarks(): Promise<ReadonlyMap<number, PartitionMark>>;
}

/** A window instance's per-partition figures of one dimension, and the latest rebuild that replaced them. */
export interface WindowPartials {
  readonly partials: readonly ReadonlyMap<string, Metrics>[];
  readonly revised?: Revision;
}

/** One window of a value's series, and the latest rebuild that replaced its figures. */
export interface SeriesPoint {
  readonly start: number;
  readonly metrics: Metrics;
  readonly revised?: Revision;
}

/** A rebuild that replaced a window's figures, as the API shows it (`npm run rebuild`, docs/rebuild.md). */
export interface RevisedView {
  readonly at: string;
  readonly reason: string;
}

const revisedView = (revised: Revision | undefined): { revised?: RevisedView } =>
  revised === undefined ? {} : { revised: { at: iso(revised.at), reason: revised.reason } };

export interface QueryDeps {
  readonly store: QueryStore;
  readonly windows: readonly WindowSpec[];
  readonly allowedLatenessMs: number;
  /** Partitions of the sales topic: a window is closed only once every one has passed it or is idle. */
  readonly partitions: number;
  /** A partition with no batch for this long is idle: it holds no window open past lateness + this. */
  readonly idleTimeoutMs: number;
  readonly maxSeriesWindows: number;
  /** The wall clock (epoch ms); Date.now in the handler. */
  readonly now?: () => number;
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
  /** Null for the all-time window, which never ends. */
  readonly end: string | null;
  readonly status: "open" | "closed";
  /** Present once a rebuild replaced the window's figures (a restatement, a repair). */
  readonly revised?: RevisedView;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** A window's end as the API shows it: the all-time window has none. */
const endOf = (spec: WindowSpec, end: number) => (spec.unbounded ? null : iso(end));

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

/** Reads the partitions' watermark items and judges them at the deps' clock. Throws on store errors. */
async function partitionsNow(deps: QueryDeps): Promise<PartitionsView> {
  const marks = await deps.store.watermarks();
  return judgePartitions(marks, (deps.now ?? Date.now)(), deps);
}

/**
 * The window each route answers when the request names none. They are the API's contract
 * (docs/openapi.yaml, written by `npm run gen`, which refuses a default the template's `Windows`
 * default lacks); a stack configured without one answers 400 UNKNOWN_WINDOW listing its windows.
 */
export const defaultWindows = { leaderboard: "10m/5m", series: "1h" } as const;

/** Query-string parameters each route reads; anything else is refused, so a path parameter can never be overridden. */
export const queryParameters = {
  leaderboard: ["window", "at", "final", "limit"],
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
  readonly final?: string;
  readonly limit?: string;
}

/** Most entries a leaderboard lists: as many countries as one slice keeps by name, at most. */
export const MAX_LEADERBOARD_LIMIT = 1000;

function finalFlag(text: string | undefined): boolean {
  if (text === undefined || text === "false") return false;
  if (text === "true") return true;
  throw badRequest("INVALID_FINAL", `final must be true or false; got "${text}"`);
}

/**
 * Top values of a dimension by sales in one window, with the window's status and completeness:
 * by default the latest window that has figures (the one that contains the greatest watermark;
 * the one containing now before any sale), usually still open; with `final=true` the latest
 * closed one; with `at` the latest-starting window that contains it. Throws HttpError 400 on bad
 * or conflicting parameters, 404 (NO_CLOSED_WINDOW) for `final=true` while no window is closed.
 */
export async function leaderboard(query: LeaderboardQuery, deps: QueryDeps) {
  const dimension = dimensionOf(query.dimension);
  const spec = windowSpec(deps, query.window, defaultWindows.leaderboard);
  const limit = query.limit === undefined ? 10 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LEADERBOARD_LIMIT)
    throw badRequest("INVALID_LIMIT", `limit must be an integer from 1 to ${MAX_LEADERBOARD_LIMIT}; got "${query.limit}"`);
  const final = finalFlag(query.final);
  const at = instant("at", query.at);
  if (final && at !== undefined) throw badRequest("CONFLICTING_PARAMETERS", "pass at or final=true, not both");
  if (final && spec.unbounded) throw badRequest("NEVER_CLOSES", `the ${spec.name} window never closes; leave final out`);
  const partitions = await partitionsNow(deps);
  // No window after the one holding the greatest watermark has figures (nothing later was seen),
  // and that one has them: the record that set the watermark counted in every window containing
  // it (it cannot be late). Only expiry empties it, and then every earlier window has expired
  // too, so reading earlier instances would find nothing either: one slice read suffices.
  const latestWithFigures = partitions.latestEventTime === undefined ? undefined : latestWindowStart(spec, partitions.latestEventTime);
  let start: number;
  if (at !== undefined) start = latestWindowStart(spec, at);
  else if (final) {
    if (!Number.isFinite(partitions.closedUntil))
      throw new HttpError(
        404,
        "NO_CLOSED_WINDOW",
        `no ${spec.name} window is closed yet: a partition that delivers sales has not passed one; leave final out for the current window`,
      );
    const latestClosed = latestWindowStart(spec, partitions.closedUntil - spec.sizeMs);
    start = latestWithFigures === undefined ? latestClosed : Math.min(latestClosed, latestWithFigures);
  } else start = latestWithFigures ?? latestWindowStart(spec, partitions.now);
  const end = start + spec.sizeMs;
  const merged = new Map<string, Metrics>();
  const { partials, revised } = await deps.store.windowValues(spec.name, start, dimension);
  for (const partial of partials) for (const [value, metrics] of partial) addPartial(merged, value, metrics);
  const entries = [...merged]
    .sort(([ka, a], [kb, b]) => (a.sales === b.sales ? ka.localeCompare(kb) : a.sales > b.sales ? -1 : 1))
    .slice(0, limit)
    .map(([value, metrics]) => ({ value, ...view(metrics) }));
  const completeness: CompletenessView = completenessOf(partitions, end);
  return {
    dimension,
    window: {
      name: spec.name,
      start: iso(start),
      end: endOf(spec, end),
      status: statusOf(end, partitions.closedUntil),
      ...revisedView(revised),
    },
    completeness,
    entries,
  };
}

export interface SeriesQuery {
  readonly dimension: string | undefined;
  readonly value: string | undefined;
  readonly window?: string;
  readonly from?: string;
  readonly to?: string;
}

/**
 * A value's windows covering [from, to), and their total (for tumbling windows; hopping windows
 * overlap, so their sum would count sales twice). `from` and `to` off the window's grid are
 * widened to the windows that cover them (at least one window), and `range` says what was
 * answered. The all-time window needs no range: it is the one window. Throws HttpError 400 on a
 * missing, reversed or unreadable range, or one of more than maxSeriesWindows windows.
 */
export async function series(query: SeriesQuery, deps: QueryDeps) {
  const dimension = dimensionOf(query.dimension);
  if (query.value === undefined || query.value === "")
    throw badRequest("MISSING_VALUE", "the path needs a value, e.g. /series/country/India");
  const spec = windowSpec(deps, query.window, defaultWindows.series);
  const from = instant("from", query.from);
  const to = instant("to", query.to);
  if (!spec.unbounded && (from === undefined || to === undefined))
    throw badRequest("MISSING_RANGE", "from and to are required (ISO-8601 with a zone)");
  if (from !== undefined && to !== undefined && to <= from) throw badRequest("INVALID_RANGE", "to must be after from");
  const range = coveringRange(spec, from ?? 0, to ?? 0);
  if (!spec.unbounded && range.to > MAX_INSTANT_MS)
    throw badRequest(
      "INVALID_RANGE",
      `the ${spec.name} windows covering the range would end after 9999-12-31 (the last day a window can cover)`,
    );
  const lastStart = range.to - spec.sizeMs;
  const count = (lastStart - range.from) / spec.advanceMs + 1;
  if (count > deps.maxSeriesWindows)
    throw badRequest("RANGE_TOO_LONG", `the range holds ${count} ${spec.name} windows; at most ${deps.maxSeriesWindows} per request`);
  const [points, partitions] = await Promise.all([
    deps.store.valueSeries(spec.name, range.from, lastStart, dimension, query.value),
    partitionsNow(deps),
  ]);
  const byStart = new Map(points.map((point) => [point.start, point]));
  const windows: WindowView[] = [];
  let total: Metrics | undefined;
  for (let start = range.from; start <= lastStart; start += spec.advanceMs) {
    const point = byStart.get(start);
    const metrics = point?.metrics;
    windows.push({
      start: iso(start),
      end: endOf(spec, start + spec.sizeMs),
      status: statusOf(start + spec.sizeMs, partitions.closedUntil),
      ...view(metrics),
      ...revisedView(point?.revised),
    });
    total = mergeMetrics(total, metrics);
  }
  return {
    dimension,
    value: query.value,
    window: spec.name,
    // As asked (null when not given, for the all-time window); `range` is what was answered.
    from: from === undefined ? null : iso(from),
    to: to === undefined ? null : iso(to),
    range: { from: iso(range.from), to: endOf(spec, range.to) },
    windows,
    total: spec.tumbling ? view(total) : null,
  };
}
