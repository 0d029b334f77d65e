import { createHash } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import {
  type DeadLetter,
  type DeadLetterMessage,
  INLINE_BODY_LIMIT,
  MAX_BATCH_BYTES,
  sendDeadLetters,
} from "#functions/aggregate/dead-letters";
import { scriptedClient } from "#test/support/fakes/aws";

function letter(offset: number, valueBytes: number, keyBytes = 8): DeadLetter {
  return {
    topic: "sales",
    partition: 2,
    offset,
    timestamp: 1,
    key: Buffer.alloc(keyBytes, 107).toString("base64"),
    value: Buffer.alloc(valueBytes, offset % 251).toString("base64"),
    reason: { code: "BAD_HEADER_VERSION", message: "header byte 0x07 is not 3" },
    source: "aggregate",
  };
}

/** Mocked SQS and S3 clients: SQS takes every entry but those `refuse` picks, S3 takes every object. */
function sink(refuse: (body: DeadLetterMessage) => boolean = () => false) {
  const sqs = scriptedClient(new SQSClient({}));
  const s3 = scriptedClient(new S3Client({}));
  sqs.mock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
    const entries = input.Entries ?? [];
    const failed = entries.filter((entry) => refuse(JSON.parse(entry.MessageBody ?? "") as DeadLetterMessage));
    return {
      Successful: entries.filter((entry) => !failed.includes(entry)).map((entry) => ({ Id: entry.Id })),
      Failed: failed.map((entry) => ({ Id: entry.Id, Code: "InvalidMessageContents", SenderFault: true })),
    };
  });
  s3.mock.on(PutObjectCommand).resolves({});
  const requests = () => sqs.mock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
  return {
    /** The letters of each SendMessageBatch, as sent. */
    batches: () => requests().map((entries) => entries.map((entry) => JSON.parse(entry.MessageBody ?? "") as DeadLetterMessage)),
    /** The body bytes of each SendMessageBatch. */
    batchBytes: () => requests().map((entries) => entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody ?? ""), 0)),
    /** Every object put, by key. */
    objects: () =>
      new Map(
        s3.mock
          .commandCalls(PutObjectCommand)
          .map((call) => [call.args[0].input.Key ?? "", Buffer.from(call.args[0].input.Body as Buffer)]),
      ),
    sink: {
      queueUrl: "https://sqs.local/q",
      bucket: "lake",
      prefix: "dead-letters/aggregate/",
      sqs: sqs.client,
      s3: s3.client,
    },
  };
}

describe("dead letters", () => {
  it("sends small letters inline, ten per request", async () => {
    const fake = sink();
    const requests = await sendDeadLetters(
      fake.sink,
      Array.from({ length: 23 }, (_, i) => letter(i, 100)),
    );
    expect(requests).toBe(3);
    expect(fake.batches().map((b) => b.length)).toEqual([10, 10, 3]);
    expect(fake.batches()[2]?.[2]).toMatchObject({ offset: 22, value: letter(22, 100).value, reason: { code: "BAD_HEADER_VERSION" } });
    expect(fake.objects().size).toBe(0);
  });

  it("puts an 8 MiB value in S3 and sends a reference that names its bytes and checksum", async () => {
    const fake = sink();
    const big = letter(7, 8 * 1024 * 1024);
    await sendDeadLetters(fake.sink, [letter(6, 10), big, letter(8, 10)]);
    const message = fake
      .batches()
      .flat()
      .find((m) => m.offset === 7);
    expect(message?.value).toBeUndefined();
    expect(message?.key).toBe(big.key);
    const bytes = Buffer.from(big.value, "base64");
    expect(message?.valueRef).toEqual({
      bucket: "lake",
      key: "dead-letters/aggregate/sales/2/7/value",
      bytes: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    expect(fake.objects().get("dead-letters/aggregate/sales/2/7/value")?.equals(bytes)).toBe(true);
    expect(Math.max(...fake.batchBytes())).toBeLessThan(MAX_BATCH_BYTES);
  });

  it("offloads a large key too, and splits requests so none passes SQS's 256 KiB", async () => {
    const fake = sink();
    // Just under the inline limit each: ten of them would pass 256 KiB in one request.
    const size = Math.floor((INLINE_BODY_LIMIT * 3) / 4) - 10;
    await sendDeadLetters(fake.sink, [letter(1, 10, 128 * 1024), ...Array.from({ length: 20 }, (_, i) => letter(10 + i, size))]);
    expect(
      fake
        .batches()
        .flat()
        .find((m) => m.offset === 1)?.keyRef?.key,
    ).toBe("dead-letters/aggregate/sales/2/1/key");
    expect(fake.batches().flat()).toHaveLength(21);
    for (const bytes of fake.batchBytes()) expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(fake.batches().length).toBeGreaterThan(3);
  });

  it("throws naming the refusal when SQS does not take every letter, so the batch is retried", async () => {
    const fake = sink((body) => body.offset === 3);
    await expect(sendDeadLetters(fake.sink, [letter(2, 10), letter(3, 10)])).rejects.toThrow(
      /SQS refused 1 dead letters: InvalidMessageContents/,
    );
  });
});
