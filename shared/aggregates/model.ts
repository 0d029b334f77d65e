import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { bigCentsOf, formatCents } from "../money/cents.ts";

/**
 * The aggregates table holds one item per window instance ("1m" starting 10:15): the metrics of
 * every dimension value seen in it, and the last Kafka offset applied from each topic-partition.
 * A batch writes each window it touches once, whatever the number of countries; a leaderboard
 * is one GetItem and a series one Query on the `series` index.
 */
export const Dimension = { country: "country", region: "region", all: "all" } as const;
export type Dimension = (typeof Dimension)[keyof typeof Dimension];
export const dimensions: readonly Dimension[] = [Dimension.country, Dimension.region, Dimension.all];
export const ALL_VALUE = "all";
/** The country value under which a window item counts countries beyond its bound (MAX_COUNTRIES_PER_WINDOW). */
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

export interface WindowItem {
  readonly window: string;
  readonly start: number;
  readonly end: number;
  /** Optimistic concurrency: every write expects the version it read. 0 = not stored yet. */
  readonly version: number;
  /** "topic-partition" -> last offset applied to this item. */
  readonly offsets: ReadonlyMap<string, number>;
  /** "country#France", "region#Europe", "all#all" -> metrics. */
  readonly values: ReadonlyMap<string, Metrics>;
  readonly expiresAt: number | undefined;
}

export const valueKey = (dimension: Dimension, value: string) => `${dimension}#${value}`;

export function splitValueKey(key: string): { dimension: string; value: string } {
  const hash = key.indexOf("#");
  return { dimension: key.slice(0, hash), value: key.slice(hash + 1) };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Primary key of a window item. */
export function windowKey(window: string, start: number): Record<string, AttributeValue> {
  return { pk: { S: `${window}#${iso(start)}` }, sk: { S: "window" } };
}

/** Primary key of a partition's watermark item. */
export function watermarkKey(topic: string, partition: number): Record<string, AttributeValue> {
  return { pk: { S: `watermark#${topic}` }, sk: { S: String(partition).padStart(5, "0") } };
}

/** The index that serves series: every window item of a window spec, sorted by start. */
export const SERIES_INDEX = "series";

export function seriesKey(window: string, start: number): { gpk: string; gsk: string } {
  return { gpk: window, gsk: iso(start) };
}

export const emptyItem = (window: string, start: number, end: number): WindowItem => ({
  window,
  start,
  end,
  version: 0,
  offsets: new Map(),
  values: new Map(),
  expiresAt: undefined,
});

const n = (value: bigint | number) => ({ N: value.toString() });

/** A window item as DynamoDB attributes; money as exact decimal Numbers ("1234.5"). */
export function marshalWindow(item: WindowItem): Record<string, AttributeValue> {
  const values: Record<string, AttributeValue> = {};
  for (const [key, metrics] of item.values) {
    const entry: Record<string, AttributeValue> = { o: n(metrics.orders), s: { N: formatCents(metrics.sales) }, l: n(metrics.late) };
    if (metrics.min !== undefined) entry.mn = { N: formatCents(metrics.min) };
    if (metrics.max !== undefined) entry.mx = { N: formatCents(metrics.max) };
    values[key] = { M: entry };
  }
  const offsets: Record<string, AttributeValue> = {};
  for (const [partition, offset] of item.offsets) offsets[partition] = n(offset);
  const { gpk, gsk } = seriesKey(item.window, item.start);
  return {
    ...windowKey(item.window, item.start),
    gpk: { S: gpk },
    gsk: { S: gsk },
    win: { S: item.window },
    ws: n(item.start),
    we: n(item.end),
    ver: n(item.version),
    offs: { M: offsets },
    v: { M: values },
    ...(item.expiresAt !== undefined && { expiresAt: n(item.expiresAt) }),
  };
}

function num(value: AttributeValue | undefined, what: string): string {
  if (value?.N === undefined) throw new Error(`aggregate item attribute ${what} is not a number`);
  return value.N;
}

/** Reads a window item back; throws naming the attribute when the item is not one. */
export function unmarshalWindow(attributes: Record<string, AttributeValue>): WindowItem {
  const values = new Map<string, Metrics>();
  for (const [key, value] of Object.entries(attributes.v?.M ?? {})) {
    const m = value.M ?? {};
    values.set(key, {
      orders: BigInt(num(m.o, `v.${key}.o`)),
      sales: bigCentsOf(num(m.s, `v.${key}.s`)),
      min: m.mn === undefined ? undefined : bigCentsOf(num(m.mn, `v.${key}.mn`)),
      max: m.mx === undefined ? undefined : bigCentsOf(num(m.mx, `v.${key}.mx`)),
      late: BigInt(num(m.l, `v.${key}.l`)),
    });
  }
  const offsets = new Map<string, number>();
  for (const [partition, value] of Object.entries(attributes.offs?.M ?? {}))
    offsets.set(partition, Number(num(value, `offs.${partition}`)));
  return {
    window: attributes.win?.S ?? "",
    start: Number(num(attributes.ws, "ws")),
    end: Number(num(attributes.we, "we")),
    version: Number(num(attributes.ver, "ver")),
    offsets,
    values,
    expiresAt: attributes.expiresAt?.N === undefined ? undefined : Number(attributes.expiresAt.N),
  };
}
