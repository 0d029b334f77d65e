import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** A record that can never be aggregated, with everything needed to inspect or replay it. */
export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  /** Kafka key and value as they arrived (base64), so nothing is lost. */
  readonly key: string | undefined;
  readonly value: string;
  readonly reason: { readonly code: string; readonly message: string };
  readonly source: string;
}

/**
 * Sends dead letters to SQS, 10 per request. Throws when SQS does not take them all, so the
 * batch is retried instead of losing a record.
 */
export async function sendDeadLetters(sqs: SQSClient, queueUrl: string, letters: readonly DeadLetter[]): Promise<number> {
  let requests = 0;
  for (let i = 0; i < letters.length; i += 10) {
    const chunk = letters.slice(i, i + 10);
    requests++;
    const response = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((letter, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(letter),
          MessageAttributes: {
            reason: { DataType: "String", StringValue: letter.reason.code },
            source: { DataType: "String", StringValue: letter.source },
          },
        })),
      }),
    );
    if ((response.Failed?.length ?? 0) > 0) {
      throw new Error(`SQS refused ${response.Failed?.length} dead letters: ${response.Failed?.map((f) => f.Code).join(", ")}`);
    }
  }
  return requests;
}
