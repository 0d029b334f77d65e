import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { localClients, localStackContext } from "@sales-stream-analytics/local-aws";
import { declaredTopics } from "@sales-stream-analytics/local-aws/testing";
import { CompressionTypes, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAMBDA_INVOCATION_PAYLOAD_BYTES } from "#shared/kafka/record-size";
import { ensureTopics } from "#shared/kafka/topics";
import { kafkaEvent } from "#test/support/aggregates";
import { readTopic } from "#test/support/topic";

// The sales topic's declared configs, on a topic of this test's own: what the real broker lets in.
const clients = localClients();
const sales = declaredTopics(localStackContext()).find((topic) => topic.name === "sales");
const maxBytes = Number(sales?.config?.["max.message.bytes"]);
const topic = `record-size-${randomUUID().slice(0, 8)}`;
// A one-record batch on the wire: 61 bytes of batch header, then the record's own framing (length,
// attributes, timestamp and offset deltas, key and value lengths, header count) and its key.
const BATCH_AND_RECORD_OVERHEAD = 61 + 16;
let producer: Producer;

beforeAll(async () => {
  const admin = clients.kafka.admin();
  await admin.connect();
  await ensureTopics([{ name: topic, partitions: 1, config: sales?.config ?? {} }], { admin });
  await admin.disconnect();
  producer = clients.kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
});

describe("the sales topic's record cap, on the real broker", () => {
  it("takes a record as large as the cap allows (less the batch framing), and that record's aws:kafka event fits one Lambda invocation", async () => {
    expect(maxBytes).toBeGreaterThan(0);
    const value = Buffer.alloc(maxBytes - BATCH_AND_RECORD_OVERHEAD - 1, 0x61);
    await producer.send({ topic, messages: [{ key: "k", value }] });
    const [read] = await readTopic(
      clients.kafka,
      topic,
      () => true,
      (records) => records.length === 1,
      60_000,
    );
    expect(read?.message.value?.length).toBe(value.length);
    const eventBytes = Buffer.byteLength(
      JSON.stringify(kafkaEvent(topic, [{ partition: 0, offset: Number(read?.offset), value, key: "k" }])),
    );
    console.log(`largest record ${value.length} bytes -> aws:kafka event ${eventBytes} bytes (limit ${LAMBDA_INVOCATION_PAYLOAD_BYTES})`);
    expect(eventBytes).toBeLessThan(LAMBDA_INVOCATION_PAYLOAD_BYTES);
  });

  it("refuses a record one byte over the cap", async () => {
    const value = Buffer.alloc(maxBytes + 1, 0x61);
    await expect(producer.send({ topic, messages: [{ key: "k", value }] })).rejects.toMatchObject({
      type: "MESSAGE_TOO_LARGE",
    });
  });

  it("refuses a compressed batch whose record inflates past the cap (the broker stores it uncompressed and checks again)", async () => {
    const value = Buffer.alloc(4 * maxBytes, 0); // zeros: gzip shrinks it to a few KB
    expect(gzipSync(value).length).toBeLessThan(maxBytes / 10);
    await expect(producer.send({ topic, compression: CompressionTypes.GZIP, messages: [{ key: "k", value }] })).rejects.toMatchObject({
      type: "MESSAGE_TOO_LARGE",
    });
  });
});
