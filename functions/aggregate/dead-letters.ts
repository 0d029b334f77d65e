import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import { DependencyError, DependencyErrorCode } from "#shared/errors/internal-errors";

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

/** Where a key or value too large for SQS went instead: the raw bytes in S3. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The dead letter as the queue receives it: large keys and values replaced by S3 references. */
export type DeadLetterMessage = Omit<DeadLetter, "key" | "value"> & {
  readonly key?: string;
  readonly value?: string;
  readonly keyRef?: ObjectRef;
  readonly valueRef?: ObjectRef;
};

export interface DeadLetterSink {
  readonly sqs: Pick<SQSClient, "send">;
  readonly queueUrl: string;
  readonly s3: Pick<S3Client, "send">;
  readonly bucket: string;
  /** Key prefix of offloaded bodies, e.g. "dead-letters/aggregate/". */
  readonly prefix: string;
}

/**
 * SQS takes at most 256 KiB per message and per batch request (1 MiB in some regions since 2025;
 * the lower figure holds everywhere). A letter whose key and value leave room for its metadata
 * goes inline; larger bodies go to S3 first.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/** Base64 text of a key or value above which it goes to S3: a letter stays under half of MAX_BATCH_BYTES. */
export const INLINE_BODY_LIMIT = 64 * 1024;

/**
 * Sends dead letters to SQS, in batches of at most 10 entries and 256 KiB, keys and values over
 * INLINE_BODY_LIMIT stored in S3 under `<prefix><topic>/<partition>/<offset>/` (same key on a
 * retry, so a redelivered batch overwrites rather than duplicates). Throws when S3 or SQS does
 * not take them all, so the batch is retried instead of losing a record. Resolves the number of
 * SQS requests made.
 */
export async function sendDeadLetters(sink: DeadLetterSink, letters: readonly DeadLetter[]): Promise<number> {
  const messages = await Promise.all(letters.map((letter) => offload(sink, letter)));
  const entries = messages.map(
    (message, index): SendMessageBatchRequestEntry => ({
      Id: String(index),
      MessageBody: JSON.stringify(message),
      MessageAttributes: {
        reason: { DataType: "String", StringValue: message.reason.code },
        source: { DataType: "String", StringValue: message.source },
      },
    }),
  );
  let requests = 0;
  for (const batch of batches(entries)) {
    requests++;
    const response = await sink.sqs.send(new SendMessageBatchCommand({ QueueUrl: sink.queueUrl, Entries: batch }));
    const failed = response.Failed ?? [];
    if (failed.length > 0) {
      throw new DependencyError(
        DependencyErrorCode.sqsRefused,
        `SQS refused ${failed.length} dead letters: ${failed.map((f) => `${f.Code}: ${f.Message ?? ""}`).join("; ")}`,
      );
    }
  }
  return requests;
}

async function offload(sink: DeadLetterSink, letter: DeadLetter): Promise<DeadLetterMessage> {
  const { key, value, ...rest } = letter;
  const folder = `${sink.prefix}${letter.topic}/${letter.partition}/${letter.offset}/`;
  const [keyPart, valuePart] = await Promise.all([
    key === undefined ? undefined : bodyOf(sink, key, `${folder}key`, letter.reason.code),
    bodyOf(sink, value, `${folder}value`, letter.reason.code),
  ]);
  return {
    ...rest,
    ...(keyPart === undefined ? {} : typeof keyPart === "string" ? { key: keyPart } : { keyRef: keyPart }),
    ...(typeof valuePart === "string" ? { value: valuePart } : { valueRef: valuePart }),
  };
}

async function bodyOf(sink: DeadLetterSink, base64: string, objectKey: string, reason: string): Promise<string | ObjectRef> {
  if (base64.length <= INLINE_BODY_LIMIT) return base64;
  const bytes = Buffer.from(base64, "base64");
  await sink.s3.send(
    new PutObjectCommand({
      Bucket: sink.bucket,
      Key: objectKey,
      Body: bytes,
      ContentType: "application/octet-stream",
      Metadata: { reason },
    }),
  );
  return { bucket: sink.bucket, key: objectKey, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Entries grouped into requests of at most 10 entries and MAX_BATCH_BYTES. */
function batches(entries: readonly SendMessageBatchRequestEntry[]): SendMessageBatchRequestEntry[][] {
  const out: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = entrySize(entry);
    if (current.length === 10 || (current.length > 0 && size + bytes > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function entrySize(entry: SendMessageBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.MessageBody ?? "");
  for (const [name, attribute] of Object.entries(entry.MessageAttributes ?? {}))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(attribute.DataType ?? "") + Buffer.byteLength(attribute.StringValue ?? "");
  return bytes;
}
