import { type AttributeValue, BatchGetItemCommand, type BatchGetItemCommandOutput, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DependencyError, DependencyErrorCode } from "../errors/internal-errors.ts";
import { backoffDelay, sleep } from "../retry/backoff.ts";

export interface BatchGetOptions {
  readonly consistentRead?: boolean;
  readonly projection?: string;
  readonly names?: Record<string, string>;
  /** Called once per request sent, for request counts. */
  readonly onRequest?: () => void;
  readonly wait?: (ms: number) => Promise<void>;
}

/** Rounds of UnprocessedKeys a read waits out before it gives up. */
export const MAX_BATCH_GET_ATTEMPTS = 9;

/**
 * Reads every key of one table (any number of keys, 100 per BatchGetItem), asking again with
 * jittered backoff for the keys DynamoDB leaves unprocessed. Resolves the items found, in no
 * particular order. Throws DynamoDB's errors, and a retriable DependencyError (DYNAMODB_UNPROCESSED) counting the keys still unprocessed
 * after MAX_BATCH_GET_ATTEMPTS requests.
 */
export async function batchGetAll(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  keys: readonly Record<string, AttributeValue>[],
  { consistentRead, projection, names, onRequest, wait = sleep }: BatchGetOptions = {},
): Promise<Record<string, AttributeValue>[]> {
  const found: Record<string, AttributeValue>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, AttributeValue>[] | undefined = keys.slice(i, i + 100);
    for (let attempt = 1; pending !== undefined && pending.length > 0; attempt++) {
      if (attempt > MAX_BATCH_GET_ATTEMPTS)
        throw new DependencyError(
          DependencyErrorCode.dynamodbUnprocessed,
          `DynamoDB left ${pending.length} keys unprocessed after ${MAX_BATCH_GET_ATTEMPTS} attempts`,
        );
      if (attempt > 1) await wait(backoffDelay(attempt - 1, { baseMs: 50, capMs: 5_000 }));
      onRequest?.();
      const page: BatchGetItemCommandOutput = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [table]: {
              Keys: pending,
              ...(consistentRead !== undefined && { ConsistentRead: consistentRead }),
              ...(projection !== undefined && { ProjectionExpression: projection }),
              ...(names !== undefined && { ExpressionAttributeNames: names }),
            },
          },
        }),
      );
      found.push(...(page.Responses?.[table] ?? []));
      pending = page.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return found;
}
