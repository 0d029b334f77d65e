import { createHash, randomBytes, randomUUID } from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type LocalFunction, localClients, localStackContext, physicalName } from "@sales-stream-analytics/local-aws";
import { declaredTopics, type TemporaryIdentity } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { centsOf, formatCents } from "#shared/money/cents";
import { createPrivateAggregatesTable, kafkaEvent, localFunction, salesEncoders, tableFigures } from "#test/support/aggregates";
import { identityWithQueue } from "#test/support/identities";
import { createPrivateQueue, type PrivateQueue } from "#test/support/queues";
import { readTopic } from "#test/support/topic";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
const ctx = localStackContext();
const topic = `dlq-${randomUUID().slice(0, 8)}`;
const bucket = physicalName(ctx, "LakeBucket");
// The sales topic's own configs: the largest record it takes is the largest a dead letter must carry.
const salesConfig = declaredTopics(ctx).find((t) => t.name === "sales")?.config ?? {};
const maxRecordBytes = Number(salesConfig["max.message.bytes"]);
// The largest value a one-record batch with key "x" can carry (61 bytes of batch header and 16 of
// record framing), and well over SQS's 256 KiB: only the S3 path can keep it.
const poisonBytes = maxRecordBytes - 61 - 16 - 1;
const poison = Buffer.concat([Buffer.from([0x00]), randomBytes(poisonBytes - 1)]); // Confluent framing: not ours
const sales = sampleSales(20, { seed: 5, startMs: Date.UTC(2022, 7, 3, 9), meanGapMs: 30_000 });
let table: { name: string; drop: () => Promise<void> };
let queue: PrivateQueue;
let identity: TemporaryIdentity;
let fn: LocalFunction;
let objectKey: string | undefined;

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb);
  // A queue of its own, and the function's template grants with that queue in place of the template's.
  queue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  identity = await identityWithQueue("AggregateFunction", queue);
  fn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name, DEAD_LETTER_QUEUE_URL: queue.url }, [], identity);
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, configEntries: Object.entries(salesConfig).map(([name, value]) => ({ name, value })) }],
    waitForLeaders: true,
  });
  await admin.disconnect();
});

afterAll(async () => {
  await fn.stop();
  await table.drop();
  await queue.drop();
  await identity.drop();
  if (objectKey !== undefined) await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }));
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});

describe("a record too large for SQS among good ones", () => {
  it("counts the good records and keeps the largest poison the topic takes retrievable from S3 by its dead letter", async () => {
    expect(poison.length).toBeGreaterThan(256 * 1024);
    const encode = await salesEncoders();
    const producer = clients.kafka.producer();
    await producer.connect();
    const messages = sales.map((sale, i) => ({ key: sale.country, value: encode(sale, i) }));
    // One send each: the poison alone fills a batch the topic's cap allows.
    await producer.send({ topic, messages: messages.slice(0, 10) });
    await producer.send({ topic, messages: [{ key: "x", value: poison }] });
    await producer.send({ topic, messages: messages.slice(10) });
    await producer.disconnect();
    const read = await readTopic(
      clients.kafka,
      topic,
      () => true,
      (records) => records.length === 21,
      60_000,
    );
    expect(read).toHaveLength(21);

    const outcome = await fn.invoke(
      kafkaEvent(
        topic,
        read.map((r) => ({
          partition: r.partition,
          offset: Number(r.offset),
          value: r.message.value as Buffer,
          key: r.message.key?.toString(),
        })),
      ),
    );
    if (!outcome.ok) throw new Error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    expect(outcome.result).toMatchObject({ records: 21, applied: 20, poison: 1 });

    // Every good record counted, to the cent.
    const figures = await tableFigures(clients.dynamodb, table.name);
    const day = figures["1d@2022-08-03T00:00:00.000Z"]?.["all#all"] ?? "";
    const cents = sales.reduce((sum, s) => sum + centsOf(s.amount), 0);
    expect(day.split("/").slice(0, 2)).toEqual(["20", String(cents)]);
    expect(formatCents(cents)).toMatch(/^\d+\.\d\d$/);

    // The dead letter fits SQS and points at the poison's bytes.
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    expect(Messages).toHaveLength(1);
    const body = Messages[0]?.Body ?? "";
    expect(Buffer.byteLength(body)).toBeLessThan(256 * 1024);
    const letter = JSON.parse(body);
    const poisonOffset = read.find((r) => r.message.value?.length === poison.length)?.offset;
    expect(letter).toMatchObject({
      topic,
      partition: 0,
      offset: Number(poisonOffset),
      source: "aggregate",
      reason: { code: "BAD_HEADER_VERSION" },
    });
    expect(letter.value).toBeUndefined();
    expect(letter.valueRef).toMatchObject({ bucket, bytes: poison.length, sha256: createHash("sha256").update(poison).digest("hex") });
    objectKey = letter.valueRef.key;
    const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
    const stored = Buffer.from(await (object.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray());
    expect(stored.equals(poison)).toBe(true);
  });
});
