import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { InvariantError } from "../errors/internal-errors.ts";
import { bigCentsOf, formatCents } from "../money/cents.ts";

/**
 * The aggregates table holds one *slice* per (window instance, topic-partition): the figures
 * that one Kafka partition contributed to "1m starting 10:15", and the last offset it applied.
 * Only that partition's invocations ever write the slice (its key names the partition, and so
 * does the key of the country-series index), so partitions never contend for an item or an index
 * partition, and DynamoDB's per-key write limit is met per partition, not for the whole system.
 *
 * Records are keyed by country, so a country's figures are whole in its partition's slice;
 * region and overall figures are per-partition partials: a leaderboard adds them up when it
 * reads (`mergeMetrics`), and the rollup function adds them up into one rollup per window
 * instance for series (`RollupItem`).
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

export interface SliceItem {
  readonly window: string;
  readonly start: number;
  readonly end: number;
  /** "topic-partition", the key of the records map in the aws:kafka event. */
  readonly topicPartition: string;
  /** Optimistic concurrency: every write expects the version it read. 0 = not stored yet. */
  readonly version: number;
  /** Last offset of the partition applied to this slice; -1 when none. */
  readonly offset: number;
  /** "country#France", "region#Europe", "all#all" -> metrics. */
  readonly values: ReadonlyMap<string, Metrics>;
  readonly expiresAt: number | undefined;
}

export const valueKey = (dimension: Dimension, value: string) => `${dimension}#${value}`;

const iso = (ms: number) => new Date(ms).toISOString();

/** Identity of a slice, also its partition key: "<window>#<ISO start>#<topic-partition>". */
export const sliceId = (window: string, start: number, topicPartition: string) => `${window}#${iso(start)}#${topicPartition}`;

/** Primary key of a slice. */
export function sliceKey(window: string, start: number, topicPartition: string): Record<string, AttributeValue> {
  return { pk: { S: sliceId(window, start, topicPartition) }, sk: { S: "slice" } };
}

/** Primary key of a partition's watermark item (one item per partition: single writer too). */
export function watermarkKey(topicPartition: string): Record<string, AttributeValue> {
  return { pk: { S: `watermark#${topicPartition}` }, sk: { S: "watermark" } };
}

/**
 * Attribute of a watermark item holding the wall-clock epoch milliseconds of the last batch that
 * wrote it (items written before it existed lack it: their partition never counts as idle).
 */
export const WATERMARK_BATCH_AT = "at";

/**
 * Primary key of the marker `npm run redrive` writes when it applies a dead-lettered record, in the
 * same transaction as the record's slice updates and only if absent: a record is redriven once.
 */
export function redriveMarkerKey(topicPartition: string, offset: number): Record<string, AttributeValue> {
  return { pk: { S: `redriven#${topicPartition}#${offset}` }, sk: { S: "redriven" } };
}

/** Primary key of a partition's count of redriven records (`rd`), beside the watermark's count of dead letters (`dl`). */
export function redriveCountKey(topicPartition: string): Record<string, AttributeValue> {
  return { pk: { S: `redriven#${topicPartition}` }, sk: { S: "redriven-count" } };
}

/**
 * A sparse index, `country-series`, lists a (window spec, partition)'s slices by start, projected
 * to the country figures, so a country series reads one partition's index entries and nothing
 * else. Its partition key names the partition too.
 */
export const COUNTRY_SERIES_INDEX = "country-series";

export function seriesKey(window: string, start: number, topicPartition: string): { spk: string; ssk: string } {
  return { spk: `${window}#${topicPartition}`, ssk: iso(start) };
}

/** A slice's identity read back from its partition key; undefined when the key is not a slice's. */
export function parseSliceId(pk: string): { window: string; start: number; topicPartition: string } | undefined {
  const parts = pk.split("#");
  if (parts.length !== 3) return undefined;
  const [window, startIso, topicPartition] = parts as [string, string, string];
  const start = Date.parse(startIso);
  if (window === "" || Number.isNaN(start) || iso(start) !== startIso || !/^.+-\d+$/.test(topicPartition)) return undefined;
  return { window, start, topicPartition };
}

/** "sales-3" -> { topic: "sales", partition: 3 } (topics may contain dashes). */
export function splitTopicPartition(topicPartition: string): { topic: string; partition: number } {
  const dash = topicPartition.lastIndexOf("-");
  return { topic: topicPartition.slice(0, dash), partition: Number(topicPartition.slice(dash + 1)) };
}

/**
 * Region and overall figures of one window instance with every partition's slice added up: a
 * *rollup*. All rollups of a window spec share a partition key and sort by start, so a region or
 * overall series is one Query. Only the rollup function writes them (from the table's stream),
 * never a Kafka partition's invocation.
 */
export interface RollupItem {
  readonly window: string;
  readonly start: number;
  readonly end: number;
  /** "region#Europe", "all#all" -> metrics, every partition added. */
  readonly values: ReadonlyMap<string, Metrics>;
  /**
   * The sum of the versions of the slices read. A slice's version grows with every write, so a
   * rollup computed from a later read of the slices never has a smaller sum: writes keep the
   * largest. (Not across expiry: a slice deleted by its TTL and written again by a late record
   * starts over at 1, and the rollup, expiring at the same time, keeps its older figures.)
   */
  readonly seen: bigint;
  /** Slices found for the window. */
  readonly slices: number;
  /**
   * Partitions the read covered (slices 0..partitions-1). A rollup never replaces one over more
   * partitions, so a reader configured with fewer partitions than the topic has cannot drop some.
   */
  readonly partitions: number;
  readonly expiresAt: number | undefined;
}

/** Primary key of a window instance's rollup: pk "series#<window>", sk its ISO start. */
export function rollupKey(window: string, start: number): Record<string, AttributeValue> {
  return { pk: { S: `series#${window}` }, sk: { S: iso(start) } };
}

/** Attribute holding a dimension's figures in a slice: a map by value ("a" holds one entry, "all"). */
export const dimensionAttribute: Readonly<Record<Dimension, "c" | "r" | "a">> = { country: "c", region: "r", all: "a" };

export const emptySlice = (window: string, start: number, end: number, topicPartition: string): SliceItem => ({
  window,
  start,
  end,
  topicPartition,
  version: 0,
  offset: -1,
  values: new Map(),
  expiresAt: undefined,
});

/** The sum of two partials of one value (either may be absent). */
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

/** Adds a partial into `totals` under `key` (the first partial of a key is taken as it is). */
export function addPartial<K>(totals: Map<K, Metrics>, key: K, partial: Metrics): void {
  totals.set(key, mergeMetrics(totals.get(key), partial) as Metrics);
}

const n = (value: bigint | number) => ({ N: value.toString() });

function marshalMetrics(metrics: Metrics): AttributeValue {
  const entry: Record<string, AttributeValue> = { o: n(metrics.orders), s: { N: formatCents(metrics.sales) }, l: n(metrics.late) };
  if (metrics.min !== undefined) entry.mn = { N: formatCents(metrics.min) };
  if (metrics.max !== undefined) entry.mx = { N: formatCents(metrics.max) };
  return { M: entry };
}

/** Values ("region#Europe" -> metrics) as one map attribute per dimension; throws InvariantError on a key of another dimension. */
function dimensionMaps<A extends "c" | "r" | "a">(
  values: ReadonlyMap<string, Metrics>,
  attributes: readonly A[],
): Record<A, Record<string, AttributeValue>> {
  const maps: Record<string, Record<string, AttributeValue>> = Object.fromEntries(attributes.map((attribute) => [attribute, {}]));
  for (const [key, metrics] of values) {
    const hash = key.indexOf("#");
    const attribute = dimensionAttribute[key.slice(0, hash) as Dimension] as A | undefined;
    if (attribute === undefined || !attributes.includes(attribute))
      throw new InvariantError(`value key "${key}" names no dimension of ${attributes.join(", ")}`);
    (maps[attribute] as Record<string, AttributeValue>)[key.slice(hash + 1)] = marshalMetrics(metrics);
  }
  return maps as Record<A, Record<string, AttributeValue>>;
}

/** A slice as DynamoDB attributes; money as exact decimal Numbers ("1234.5"). */
export function marshalSlice(item: SliceItem): Record<string, AttributeValue> {
  const byDimension = dimensionMaps(item.values, ["c", "r", "a"]);
  const { spk, ssk } = seriesKey(item.window, item.start, item.topicPartition);
  return {
    ...sliceKey(item.window, item.start, item.topicPartition),
    spk: { S: spk },
    ssk: { S: ssk },
    win: { S: item.window },
    tp: { S: item.topicPartition },
    ws: n(item.start),
    we: n(item.end),
    ver: n(item.version),
    off: n(item.offset),
    c: { M: byDimension.c },
    r: { M: byDimension.r },
    a: { M: byDimension.a },
    ...(item.expiresAt !== undefined && { expiresAt: n(item.expiresAt) }),
  };
}

/** A rollup as DynamoDB attributes (the same map layout as a slice's `r` and `a`). */
export function marshalRollup(item: RollupItem): Record<string, AttributeValue> {
  const byDimension = dimensionMaps(item.values, ["r", "a"]);
  return {
    ...rollupKey(item.window, item.start),
    win: { S: item.window },
    ws: n(item.start),
    we: n(item.end),
    seen: n(item.seen),
    slices: n(item.slices),
    parts: n(item.partitions),
    r: { M: byDimension.r },
    a: { M: byDimension.a },
    ...(item.expiresAt !== undefined && { expiresAt: n(item.expiresAt) }),
  };
}

function num(value: AttributeValue | undefined, what: string): string {
  if (value?.N === undefined) throw new InvariantError(`aggregate item attribute ${what} is not a number`);
  return value.N;
}

/** Metrics of one map entry of a slice; throws InvariantError naming the attribute when it is not one. */
export function unmarshalMetrics(value: AttributeValue | undefined, where: string): Metrics {
  const m = value?.M;
  if (m === undefined) throw new InvariantError(`aggregate item attribute ${where} is not a map`);
  return {
    orders: BigInt(num(m.o, `${where}.o`)),
    sales: bigCentsOf(num(m.s, `${where}.s`)),
    min: m.mn === undefined ? undefined : bigCentsOf(num(m.mn, `${where}.mn`)),
    max: m.mx === undefined ? undefined : bigCentsOf(num(m.mx, `${where}.mx`)),
    late: BigInt(num(m.l, `${where}.l`)),
  };
}

/** The figures of one dimension in a (possibly projected) slice, by value. */
export function dimensionValues(attributes: Record<string, AttributeValue>, dimension: Dimension): Map<string, Metrics> {
  const attribute = dimensionAttribute[dimension];
  const values = new Map<string, Metrics>();
  for (const [value, metrics] of Object.entries(attributes[attribute]?.M ?? {}))
    values.set(value, unmarshalMetrics(metrics, `${attribute}.${value}`));
  return values;
}

/** Reads a whole slice back; throws InvariantError naming the attribute when the item is not one. */
export function unmarshalSlice(attributes: Record<string, AttributeValue>): SliceItem {
  const values = new Map<string, Metrics>();
  for (const dimension of dimensions)
    for (const [value, metrics] of dimensionValues(attributes, dimension)) values.set(valueKey(dimension, value), metrics);
  return {
    window: attributes.win?.S ?? "",
    start: Number(num(attributes.ws, "ws")),
    end: Number(num(attributes.we, "we")),
    topicPartition: attributes.tp?.S ?? "",
    version: Number(num(attributes.ver, "ver")),
    offset: Number(num(attributes.off, "off")),
    values,
    expiresAt: attributes.expiresAt?.N === undefined ? undefined : Number(attributes.expiresAt.N),
  };
}
