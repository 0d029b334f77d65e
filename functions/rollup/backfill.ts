import type { SliceRef } from "#shared/aggregates/slices";
import { type RollupStore, rollUp, windowsPerRead } from "./rollup.ts";

export interface BackfillSummary {
  /** Slices scanned. */
  slices: number;
  /** Rollups written (window instances whose stored rollup was missing or older). */
  written: number;
  /** Rollups already up to date. */
  stale: number;
  failedWindows: number;
}

/** A page of the table's slice keys, and where the next page starts (undefined after the last). */
export interface SlicePage {
  readonly slices: readonly SliceRef[];
  readonly next: unknown;
}

/** What the backfill needs of the aggregates table besides the rollup store: its slices, a page at a time. */
export interface SliceLister {
  /** Up to about `pageSize` slices from `after` (undefined: the first page); throws when the table cannot be reached. */
  listSlices(pageSize: number, after: unknown): Promise<SlicePage>;
}

/**
 * Rolls up every window instance that has slices in the table, as the stream would have: for a
 * stack deployed before the rollup, or windows whose stream batch went to the dead-letter queue.
 * Lists slices `pageSize` at a time and rolls each page's windows up with the rollup's own core,
 * so it may run while the stream mapping runs: the rollup read last wins either way. Throws when
 * listing fails, and what rollUp throws (DynamoDB failing past its retries, a bug): a rerun is
 * safe. A window that fails on a data error is counted.
 */
export async function backfillRollups(
  store: RollupStore & SliceLister,
  { partitions, pageSize = 1000, onPage }: { partitions: number; pageSize?: number; onPage?: (summary: BackfillSummary) => void },
): Promise<BackfillSummary> {
  const summary: BackfillSummary = { slices: 0, written: 0, stale: 0, failedWindows: 0 };
  let after: unknown;
  do {
    const page = await store.listSlices(pageSize, after);
    const changes = page.slices.map((ref, i) => ({ kind: "written" as const, ...ref, sequenceNumber: String(i) }));
    summary.slices += changes.length;
    const { summary: rolled } = await rollUp(changes, store, { windowsPerRead: windowsPerRead(partitions) });
    summary.written += rolled.written;
    summary.stale += rolled.stale;
    summary.failedWindows += rolled.failedWindows;
    onPage?.({ ...summary });
    after = page.next;
  } while (after !== undefined);
  return summary;
}
