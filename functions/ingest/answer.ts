import { InvariantError } from "#shared/errors/internal-errors";
import { partitionOfKey } from "#shared/kafka/partitioner";
import type { Acknowledged } from "#shared/kafka/producer";

/** The 202 of POST /sales: every record's partition and offset, in the request's order. */
export interface IngestAccepted {
  readonly accepted: number;
  readonly correlationId: string;
  readonly records: readonly Acknowledged[];
}

/**
 * The 202 as the request ledger keeps it. A retry with the same key sends the same body (the
 * ledger checks its hash), so the records' keys are known again then, and with the partition
 * count the producer used, each record's partition follows from its key (Kafka's default
 * partitioner). What is left to keep is where each partition's records went: runs of
 * consecutive offsets, one per partition when one produce request wrote the whole body. So the
 * kept answer stays a few hundred bytes (one DynamoDB write unit) whatever the request's size,
 * where the whole 202 grows by ~40 bytes a record (about 20 KB for 500).
 */
interface Packed {
  /** Format version of the kept answer. */
  readonly v: 2;
  readonly c: string;
  /** The partition count the records' partitions were computed with. */
  readonly n: number;
  /** [partition, [[first offset, count], ...]] in index order within the partition. */
  readonly p: readonly (readonly [number, readonly (readonly [string, number])[]])[];
}

/**
 * The answer to keep for `accepted`, whose records have `keys` (same order). Compact when every
 * record sits on the partition `partitions` gives its key; the whole 202 otherwise (partitions
 * unknown, or a recovery found records written under another partition count). Never throws.
 */
export function packAnswer(accepted: IngestAccepted, keys: readonly string[], partitions: number | undefined): string {
  // Runs on every keyed 202: the whole answer is serialised only when it is the one kept, and
  // each offset is parsed once (a run's next offset is carried along, not recomputed).
  if (partitions === undefined || accepted.records.length !== keys.length) return JSON.stringify(accepted);
  const runs = new Map<number, { readonly runs: [string, number][]; next: bigint }>();
  for (const [index, record] of accepted.records.entries()) {
    const key = keys[index];
    if (record.index !== index || key === undefined || partitionOfKey(key, partitions) !== record.partition)
      return JSON.stringify(accepted);
    const offset = BigInt(record.offset);
    const held = runs.get(record.partition);
    const last = held?.runs.at(-1);
    if (held === undefined) runs.set(record.partition, { runs: [[record.offset, 1]], next: offset + 1n });
    else {
      if (last !== undefined && held.next === offset) last[1] += 1;
      else held.runs.push([record.offset, 1]);
      held.next = offset + 1n;
    }
  }
  const packed: Packed = { v: 2, c: accepted.correlationId, n: partitions, p: [...runs].map(([partition, { runs }]) => [partition, runs]) };
  return JSON.stringify(packed);
}

/**
 * The 202 kept by packAnswer, for a request whose records have `keys`. Throws InvariantError
 * when the kept answer does not fit the keys (a ledger entry not written by packAnswer for this
 * body): answering a wrong offset would be worse than failing.
 */
export function unpackAnswer(kept: string, keys: readonly string[]): IngestAccepted {
  const parsed = JSON.parse(kept) as Packed | IngestAccepted;
  if (!("v" in parsed)) return parsed;
  const cursors = new Map(parsed.p.map(([partition, runs]) => [partition, { runs, run: 0, used: 0 }]));
  const records = keys.map((key, index): Acknowledged => {
    const partition = partitionOfKey(key, parsed.n);
    const cursor = cursors.get(partition);
    const run = cursor?.runs[cursor.run];
    if (cursor === undefined || run === undefined)
      throw new InvariantError(`the kept answer has no offset left for record ${index} (partition ${partition})`);
    const offset = (BigInt(run[0]) + BigInt(cursor.used)).toString();
    cursor.used += 1;
    if (cursor.used === run[1]) {
      cursor.run += 1;
      cursor.used = 0;
    }
    return { index, partition, offset };
  });
  for (const [partition, cursor] of cursors)
    if (cursor.run !== cursor.runs.length)
      throw new InvariantError(`the kept answer holds more offsets of partition ${partition} than the request has records`);
  return { accepted: records.length, correlationId: parsed.c, records };
}
