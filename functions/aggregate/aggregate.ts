import { ALL_VALUE, addPartial, Dimension, type Metrics, OTHER_COUNTRIES, valueKey } from "#shared/aggregates/metrics";
import { emptySlice, type SliceItem, sliceId, type Watermark } from "#shared/aggregates/slices";
import { addCents, centsOf } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import { type WindowSpec, windowStarts } from "#shared/windows/windows";

/** A decoded sale with where it came from. */
export interface SaleRecord {
  /** "topic-partition", the key of the records map in the aws:kafka event. */
  readonly topicPartition: string;
  readonly offset: number;
  /** What the fold reads of a sale: its country, event time and amount (a group's sum, for a group). */
  readonly sale: Pick<Sale, "country" | "payment_date" | "amount">;
  /**
   * The partition's watermark just before this record, when the caller knows it already: a rebuild
   * has the lake engine compute it over the partition's whole history. Absent (the live path), it
   * is the running max of event times, from the stored watermark on, in the batch's offset order.
   */
  readonly watermark?: number;
  /**
   * Set when the record stands for sales the lake engine added up in advance, that every window
   * and the lateness rule treat alike (one partition, country, grain of event time and lateness
   * class): how many, and their least and greatest amount; `sale.amount` is their sum.
   */
  readonly group?: SalesGroup;
}

/** Sales added up in advance (see SaleRecord.group). Amounts are two-place decimals, as `amount`. */
export interface SalesGroup {
  readonly orders: number;
  readonly min: string;
  readonly max: string;
}

export interface AggregationSettings {
  readonly windows: readonly WindowSpec[];
  readonly allowedLatenessMs: number;
  /**
   * Seconds a slice lives after its last write (TTL), by window name; absent = kept. Counted from
   * the write, not from event time, so backfilled or replayed history keeps its fine windows for
   * the whole TTL (and a live window, written up to its end, lives TTL past its end as before).
   */
  readonly ttlSeconds: ReadonlyMap<string, number>;
  /** Wall clock (epoch ms) the expiry counts from; Date.now when absent. */
  readonly now?: () => number;
  /**
   * Distinct countries one slice keeps by name; further ones count under OTHER_COUNTRIES.
   * Countries are free text, so without a bound a flood of invented names would grow an item
   * past DynamoDB's 400 KB and stop aggregation. Regions and totals stay exact either way.
   */
  readonly maxCountriesPerWindow: number;
}

/** A slice a batch touches: one window instance as seen from one topic-partition. */
export interface PlannedSlice {
  readonly id: string;
  readonly window: string;
  readonly start: number;
  readonly end: number;
  readonly topicPartition: string;
}

/**
 * The slices of a batch, computed once: every (window instance, partition) it touches, and for
 * each record the indexes of its slices (`slots`, `perRecord` per record). Read the stored
 * slices, then call `aggregate` with the plan.
 */
export interface BatchPlan {
  readonly records: readonly SaleRecord[];
  readonly slices: readonly PlannedSlice[];
  readonly perRecord: number;
  readonly slots: Int32Array;
}

/** Plans a batch; records must be grouped by partition, in offset order within each. */
export function planBatch(records: readonly SaleRecord[], settings: AggregationSettings): BatchPlan {
  const perRecord = settings.windows.reduce((sum, spec) => sum + spec.sizeMs / spec.advanceMs, 0);
  const slots = new Int32Array(records.length * perRecord);
  const slices: PlannedSlice[] = [];
  const byPartition = new Map<string, Map<number, number>[]>();
  let slot = 0;
  for (const { topicPartition, sale } of records) {
    let bySpec = byPartition.get(topicPartition);
    if (bySpec === undefined) {
      bySpec = settings.windows.map(() => new Map<number, number>());
      byPartition.set(topicPartition, bySpec);
    }
    settings.windows.forEach((spec, s) => {
      const known = bySpec[s] as Map<number, number>;
      for (const start of windowStarts(spec, sale.payment_date)) {
        let index = known.get(start);
        if (index === undefined) {
          index = slices.length;
          known.set(start, index);
          slices.push({
            id: sliceId(spec.name, start, topicPartition),
            window: spec.name,
            start,
            end: start + spec.sizeMs,
            topicPartition,
          });
        }
        slots[slot++] = index;
      }
    });
  }
  return { records, slices, perRecord, slots };
}

/** Running metrics of one value in one slice, in integer cents (exact below 2^53, checked). */
interface Delta {
  orders: number;
  sales: number;
  min: number;
  max: number;
  late: number;
}

export interface AggregationResult {
  /** Slices that changed, merged with what was stored (version still the one read). */
  readonly items: readonly SliceItem[];
  /** New watermark of each partition in the batch. */
  readonly watermarks: ReadonlyMap<string, Watermark>;
  /** Records applied to at least one window. */
  readonly applied: number;
  /** (record, window) pairs that arrived after the window closed: counted as late, not applied. */
  readonly late: number;
  /** Records every touched slice had already applied (a redelivered batch). */
  readonly duplicates: number;
  /** By slice id: (record, window) pairs counted under OTHER_COUNTRIES because the slice was full of countries. */
  readonly folded: ReadonlyMap<string, number>;
}

/**
 * Small ids for the value keys ("country#France") of one batch, so a slice's deltas are an array.
 * Made per call and dropped with it: a container that meets millions of invented country names
 * over its life holds only the current batch's.
 */
class ValueKeys {
  readonly names: string[] = [];
  readonly #ids = new Map<string, number>();
  readonly #byCountry = new Map<string, readonly [number, number, number]>();

  #idOf(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.names.length;
      this.#ids.set(key, id);
      this.names.push(key);
    }
    return id;
  }

  /** Ids of the country, its region and the overall value. */
  of(country: string): readonly [number, number, number] {
    let ids = this.#byCountry.get(country);
    if (ids === undefined) {
      ids = [
        this.#idOf(valueKey(Dimension.country, country)),
        this.#idOf(valueKey(Dimension.region, regionOf(country))),
        this.#idOf(valueKey(Dimension.all, ALL_VALUE)),
      ];
      this.#byCountry.set(country, ids);
    }
    return ids;
  }
}

/**
 * Folds a batch into the stored slices, exactly once: a record applies to a slice only past the
 * offset the slice last applied (a slice belongs to one partition). A record whose window ended
 * more than the allowed lateness before its partition's watermark (max event time seen before
 * it) is counted as late on that window instead. Pure: `stored` holds the slices read (missing
 * ones are new), by slice id. Throws when a sum would leave the exact integer range.
 */
export function aggregate(
  plan: BatchPlan | readonly SaleRecord[],
  stored: ReadonlyMap<string, SliceItem>,
  watermarks: ReadonlyMap<string, Watermark | undefined>,
  settings: AggregationSettings,
): AggregationResult {
  const { records, slices, perRecord, slots } = "slots" in plan ? plan : planBatch(plan, settings);
  const keys = new ValueKeys();
  const storedSlices = slices.map((s) => stored.get(s.id));
  const thresholds = storedSlices.map((item) => item?.offset ?? -1);
  const deltas: (Delta | undefined)[][] = slices.map(() => []);
  const touched = new Uint8Array(slices.length);
  // Per partition: the running watermark and the last offset of the batch.
  const running = new Map<string, number>();
  const lastOffset = new Map<string, number>();
  let applied = 0;
  let late = 0;
  let duplicates = 0;
  let slot = 0;

  for (const record of records) {
    const { topicPartition, offset, sale, group } = record;
    const watermark =
      record.watermark ?? running.get(topicPartition) ?? watermarks.get(topicPartition)?.eventTime ?? Number.NEGATIVE_INFINITY;
    const cents = centsOf(sale.amount);
    const orders = group?.orders ?? 1;
    const least = group === undefined ? cents : centsOf(group.min);
    const greatest = group === undefined ? cents : centsOf(group.max);
    const ids = keys.of(sale.country);
    let appliedHere = false;
    let fresh = false;
    for (let k = 0; k < perRecord; k++) {
      const w = slots[slot++] as number;
      touched[w] = 1;
      if (offset <= (thresholds[w] as number)) continue;
      fresh = true;
      const isLate = (slices[w] as PlannedSlice).end + settings.allowedLatenessMs <= watermark;
      const values = deltas[w] as (Delta | undefined)[];
      for (let d = 0; d < 3; d++) {
        const id = ids[d] as number;
        let delta = values[id];
        if (delta === undefined) {
          delta = { orders: 0, sales: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, late: 0 };
          values[id] = delta;
        }
        if (isLate) delta.late += orders;
        else {
          delta.orders += orders;
          delta.sales = addCents(delta.sales, cents);
          if (least < delta.min) delta.min = least;
          if (greatest > delta.max) delta.max = greatest;
        }
      }
      if (isLate) late += orders;
      else appliedHere = true;
    }
    if (appliedHere) applied += orders;
    if (!fresh) duplicates += orders;
    if (sale.payment_date > watermark) running.set(topicPartition, sale.payment_date);
    else if (!running.has(topicPartition)) running.set(topicPartition, watermark);
    if (offset > (lastOffset.get(topicPartition) ?? -1)) lastOffset.set(topicPartition, offset);
  }

  const items: SliceItem[] = [];
  const folded = new Map<string, number>();
  const nowSeconds = Math.ceil((settings.now ?? Date.now)() / 1000);
  slices.forEach((planned, w) => {
    if (touched[w] === 0) return;
    const base = storedSlices[w] ?? emptySlice(planned.window, planned.start, planned.end, planned.topicPartition);
    const last = lastOffset.get(planned.topicPartition) ?? -1;
    const offset = Math.max(base.offset, last);
    const values = deltas[w] as (Delta | undefined)[];
    if (offset === base.offset && values.length === 0) return;
    const expiresAt = expiryOf(planned, base.expiresAt, nowSeconds, settings);
    if (values.length === 0) {
      items.push({ ...base, offset, expiresAt });
      return;
    }
    const merged = mergeValues(base.values, values, keys.names, settings.maxCountriesPerWindow);
    if (merged.folded > 0) folded.set(planned.id, merged.folded);
    items.push({ ...base, offset, values: merged.values, expiresAt });
  });

  const nextWatermarks = new Map<string, Watermark>();
  for (const [topicPartition, eventTime] of running) {
    const before = watermarks.get(topicPartition);
    nextWatermarks.set(topicPartition, {
      eventTime: Math.max(eventTime, before?.eventTime ?? Number.NEGATIVE_INFINITY),
      offset: Math.max(lastOffset.get(topicPartition) ?? -1, before?.offset ?? -1),
    });
  }
  return { items, watermarks: nextWatermarks, applied, late, duplicates, folded };
}

/**
 * When a slice written now expires: TTL after this write, or after the window's end if that is
 * later (a window ahead of the clock), and never earlier than the expiry it already had.
 */
function expiryOf(planned: PlannedSlice, stored: number | undefined, nowSeconds: number, settings: AggregationSettings) {
  const ttl = settings.ttlSeconds.get(planned.window);
  if (ttl === undefined) return undefined;
  return Math.max(stored ?? 0, Math.max(nowSeconds, Math.ceil(planned.end / 1000)) + ttl);
}

const COUNTRY_PREFIX = valueKey(Dimension.country, "");
const OTHER_COUNTRIES_KEY = valueKey(Dimension.country, OTHER_COUNTRIES);

function mergeValues(
  stored: ReadonlyMap<string, Metrics>,
  deltas: readonly (Delta | undefined)[],
  names: readonly string[],
  maxCountries: number,
): { values: Map<string, Metrics>; folded: number } {
  const merged = new Map(stored);
  let countries = 0;
  for (const key of stored.keys()) if (key.startsWith(COUNTRY_PREFIX) && key !== OTHER_COUNTRIES_KEY) countries++;
  // Deltas in key order, so which new countries keep their name does not depend on the order
  // this container happened to meet them in.
  const ordered = deltas.flatMap((delta, id) => (delta === undefined ? [] : [{ key: names[id] as string, delta }]));
  ordered.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let folded = 0;
  for (const { delta, key: named } of ordered) {
    let key = named;
    if (key.startsWith(COUNTRY_PREFIX) && !merged.has(key) && key !== OTHER_COUNTRIES_KEY) {
      if (countries >= maxCountries) {
        key = OTHER_COUNTRIES_KEY;
        folded += delta.orders + delta.late;
      } else countries++;
    }
    const partial: Metrics = {
      orders: BigInt(delta.orders),
      sales: BigInt(delta.sales),
      min: delta.orders === 0 ? undefined : BigInt(delta.min),
      max: delta.orders === 0 ? undefined : BigInt(delta.max),
      late: BigInt(delta.late),
    };
    addPartial(merged, key, partial);
  }
  return { values: merged, folded };
}
