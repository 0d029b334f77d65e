import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import type { SliceRef, SliceTotals } from "#shared/aggregates/slices";
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
import { transactGetAll } from "#shared/dynamodb/transact-get";
import { InvariantError } from "#shared/errors/internal-errors";
import type { SliceLister } from "./backfill.ts";
import type { RollupStore, WindowRef, WindowSlices } from "./rollup.ts";

/** DynamoDB requests the rollup store made (metrics and tests). */
export interface RollupCounts {
  reads: number;
  writes: number;
}

/**
 * The rollup function's store in the aggregates table: slices and rollups. The stored rollups of a
 * group of windows are read in one BatchGetItem, then each window's slices in one TransactGetItems
 * (a snapshot, projected to what a rollup needs); a rollup is one conditional PutItem that keeps the one read last (largest sum of slice
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
      // The stored rollups first, for the partitions they covered: a read never covers fewer
      // partitions than the rollup it would replace.
      const stored = new Map<string, number>();
      const rollups = await batchGetAll(
        client,
        table,
        refs.map((ref) => rollupKey(ref.window, ref.start)),
        { consistentRead: true, projection: ROLLUP_READ_PROJECTION, onRequest: () => counts.reads++ },
      );
      for (const attributes of rollups) {
        const item = rollupReadItem(attributes);
        if (item?.kind === "rollup") stored.set(`${item.window}#${item.start}`, item.partitions);
      }
      // Then each window's slices as one snapshot (TransactGetItems): a rebuild replaces every
      // slice of a window instance in one transaction, and a rollup must add up all old or all
      // new ones. At least the configured partitions and those the stream named (a topic grown
      // before its setting), and those the stored rollup covered.
      return Promise.all(
        refs.map(async (ref): Promise<WindowSlices> => {
          const covered = Math.max(partitions, ref.partitionsSeen, stored.get(`${ref.window}#${ref.start}`) ?? 0);
          const keys = Array.from({ length: covered }, (_, p) => sliceKey(ref.window, ref.start, `${ref.topic}-${p}`));
          const items = await transactGetAll(client, table, keys, {
            projection: ROLLUP_READ_PROJECTION,
            onRequest: () => counts.reads++,
          });
          const slices: SliceTotals[] = [];
          for (const attributes of items) {
            if (attributes === undefined) continue;
            const item = rollupReadItem(attributes);
            if (item === undefined || item.kind === "rollup" || item.ref.window !== ref.window || item.ref.start !== ref.start)
              throw new InvariantError(`DynamoDB answered an item that was not asked for (pk ${partitionKeyOf(attributes)})`);
            slices.push(item.totals);
          }
          return { slices, partitions: covered };
        }),
      );
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
