import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { type SliceItem, type SliceRef, sliceId, type Watermark } from "#shared/aggregates/slices";
import {
  type Item,
  itemBytes,
  partitionKeyOf,
  redriveMarkerKey,
  redriveWrites,
  sliceKey,
  slicePut,
  sliceStartOf,
  sliceStartsQuery,
  unmarshalSlice,
  unmarshalWatermark,
  watermarkKey,
  watermarkPut,
} from "#shared/aggregates/table";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { transactGetAll } from "#shared/dynamodb/transact-get";
import { AppError } from "#shared/errors/app-error";
import type { AggregateStore } from "./process-batch.ts";
import type { RebuildStore } from "./rebuild-core.ts";
import type { RedriveStore } from "./redrive-core.ts";

/** DynamoDB requests a store made, and what it wrote, for metrics and the benchmarks. */
export interface RequestCounts {
  writes: number;
  reads: number;
  /** Conditional writes refused because someone else wrote the item first. */
  conflicts: number;
  /** Bytes of the largest item written (attribute names and values, as DynamoDB sizes them, roughly). */
  largestItemBytes: number;
}

/** Observes every item write: its partition key and size (the scale benchmark's per-key rates). */
export type WriteObserver = (key: string, bytes: number) => void;

/**
 * The aggregate function's store in the aggregates table: slices and watermark items. Reads are
 * strongly consistent; every write is conditional on the version it read, so a late retry of an
 * old invocation can never undo a newer one. Each item is written by one partition's invocations
 * only. Constructing it does no I/O and cannot fail; its methods throw DynamoDB's errors.
 */
export function createAggregateStore(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  observe?: WriteObserver,
): AggregateStore & { readonly counts: RequestCounts } {
  const counts: RequestCounts = { writes: 0, reads: 0, conflicts: 0, largestItemBytes: 0 };
  const batchGet = (keys: Item[]) => batchGetAll(client, table, keys, { consistentRead: true, onRequest: () => counts.reads++ });
  const count = (attributes: Item) => {
    counts.writes++;
    const bytes = itemBytes(attributes);
    if (bytes > counts.largestItemBytes) counts.largestItemBytes = bytes;
    observe?.(partitionKeyOf(attributes), bytes);
  };
  return {
    counts,
    async readSlices(slices: readonly SliceRef[]) {
      const items = await batchGet(slices.map((ref) => sliceKey(ref.window, ref.start, ref.topicPartition)));
      const byId = new Map<string, SliceItem>();
      for (const attributes of items) {
        const item = unmarshalSlice(attributes);
        byId.set(sliceId(item.window, item.start, item.topicPartition), item);
      }
      return byId;
    },
    async writeSlice(item: SliceItem) {
      const put = slicePut(table, item);
      count(put.Item);
      try {
        await client.send(new PutItemCommand(put));
        return "written";
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          counts.conflicts++;
          return "conflict";
        }
        throw error;
      }
    },
    async readWatermarks(topicPartitions: readonly string[]) {
      const byPartition = new Map<string, Watermark>();
      for (const attributes of await batchGet(topicPartitions.map(watermarkKey))) {
        const { topicPartition, watermark } = unmarshalWatermark(attributes);
        byPartition.set(topicPartition, watermark);
      }
      return byPartition;
    },
    async writeWatermark(topicPartition: string, watermark: Watermark) {
      const put = watermarkPut(table, topicPartition, watermark, Date.now());
      count(put.Item ?? {});
      try {
        await client.send(new PutItemCommand(put));
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },
  };
}

/**
 * The redrive's store in the aggregates table: the aggregate store's reads, the marker read and
 * the one transaction that applies a record. Constructing it does no I/O and cannot fail; its
 * methods throw DynamoDB's errors (a cancelled transaction is "cancelled", not thrown).
 */
export function createRedriveStore(client: Pick<DynamoDBClient, "send">, table: string): RedriveStore {
  const { readSlices, readWatermarks } = createAggregateStore(client, table);
  return {
    readSlices,
    readWatermarks,
    async isRedriven(topicPartition, offset) {
      const found = await client.send(
        new GetItemCommand({ TableName: table, Key: redriveMarkerKey(topicPartition, offset), ConsistentRead: true }),
      );
      return found.Item !== undefined;
    },
    async applyRedrive(slices, record) {
      try {
        await client.send(new TransactWriteItemsCommand({ TransactItems: redriveWrites(table, slices, record) }));
        return "applied";
      } catch (error) {
        if (error instanceof TransactionCanceledException) return "cancelled";
        throw error;
      }
    },
  };
}

/** The most a transaction writes ([AWS](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html)): 4 MB of items. */
const MAX_TRANSACTION_BYTES = 4_000_000;

/**
 * The rebuild's store in the aggregates table: the partitions' watermark items, a window instance's
 * slices as one snapshot (TransactGetItems), and the one transaction that replaces them, each put
 * conditioned on the version read. Constructing it does no I/O and cannot fail; its methods throw
 * DynamoDB's errors (a cancelled transaction is "conflict", not thrown), and AppError
 * (TRANSACTION_TOO_LARGE) when a window instance's slices pass a transaction's 4 MB.
 */
export function createRebuildStore(client: Pick<DynamoDBClient, "send">, table: string): RebuildStore {
  const { readWatermarks } = createAggregateStore(client, table);
  return {
    async progress(topicPartitions) {
      const marks = await readWatermarks(topicPartitions);
      return new Map([...marks].map(([tp, mark]) => [tp, { offset: mark.offset, eventTime: mark.eventTime }]));
    },
    async starts(window, topicPartitions, fromStart, toStart) {
      const found = new Set<number>();
      for (const tp of topicPartitions) {
        let startKey: Item | undefined;
        do {
          const page: QueryCommandOutput = await client.send(
            new QueryCommand({ ...sliceStartsQuery(table, window, tp, fromStart, toStart), ExclusiveStartKey: startKey }),
          );
          for (const attributes of page.Items ?? []) found.add(sliceStartOf(attributes));
          startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
      }
      return found;
    },
    async instance(window, start, topicPartitions) {
      const items = await transactGetAll(
        client,
        table,
        topicPartitions.map((tp) => sliceKey(window, start, tp)),
      );
      return items.flatMap((attributes) => (attributes === undefined ? [] : [unmarshalSlice(attributes)]));
    },
    async replace(slices) {
      const puts = slices.map((slice) => slicePut(table, slice));
      const bytes = puts.reduce((sum, put) => sum + itemBytes(put.Item), 0);
      if (bytes > MAX_TRANSACTION_BYTES) {
        const first = slices[0];
        throw new AppError(
          `the ${first?.window} window at ${first === undefined ? "?" : new Date(first.start).toISOString()} has ${bytes} bytes of slices; one transaction holds 4 MB`,
          { code: "TRANSACTION_TOO_LARGE" },
        );
      }
      try {
        await client.send(new TransactWriteItemsCommand({ TransactItems: puts.map((Put) => ({ Put })) }));
        return "replaced";
      } catch (error) {
        if (error instanceof TransactionCanceledException) return "conflict";
        throw error;
      }
    },
  };
}
