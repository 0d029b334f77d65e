import { type AttributeValue, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  marshalSlice,
  type SliceItem,
  sliceId,
  sliceKey,
  splitTopicPartition,
  unmarshalSlice,
  WATERMARK_BATCH_AT,
  watermarkKey,
} from "#shared/aggregates/model";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import type { Watermark } from "./aggregate.ts";

/** DynamoDB requests a store made, and what it wrote, for metrics and the benchmarks. */
export interface RequestCounts {
  writes: number;
  reads: number;
  /** Conditional writes refused because someone else wrote the item first. */
  conflicts: number;
  /** Bytes of the largest item written (attribute names and values, as DynamoDB sizes them, roughly). */
  largestItemBytes: number;
}

/** A slice to read: its window instance and partition. */
export interface SliceRef {
  readonly window: string;
  readonly start: number;
  readonly topicPartition: string;
}

/** Observes every item write: its partition key and size (the scale benchmark's per-key rates). */
export type WriteObserver = (key: string, bytes: number) => void;

/**
 * Slices and watermark items in DynamoDB. Reads are strongly consistent; every write is
 * conditional on the version it read, so a late retry of an old invocation can never undo a
 * newer one. Each item is written by one partition's invocations only.
 */
export class AggregateStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #observe: WriteObserver | undefined;
  readonly counts: RequestCounts = { writes: 0, reads: 0, conflicts: 0, largestItemBytes: 0 };

  constructor(client: DynamoDBClient, table: string, observe?: WriteObserver) {
    this.#client = client;
    this.#table = table;
    this.#observe = observe;
  }

  #batchGet(keys: Record<string, AttributeValue>[]) {
    return batchGetAll(this.#client, this.#table, keys, { consistentRead: true, onRequest: () => this.counts.reads++ });
  }

  /** The stored slices among `slices`, by slice id. Throws on DynamoDB errors. */
  async readSlices(slices: readonly SliceRef[]): Promise<Map<string, SliceItem>> {
    const items = await this.#batchGet(slices.map((s) => sliceKey(s.window, s.start, s.topicPartition)));
    const byId = new Map<string, SliceItem>();
    for (const attributes of items) {
      const item = unmarshalSlice(attributes);
      byId.set(sliceId(item.window, item.start, item.topicPartition), item);
    }
    return byId;
  }

  /** Writes a merged slice if nobody wrote it since it was read; "conflict" means re-read and merge again. */
  async writeSlice(item: SliceItem): Promise<"written" | "conflict"> {
    const put = slicePut(this.#table, item);
    this.#count(put.Item);
    try {
      await this.#client.send(new PutItemCommand(put));
      return "written";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        this.counts.conflicts++;
        return "conflict";
      }
      throw error;
    }
  }

  /** Watermarks of the given partitions ("topic-partition"). Throws on DynamoDB errors. */
  async readWatermarks(topicPartitions: readonly string[]): Promise<Map<string, Watermark>> {
    const found = await this.#batchGet(topicPartitions.map(watermarkKey));
    const byPartition = new Map<string, Watermark>();
    for (const attributes of found) {
      // A partition that has seen only undecodable records has an offset but no event time yet.
      const eventTime = attributes.wm?.N === undefined ? Number.NEGATIVE_INFINITY : Number(attributes.wm.N);
      byPartition.set(String(attributes.tp?.S), {
        eventTime,
        offset: Number(attributes.off?.N),
        deadLettered: Number(attributes.dl?.N ?? 0),
      });
    }
    return byPartition;
  }

  /** Moves a partition's watermark forward (never back: a stale retry cannot undo a newer batch). */
  async writeWatermark(topicPartition: string, watermark: Watermark): Promise<void> {
    const { topic, partition } = splitTopicPartition(topicPartition);
    const attributes: Record<string, AttributeValue> = {
      ...watermarkKey(topicPartition),
      tp: { S: topicPartition },
      topic: { S: topic },
      p: { N: String(partition) },
      ...(Number.isFinite(watermark.eventTime) && { wm: { N: String(watermark.eventTime) } }),
      off: { N: String(watermark.offset) },
      // Wall-clock time of this batch: the query tells an idle partition (no batch for
      // IdleTimeout) from one still delivering, so an empty partition does not hold windows open.
      [WATERMARK_BATCH_AT]: { N: String(Date.now()) },
      ...(watermark.deadLettered !== undefined && { dl: { N: String(watermark.deadLettered) } }),
    };
    this.#count(attributes);
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: attributes,
          ConditionExpression: "attribute_not_exists(pk) OR off <= :off",
          ExpressionAttributeValues: { ":off": { N: String(watermark.offset) } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  #count(attributes: Record<string, AttributeValue>): void {
    this.counts.writes++;
    const bytes = itemBytes(attributes);
    if (bytes > this.counts.largestItemBytes) this.counts.largestItemBytes = bytes;
    this.#observe?.(attributes.pk?.S ?? "", bytes);
  }
}

/**
 * The conditional put of a merged slice: its version bumped (the rollup's `seen` follows it), and
 * refused when the stored version is no longer the one read (or, for a new slice, when one
 * exists). As a PutItem input, or a Put of TransactWriteItems (the redrive's).
 */
export function slicePut(table: string, item: SliceItem) {
  return {
    TableName: table,
    Item: marshalSlice({ ...item, version: item.version + 1 }),
    ConditionExpression: item.version === 0 ? "attribute_not_exists(pk)" : "ver = :read",
    ...(item.version !== 0 && { ExpressionAttributeValues: { ":read": { N: String(item.version) } } }),
  };
}

/**
 * An item's size the way DynamoDB bills it, closely enough for metrics: UTF-8 bytes of names and
 * strings, numbers at about one byte per two digits, plus a few bytes per map entry.
 */
export function itemBytes(attributes: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, "").length / 2) + 1;
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  return Buffer.byteLength(JSON.stringify(value));
}
