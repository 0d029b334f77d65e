import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { type SliceRef, type SliceTotals, splitTopicPartition } from "#shared/aggregates/slices";
import {
  type Item,
  partitionKeyOf,
  ROLLUP_READ_PROJECTION,
  rollupKey,
  rollupPut,
  rollupReadItem,
  sliceKey,
  sliceKeyScan,
  sliceRefOfKey,
} from "#shared/aggregates/table";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { InvariantError } from "#shared/errors/internal-errors";
import type { SliceLister } from "./backfill.ts";
import type { RollupStore, WindowRef, WindowSlices } from "./rollup.ts";

/** DynamoDB requests the rollup store made (metrics and tests). */
export interface RollupCounts {
  reads: number;
  writes: number;
}

/**
 * The rollup function's store in the aggregates table: slices and rollups. A window's slices and
 * its stored rollup are read together (one BatchGetItem per 100 keys, projected to what a rollup
 * needs); a rollup is one conditional PutItem that keeps the one read last (largest sum of slice
 * versions) over the most partitions; the backfill lists slice keys by Scan. Constructing it does
 * no I/O and cannot fail; its methods throw DynamoDB's errors, and InvariantError when DynamoDB
 * answers an item that was not asked for.
 */
export function createRollupStore(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  partitions: number,
  counts: RollupCounts = { reads: 0, writes: 0 },
): RollupStore & SliceLister & { readonly counts: RollupCounts } {
  return {
    counts,
    async slices(refs: readonly WindowRef[]): Promise<WindowSlices[]> {
      const id = (window: string, start: number, topic: string) => `${window}#${start}#${topic}`;
      const index = new Map(refs.map((ref, i) => [id(ref.window, ref.start, ref.topic), i]));
      // At least the configured partitions and those the stream named (a topic grown before its
      // setting), and at least as many as the stored rollup added up: a read never covers fewer
      // partitions than the rollup it would replace.
      const covered = refs.map((ref) => Math.max(partitions, ref.partitionsSeen));
      const found = refs.map((): SliceTotals[] => []);
      const stored = refs.map(() => 0);
      const read = async (ranges: { i: number; from: number; to: number; withRollup: boolean }[]) => {
        const keys = ranges.flatMap(({ i, from, to, withRollup }) => {
          const ref = refs[i] as WindowRef;
          const slices = Array.from({ length: to - from }, (_, k) => sliceKey(ref.window, ref.start, `${ref.topic}-${from + k}`));
          return withRollup ? [...slices, rollupKey(ref.window, ref.start)] : slices;
        });
        const items = await batchGetAll(client, table, keys, {
          consistentRead: true,
          projection: ROLLUP_READ_PROJECTION,
          onRequest: () => counts.reads++,
        });
        for (const attributes of items) {
          const item = rollupReadItem(attributes);
          if (item?.kind === "rollup") {
            // One topic's rollups: the first window of that spec and start is the one asked for.
            const i = refs.findIndex((ref) => ref.window === item.window && ref.start === item.start);
            if (i >= 0) stored[i] = item.partitions;
            continue;
          }
          const i =
            item === undefined
              ? undefined
              : index.get(id(item.ref.window, item.ref.start, splitTopicPartition(item.ref.topicPartition).topic));
          if (item === undefined || i === undefined)
            throw new InvariantError(`DynamoDB answered an item that was not asked for (pk ${partitionKeyOf(attributes)})`);
          found[i]?.push(item.totals);
        }
      };
      await read(refs.map((_, i) => ({ i, from: 0, to: covered[i] as number, withRollup: true })));
      const short = refs.flatMap((_, i) => ((stored[i] as number) > (covered[i] as number) ? [i] : []));
      if (short.length > 0) {
        await read(short.map((i) => ({ i, from: covered[i] as number, to: stored[i] as number, withRollup: false })));
        for (const i of short) covered[i] = stored[i] as number;
      }
      return refs.map((_, i) => ({ slices: found[i] as SliceTotals[], partitions: covered[i] as number }));
    },
    async put(rollup) {
      counts.writes++;
      try {
        await client.send(new PutItemCommand(rollupPut(table, rollup)));
        return "written";
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return "stale";
        throw error;
      }
    },
    async listSlices(pageSize, after) {
      const page = await client.send(new ScanCommand(sliceKeyScan(table, pageSize, after as Item | undefined)));
      const slices: SliceRef[] = [];
      for (const keys of page.Items ?? []) {
        const ref = sliceRefOfKey(keys);
        if (ref !== undefined) slices.push(ref);
      }
      return { slices, next: page.LastEvaluatedKey };
    },
  };
}
