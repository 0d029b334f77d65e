import { randomUUID } from "node:crypto";
import { localClients, localStackContext, physicalName } from "@sales-stream-analytics/local-aws";
import { afterAll, describe, expect, it } from "vitest";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { decodeAll } from "#test/support/schemas";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
const ctx = localStackContext();
const registryName = physicalName(ctx, "SchemaRegistry");
const schemaName = physicalName(ctx, "SalesSchema");

afterAll(() => clients.glue.destroy());

describe("the codec on the real broker and registry", () => {
  it("round-trips mixed v1/v2, plain/zlib records through Kafka, one cold registry lookup per version", async () => {
    const registry = new GlueSchemaRegistry(clients.glue);
    const ids = await Promise.all(
      salesSchemaVersions.map((schema) =>
        registry.getVersionIdForDefinition({ registryName, schemaName, definition: JSON.stringify(schema) }),
      ),
    );
    const encoders = [
      new GlueAvroEncoder<object>(salesSchemaVersions[0], ids[0] as string, "zlib"),
      new GlueAvroEncoder<object>(salesSchemaVersions[1], ids[1] as string, "none"),
    ];
    const sales = sampleSales(400, { seed: 21 });
    const runId = randomUUID();
    // A topic of its own, deleted at the end: nothing reaches the topic `npm start` serves.
    const topic = `codec-test-${runId.slice(0, 8)}`;
    const admin = clients.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = clients.kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: sales.map((sale, i) => {
        const { channel: _channel, ...v1 } = sale;
        return {
          key: sale.country,
          value: (encoders[i % 2] as GlueAvroEncoder<object>).encode(i % 2 === 0 ? v1 : sale),
          headers: { run: runId, index: String(i) },
        };
      }),
    });
    await producer.disconnect();

    const consumer = clients.kafka.consumer({ groupId: `codec-test-${runId}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const frames = new Map<number, Buffer>();
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (String(message.headers?.run) === runId && message.value !== null)
            frames.set(Number(String(message.headers?.index)), message.value);
          if (frames.size === sales.length) resolve();
        },
      });
    });
    await consumer.disconnect();
    await admin.deleteGroups([`codec-test-${runId}`]);
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();

    const consumerRegistry = new GlueSchemaRegistry(clients.glue);
    const decoder = new GlueAvroDecoder<Sale>(consumerRegistry, currentSalesSchema);
    const ordered = sales.map((_, i) => frames.get(i) as Buffer);
    const decoded = await decodeAll(decoder, ordered);
    await decodeAll(decoder, ordered);
    expect(decoded).toEqual(sales.map((sale, i) => ({ ok: true, value: i % 2 === 0 ? { ...sale, channel: "store" } : sale })));
    expect(consumerRegistry.calls).toBe(2);
  });

  it("reports a UUID the registry never issued as UNKNOWN_SCHEMA_VERSION, not as an outage", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema);
    const stranger = new GlueAvroEncoder<Sale>(currentSalesSchema, randomUUID()).encode(sampleSales(1)[0] as Sale);
    const [result] = await decodeAll(decoder, [stranger]);
    expect(result).toMatchObject({ ok: false, error: { code: "UNKNOWN_SCHEMA_VERSION", retriable: false } });
  });
});
