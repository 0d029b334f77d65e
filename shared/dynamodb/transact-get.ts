import { type AttributeValue, type DynamoDBClient, TransactGetItemsCommand, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { InvariantError } from "../errors/internal-errors.ts";
import { sleep, withRetries } from "../retry/backoff.ts";

/** Most items one TransactGetItems reads ([AWS](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html)). */
export const MAX_TRANSACT_ITEMS = 100;

export interface TransactGetOptions {
  readonly projection?: string;
  readonly names?: Record<string, string>;
  /** Called once per request sent, for request counts. */
  readonly onRequest?: () => void;
  readonly wait?: (ms: number) => Promise<void>;
}

/** Whether DynamoDB cancelled a transactional read because a transaction was writing the same items (worth another try). */
const conflicted = (error: unknown) =>
  error instanceof TransactionCanceledException &&
  (error.CancellationReasons ?? []).some((reason) => reason.Code === "TransactionConflict");

/**
 * Reads up to 100 items of one table as one snapshot (TransactGetItems): every item as it was
 * before, or every item as it is after, any transaction that wrote them, which a BatchGetItem
 * does not promise ([AWS](https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation)).
 * Resolves the items in key order, undefined where none exists. A read cancelled because a
 * transaction was writing the items is asked again (6 attempts, jittered backoff). Throws
 * InvariantError past 100 keys, and DynamoDB's errors (a last conflict as TransactionCanceledException).
 */
export async function transactGetAll(
  client: Pick<DynamoDBClient, "send">,
  table: string,
  keys: readonly Record<string, AttributeValue>[],
  { projection, names, onRequest, wait = sleep }: TransactGetOptions = {},
): Promise<(Record<string, AttributeValue> | undefined)[]> {
  if (keys.length === 0) return [];
  if (keys.length > MAX_TRANSACT_ITEMS)
    throw new InvariantError(`one snapshot reads at most ${MAX_TRANSACT_ITEMS} items; asked for ${keys.length}`);
  const answer = await withRetries(
    () => {
      onRequest?.();
      return client.send(
        new TransactGetItemsCommand({
          TransactItems: keys.map((Key) => ({
            Get: {
              TableName: table,
              Key,
              ...(projection !== undefined && { ProjectionExpression: projection }),
              ...(names !== undefined && { ExpressionAttributeNames: names }),
            },
          })),
        }),
      );
    },
    { maxAttempts: 6, baseMs: 25, capMs: 1_000, shouldRetry: conflicted, sleep: wait },
  );
  return keys.map((_, i) => answer.Responses?.[i]?.Item);
}
