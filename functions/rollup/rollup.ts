import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { laterRevision, type RollupItem, type SliceTotals, splitTopicPartition, type TableChange } from "#shared/aggregates/slices";
import { disposition } from "#shared/errors/disposition";
import { InvariantError } from "#shared/errors/internal-errors";

/** A window instance of one topic whose region and overall figures are to be added up again. */
export interface WindowRef {
  readonly window: string;
  readonly start: number;
  readonly topic: string;
  /** Partitions the batch's records name (highest + 1): read at least these, even past the configured count. */
  readonly partitionsSeen: number;
}

/** A window's slices as read, and how many partitions the read covered. */
export interface WindowSlices {
  readonly slices: SliceTotals[];
  readonly partitions: number;
}

/** What the rollup needs of the aggregates table (functions/rollup/dynamodb-store.ts in the function). */
export interface RollupStore {
  /**
   * Every partition's slice of each window instance that exists, read strongly consistent, in the
   * order of `refs`, over at least the partitions the stored rollup covered. Throws when the table cannot be reached.
   */
  slices(refs: readonly WindowRef[]): Promise<WindowSlices[]>;
  /**
   * Stores the rollup unless one with an equal or larger `seen`, or over more partitions, is
   * stored: "stale" then. Throws when the table cannot be reached.
   */
  put(rollup: RollupItem): Promise<"written" | "stale">;
}

export interface RollupSummary {
  readonly records: number;
  /** Changes that are not a slice's insert or update (expiries, other items): nothing to do. */
  readonly skipped: number;
  readonly windows: number;
  readonly written: number;
  /** Rollups already stored from a later read of the slices (a redelivery, or a concurrent batch). */
  readonly stale: number;
  /** Windows set aside for a data error (a RecordError): their records are the batch item failure. */
  readonly failedWindows: number;
}

/** The lowest sequence number of a window that failed on a data error: where Lambda resumes the shard. */
export interface RollupResult {
  readonly summary: RollupSummary;
  readonly retryFrom: string | undefined;
}

const compareSequence = (a: string, b: string) => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

/** Windows whose slices fill about one BatchGetItem (100 keys) with `partitions` slices each. */
export const windowsPerRead = (partitions: number) => Math.max(1, Math.floor(100 / partitions));

/** Adds up the partitions' slices of one window instance (throws InvariantError when there are none). */
export function rollupOf(ref: Pick<WindowRef, "window" | "start">, slices: readonly SliceTotals[], partitions: number): RollupItem {
  const first = slices[0];
  if (first === undefined) throw new InvariantError(`window ${ref.window} at ${new Date(ref.start).toISOString()} has no slices`);
  const values = new Map<string, Metrics>();
  let seen = 0n;
  let expiresAt: number | undefined = first.expiresAt;
  let revised = first.revised;
  for (const slice of slices) {
    revised = laterRevision(revised, slice.revised);
    for (const [key, metrics] of slice.values) addPartial(values, key, metrics);
    seen += slice.version;
    // A window is kept while any slice of it is (1d windows carry no expiry at all); a slice's
    // expiry counts from its last write, so the rollup's does too.
    expiresAt = expiresAt === undefined || slice.expiresAt === undefined ? undefined : Math.max(expiresAt, slice.expiresAt);
  }
  return {
    window: ref.window,
    start: ref.start,
    end: first.end,
    values,
    seen,
    slices: slices.length,
    partitions,
    expiresAt,
    ...(revised !== undefined && { revised }),
  };
}

/**
 * Re-adds every window instance that a batch of slice writes touched, from the slices as they are
 * now. A rollup depends only on what it reads, so redelivered, reordered or concurrent batches
 * are harmless: the store keeps the rollup read last (the largest sum of slice versions).
 * `windowsPerRead` windows are read together, `concurrency` groups at a time.
 *
 * Errors follow the product's policy (shared/errors/disposition.ts), as the aggregate's
 * processBatch does: a data error (a RecordError) fails its window (a failed read, its group) and
 * the others go on; the result names the sequence number to resume from, so the records before
 * it are not sent again. A retriable error (DynamoDB throttled past its retries) or anything else
 * (a bug: a TypeError, an InvariantError, an SDK error no retry resolved) fails the whole batch:
 * no further group is started, the groups in flight finish, and the error is thrown (a bug in
 * preference to a retriable one), so Lambda counts a function error and retries the batch.
 */
export async function rollUp(
  changes: readonly TableChange[],
  store: RollupStore,
  {
    concurrency = 8,
    windowsPerRead = 1,
    onError,
  }: { concurrency?: number; windowsPerRead?: number; onError?: (ref: WindowRef, error: unknown) => void } = {},
): Promise<RollupResult> {
  const windows = new Map<string, { ref: { -readonly [K in keyof WindowRef]: WindowRef[K] }; firstSequence: string }>();
  let skipped = 0;
  for (const change of changes) {
    if (change.kind !== "written") {
      skipped++;
      continue;
    }
    const { topic, partition } = splitTopicPartition(change.topicPartition);
    const key = `${change.window}#${change.start}#${topic}`;
    const known = windows.get(key);
    if (known === undefined)
      windows.set(key, {
        ref: { window: change.window, start: change.start, topic, partitionsSeen: partition + 1 },
        firstSequence: change.sequenceNumber,
      });
    else {
      known.ref.partitionsSeen = Math.max(known.ref.partitionsSeen, partition + 1);
      if (compareSequence(change.sequenceNumber, known.firstSequence) < 0) known.firstSequence = change.sequenceNumber;
    }
  }

  let written = 0;
  let stale = 0;
  const failed: string[] = [];
  /** The error that fails the batch: the first bug, else the first retriable error. */
  let fatal: { error: unknown; bug: boolean } | undefined;
  const fail = (window: { ref: WindowRef; firstSequence: string }, error: unknown) => {
    onError?.(window.ref, error);
    const outcome = disposition(error);
    if (outcome.action === "dead-letter") failed.push(window.firstSequence);
    else if (fatal === undefined || (!fatal.bug && outcome.action === "rethrow"))
      fatal = { error: outcome.error, bug: outcome.action === "rethrow" };
  };
  const rollupOne = async (next: { ref: WindowRef; firstSequence: string }, read: WindowSlices | undefined) => {
    try {
      // A slice write put the record on the stream, so its window has slices unless they expired since.
      if (read === undefined || read.slices.length === 0) return;
      if ((await store.put(rollupOf(next.ref, read.slices, read.partitions))) === "written") written++;
      else stale++;
    } catch (error) {
      fail(next, error);
    }
  };
  // Windows are read a group at a time (a group's slices fill about one BatchGetItem).
  const groups: { ref: WindowRef; firstSequence: string }[][] = [];
  const all = [...windows.values()];
  for (let i = 0; i < all.length; i += windowsPerRead) groups.push(all.slice(i, i + windowsPerRead));
  const worker = async () => {
    // Once the batch has failed, the groups not started are left to the batch's retry.
    for (let group = groups.shift(); group !== undefined && fatal === undefined; group = groups.shift()) {
      let slices: WindowSlices[];
      try {
        slices = await store.slices(group.map((window) => window.ref));
      } catch (error) {
        for (const window of group) fail(window, error);
        continue;
      }
      await Promise.all(group.map((window, i) => rollupOne(window, slices[i])));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, worker));
  if (fatal !== undefined) throw fatal.error;
  return {
    summary: { records: changes.length, skipped, windows: windows.size, written, stale, failedWindows: failed.length },
    retryFrom: failed.sort(compareSequence)[0],
  };
}
