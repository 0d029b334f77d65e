import { type SliceItem, type SliceRef, sliceId, type Watermark } from "#shared/aggregates/slices";
import type { GlueAvroDecoder } from "#shared/avro/codec";
import { deadLetterOrThrow } from "#shared/errors/disposition";
import { DependencyError, DependencyErrorCode } from "#shared/errors/internal-errors";
import { RecordError, RecordErrorCode } from "#shared/errors/record-error";
import { centsOf } from "#shared/money/cents";
import { backoffDelay, sleep } from "#shared/retry/backoff";
import type { Sale } from "#shared/sales/schema";

/** The largest epoch milliseconds a JavaScript Date (and so a window's ISO key) can hold. */
const MAX_DATE_MS = 8.64e15;

import { type AggregationSettings, aggregate, planBatch, type SaleRecord } from "./aggregate.ts";
import type { DeadLetter } from "./dead-letters.ts";

/** What the aggregate function needs of its table (functions/aggregate/dynamodb-store.ts in the function). Every method throws when the table cannot be reached. */
export interface AggregateStore {
  /** The stored slices among `slices`, by slice id, read strongly consistent. */
  readSlices(slices: readonly SliceRef[]): Promise<Map<string, SliceItem>>;
  /** Writes a merged slice if nobody wrote it since it was read; "conflict" means re-read and merge again. */
  writeSlice(item: SliceItem): Promise<"written" | "conflict">;
  /** Watermarks of the given partitions ("topic-partition"). */
  readWatermarks(topicPartitions: readonly string[]): Promise<Map<string, Watermark>>;
  /** Moves a partition's watermark forward (never back: a stale retry cannot undo a newer batch). */
  writeWatermark(topicPartition: string, watermark: Watermark): Promise<void>;
}

/** One record of the aws:kafka event (values base64, headers as byte arrays). */
export interface KafkaEventRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key?: string | null;
  readonly value?: string | null;
  readonly headers?: readonly Record<string, readonly number[]>[];
}

export interface BatchDeps {
  readonly decoder: Pick<GlueAvroDecoder<Sale>, "load" | "decode">;
  readonly store: AggregateStore;
  readonly deadLetter: (letters: readonly DeadLetter[]) => Promise<unknown>;
  readonly settings: AggregationSettings;
  /** Write attempts per item when other writers keep changing it. */
  readonly maxConflictRetries?: number;
}

export interface BatchSummary {
  readonly records: number;
  readonly applied: number;
  readonly late: number;
  readonly duplicates: number;
  readonly folded: number;
  readonly poison: number;
  readonly itemsWritten: number;
  readonly conflicts: number;
  readonly partitions: number;
  /** Partitions whose watermark (last offset covered) moved forward: 0 for a batch of redeliveries only. */
  readonly advanced: number;
}

/**
 * Aggregates one aws:kafka batch into DynamoDB, exactly once per record. Records with a data
 * error (a RecordError: undecodable, unknown schema version, out of range, empty) go to the
 * dead-letter queue with their reason (not again for offsets a previous delivery
 * already covered) and the rest of the batch goes on. Slices are written first, each
 * conditionally, re-read and re-merged on conflict; the partitions' watermarks last, so a
 * retry after a crash judges lateness exactly as the first attempt did. Throws (and the
 * mapping retries the batch) on registry, DynamoDB, S3 or SQS failures, and when slices keep
 * changing under maxConflictRetries attempts; any other error while handling a record (a bug,
 * such as a TypeError) is thrown too, never dead-lettered (shared/errors/disposition).
 */
export async function processBatch(
  recordsByPartition: Readonly<Record<string, readonly KafkaEventRecord[]>>,
  deps: BatchDeps,
): Promise<BatchSummary> {
  const partitions = Object.keys(recordsByPartition);
  const delivered = partitions.flatMap((tp) =>
    [...(recordsByPartition[tp] ?? [])].sort((a, b) => a.offset - b.offset).map((record) => ({ tp, record })),
  );
  const watermarks = await deps.store.readWatermarks(partitions);
  // A partition's watermark is written after every slice and dead letter of its batch, so each
  // record at or below its offset was handled whole by an earlier delivery: applied, counted late,
  // or dead-lettered (and perhaps redriven since). Such records are skipped before decoding: a
  // dead-lettered one whose schema is now registered must be applied by `npm run redrive` (which
  // marks it), never by a redelivery (which would not), or it would count twice.
  const incoming = delivered.filter(({ tp, record }) => record.offset > (watermarks.get(tp)?.offset ?? -1));
  const covered = delivered.length - incoming.length;
  const frames = incoming.map(({ record }) => Buffer.from(record.value ?? "", "base64"));
  await deps.decoder.load(frames);

  const sales: SaleRecord[] = [];
  const letters: DeadLetter[] = [];
  incoming.forEach(({ tp, record }, index) => {
    try {
      if (record.value === undefined || record.value === null)
        throw new RecordError(RecordErrorCode.emptyValue, "record has no value (tombstone)");
      const sale = deps.decoder.decode(frames[index] as Buffer);
      // A valid Avro long can still be no date; such a record must not fail the whole batch.
      if (!(Math.abs(sale.payment_date) <= MAX_DATE_MS))
        throw new RecordError(RecordErrorCode.outOfRange, `payment_date ${sale.payment_date} is outside the dates a window can hold`);
      centsOf(sale.amount);
      sales.push({ topicPartition: tp, offset: record.offset, sale });
    } catch (error) {
      // Only a data error is dead-lettered; a retriable one or a bug (a TypeError) fails the batch.
      const { code, message } = deadLetterOrThrow(error);
      letters.push({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key ?? undefined,
        value: record.value ?? "",
        reason: { code, message },
        source: "aggregate",
      });
    }
  });
  if (letters.length > 0) await deps.deadLetter(letters);

  const plan = planBatch(sales, deps.settings);
  let stored = await deps.store.readSlices(plan.slices);
  let result = aggregate(plan, stored, watermarks, deps.settings);
  let pending: readonly SliceItem[] = result.items;
  let written = 0;
  let conflicts = 0;
  let folded = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const outcomes = await Promise.all(pending.map(async (item) => ({ item, outcome: await deps.store.writeSlice(item) })));
    const lost = outcomes.filter((o) => o.outcome === "conflict").map((o) => o.item);
    written += outcomes.length - lost.length;
    // Counted from the version of each item that was written, not from versions that lost a race.
    for (const { item, outcome } of outcomes) if (outcome !== "conflict") folded += result.folded.get(idOf(item)) ?? 0;
    if (lost.length === 0) break;
    conflicts += lost.length;
    if (attempt >= (deps.maxConflictRetries ?? 10))
      throw new DependencyError(DependencyErrorCode.writeConflict, `${lost.length} slices kept changing under ${attempt} write attempts`);
    await sleep(backoffDelay(attempt, { baseMs: 20, capMs: 1_000 }));
    // Re-read what others wrote and merge again: offsets make re-applying safe.
    const fresh = await deps.store.readSlices(lost);
    stored = new Map([...stored, ...fresh]);
    const lostIds = new Set(lost.map(idOf));
    const again = aggregate(plan, stored, watermarks, deps.settings);
    pending = again.items.filter((item) => lostIds.has(idOf(item)));
    result = { ...again, applied: result.applied, late: result.late, duplicates: result.duplicates };
  }
  // Every partition's watermark covers the whole batch, dead-lettered records too, so a redelivery
  // neither applies nor dead-letters anything twice.
  const lastOffsets = new Map<string, number>();
  for (const { tp, record } of incoming) lastOffsets.set(tp, Math.max(lastOffsets.get(tp) ?? -1, record.offset));
  const lettered = new Map<string, number>();
  for (const { topic, partition } of letters) lettered.set(`${topic}-${partition}`, (lettered.get(`${topic}-${partition}`) ?? 0) + 1);
  await Promise.all(
    [...lastOffsets].map(([tp, offset]) => {
      const next = result.watermarks.get(tp) ?? watermarks.get(tp);
      const watermark: Watermark = {
        eventTime: next?.eventTime ?? Number.NEGATIVE_INFINITY,
        offset: Math.max(offset, next?.offset ?? -1),
        // Cumulative: letters of offsets an earlier delivery covered were not sent again, so not counted again.
        deadLettered: (watermarks.get(tp)?.deadLettered ?? 0) + (lettered.get(tp) ?? 0),
      };
      return deps.store.writeWatermark(tp, watermark);
    }),
  );

  return {
    records: delivered.length,
    applied: result.applied,
    late: result.late,
    duplicates: result.duplicates + covered,
    folded,
    poison: letters.length,
    itemsWritten: written,
    conflicts,
    partitions: partitions.length,
    advanced: [...lastOffsets].filter(([tp, offset]) => offset > (watermarks.get(tp)?.offset ?? -1)).length,
  };
}

const idOf = (item: SliceItem) => sliceId(item.window, item.start, item.topicPartition);
