import { type DynamoDBClient, QueryCommand, type QueryCommandInput, type QueryCommandOutput } from "@aws-sdk/client-dynamodb";
import { Dimension, type Metrics } from "#shared/aggregates/metrics";
import { laterRevision, type Revision, splitTopicPartition } from "#shared/aggregates/slices";
import {
  dimensionProjection,
  dimensionValues,
  type Item,
  partitionMarksOf,
  partitionMarksRead,
  revisionOf,
  revisionPoint,
  revisionsQuery,
  seriesPoint,
  seriesQuery,
  sliceKey,
} from "#shared/aggregates/table";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { transactGetAll } from "#shared/dynamodb/transact-get";
import { partitionOfKey } from "#shared/kafka/partitioner";
import type { PartitionMark, QueryStore, SeriesPoint } from "./query.ts";

/** DynamoDB requests a query store made (tests and the scale benchmark count them). */
export interface ReadCounts {
  requests: number;
}

/**
 * The query API's store in the aggregates table: a window's slices by TransactGetItems (one
 * snapshot of up to 100 partitions); a series by one Query projected to the value asked for. A country's
 * figures live in the slices of the partition its records are keyed to (the country-series index
 * on that partition); a region's or the total's live in the window spec's rollups. Constructing
 * it does no I/O and cannot fail; its methods throw DynamoDB's errors.
 */
export function createQueryStore(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  topic: string,
  partitions: number,
  counts: ReadCounts = { requests: 0 },
): QueryStore & { readonly counts: ReadCounts } {
  const topicPartitions = Array.from({ length: partitions }, (_, p) => `${topic}-${p}`);
  const homePartition = (country: string) => topicPartitions[partitionOfKey(country, partitions)] as string;

  const batchGet = (keys: Item[], read: { projection: string; names: Record<string, string> }) =>
    batchGetAll(client, table, keys, { ...read, onRequest: () => counts.requests++ });

  async function queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
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
      // One snapshot of every partition's slice: a rebuild replaces them all in one transaction.
      const keys = topicPartitions.map((tp) => sliceKey(window, start, tp));
      const read = dimensionProjection(dimension);
      const items = await transactGetAll(client, table, keys, {
        projection: read.projection,
        names: read.names,
        onRequest: () => counts.requests++,
      });
      let revised: Revision | undefined;
      const partials: Map<string, Metrics>[] = [];
      for (const attributes of items) {
        if (attributes === undefined) continue;
        partials.push(dimensionValues(attributes, dimension));
        revised = laterRevision(revised, revisionOf(attributes));
      }
      return { partials, ...(revised !== undefined && { revised }) };
    },
    async valueSeries(window, fromStart, toStart, dimension, value) {
      // A country's slices are whole on its home partition; regions and the total are rolled up.
      const home = dimension === Dimension.country ? homePartition(value) : "";
      const range = { window, fromStart, toStart };
      // The index does not project a slice's revision: a country's comes from its windows' rollups.
      const [items, revisions] = await Promise.all([
        queryAll(seriesQuery(table, range, dimension, value, home)),
        dimension === Dimension.country ? queryAll(revisionsQuery(table, range)) : [],
      ]);
      const revisedAt = new Map<number, Revision>();
      for (const attributes of revisions) {
        const point = revisionPoint(attributes);
        if (point !== undefined) revisedAt.set(point.start, point.revised);
      }
      const points: SeriesPoint[] = [];
      for (const attributes of items) {
        const point = seriesPoint(attributes, dimension, value);
        const revised = point === undefined ? undefined : revisedAt.get(point.start);
        if (point !== undefined) points.push(revised === undefined ? point : { ...point, revised });
      }
      return points;
    },
    async watermarks() {
      // Each partition's watermark and its count of redriven records, in one BatchGetItem up to 50
      // partitions: the dead letters not yet redriven make a window's figures incomplete.
      const read = partitionMarksRead(topicPartitions);
      const byPartition = new Map<number, PartitionMark>();
      for (const [tp, mark] of partitionMarksOf(await batchGet(read.keys, { projection: read.projection, names: read.names }))) {
        byPartition.set(splitTopicPartition(tp).partition, {
          // Absent while a partition has seen only undecodable records: no event time yet.
          eventTime: mark.eventTime,
          lastBatchAt: mark.lastBatchAt,
          pendingDeadLetters: Math.max(0, mark.deadLettered - mark.redriven),
        });
      }
      return byPartition;
    },
  };
}
