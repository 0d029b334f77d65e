import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshalWindow, unmarshalWindow, type WindowItem, watermarkKey, windowKey } from "#shared/aggregates/model";
import { itemId, type Watermark } from "./aggregate.ts";

/** DynamoDB requests a store made, for metrics and the cost benchmark. */
export interface RequestCounts {
  writes: number;
  reads: number;
}

/**
 * Window and watermark items in DynamoDB. Reads are strongly consistent; every write is
 * conditional on the version it read, so two writers never lose each other's update.
 */
export class AggregateStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly counts: RequestCounts = { writes: 0, reads: 0 };

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  async #batchGet(keys: Record<string, AttributeValue>[]) {
    const found: Record<string, AttributeValue>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: typeof keys | undefined = keys.slice(i, i + 100);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
        if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} keys unprocessed after ${attempt} attempts`);
        this.counts.reads++;
        const response: BatchGetItemCommandOutput = await this.#client.send(
          new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: pending, ConsistentRead: true } } }),
        );
        found.push(...(response.Responses?.[this.#table] ?? []));
        pending = response.UnprocessedKeys?.[this.#table]?.Keys;
      }
    }
    return found;
  }

  /** The stored window items among `windows`, by item id. */
  async readWindows(windows: readonly { window: string; start: number }[]): Promise<Map<string, WindowItem>> {
    const items = await this.#batchGet(windows.map((w) => windowKey(w.window, w.start)));
    const byId = new Map<string, WindowItem>();
    for (const attributes of items) {
      const item = unmarshalWindow(attributes);
      byId.set(itemId(item.window, item.start), item);
    }
    return byId;
  }

  /** Writes a merged item if nobody wrote it since it was read; "conflict" means re-read and merge again. */
  async writeWindow(item: WindowItem): Promise<"written" | "conflict"> {
    this.counts.writes++;
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: marshalWindow({ ...item, version: item.version + 1 }),
          ConditionExpression: item.version === 0 ? "attribute_not_exists(pk)" : "ver = :read",
          ...(item.version !== 0 && { ExpressionAttributeValues: { ":read": { N: String(item.version) } } }),
        }),
      );
      return "written";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "conflict";
      throw error;
    }
  }

  /** Watermarks of the given partitions ("topic-partition"). */
  async readWatermarks(topicPartitions: readonly string[]): Promise<Map<string, Watermark>> {
    const keys = topicPartitions.map((tp) => {
      const { topic, partition } = splitTopicPartition(tp);
      return watermarkKey(topic, partition);
    });
    const found = await this.#batchGet(keys);
    const byPartition = new Map<string, Watermark>();
    for (const attributes of found) {
      byPartition.set(String(attributes.tp?.S), { eventTime: Number(attributes.wm?.N), offset: Number(attributes.off?.N) });
    }
    return byPartition;
  }

  /** Moves a partition's watermark forward (never back: a stale retry cannot undo a newer batch). */
  async writeWatermark(topicPartition: string, watermark: Watermark): Promise<void> {
    const { topic, partition } = splitTopicPartition(topicPartition);
    this.counts.writes++;
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            ...watermarkKey(topic, partition),
            tp: { S: topicPartition },
            wm: { N: String(watermark.eventTime) },
            off: { N: String(watermark.offset) },
          },
          ConditionExpression: "attribute_not_exists(pk) OR off <= :off",
          ExpressionAttributeValues: { ":off": { N: String(watermark.offset) } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

/** "sales-3" -> { topic: "sales", partition: 3 } (topics may contain dashes). */
export function splitTopicPartition(topicPartition: string): { topic: string; partition: number } {
  const dash = topicPartition.lastIndexOf("-");
  return { topic: topicPartition.slice(0, dash), partition: Number(topicPartition.slice(dash + 1)) };
}
