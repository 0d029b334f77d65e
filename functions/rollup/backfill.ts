import { type AttributeValue, type DynamoDBClient, ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { type RollupStore, rollUp, type StreamRecord, windowsPerRead } from "./rollup.ts";

export interface BackfillSummary {
  /** Slices scanned. */
  slices: number;
  /** Rollups written (window instances whose stored rollup was missing or older). */
  written: number;
  /** Rollups already up to date. */
  stale: number;
  failedWindows: number;
}

/**
 * Rolls up every window instance that has slices in the table, as the stream would have: for a
 * stack deployed before the rollup, or windows whose stream batch went to the dead-letter queue.
 * Scans slice keys only (`sk = "slice"`), `pageSize` at a time, and rolls each page's windows up
 * with the rollup's own core, so it may run while the stream mapping runs: the rollup read last
 * wins either way. Throws on DynamoDB errors of the scan; a window that fails is counted.
 */
export async function backfillRollups(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  store: RollupStore,
  { partitions, pageSize = 1000, onPage }: { partitions: number; pageSize?: number; onPage?: (summary: BackfillSummary) => void },
): Promise<BackfillSummary> {
  const summary: BackfillSummary = { slices: 0, written: 0, stale: 0, failedWindows: 0 };
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page: ScanCommandOutput = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "sk = :slice",
        ProjectionExpression: "pk, sk",
        ExpressionAttributeValues: { ":slice": { S: "slice" } },
        Limit: pageSize,
        ExclusiveStartKey: startKey,
      }),
    );
    const records: StreamRecord[] = (page.Items ?? []).map((keys, i) => ({ eventName: "MODIFY", sequenceNumber: String(i), keys }));
    summary.slices += records.length;
    const { summary: rolled } = await rollUp(records, store, { windowsPerRead: windowsPerRead(partitions) });
    summary.written += rolled.written;
    summary.stale += rolled.stale;
    summary.failedWindows += rolled.failedWindows;
    onPage?.({ ...summary });
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return summary;
}
