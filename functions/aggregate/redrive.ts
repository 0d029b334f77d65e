import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { GlueAvroDecoder } from "#shared/avro/codec";
import { DependencyError } from "#shared/errors/internal-errors";
import type { Sale } from "#shared/sales/schema";
import type { AggregationSettings } from "./aggregate.ts";
import { createRedriveStore } from "./dynamodb-store.ts";
import { type ObjectReader, type RedriveQueue, type RedriveSummary, runRedrive } from "./redrive-core.ts";

export { describeSummary, progressLine, type RedriveSummary } from "./redrive-core.ts";

/**
 * `npm run redrive` on AWS clients: the dead-letter queue in SQS, offloaded bodies in S3, the
 * aggregates table in DynamoDB, wired to the redrive's core (./redrive-core.ts says what it does).
 */
export interface RedriveDeps {
  readonly sqs: Pick<SQSClient, "send">;
  readonly s3: Pick<S3Client, "send">;
  readonly dynamodb: Pick<DynamoDBClient, "send">;
  readonly decoder: Pick<GlueAvroDecoder<Sale>, "load" | "decode">;
  readonly queueUrl: string;
  readonly table: string;
  readonly settings: AggregationSettings;
  readonly now?: () => number;
  /** Called after each batch of messages with the counts so far. */
  readonly onProgress?: (summary: RedriveSummary) => void;
  /** How long received messages stay hidden from other consumers while this run works (default 300 s). */
  readonly visibilityTimeoutSeconds?: number;
  /** Long poll of each receive; an empty answer ends the run (default 2 s). */
  readonly waitSeconds?: number;
  /** Transaction attempts per record when its slices keep changing (default 10). */
  readonly maxAttempts?: number;
}

/**
 * Reads the whole queue once and redrives every aggregate dead letter, exactly once. Throws on
 * DynamoDB, SQS or S3 failures and on bugs, never deleting a message it did not apply (see runRedrive).
 */
export function redrive(deps: RedriveDeps): Promise<RedriveSummary> {
  return runRedrive({
    queue: sqsQueue(deps.sqs, deps.queueUrl, deps.waitSeconds ?? 2, deps.visibilityTimeoutSeconds ?? 300),
    objects: s3Objects(deps.s3),
    store: createRedriveStore(deps.dynamodb, deps.table),
    decoder: deps.decoder,
    settings: deps.settings,
    ...(deps.now !== undefined && { now: deps.now }),
    ...(deps.onProgress !== undefined && { onProgress: deps.onProgress }),
    ...(deps.maxAttempts !== undefined && { maxAttempts: deps.maxAttempts }),
  });
}

/** The dead-letter queue in SQS; each method takes at most 10 messages (one batch request). */
function sqsQueue(sqs: Pick<SQSClient, "send">, queueUrl: string, waitSeconds: number, visibilityTimeout: number): RedriveQueue {
  return {
    async receive() {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilityTimeout,
        }),
      );
      return Messages.map((m) => ({ id: m.MessageId, body: m.Body, receipt: m.ReceiptHandle }));
    },
    async remove(messages) {
      const { Failed = [] } = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })),
        }),
      );
      // Applied records are safe to see again (their markers say so); the next run deletes them.
      if (Failed.length > 0)
        throw new DependencyError(
          "SQS_REFUSED",
          `SQS did not delete ${Failed.length} redriven messages of ${queueUrl}: ${Failed[0]?.Code}`,
        );
    },
    async release(messages) {
      // Failures are left alone: such a message comes back when its visibility timeout ends.
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt, VisibilityTimeout: 0 })),
        }),
      );
    },
  };
}

/** Offloaded bodies in S3: undefined when the object is gone (NoSuchKey). */
function s3Objects(s3: Pick<S3Client, "send">): ObjectReader {
  return async (ref) => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  };
}
