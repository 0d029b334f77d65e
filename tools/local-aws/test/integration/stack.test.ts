import { randomUUID } from "node:crypto";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetSchemaByDefinitionCommand, GetSchemaVersionCommand } from "@aws-sdk/client-glue";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { localClients } from "../../stack/clients.ts";
import { localStackContext } from "../../stack/context.ts";
import { status } from "../../stack/stack.ts";
import { physicalName, resolveValue } from "../../template/intrinsics.ts";

const clients = localClients();
const ctx = localStackContext();

afterAll(() => {
  for (const client of [clients.dynamodb, clients.s3, clients.sqs, clients.glue]) client.destroy();
});

describe("the local stack", () => {
  it("runs every component healthy, each under a pid it started (Trino only when asked for)", async () => {
    const all = await status();
    expect(all.map((c) => c.name)).toEqual(["kafka", "dynamodb", "moto", "trino"]);
    const trino = all.find((c) => c.name === "trino");
    // Opt-in: stopped, or healthy under its pid when a lake test or `stack up --trino` started it.
    expect(trino?.pid === undefined || trino.healthy, "trino runs but does not answer").toBe(true);
    const components = all.filter((c) => c.name !== "trino");
    for (const component of components) {
      expect(component.pid, component.name).toBeTypeOf("number");
      expect(component.healthy, component.name).toBe(true);
    }
  });

  it("produces and consumes a keyed message with headers through the real broker", async () => {
    // A topic of its own, shaped like the template's: the shared one holds whatever other files wrote.
    const marker = randomUUID();
    const topic = `stack-test-${marker.slice(0, 8)}`;
    const admin = clients.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = clients.kafka.producer({ idempotent: true });
    const consumer = clients.kafka.consumer({ groupId: `stack-test-${marker}` });
    await Promise.all([producer.connect(), consumer.connect()]);
    try {
      const [sent] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: "France", value: Buffer.from(marker), headers: { "x-test": marker } }],
      });
      expect(sent?.errorCode).toBe(0);
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<{ key: string; headers: string; partition: number }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message, partition }) => {
            if (message.value?.toString() === marker) {
              resolve({ key: String(message.key), headers: String(message.headers?.["x-test"]), partition });
            }
          },
        });
      });
      expect(received).toEqual({ key: "France", headers: marker, partition: sent?.partition });
    } finally {
      await Promise.all([producer.disconnect(), consumer.disconnect()]);
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });

  it("writes and reads an exact decimal item in the template's aggregates table", async () => {
    const table = physicalName(ctx, "AggregatesTable");
    const pk = `test#${randomUUID()}`;
    await clients.dynamodb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: "0" }, sales: { N: "12345678901234567890.10" } } }),
    );
    const read = await clients.dynamodb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: "0" } }, ConsistentRead: true }),
    );
    expect(read.Item?.sales?.N).toBe("12345678901234567890.1");
  });

  it("puts and gets an object in the template's lake bucket", async () => {
    const bucket = physicalName(ctx, "LakeBucket");
    const key = `test/${randomUUID()}.json`;
    await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"ok":true}' }));
    const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await object.Body?.transformToString()).toBe('{"ok":true}');
  });

  it("sends and receives through the template's dead-letter queue, as the template configures it", async () => {
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: physicalName(ctx, "DeadLetterQueue") }));
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["MessageRetentionPeriod"] }));
    expect(Attributes?.MessageRetentionPeriod).toBe("1209600");
    // The queue may hold dead letters of other files: look past them (hidden while searching),
    // hand them back afterwards, and take away only this test's message.
    const marker = randomUUID();
    await clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: marker }));
    let mine: Message | undefined;
    const others: Message[] = [];
    for (let round = 0; round < 100 && mine === undefined; round++) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
      );
      mine = Messages.find((m) => m.Body === marker);
      others.push(...Messages.filter((m) => m !== mine));
    }
    for (let i = 0; i < others.length; i += 10) {
      await clients.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: others.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
    expect(mine?.Body).toBe(marker);
    await clients.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: mine?.ReceiptHandle }));
  });

  it("serves the template's sales schema from the Glue registry, by definition and by version id", async () => {
    const definition = String(resolveValue(ctx, ctx.template.Resources.SalesSchema?.Properties?.SchemaDefinition, "SalesSchema"));
    const byDefinition = await clients.glue.send(
      new GetSchemaByDefinitionCommand({
        SchemaId: { RegistryName: physicalName(ctx, "SchemaRegistry"), SchemaName: physicalName(ctx, "SalesSchema") },
        SchemaDefinition: definition,
      }),
    );
    expect(byDefinition.Status).toBe("AVAILABLE");
    const version = await clients.glue.send(new GetSchemaVersionCommand({ SchemaVersionId: byDefinition.SchemaVersionId }));
    expect(JSON.parse(version.SchemaDefinition ?? "")).toEqual(JSON.parse(definition));
    expect(version.DataFormat).toBe("AVRO");
  });
});
