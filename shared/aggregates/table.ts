import type { AttributeValue, PutItemCommandInput, QueryCommandInput, ScanCommandInput, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { InvariantError } from "../errors/internal-errors.ts";
import { bigCentsOf, formatCents } from "../money/cents.ts";
import { ALL_VALUE, Dimension, dimensions, type Metrics, valueKey } from "./metrics.ts";
import {
  parseSliceId,
  type Revision,
  type RollupItem,
  type SliceChange,
  type SliceItem,
  type SliceRef,
  type SliceTotals,
  sliceId,
  splitTopicPartition,
  type TableChange,
  type Watermark,
} from "./slices.ts";

/**
 * The aggregates table's layout: the one place that knows its attribute names, its keys, and how
 * slices, watermarks, redrive markers and counts, and rollups are marshalled, and that builds
 * the conditional requests on them. Adapters (functions/<fn>/dynamodb-store.ts) send what this
 * module builds; cores see only the domain types of ./slices.ts and ./metrics.ts.
 *
 * Items (pk, sk):
 * - slice: "<window>#<ISO start>#<topic-partition>", "slice", one per (window instance, partition);
 *   the sparse index `country-series` (spk "<window>#<topic-partition>", ssk ISO start) lists a
 *   partition's slices by start, projected to the country figures;
 * - watermark: "watermark#<topic-partition>", "watermark";
 * - redrive marker: "redriven#<topic-partition>#<offset>", "redriven" (a record redriven once);
 * - redrive count: "redriven#<topic-partition>", "redriven-count";
 * - rollup: "series#<window>", ISO start: all rollups of a window spec sort by start, so a
 *   region or overall series is one Query.
 */
export type Item = Record<string, AttributeValue>;

/** Attribute names (short: every slice carries them, and DynamoDB bills names by the byte). */
const A = {
  pk: "pk",
  sk: "sk",
  seriesPk: "spk",
  seriesSk: "ssk",
  window: "win",
  topicPartition: "tp",
  topic: "topic",
  partition: "p",
  start: "ws",
  end: "we",
  version: "ver",
  offset: "off",
  expiresAt: "expiresAt",
  eventTime: "wm",
  /** Watermark: wall-clock epoch ms of the last batch (items written before it existed lack it). Marker: ISO time of the redrive. */
  at: "at",
  deadLettered: "dl",
  redriven: "rd",
  reason: "reason",
  slices: "slices",
  seen: "seen",
  partitions: "parts",
  /** A rebuild's revision of a slice or rollup: a map of `at` (epoch ms) and `why`. */
  revised: "rv",
} as const;
const RV = { at: "at", reason: "why" } as const;

/** Attribute holding a dimension's figures: a map by value ("a" holds one entry, "all"). */
const dimensionAttribute: Readonly<Record<Dimension, "c" | "r" | "a">> = { country: "c", region: "r", all: "a" };
/** Names inside a figures map entry. */
const M = { orders: "o", sales: "s", min: "mn", max: "mx", late: "l" } as const;
const SORT = { slice: "slice", watermark: "watermark", marker: "redriven", redriveCount: "redriven-count" } as const;
const PREFIX = { watermark: "watermark#", redriven: "redriven#", series: "series#" } as const;

/** The sparse index listing a (window spec, partition)'s slices by start, projected to the country figures. */
export const COUNTRY_SERIES_INDEX = "country-series";

const iso = (ms: number) => new Date(ms).toISOString();
const s = (value: string): AttributeValue => ({ S: value });
const n = (value: bigint | number): AttributeValue => ({ N: value.toString() });

/** Primary key of a slice. Throws RangeError when `start` is no date. */
export function sliceKey(window: string, start: number, topicPartition: string): Item {
  return { [A.pk]: s(sliceId(window, start, topicPartition)), [A.sk]: s(SORT.slice) };
}

/** Primary key of a partition's watermark item (one item per partition: single writer too). Never throws. */
export function watermarkKey(topicPartition: string): Item {
  return { [A.pk]: s(`${PREFIX.watermark}${topicPartition}`), [A.sk]: s(SORT.watermark) };
}

/** Primary key of the marker `npm run redrive` writes when it applies a dead-lettered record. Never throws. */
export function redriveMarkerKey(topicPartition: string, offset: number): Item {
  return { [A.pk]: s(`${PREFIX.redriven}${topicPartition}#${offset}`), [A.sk]: s(SORT.marker) };
}

/** Primary key of a partition's count of redriven records, beside the watermark's count of dead letters. Never throws. */
export function redriveCountKey(topicPartition: string): Item {
  return { [A.pk]: s(`${PREFIX.redriven}${topicPartition}`), [A.sk]: s(SORT.redriveCount) };
}

/** Primary key of a window instance's rollup: pk "series#<window>", sk its ISO start. Throws RangeError when `start` is no date. */
export function rollupKey(window: string, start: number): Item {
  return { [A.pk]: s(`${PREFIX.series}${window}`), [A.sk]: s(iso(start)) };
}

function seriesKey(window: string, start: number, topicPartition: string): { spk: string; ssk: string } {
  return { spk: `${window}#${topicPartition}`, ssk: iso(start) };
}

const marshalRevision = (revised: Revision | undefined): Item =>
  revised === undefined ? {} : { [A.revised]: { M: { [RV.at]: n(revised.at), [RV.reason]: s(revised.reason) } } };

/** A revision read back; undefined when the item has none. Never throws. */
function unmarshalRevision(attributes: Item): Revision | undefined {
  const m = attributes[A.revised]?.M;
  if (m === undefined) return undefined;
  return { at: Number(m[RV.at]?.N), reason: m[RV.reason]?.S ?? "" };
}

function marshalMetrics(metrics: Metrics): AttributeValue {
  const entry: Item = { [M.orders]: n(metrics.orders), [M.sales]: { N: formatCents(metrics.sales) }, [M.late]: n(metrics.late) };
  if (metrics.min !== undefined) entry[M.min] = { N: formatCents(metrics.min) };
  if (metrics.max !== undefined) entry[M.max] = { N: formatCents(metrics.max) };
  return { M: entry };
}

/** Values ("region#Europe" -> metrics) as one map attribute per dimension; throws InvariantError on a key of another dimension. */
function dimensionMaps<D extends Dimension>(values: ReadonlyMap<string, Metrics>, allowed: readonly D[]): Record<D, Item> {
  const maps = Object.fromEntries(allowed.map((dimension) => [dimension, {}])) as Record<D, Item>;
  for (const [key, metrics] of values) {
    const hash = key.indexOf("#");
    const dimension = key.slice(0, hash) as D;
    if (hash < 0 || !allowed.includes(dimension))
      throw new InvariantError(`value key "${key}" names no dimension of ${allowed.map((d) => dimensionAttribute[d]).join(", ")}`);
    (maps[dimension] as Item)[key.slice(hash + 1)] = marshalMetrics(metrics);
  }
  return maps;
}

/** A slice as DynamoDB attributes; money as exact decimal Numbers ("1234.5"). Throws InvariantError on a value key of no dimension. */
export function marshalSlice(item: SliceItem): Item {
  const byDimension = dimensionMaps(item.values, dimensions);
  const { spk, ssk } = seriesKey(item.window, item.start, item.topicPartition);
  return {
    ...sliceKey(item.window, item.start, item.topicPartition),
    [A.seriesPk]: s(spk),
    [A.seriesSk]: s(ssk),
    [A.window]: s(item.window),
    [A.topicPartition]: s(item.topicPartition),
    [A.start]: n(item.start),
    [A.end]: n(item.end),
    [A.version]: n(item.version),
    [A.offset]: n(item.offset),
    [dimensionAttribute.country]: { M: byDimension.country },
    [dimensionAttribute.region]: { M: byDimension.region },
    [dimensionAttribute.all]: { M: byDimension.all },
    ...(item.expiresAt !== undefined && { [A.expiresAt]: n(item.expiresAt) }),
    ...marshalRevision(item.revised),
  };
}

/** A rollup as DynamoDB attributes (the same map layout as a slice's region and overall figures). Throws InvariantError on a country value key. */
export function marshalRollup(item: RollupItem): Item {
  const byDimension = dimensionMaps(item.values, [Dimension.region, Dimension.all]);
  return {
    ...rollupKey(item.window, item.start),
    [A.window]: s(item.window),
    [A.start]: n(item.start),
    [A.end]: n(item.end),
    [A.seen]: n(item.seen),
    [A.slices]: n(item.slices),
    [A.partitions]: n(item.partitions),
    [dimensionAttribute.region]: { M: byDimension.region },
    [dimensionAttribute.all]: { M: byDimension.all },
    ...(item.expiresAt !== undefined && { [A.expiresAt]: n(item.expiresAt) }),
    ...marshalRevision(item.revised),
  };
}

function num(value: AttributeValue | undefined, what: string): string {
  if (value?.N === undefined) throw new InvariantError(`aggregate item attribute ${what} is not a number`);
  return value.N;
}

const optionalNumber = (value: AttributeValue | undefined) => (value?.N === undefined ? undefined : Number(value.N));

/** Metrics of one map entry; throws InvariantError naming the attribute when it is not one. */
function unmarshalMetrics(value: AttributeValue | undefined, where: string): Metrics {
  const m = value?.M;
  if (m === undefined) throw new InvariantError(`aggregate item attribute ${where} is not a map`);
  return {
    orders: BigInt(num(m[M.orders], `${where}.${M.orders}`)),
    sales: bigCentsOf(num(m[M.sales], `${where}.${M.sales}`)),
    min: m[M.min] === undefined ? undefined : bigCentsOf(num(m[M.min], `${where}.${M.min}`)),
    max: m[M.max] === undefined ? undefined : bigCentsOf(num(m[M.max], `${where}.${M.max}`)),
    late: BigInt(num(m[M.late], `${where}.${M.late}`)),
  };
}

/** The figures of one dimension in a (possibly projected) slice or rollup, by value; throws InvariantError on a malformed entry. */
export function dimensionValues(attributes: Item, dimension: Dimension): Map<string, Metrics> {
  const attribute = dimensionAttribute[dimension];
  const values = new Map<string, Metrics>();
  for (const [value, metrics] of Object.entries(attributes[attribute]?.M ?? {}))
    values.set(value, unmarshalMetrics(metrics, `${attribute}.${value}`));
  return values;
}

/** Reads a whole slice back; throws InvariantError naming the attribute when the item is not one. */
export function unmarshalSlice(attributes: Item): SliceItem {
  const values = new Map<string, Metrics>();
  for (const dimension of dimensions)
    for (const [value, metrics] of dimensionValues(attributes, dimension)) values.set(valueKey(dimension, value), metrics);
  return {
    window: attributes[A.window]?.S ?? "",
    start: Number(num(attributes[A.start], A.start)),
    end: Number(num(attributes[A.end], A.end)),
    topicPartition: attributes[A.topicPartition]?.S ?? "",
    version: Number(num(attributes[A.version], A.version)),
    offset: Number(num(attributes[A.offset], A.offset)),
    values,
    expiresAt: optionalNumber(attributes[A.expiresAt]),
    ...withRevision(attributes),
  };
}

/** `{ revised }` when the item carries a revision, else nothing (domain objects leave the key out). Never throws. */
function withRevision(attributes: Item): { revised?: Revision } {
  const revised = unmarshalRevision(attributes);
  return revised === undefined ? {} : { revised };
}

/** The partition key of an item ("" when it has none), e.g. for per-key write rates. Never throws. */
export const partitionKeyOf = (attributes: Item): string => attributes[A.pk]?.S ?? "";

/**
 * An item's size the way DynamoDB bills it, closely enough for metrics: UTF-8 bytes of names and
 * strings, numbers at about one byte per two digits, plus a few bytes per map entry. Never throws.
 */
export function itemBytes(attributes: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, "").length / 2) + 1;
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  return Buffer.byteLength(JSON.stringify(value));
}

// --- Slices and watermarks (the aggregate function, the redrive) ---

/**
 * The conditional put of a merged slice: its version bumped (the rollup's `seen` follows it), and
 * refused when the stored version is no longer the one read (or, for a new slice, when one
 * exists). As a PutItem input, or a Put of TransactWriteItems (the redrive's). Throws as marshalSlice.
 */
export function slicePut(table: string, item: SliceItem) {
  return {
    TableName: table,
    Item: marshalSlice({ ...item, version: item.version + 1 }),
    ConditionExpression: item.version === 0 ? `attribute_not_exists(${A.pk})` : `${A.version} = :read`,
    ...(item.version !== 0 && { ExpressionAttributeValues: { ":read": n(item.version) } }),
  } satisfies PutItemCommandInput;
}

/**
 * The put of a partition's watermark, refused when the stored one covers a later offset (a stale
 * retry cannot move it back). `batchAt` is the wall-clock time of the batch: the query tells an
 * idle partition from one still delivering by it. Never throws.
 */
export function watermarkPut(table: string, topicPartition: string, watermark: Watermark, batchAt: number): PutItemCommandInput {
  const { topic, partition } = splitTopicPartition(topicPartition);
  return {
    TableName: table,
    Item: {
      ...watermarkKey(topicPartition),
      [A.topicPartition]: s(topicPartition),
      [A.topic]: s(topic),
      [A.partition]: n(partition),
      ...(Number.isFinite(watermark.eventTime) && { [A.eventTime]: n(watermark.eventTime) }),
      [A.offset]: n(watermark.offset),
      [A.at]: n(batchAt),
      ...(watermark.deadLettered !== undefined && { [A.deadLettered]: n(watermark.deadLettered) }),
    },
    ConditionExpression: `attribute_not_exists(${A.pk}) OR ${A.offset} <= :off`,
    ExpressionAttributeValues: { ":off": n(watermark.offset) },
  };
}

/** A watermark item read back, with its partition. Never throws (missing numbers read as NaN, a missing event time as -Infinity). */
export function unmarshalWatermark(attributes: Item): { topicPartition: string; watermark: Watermark } {
  return {
    topicPartition: String(attributes[A.topicPartition]?.S),
    watermark: {
      // A partition that has seen only undecodable records has an offset but no event time yet.
      eventTime: optionalNumber(attributes[A.eventTime]) ?? Number.NEGATIVE_INFINITY,
      offset: Number(attributes[A.offset]?.N),
      deadLettered: Number(attributes[A.deadLettered]?.N ?? 0),
    },
  };
}

/**
 * The writes that redrive one record, for one TransactWriteItems: its slices' conditional puts,
 * the marker (only if absent: a record is redriven once) and the partition's redriven count.
 * Throws as marshalSlice.
 */
export function redriveWrites(
  table: string,
  slices: readonly SliceItem[],
  record: { readonly topicPartition: string; readonly offset: number; readonly reason: string; readonly at: number },
): TransactWriteItem[] {
  return [
    ...slices.map((item) => ({ Put: slicePut(table, item) })),
    {
      Put: {
        TableName: table,
        Item: {
          ...redriveMarkerKey(record.topicPartition, record.offset),
          [A.topicPartition]: s(record.topicPartition),
          [A.offset]: n(record.offset),
          [A.reason]: s(record.reason),
          [A.slices]: n(slices.length),
          [A.at]: s(iso(record.at)),
        },
        ConditionExpression: `attribute_not_exists(${A.pk})`,
      },
    },
    {
      Update: {
        TableName: table,
        Key: redriveCountKey(record.topicPartition),
        UpdateExpression: `ADD ${A.redriven} :one SET ${A.topicPartition} = :tp`,
        ExpressionAttributeValues: { ":one": n(1), ":tp": s(record.topicPartition) },
      },
    },
  ];
}

// --- Reads of the query API ---

/** The projection of a window read: one dimension's map. Never throws. */
export const dimensionProjection = (dimension: Dimension) => ({
  projection: "#d, #rv",
  names: { "#d": dimensionAttribute[dimension], "#rv": A.revised },
});

/** The revision a (possibly projected) slice or rollup carries; undefined when none. Never throws. */
export const revisionOf = (attributes: Item): Revision | undefined => unmarshalRevision(attributes);

/**
 * The Query of one value's series between two starts: a country's from its home partition's
 * country-series index entries, a region's or the total's from the window spec's rollups.
 * Projected to the start and the value's figures. Throws RangeError when a start is no date.
 */
export function seriesQuery(
  table: string,
  series: { readonly window: string; readonly fromStart: number; readonly toStart: number },
  dimension: Dimension,
  value: string,
  homeTopicPartition: string,
): QueryCommandInput {
  const { window, fromStart, toStart } = series;
  const names = { "#d": dimensionAttribute[dimension], "#v": dimension === Dimension.all ? ALL_VALUE : value };
  const projection = `${A.start}, #d.#v`;
  if (dimension === Dimension.country)
    return {
      TableName: table,
      IndexName: COUNTRY_SERIES_INDEX,
      KeyConditionExpression: `${A.seriesPk} = :k AND ${A.seriesSk} BETWEEN :from AND :to`,
      ProjectionExpression: projection,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: {
        ":k": s(seriesKey(window, fromStart, homeTopicPartition).spk),
        ":from": s(seriesKey(window, fromStart, "").ssk),
        ":to": s(seriesKey(window, toStart, "").ssk),
      },
    };
  const from = rollupKey(window, fromStart);
  return {
    TableName: table,
    KeyConditionExpression: `${A.pk} = :k AND ${A.sk} BETWEEN :from AND :to`,
    // Rollups carry the revision of their slices; the country-series index does not project it.
    ProjectionExpression: `${projection}, ${A.revised}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ":k": from[A.pk] as AttributeValue, ":from": from[A.sk] as AttributeValue, ":to": s(iso(toStart)) },
  };
}

/**
 * The Query of the revisions of a window spec's instances between two starts, from the rollups
 * (a rollup carries the latest revision of its slices): what a country series, read from the
 * country-series index, shows as `revised`. Throws RangeError when a start is no date.
 */
export function revisionsQuery(table: string, series: { readonly window: string; readonly fromStart: number; readonly toStart: number }) {
  const from = rollupKey(series.window, series.fromStart);
  return {
    TableName: table,
    KeyConditionExpression: `${A.pk} = :k AND ${A.sk} BETWEEN :from AND :to`,
    FilterExpression: `attribute_exists(${A.revised})`,
    ProjectionExpression: `${A.start}, ${A.revised}`,
    ExpressionAttributeValues: { ":k": from[A.pk] as AttributeValue, ":from": from[A.sk] as AttributeValue, ":to": s(iso(series.toStart)) },
  } satisfies QueryCommandInput;
}

/** A revision Query's item: the window's start and its revision; undefined without one. Never throws. */
export function revisionPoint(attributes: Item): { start: number; revised: Revision } | undefined {
  const revised = unmarshalRevision(attributes);
  return revised === undefined ? undefined : { start: Number(attributes[A.start]?.N), revised };
}

/**
 * The Query of the starts of one partition's slices of a window spec between two starts (the
 * country-series index, eventually consistent): where a rebuild finds stored slices. Throws RangeError when a start is no date.
 */
export function sliceStartsQuery(table: string, window: string, topicPartition: string, fromStart: number, toStart: number) {
  return {
    TableName: table,
    IndexName: COUNTRY_SERIES_INDEX,
    KeyConditionExpression: `${A.seriesPk} = :k AND ${A.seriesSk} BETWEEN :from AND :to`,
    ProjectionExpression: A.start,
    ExpressionAttributeValues: {
      ":k": s(seriesKey(window, fromStart, topicPartition).spk),
      ":from": s(iso(fromStart)),
      ":to": s(iso(toStart)),
    },
  } satisfies QueryCommandInput;
}

/** The start a sliceStartsQuery item names. Never throws (NaN when it has none). */
export const sliceStartOf = (attributes: Item): number => Number(attributes[A.start]?.N);

/** One point of a series Query's answer; undefined when the item holds no figures for the value. Throws InvariantError on malformed figures. */
export function seriesPoint(
  attributes: Item,
  dimension: Dimension,
  value: string,
): { start: number; metrics: Metrics; revised?: Revision } | undefined {
  const attribute = dimensionAttribute[dimension];
  const entry = dimension === Dimension.all ? ALL_VALUE : value;
  const metrics = attributes[attribute]?.M?.[entry];
  if (metrics === undefined) return undefined;
  return {
    start: Number(attributes[A.start]?.N),
    metrics: unmarshalMetrics(metrics, `${attribute}.${entry}`),
    ...withRevision(attributes),
  };
}

/** A partition's watermark as the query reads it, with the records redriven for it. */
export interface PartitionMarkItem {
  /** Undefined while the partition has seen only undecodable records. */
  readonly eventTime: number | undefined;
  /** Undefined on items written before the aggregator recorded it. */
  readonly lastBatchAt: number | undefined;
  readonly deadLettered: number;
  readonly redriven: number;
}

/** Keys and projection that read every partition's watermark and redriven count in one BatchGetItem (up to 50 partitions). Never throws. */
export function partitionMarksRead(topicPartitions: readonly string[]) {
  return {
    keys: [...topicPartitions.map(watermarkKey), ...topicPartitions.map(redriveCountKey)],
    projection: "#t, #s, #w, #a, #dl, #rd",
    names: { "#t": A.topicPartition, "#s": A.sk, "#w": A.eventTime, "#a": A.at, "#dl": A.deadLettered, "#rd": A.redriven },
  };
}

/** The items `partitionMarksRead` found, by topic-partition (watermarks only: a redriven count alone makes no mark). Never throws. */
export function partitionMarksOf(items: readonly Item[]): Map<string, PartitionMarkItem> {
  const redriven = new Map<string, number>();
  for (const item of items)
    if (item[A.sk]?.S === SORT.redriveCount) redriven.set(item[A.topicPartition]?.S ?? "", Number(item[A.redriven]?.N ?? 0));
  const marks = new Map<string, PartitionMarkItem>();
  for (const item of items) {
    if (item[A.sk]?.S === SORT.redriveCount) continue;
    const tp = item[A.topicPartition]?.S ?? "";
    marks.set(tp, {
      eventTime: optionalNumber(item[A.eventTime]),
      lastBatchAt: optionalNumber(item[A.at]),
      deadLettered: Number(item[A.deadLettered]?.N ?? 0),
      redriven: redriven.get(tp) ?? 0,
    });
  }
  return marks;
}

// --- Rollups (the rollup function, the backfill) ---

/** What a rollup read projects: the slices' totals and the stored rollup's partition count. */
export const ROLLUP_READ_PROJECTION = `${A.pk}, ${A.sk}, ${A.end}, ${A.version}, ${dimensionAttribute.region}, ${dimensionAttribute.all}, ${A.expiresAt}, ${A.partitions}, ${A.revised}`;

/**
 * An item of a rollup read: a stored rollup (its window instance and the partitions it covered),
 * or a slice (its identity and totals); undefined for any other item. Throws InvariantError on malformed figures.
 */
export function rollupReadItem(
  attributes: Item,
):
  | { readonly kind: "rollup"; readonly window: string; readonly start: number; readonly partitions: number }
  | { readonly kind: "slice"; readonly ref: SliceRef; readonly totals: SliceTotals }
  | undefined {
  const pk = partitionKeyOf(attributes);
  if (pk.startsWith(PREFIX.series))
    return {
      kind: "rollup",
      window: pk.slice(PREFIX.series.length),
      start: Date.parse(attributes[A.sk]?.S ?? ""),
      partitions: Number(attributes[A.partitions]?.N ?? 0),
    };
  const ref = parseSliceId(pk);
  if (ref === undefined) return undefined;
  const values = new Map<string, Metrics>();
  for (const dimension of [Dimension.region, Dimension.all])
    for (const [value, metrics] of dimensionValues(attributes, dimension)) values.set(valueKey(dimension, value), metrics);
  return {
    kind: "slice",
    ref,
    totals: {
      end: Number(attributes[A.end]?.N),
      version: BigInt(attributes[A.version]?.N ?? "0"),
      values,
      expiresAt: optionalNumber(attributes[A.expiresAt]),
      ...withRevision(attributes),
    },
  };
}

/**
 * The put of a rollup, refused unless it comes from a later read over no fewer partitions than the
 * stored one. "Later" is the latest revision among the slices read first (a rebuild's slices start
 * their versions over when it recreates deleted ones), then the larger sum of slice versions. Throws as marshalRollup.
 */
export function rollupPut(table: string, rollup: RollupItem): PutItemCommandInput {
  // "at" is a reserved word of DynamoDB's expressions: the revision's time goes by placeholder.
  const rv = "#rv.#at";
  const later =
    rollup.revised === undefined
      ? `attribute_not_exists(#rv) AND ${A.seen} < :seen`
      : `attribute_not_exists(#rv) OR ${rv} < :rv OR (${rv} = :rv AND ${A.seen} < :seen)`;
  return {
    TableName: table,
    Item: marshalRollup(rollup),
    ConditionExpression: `attribute_not_exists(${A.pk}) OR ((${later}) AND (attribute_not_exists(${A.partitions}) OR ${A.partitions} <= :parts))`,
    ExpressionAttributeNames: { "#rv": A.revised, ...(rollup.revised !== undefined && { "#at": RV.at }) },
    ExpressionAttributeValues: {
      ":seen": n(rollup.seen),
      ":parts": n(rollup.partitions),
      ...(rollup.revised !== undefined && { ":rv": n(rollup.revised.at) }),
    },
  };
}

/** The slice a key names; undefined when the key is not a slice's. Never throws. */
export function sliceRefOfKey(keys: Item): SliceRef | undefined {
  return keys[A.sk]?.S === SORT.slice ? parseSliceId(keys[A.pk]?.S ?? "") : undefined;
}

/** One record of the table's stream as a domain change: a slice written or removed, or a change to another item. Never throws. */
export function tableChangeOf(record: { readonly eventName?: string; readonly sequenceNumber: string; readonly keys: Item }): TableChange {
  const ref = sliceRefOfKey(record.keys);
  if (ref === undefined) return { kind: "other", sequenceNumber: record.sequenceNumber };
  const change: SliceChange = {
    kind: record.eventName === "REMOVE" ? "removed" : "written",
    ...ref,
    sequenceNumber: record.sequenceNumber,
  };
  return change;
}

/** A page of the Scan that lists slice keys only. Never throws. */
export function sliceKeyScan(table: string, pageSize: number, startKey: Item | undefined): ScanCommandInput {
  return {
    TableName: table,
    FilterExpression: `${A.sk} = :slice`,
    ProjectionExpression: `${A.pk}, ${A.sk}`,
    ExpressionAttributeValues: { ":slice": s(SORT.slice) },
    Limit: pageSize,
    ExclusiveStartKey: startKey,
  };
}
