import { ALL_VALUE, Dimension, emptyItem, type Metrics, valueKey, type WindowItem } from "#shared/aggregates/model";
import { addCents, centsOf } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import { type WindowSpec, windowStarts } from "#shared/windows/windows";

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
}

/** Identity of a window item: "<window>@<start>". */
export const itemId = (window: string, start: number) => `${window}@${start}`;

/** The window items a batch touches, to read them before merging. */
export function touchedWindows(
  records: readonly SaleRecord[],
  settings: AggregationSettings,
): { window: string; start: number; end: number }[] {
  const seen = new Map<string, { window: string; start: number; end: number }>();
  for (const { sale } of records) {
    for (const spec of settings.windows) {
      for (const start of windowStarts(spec, sale.payment_date)) {
        const id = itemId(spec.name, start);
        if (!seen.has(id)) seen.set(id, { window: spec.name, start, end: start + spec.sizeMs });
      }
    }
  }
  return [...seen.values()];
}

/** Running metrics of one value in one window, in integer cents (exact below 2^53, checked). */
interface Delta {
  orders: number;
  sales: number;
  min: number | undefined;
  max: number | undefined;
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
}

/** The value under `key`, created by `make` when absent. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

const valueKeysCache = new Map<string, readonly string[]>();
function valueKeysOf(country: string): readonly string[] {
  let keys = valueKeysCache.get(country);
  if (keys === undefined) {
    keys = [valueKey(Dimension.country, country), valueKey(Dimension.region, regionOf(country)), valueKey(Dimension.all, ALL_VALUE)];
    valueKeysCache.set(country, keys);
  }
  return keys;
}

/**
 * Folds a batch into the stored window items, exactly once: records of a partition apply to an
 * item only past the offset the item last applied from that partition. A record whose window
 * ended more than the allowed lateness before its partition's watermark (max event time seen
 * before it) is counted as late on that window instead. Records must be in offset order within
 * each partition. Pure: `stored` holds the items read (missing ones are new).
 */
export function aggregate(
  records: readonly SaleRecord[],
  stored: ReadonlyMap<string, WindowItem>,
  watermarks: ReadonlyMap<string, Watermark | undefined>,
  settings: AggregationSettings,
): AggregationResult {
  const deltas = new Map<string, Map<string, Delta>>();
  const lastOffset = new Map<string, number>();
  const running = new Map<string, number>();
  const touchedBy = new Map<string, Set<string>>();
  let applied = 0;
  let late = 0;
  let duplicates = 0;

  for (const { topicPartition, offset, sale } of records) {
    const time = sale.payment_date;
    const watermark = running.get(topicPartition) ?? watermarks.get(topicPartition)?.eventTime ?? Number.NEGATIVE_INFINITY;
    const cents = centsOf(sale.amount);
    const keys = valueKeysOf(sale.country);
    let appliedHere = false;
    let fresh = false;
    for (const spec of settings.windows) {
      for (const start of windowStarts(spec, time)) {
        const id = itemId(spec.name, start);
        entry(touchedBy, id, () => new Set<string>()).add(topicPartition);
        const threshold = stored.get(id)?.offsets.get(topicPartition) ?? -1;
        if (offset <= threshold) continue;
        fresh = true;
        const isLate = start + spec.sizeMs + settings.allowedLatenessMs <= watermark;
        const values = entry(deltas, id, () => new Map<string, Delta>());
        for (const key of keys) {
          const delta = entry(values, key, (): Delta => ({ orders: 0, sales: 0, min: undefined, max: undefined, late: 0 }));
          if (isLate) {
            delta.late++;
          } else {
            delta.orders++;
            delta.sales = addCents(delta.sales, cents);
            if (delta.min === undefined || cents < delta.min) delta.min = cents;
            if (delta.max === undefined || cents > delta.max) delta.max = cents;
          }
        }
        if (isLate) late++;
        else appliedHere = true;
      }
    }
    if (appliedHere) applied++;
    if (!fresh) duplicates++;
    if (time > watermark) running.set(topicPartition, time);
    lastOffset.set(topicPartition, Math.max(lastOffset.get(topicPartition) ?? -1, offset));
  }

  const items: WindowItem[] = [];
  for (const [id, partitions] of touchedBy) {
    const base = stored.get(id) ?? newItem(id, settings);
    const offsets = new Map(base.offsets);
    let advanced = false;
    for (const partition of partitions) {
      const last = lastOffset.get(partition) ?? -1;
      if (last > (offsets.get(partition) ?? -1)) {
        offsets.set(partition, last);
        advanced = true;
      }
    }
    const values = deltas.get(id);
    if (!advanced && values === undefined) continue;
    items.push({ ...base, offsets, values: values === undefined ? base.values : mergeValues(base.values, values) });
  }

  const nextWatermarks = new Map<string, Watermark>();
  for (const [partition, offset] of lastOffset) {
    const before = watermarks.get(partition);
    const eventTime = Math.max(running.get(partition) ?? Number.NEGATIVE_INFINITY, before?.eventTime ?? Number.NEGATIVE_INFINITY);
    nextWatermarks.set(partition, { eventTime, offset: Math.max(offset, before?.offset ?? -1) });
  }
  return { items, watermarks: nextWatermarks, applied, late, duplicates };
}

function newItem(id: string, settings: AggregationSettings): WindowItem {
  const at = id.lastIndexOf("@");
  const window = id.slice(0, at);
  const start = Number(id.slice(at + 1));
  const spec = settings.windows.find((candidate) => candidate.name === window);
  if (spec === undefined) throw new Error(`window ${window} is not configured`);
  const ttl = settings.ttlSeconds.get(window);
  return {
    ...emptyItem(window, start, start + spec.sizeMs),
    expiresAt: ttl === undefined ? undefined : Math.ceil((start + spec.sizeMs) / 1000) + ttl,
  };
}

function mergeValues(stored: ReadonlyMap<string, Metrics>, deltas: ReadonlyMap<string, Delta>): Map<string, Metrics> {
  const merged = new Map(stored);
  for (const [key, delta] of deltas) {
    const before = stored.get(key);
    const min = delta.min === undefined ? undefined : BigInt(delta.min);
    const max = delta.max === undefined ? undefined : BigInt(delta.max);
    merged.set(key, {
      orders: (before?.orders ?? 0n) + BigInt(delta.orders),
      sales: (before?.sales ?? 0n) + BigInt(delta.sales),
      min: before?.min === undefined ? min : min === undefined || before.min < min ? before.min : min,
      max: before?.max === undefined ? max : max === undefined || before.max > max ? before.max : max,
      late: (before?.late ?? 0n) + BigInt(delta.late),
    });
  }
  return merged;
}
