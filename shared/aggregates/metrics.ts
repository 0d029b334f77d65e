/**
 * The figures of the aggregates, apart from how the table stores them: metrics of one dimension
 * value in one window, and their sum. Pure; no storage shape here (see ./table.ts for that).
 *
 * Records are keyed by country, so a country's figures are whole in its partition's slice;
 * region and overall figures are per-partition partials: a leaderboard adds them up when it
 * reads (`mergeMetrics`), and the rollup function adds them up into one rollup per window
 * instance for series.
 */
export const Dimension = { country: "country", region: "region", all: "all" } as const;
export type Dimension = (typeof Dimension)[keyof typeof Dimension];
export const dimensions: readonly Dimension[] = [Dimension.country, Dimension.region, Dimension.all];
export const ALL_VALUE = "all";
/** The country value under which a slice counts countries beyond its bound (MAX_COUNTRIES_PER_WINDOW). */
export const OTHER_COUNTRIES = "(other countries)";

/** Metrics of one dimension value in one window. Money in cents (BigInt: totals are unbounded). */
export interface Metrics {
  readonly orders: bigint;
  readonly sales: bigint;
  readonly min: bigint | undefined;
  readonly max: bigint | undefined;
  /** Records that arrived after this window closed (beyond the allowed lateness): counted, not applied. */
  readonly late: bigint;
}

/** "country#France", "region#Europe", "all#all": the key of a value's metrics in a slice or rollup. Never throws. */
export const valueKey = (dimension: Dimension, value: string) => `${dimension}#${value}`;

/** The sum of two partials of one value (either may be absent). Never throws. */
export function mergeMetrics(a: Metrics | undefined, b: Metrics | undefined): Metrics | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return {
    orders: a.orders + b.orders,
    sales: a.sales + b.sales,
    min: a.min === undefined ? b.min : b.min === undefined || a.min < b.min ? a.min : b.min,
    max: a.max === undefined ? b.max : b.max === undefined || a.max > b.max ? a.max : b.max,
    late: a.late + b.late,
  };
}

/** Adds a partial into `totals` under `key` (the first partial of a key is taken as it is). Never throws. */
export function addPartial<K>(totals: Map<K, Metrics>, key: K, partial: Metrics): void {
  totals.set(key, mergeMetrics(totals.get(key), partial) as Metrics);
}
