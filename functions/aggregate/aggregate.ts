import { ALL_VALUE, Dimension, emptyItem, type Metrics, OTHER_COUNTRIES, valueKey, type WindowItem } from "#shared/aggregates/model";
import { addCents, centsOf } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import type { WindowSpec } from "#shared/windows/windows";

/** A decoded sale with where it came from. */
export interface SaleRecord {
  /** "topic-partition", the key of the records map in the aws:kafka event. */
  readonly topicPartition: string;
  readonly offset: number;
  readonly sale: Sale;
}

/** What a partition's watermark item remembers: the max event time seen and the last offset it covers. */
export interface Watermark {
  readonly eventTime: number;
  readonly offset: number;
}

export interface AggregationSettings {
  readonly windows: readonly WindowSpec[];
  readonly allowedLatenessMs: number;
  /** Seconds an item lives after its window ends (TTL), by window name; absent = kept. */
  readonly ttlSeconds: ReadonlyMap<string, number>;
  /**
   * Distinct countries one window item keeps by name; further ones count under OTHER_COUNTRIES.
   * Countries are free text, so without a bound a flood of invented names would grow an item
   * past DynamoDB's 400 KB and stop aggregation. Regions and totals stay exact either way.
   */
  readonly maxCountriesPerWindow: number;
}

/** Identity of a window item: "<window>@<start>". */
export const itemId = (window: string, start: number) => `${window}@${start}`;

export interface PlannedWindow {
  readonly id: string;
  readonly window: string;
  readonly start: number;
  readonly end: number;
}

/**
 * The windows of a batch, computed once: every window instance it touches, and for each record
 * the indexes of its windows (`slots`, `perRecord` per record). Read the items of `windows`,
 * then call `aggregate` with the plan.
 */
export interface BatchPlan {
  readonly records: readonly SaleRecord[];
  readonly windows: readonly PlannedWindow[];
  readonly perRecord: number;
  readonly slots: Int32Array;
}

/** Plans a batch; records must be in offset order within each partition. */
export function planBatch(records: readonly SaleRecord[], settings: AggregationSettings): BatchPlan {
  const perRecord = settings.windows.reduce((sum, spec) => sum + spec.sizeMs / spec.advanceMs, 0);
  const slots = new Int32Array(records.length * perRecord);
  const windows: PlannedWindow[] = [];
  const bySpec = settings.windows.map(() => new Map<number, number>());
  let slot = 0;
  for (const { sale } of records) {
    const time = sale.payment_date;
    settings.windows.forEach((spec, s) => {
      const known = bySpec[s] as Map<number, number>;
      const steps = spec.sizeMs / spec.advanceMs;
      const latest = Math.floor(time / spec.advanceMs) * spec.advanceMs;
      for (let step = steps - 1; step >= 0; step--) {
        const start = latest - step * spec.advanceMs;
        let index = known.get(start);
        if (index === undefined) {
          index = windows.length;
          known.set(start, index);
          windows.push({ id: itemId(spec.name, start), window: spec.name, start, end: start + spec.sizeMs });
        }
        slots[slot++] = index;
      }
    });
  }
  return { records, windows, perRecord, slots };
}

/** Running metrics of one value in one window, in integer cents (exact below 2^53, checked). */
interface Delta {
  orders: number;
  sales: number;
  min: number;
  max: number;
  late: number;
}

export interface AggregationResult {
  /** Items that changed, merged with what was stored (version still the one read). */
  readonly items: readonly WindowItem[];
  /** New watermark of each partition in the batch. */
  readonly watermarks: ReadonlyMap<string, Watermark>;
  /** Records applied to at least one window. */
  readonly applied: number;
  /** (record, window) pairs that arrived after the window closed: counted as late, not applied. */
  readonly late: number;
  /** Records every touched window had already applied (a redelivered batch). */
  readonly duplicates: number;
  /** By item id: (record, window) pairs counted under OTHER_COUNTRIES because the window was full of countries. */
  readonly folded: ReadonlyMap<string, number>;
}

// Value keys ("country#France") get small stable ids, so a window's deltas are an array.
const valueKeyIds = new Map<string, number>();
const valueKeyNames: string[] = [];
const countryValueIds = new Map<string, readonly [number, number, number]>();

function idOf(key: string): number {
  let id = valueKeyIds.get(key);
  if (id === undefined) {
    id = valueKeyNames.length;
    valueKeyIds.set(key, id);
    valueKeyNames.push(key);
  }
  return id;
}

function valueIdsOf(country: string): readonly [number, number, number] {
  let ids = countryValueIds.get(country);
  if (ids === undefined) {
    ids = [
      idOf(valueKey(Dimension.country, country)),
      idOf(valueKey(Dimension.region, regionOf(country))),
      idOf(valueKey(Dimension.all, ALL_VALUE)),
    ];
    countryValueIds.set(country, ids);
  }
  return ids;
}

/**
 * Folds a batch into the stored window items, exactly once: records of a partition apply to an
 * item only past the offset the item last applied from that partition. A record whose window
 * ended more than the allowed lateness before its partition's watermark (max event time seen
 * before it) is counted as late on that window instead. Pure: `stored` holds the items read
 * (missing ones are new), by item id.
 */
export function aggregate(
  plan: BatchPlan | readonly SaleRecord[],
  stored: ReadonlyMap<string, WindowItem>,
  watermarks: ReadonlyMap<string, Watermark | undefined>,
  settings: AggregationSettings,
): AggregationResult {
  const { records, windows, perRecord, slots } = "slots" in plan ? plan : planBatch(plan, settings);
  const partitionNames: string[] = [];
  const partitionIndex = new Map<string, number>();
  const storedItems = windows.map((w) => stored.get(w.id));
  const deltas: (Delta | undefined)[][] = windows.map(() => []);
  const touchedBy: Set<number>[] = windows.map(() => new Set());
  const lastOffset: number[] = [];
  const running: number[] = [];
  // Per (window, partition): the offset the item last applied from that partition.
  const thresholds = new Map<number, number>();
  let applied = 0;
  let late = 0;
  let duplicates = 0;
  let lastTp = "";
  let p = -1;
  let slot = 0;

  for (const { topicPartition, offset, sale } of records) {
    if (topicPartition !== lastTp) {
      lastTp = topicPartition;
      let index = partitionIndex.get(topicPartition);
      if (index === undefined) {
        index = partitionNames.length;
        partitionIndex.set(topicPartition, index);
        partitionNames.push(topicPartition);
        running[index] = watermarks.get(topicPartition)?.eventTime ?? Number.NEGATIVE_INFINITY;
        lastOffset[index] = -1;
      }
      p = index;
    }
    const time = sale.payment_date;
    const watermark = running[p] as number;
    const cents = centsOf(sale.amount);
    const ids = valueIdsOf(sale.country);
    let appliedHere = false;
    let fresh = false;
    for (let k = 0; k < perRecord; k++) {
      const w = slots[slot++] as number;
      (touchedBy[w] as Set<number>).add(p);
      const key = w * 65_536 + p;
      let threshold = thresholds.get(key);
      if (threshold === undefined) {
        threshold = storedItems[w]?.offsets.get(topicPartition) ?? -1;
        thresholds.set(key, threshold);
      }
      if (offset <= threshold) continue;
      fresh = true;
      const isLate = (windows[w] as PlannedWindow).end + settings.allowedLatenessMs <= watermark;
      const values = deltas[w] as (Delta | undefined)[];
      for (let d = 0; d < 3; d++) {
        const id = ids[d] as number;
        let delta = values[id];
        if (delta === undefined) {
          delta = { orders: 0, sales: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, late: 0 };
          values[id] = delta;
        }
        if (isLate) delta.late++;
        else {
          delta.orders++;
          delta.sales = addCents(delta.sales, cents);
          if (cents < delta.min) delta.min = cents;
          if (cents > delta.max) delta.max = cents;
        }
      }
      if (isLate) late++;
      else appliedHere = true;
    }
    if (appliedHere) applied++;
    if (!fresh) duplicates++;
    if (time > watermark) running[p] = time;
    if (offset > (lastOffset[p] as number)) lastOffset[p] = offset;
  }

  const items: WindowItem[] = [];
  const folded = new Map<string, number>();
  windows.forEach((planned, w) => {
    const base = storedItems[w] ?? newItem(planned, settings);
    const offsets = new Map(base.offsets);
    let advanced = false;
    for (const partition of touchedBy[w] as Set<number>) {
      const name = partitionNames[partition] as string;
      const last = lastOffset[partition] as number;
      if (last > (offsets.get(name) ?? -1)) {
        offsets.set(name, last);
        advanced = true;
      }
    }
    const values = deltas[w] as (Delta | undefined)[];
    if (!advanced && values.length === 0) return;
    if (values.length === 0) {
      items.push({ ...base, offsets });
      return;
    }
    const merged = mergeValues(base.values, values, settings.maxCountriesPerWindow);
    if (merged.folded > 0) folded.set(planned.id, merged.folded);
    items.push({ ...base, offsets, values: merged.values });
  });

  const nextWatermarks = new Map<string, Watermark>();
  partitionNames.forEach((name, index) => {
    const before = watermarks.get(name);
    const eventTime = Math.max(running[index] as number, before?.eventTime ?? Number.NEGATIVE_INFINITY);
    nextWatermarks.set(name, { eventTime, offset: Math.max(lastOffset[index] as number, before?.offset ?? -1) });
  });
  return { items, watermarks: nextWatermarks, applied, late, duplicates, folded };
}

function newItem(planned: PlannedWindow, settings: AggregationSettings): WindowItem {
  const ttl = settings.ttlSeconds.get(planned.window);
  return {
    ...emptyItem(planned.window, planned.start, planned.end),
    expiresAt: ttl === undefined ? undefined : Math.ceil(planned.end / 1000) + ttl,
  };
}

const COUNTRY_PREFIX = valueKey(Dimension.country, "");
const OTHER_COUNTRIES_KEY = valueKey(Dimension.country, OTHER_COUNTRIES);

function mergeValues(
  stored: ReadonlyMap<string, Metrics>,
  deltas: readonly (Delta | undefined)[],
  maxCountries: number,
): { values: Map<string, Metrics>; folded: number } {
  const merged = new Map(stored);
  let countries = 0;
  for (const key of stored.keys()) if (key.startsWith(COUNTRY_PREFIX) && key !== OTHER_COUNTRIES_KEY) countries++;
  // Deltas in key order, so which new countries keep their name does not depend on the order
  // this container happened to meet them in.
  const ordered = deltas.flatMap((delta, id) => (delta === undefined ? [] : [{ key: valueKeyNames[id] as string, delta }]));
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
    const before = merged.get(key);
    const min = delta.orders === 0 ? undefined : BigInt(delta.min);
    const max = delta.orders === 0 ? undefined : BigInt(delta.max);
    merged.set(key, {
      orders: (before?.orders ?? 0n) + BigInt(delta.orders),
      sales: (before?.sales ?? 0n) + BigInt(delta.sales),
      min: before?.min === undefined ? min : min === undefined || before.min < min ? before.min : min,
      max: before?.max === undefined ? max : max === undefined || before.max > max ? before.max : max,
      late: (before?.late ?? 0n) + BigInt(delta.late),
    });
  }
  return { values: merged, folded };
}
