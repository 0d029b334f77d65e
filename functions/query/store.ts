import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from "@aws-sdk/client-dynamodb";
import {
  ALL_VALUE,
  COUNTRY_SERIES_INDEX,
  Dimension,
  dimensionAttribute,
  dimensionValues,
  type Metrics,
  redriveCountKey,
  rollupKey,
  seriesKey,
  sliceKey,
  splitTopicPartition,
  unmarshalMetrics,
  WATERMARK_BATCH_AT,
  watermarkKey,
} from "#shared/aggregates/model";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { partitionOfKey } from "#shared/kafka/partitioner";
import type { PartitionMark, QueryStore } from "./query.ts";

/** DynamoDB requests a query store made (tests and the scale benchmark count them). */
export interface ReadCounts {
  requests: number;
}

/**
 * The aggregates table as the query API reads it: a window's slices by BatchGetItem (one request
 * for up to 100 partitions); a series by one Query projected to the value asked for. A country's
 * figures live in the slices of the partition its records are keyed to (the country-series index
 * on that partition); a region's or the total's live in the window spec's rollups.
 */
export function dynamoQueryStore(
  client: DynamoDBClient,
  table: string,
  topic: string,
  partitions: number,
  counts: ReadCounts = { requests: 0 },
): QueryStore & { counts: ReadCounts } {
  const topicPartitions = Array.from({ length: partitions }, (_, p) => `${topic}-${p}`);
  const homePartition = (country: string) => topicPartitions[partitionOfKey(country, partitions)] as string;

  const batchGet = (keys: Record<string, AttributeValue>[], projection: string, names: Record<string, string>) =>
    batchGetAll(client, table, keys, { projection, names, onRequest: () => counts.requests++ });

  async function queryAll(input: QueryCommandInput): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      counts.requests++;
      const page: QueryCommandOutput = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  return {
    counts,
    async windowValues(window, start, dimension) {
      const keys = topicPartitions.map((tp) => sliceKey(window, start, tp));
      const items = await batchGet(keys, "#d", { "#d": dimensionAttribute[dimension] });
      return items.map((attributes) => dimensionValues(attributes, dimension));
    },
    async valueSeries(window, fromStart, toStart, dimension, value) {
      const attribute = dimensionAttribute[dimension];
      const entry = dimension === Dimension.all ? ALL_VALUE : value;
      const names = { "#d": attribute, "#v": entry };
      // A country's slices are whole on its home partition; regions and the total are rolled up.
      const items =
        dimension === Dimension.country
          ? await queryAll({
              TableName: table,
              IndexName: COUNTRY_SERIES_INDEX,
              KeyConditionExpression: "spk = :k AND ssk BETWEEN :from AND :to",
              ProjectionExpression: "ws, #d.#v",
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: {
                ":k": { S: seriesKey(window, fromStart, homePartition(value)).spk },
                ":from": { S: seriesKey(window, fromStart, "").ssk },
                ":to": { S: seriesKey(window, toStart, "").ssk },
              },
            })
          : await queryAll({
              TableName: table,
              KeyConditionExpression: "pk = :k AND sk BETWEEN :from AND :to",
              ProjectionExpression: "ws, #d.#v",
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: {
                ":k": rollupKey(window, fromStart).pk as AttributeValue,
                ":from": rollupKey(window, fromStart).sk as AttributeValue,
                ":to": rollupKey(window, toStart).sk as AttributeValue,
              },
            });
      const points: { start: number; metrics: Metrics }[] = [];
      for (const attributes of items) {
        const metrics = attributes[attribute]?.M?.[entry];
        if (metrics !== undefined)
          points.push({ start: Number(attributes.ws?.N), metrics: unmarshalMetrics(metrics, `${attribute}.${entry}`) });
      }
      return points;
    },
    async watermarks() {
      // Each partition's watermark and its count of redriven records, in one BatchGetItem up to 50
      // partitions: the dead letters not yet redriven (`dl` - `rd`) make a window's figures incomplete.
      const items = await batchGet(
        [...topicPartitions.map(watermarkKey), ...topicPartitions.map(redriveCountKey)],
        "#t, #s, #w, #a, #dl, #rd",
        {
          "#t": "tp",
          "#s": "sk",
          "#w": "wm",
          "#a": WATERMARK_BATCH_AT,
          "#dl": "dl",
          "#rd": "rd",
        },
      );
      const redriven = new Map<string, number>();
      for (const item of items) if (item.sk?.S === "redriven-count") redriven.set(item.tp?.S ?? "", Number(item.rd?.N ?? 0));
      const byPartition = new Map<number, PartitionMark>();
      for (const item of items) {
        if (item.sk?.S === "redriven-count") continue;
        const tp = item.tp?.S ?? "";
        byPartition.set(splitTopicPartition(tp).partition, {
          // Absent while a partition has seen only undecodable records: no event time yet.
          eventTime: item.wm?.N === undefined ? undefined : Number(item.wm.N),
          lastBatchAt: item[WATERMARK_BATCH_AT]?.N === undefined ? undefined : Number(item[WATERMARK_BATCH_AT].N),
          pendingDeadLetters: Math.max(0, Number(item.dl?.N ?? 0) - (redriven.get(tp) ?? 0)),
        });
      }
      return byPartition;
    },
  };
}
