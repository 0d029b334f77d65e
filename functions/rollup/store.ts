import { type AttributeValue, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshalRollup, parseSliceId, type RollupItem, sliceKey, splitTopicPartition } from "#shared/aggregates/model";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { type RollupStore, type SliceTotals, sliceTotals, type WindowRef } from "./rollup.ts";

/** DynamoDB requests the rollup store made (metrics and tests). */
export interface RollupCounts {
  reads: number;
  writes: number;
}

/**
 * Slices and rollups in the aggregates table. A window's slices (partitions 0 to the configured
 * count, or to the highest the stream named) are one BatchGetItem per 100 partitions, projected to the region and overall figures; a rollup is one conditional PutItem
 * that keeps the rollup with the largest sum of slice versions.
 */
export function dynamoRollupStore(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  partitions: number,
  counts: RollupCounts = { reads: 0, writes: 0 },
): RollupStore & { counts: RollupCounts } {
  return {
    counts,
    async slices(refs: readonly WindowRef[]): Promise<SliceTotals[][]> {
      const index = new Map<string, number>();
      const keys = refs.flatMap((ref, i) => {
        index.set(`${ref.window}#${ref.start}#${ref.topic}`, i);
        // A partition added to the topic before SALES_TOPIC_PARTITIONS was raised still counts.
        const count = Math.max(partitions, ref.partitionsSeen);
        return Array.from({ length: count }, (_, p) => sliceKey(ref.window, ref.start, `${ref.topic}-${p}`));
      });
      const items = await batchGetAll(client, table, keys, {
        consistentRead: true,
        projection: "pk, we, ver, r, a, expiresAt",
        onRequest: () => counts.reads++,
      });
      const byWindow = refs.map((): SliceTotals[] => []);
      for (const attributes of items) {
        const id = parseSliceId(attributes.pk?.S ?? "");
        const i = id === undefined ? undefined : index.get(`${id.window}#${id.start}#${splitTopicPartition(id.topicPartition).topic}`);
        if (i === undefined) throw new Error(`DynamoDB answered an item that was not asked for (pk ${attributes.pk?.S})`);
        byWindow[i]?.push(sliceTotals(attributes));
      }
      return byWindow;
    },
    async put(rollup: RollupItem) {
      counts.writes++;
      const values: Record<string, AttributeValue> = { ":seen": { N: rollup.seen.toString() } };
      try {
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: marshalRollup(rollup),
            ConditionExpression: "attribute_not_exists(pk) OR seen < :seen",
            ExpressionAttributeValues: values,
          }),
        );
        return "written";
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return "stale";
        throw error;
      }
    },
  };
}
