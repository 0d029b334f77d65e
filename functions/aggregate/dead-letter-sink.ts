import type { Tracer } from "@aws-lambda-powertools/tracer";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type DeadLetter, type DeadLetterSink, sendDeadLetters } from "./dead-letters.ts";

/**
 * The aggregator's dead-letter path as an entry point of its own (template.yaml builds it beside
 * the handler, and leaves it out of the handler's bundle): wiring.ts imports it on the first batch
 * with a poison record, so a cold start neither parses nor evaluates the S3 and SQS clients.
 */

/** Where dead letters go: the queue, and the bucket and prefix for bodies too large for SQS. */
export type DeadLetterTarget = Omit<DeadLetterSink, "sqs" | "s3">;

/**
 * Sends dead letters to `target` with traced SQS and S3 clients made once; the sender's contract
 * is sendDeadLetters' (rejects when S3 or SQS does not take them all). Making it does no I/O and cannot fail.
 */
export function deadLetterSender(tracer: Tracer, target: DeadLetterTarget): (letters: readonly DeadLetter[]) => Promise<number> {
  const sink: DeadLetterSink = {
    ...target,
    sqs: tracer.captureAWSv3Client(new SQSClient({})),
    s3: tracer.captureAWSv3Client(new S3Client({})),
  };
  return (letters) => sendDeadLetters(sink, letters);
}
