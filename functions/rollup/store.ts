import { type AttributeValue, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshalRollup, parseSliceId, type RollupItem, rollupKey, sliceKey, splitTopicPartition } from "#shared/aggregates/model";
import { batchGetAll } from "#shared/dynamodb/batch-get";
import { InvariantError } from "#shared/errors/internal-errors";
import { type RollupStore, type SliceTotals, sliceTotals, type WindowRef, type WindowSlices } from "./rollup.ts";

/** DynamoDB requests the rollup store made (metrics and tests). */
export interface RollupCounts {
  reads: number;
  writes: number;
}

/**
 * Slices and rollups in the aggregates table. A window's slices and its stored rollup are read
 * together (one BatchGetItem per 100 keys, projected to what a rollup needs); a rollup is one
 * conditional PutItem that keeps the one read last (largest sum of slice versions) over the most
 * partitions.
 */
export function dynamoRollupStore(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  partitions: number,
  counts: RollupCounts = { reads: 0, writes: 0 },
): RollupStore & { counts: RollupCounts } {
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
          projection: "pk, sk, we, ver, r, a, expiresAt, parts",
          onRequest: () => counts.reads++,
        });
        for (const attributes of items) {
          const pk = attributes.pk?.S ?? "";
          if (pk.startsWith("series#")) {
            // One topic's rollups: the first window of that spec and start is the one asked for.
            const i = refs.findIndex((ref) => `series#${ref.window}` === pk && new Date(ref.start).toISOString() === attributes.sk?.S);
            if (i >= 0) stored[i] = Number(attributes.parts?.N ?? 0);
            continue;
          }
          const slice = parseSliceId(pk);
          const i =
            slice === undefined ? undefined : index.get(id(slice.window, slice.start, splitTopicPartition(slice.topicPartition).topic));
          if (i === undefined) throw new InvariantError(`DynamoDB answered an item that was not asked for (pk ${pk})`);
          found[i]?.push(sliceTotals(attributes));
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
    async put(rollup: RollupItem) {
      counts.writes++;
      const values: Record<string, AttributeValue> = {
        ":seen": { N: rollup.seen.toString() },
        ":parts": { N: String(rollup.partitions) },
      };
      try {
        await client.send(
          new PutItemCommand({
            TableName: table,
            Item: marshalRollup(rollup),
            // A later read (larger sum of versions) over no fewer partitions than the stored one.
            ConditionExpression: "attribute_not_exists(pk) OR (seen < :seen AND (attribute_not_exists(parts) OR parts <= :parts))",
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
