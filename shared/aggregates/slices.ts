import type { Metrics } from "./metrics.ts";

/**
 * What the aggregates table holds, as domain values (./table.ts maps them to items).
 *
 * A *slice* is the figures one Kafka partition contributed to one window instance ("1m starting
 * 10:15") and the last offset it applied. Only that partition's invocations ever write the slice,
 * so partitions never contend for an item, and DynamoDB's per-key write limit is met per
 * partition, not for the whole system. A *rollup* is a window instance's region and overall
 * figures with every partition's slice added up; only the rollup function writes it.
 */
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
  /** Set once a rebuild replaced the slice's figures (every slice of the window instance at once); live writes keep it. */
  readonly revised?: Revision;
}

/**
 * When and why a window instance's figures were recomputed from the lake (`npm run rebuild`):
 * `at` (epoch ms) orders the rebuilds of an instance, so a rollup never goes back to figures an
 * earlier rebuild replaced.
 */
export interface Revision {
  readonly at: number;
  readonly reason: string;
}

/** The later of two revisions (either may be absent). Never throws. */
export const laterRevision = (a: Revision | undefined, b: Revision | undefined): Revision | undefined =>
  a === undefined ? b : b === undefined || a.at >= b.at ? a : b;

/** A slice to read: its window instance and partition. */
export interface SliceRef {
  readonly window: string;
  readonly start: number;
  readonly topicPartition: string;
}

/** What a partition's watermark item remembers: the max event time seen and the last offset it covers. */
export interface Watermark {
  readonly eventTime: number;
  readonly offset: number;
  /**
   * Records of the partition dead-lettered so far (cumulative; a redelivered batch does not count
   * its letters again). `npm run redrive` counts what it applied apart, so
   * pending = deadLettered - redriven says whether the partition's figures may be incomplete.
   */
  readonly deadLettered?: number;
}

/**
 * Region and overall figures of one window instance with every partition's slice added up: a
 * *rollup*. Only the rollup function writes them (from the table's stream), never a Kafka
 * partition's invocation.
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
  /** The latest revision among the slices read: a rollup from revised slices replaces any from older ones. */
  readonly revised?: Revision;
}

/** A partition's slice of a window instance, as much of it as a rollup needs. */
export interface SliceTotals {
  readonly end: number;
  readonly version: bigint;
  /** Region and overall figures: "region#Europe", "all#all" -> metrics. */
  readonly values: ReadonlyMap<string, Metrics>;
  readonly expiresAt: number | undefined;
  readonly revised?: Revision;
}

/** A change to a slice as the table's stream reports it: written (insert or update) or removed (TTL expiry). */
export interface SliceChange extends SliceRef {
  readonly kind: "written" | "removed";
  /** The stream's sequence number of the change: where a retry resumes. */
  readonly sequenceNumber: string;
}

/** A change the table's stream reports: to a slice, or to another item (a watermark, a rollup...), which the rollup skips. */
export type TableChange = SliceChange | { readonly kind: "other"; readonly sequenceNumber: string };

const iso = (ms: number) => new Date(ms).toISOString();

/** Identity of a slice: "<window>#<ISO start>#<topic-partition>". Throws RangeError when `start` is no date. */
export const sliceId = (window: string, start: number, topicPartition: string) => `${window}#${iso(start)}#${topicPartition}`;

/** A slice's identity read back from `sliceId`'s text; undefined when the text is not one. Never throws. */
export function parseSliceId(id: string): SliceRef | undefined {
  const parts = id.split("#");
  if (parts.length !== 3) return undefined;
  const [window, startIso, topicPartition] = parts as [string, string, string];
  const start = Date.parse(startIso);
  if (window === "" || Number.isNaN(start) || iso(start) !== startIso || !/^.+-\d+$/.test(topicPartition)) return undefined;
  return { window, start, topicPartition };
}

/** "sales-3" -> { topic: "sales", partition: 3 } (topics may contain dashes). Never throws. */
export function splitTopicPartition(topicPartition: string): { topic: string; partition: number } {
  const dash = topicPartition.lastIndexOf("-");
  return { topic: topicPartition.slice(0, dash), partition: Number(topicPartition.slice(dash + 1)) };
}

/** A slice not stored yet (version 0, no offset applied, no figures). Never throws. */
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
