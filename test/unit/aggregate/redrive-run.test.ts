import { createHash, randomUUID } from "node:crypto";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, type GetObjectCommandInput, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityBatchCommand,
  type ChangeMessageVisibilityBatchCommandInput,
  DeleteMessageBatchCommand,
  type DeleteMessageBatchCommandInput,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import type { AggregationSettings } from "#functions/aggregate/aggregate";
import { redrive } from "#functions/aggregate/redrive";
import { unmarshalSlice } from "#shared/aggregates/table";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { RegistryUnavailableError } from "#shared/avro/errors";
import type { SchemaSource } from "#shared/avro/registry";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { commandNames, scriptedClient } from "#test/support/fakes/aws";
import { MemorySchemaSource, V2_ID } from "#test/support/fakes/registry";

const settings: AggregationSettings = {
  windows: parseWindows("1h,1d"),
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 100,
};
const T0 = Date.parse("2031-03-01T10:00:00Z");
// V2_ID names v2 in MemorySchemaSource, so the records are v2 frames whatever the current reader is.
const encoder = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], V2_ID);
const sale = (amount: string, country = "France"): Sale => ({
  payment_id: 1,
  customer_id: 7,
  amount,
  payment_date: T0,
  city: null,
  district: null,
  country,
  channel: "web",
});
const letter = (offset: number, frame: Buffer | undefined, extra: object = {}) => ({
  topic: "sales",
  partition: 0,
  offset,
  timestamp: 1,
  ...(frame !== undefined && { value: frame.toString("base64") }),
  reason: { code: "UNKNOWN_SCHEMA_VERSION", message: "not registered" },
  source: "aggregate",
  ...extra,
});

type Key = Record<string, AttributeValue>;

/**
 * SQS holding `bodies`: a receive returns up to `perReceive` visible messages with fresh receipt
 * handles and hides them for `hideFor` receives (a visibility timeout counted in receives; stale
 * handles change nothing), delete removes, a visibility change of 0 shows again.
 */
function queue(bodies: string[], { perReceive = 10, hideFor = Number.POSITIVE_INFINITY } = {}) {
  const messages = bodies.map((Body) => ({ MessageId: randomUUID(), Body, ReceiptHandle: randomUUID(), visibleAt: 0 }));
  let receives = 0;
  const visible = (m: { visibleAt: number }) => m.visibleAt <= receives;
  const handles = (input: { Entries?: { ReceiptHandle?: string }[] }) => new Set((input.Entries ?? []).map((e) => e.ReceiptHandle));
  const { client, mock } = scriptedClient(new SQSClient({}));
  mock.on(ReceiveMessageCommand).callsFake(async (input: ReceiveMessageCommandInput) => {
    receives++;
    const batch = messages.filter(visible).slice(0, Math.min(perReceive, input.MaxNumberOfMessages ?? 1));
    for (const m of batch) {
      m.visibleAt = receives + hideFor;
      m.ReceiptHandle = randomUUID();
    }
    return { Messages: batch.map(({ MessageId, Body, ReceiptHandle }) => ({ MessageId, Body, ReceiptHandle })) };
  });
  mock.on(DeleteMessageBatchCommand).callsFake(async (input: DeleteMessageBatchCommandInput) => {
    const gone = handles(input);
    for (let i = messages.length - 1; i >= 0; i--) if (gone.has(messages[i]?.ReceiptHandle as string)) messages.splice(i, 1);
    return { Successful: [], Failed: [] };
  });
  mock.on(ChangeMessageVisibilityBatchCommand).callsFake(async (input: ChangeMessageVisibilityBatchCommandInput) => {
    const shown = new Set((input.Entries ?? []).filter((e) => e.VisibilityTimeout === 0).map((e) => e.ReceiptHandle));
    for (const m of messages) if (shown.has(m.ReceiptHandle)) m.visibleAt = receives;
    return { Successful: [], Failed: [] };
  });
  return { messages, client, mock, visibleNow: () => messages.filter(visible).length };
}

/** An in-memory table that evaluates the conditions the redrive and the store use; `cancelNext` cancels transactions first. */
function table(watermarkOffset = 100) {
  const items = new Map<string, Record<string, AttributeValue>>();
  const id = (key: Record<string, AttributeValue>) => `${key.pk?.S}|${key.sk?.S}`;
  items.set("watermark#sales-0|watermark", {
    pk: { S: "watermark#sales-0" },
    sk: { S: "watermark" },
    tp: { S: "sales-0" },
    off: { N: String(watermarkOffset) },
    wm: { N: String(T0) },
  });
  const state = { cancelNext: 0 };
  const { client, mock } = scriptedClient(new DynamoDBClient({}));
  mock.on(GetItemCommand).callsFake(async (input: GetItemCommandInput) => ({ Item: items.get(id(input.Key as Key)) }));
  mock.on(BatchGetItemCommand).callsFake(async (input: BatchGetItemCommandInput) => {
    const [tableName, request] = Object.entries(input.RequestItems ?? {})[0] ?? [];
    const found = (request?.Keys ?? []).map((key) => items.get(id(key))).filter((item) => item !== undefined);
    return { Responses: { [tableName as string]: found } };
  });
  mock.on(TransactWriteItemsCommand).callsFake(async (input: TransactWriteItemsCommandInput) => {
    if (state.cancelNext > 0) {
      state.cancelNext--;
      throw new TransactionCanceledException({
        message: "cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "ConditionalCheckFailed" }],
      });
    }
    for (const { Put } of input.TransactItems ?? []) {
      if (Put === undefined) continue;
      const existing = items.get(id(Put.Item as Key));
      const ok =
        Put.ConditionExpression === "attribute_not_exists(pk)"
          ? existing === undefined
          : existing?.ver?.N === Put.ExpressionAttributeValues?.[":read"]?.N;
      if (!ok) throw new TransactionCanceledException({ message: "cancelled", $metadata: {}, CancellationReasons: [] });
    }
    for (const action of input.TransactItems ?? []) {
      if (action.Put !== undefined) items.set(id(action.Put.Item as Key), action.Put.Item as Key);
      if (action.Update !== undefined) {
        const key = action.Update.Key as Key;
        const before = items.get(id(key));
        items.set(id(key), { ...key, rd: { N: String(Number(before?.rd?.N ?? 0) + 1) } });
      }
    }
    return {};
  });
  const daySales = () => {
    const day = items.get("1d#2031-03-01T00:00:00.000Z#sales-0|slice");
    return day === undefined ? undefined : unmarshalSlice(day).values.get("all#all");
  };
  return { items, state, client, mock, daySales };
}

function run(
  sqs: ReturnType<typeof queue>,
  db: ReturnType<typeof table>,
  objects = new Map<string, Buffer>(),
  source: SchemaSource = new MemorySchemaSource(),
) {
  const s3 = scriptedClient(new S3Client({}));
  s3.mock.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
    const body = objects.get(String(input.Key));
    if (body === undefined) throw new NoSuchKey({ message: "no such key", $metadata: {} });
    return { Body: { transformToByteArray: async () => new Uint8Array(body) } };
  });
  return redrive({
    sqs: sqs.client,
    s3: s3.client,
    dynamodb: db.client,
    decoder: new GlueAvroDecoder<Sale>(source, currentSalesSchema),
    queueUrl: "https://sqs.local/q",
    table: "t",
    settings,
    waitSeconds: 0,
  });
}

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("redrive (fakes)", () => {
  it("applies inline and S3-held records once, deletes only those, and shows the rest again with their reasons", async () => {
    const big = encoder.encode(sale("2.50"));
    const ref = (key: string, bytes: Buffer, digest = sha(bytes)) => ({
      valueRef: { bucket: "lake", key, bytes: bytes.length, sha256: digest },
    });
    const unknown = new GlueAvroEncoder<Sale>(currentSalesSchema, randomUUID()).encode(sale("9.00"));
    const sqs = queue([
      JSON.stringify(letter(5, encoder.encode(sale("0.10")))),
      JSON.stringify(letter(6, undefined, ref("v/6", big))),
      JSON.stringify(letter(7, undefined, ref("v/7", big, "00"))),
      JSON.stringify(letter(8, undefined, ref("v/8", big))),
      JSON.stringify(letter(9, unknown)),
      JSON.stringify(letter(10, Buffer.alloc(0))),
      JSON.stringify({ KafkaBatchInfo: { batchSize: 2 } }),
    ]);
    const db = table();
    const summary = await run(
      sqs,
      db,
      new Map([
        ["v/6", big],
        ["v/7", big],
      ]),
    );
    expect(summary).toMatchObject({
      messages: 7,
      applied: 2,
      alreadyApplied: 0,
      stillFailing: { VALUE_OBJECT_MISMATCH: 1, VALUE_OBJECT_MISSING: 1, UNKNOWN_SCHEMA_VERSION: 1, EMPTY_VALUE: 1 },
      skipped: { "skipped Kafka batch": 1 },
    });
    expect(db.daySales()).toEqual({ orders: 2n, sales: 260n, min: 10n, max: 250n, late: 0n });
    expect(db.items.get("redriven#sales-0|redriven-count")?.rd).toEqual({ N: "2" });
    expect(db.items.has("redriven#sales-0#5|redriven") && db.items.has("redriven#sales-0#6|redriven")).toBe(true);
    // The applied two are gone; the five others are visible again at once.
    expect(sqs.messages).toHaveLength(5);
    expect(sqs.visibleNow()).toBe(5);
    const sent = commandNames(sqs.mock);
    expect(sent.indexOf("DeleteMessageBatchCommand")).toBeGreaterThan(0);
    expect(sent.at(-1)).toBe("ChangeMessageVisibilityBatchCommand");

    // Again: the same five stay, nothing applied twice.
    const again = await run(
      sqs,
      db,
      new Map([
        ["v/6", big],
        ["v/7", big],
      ]),
    );
    expect(again).toMatchObject({ messages: 5, applied: 0, alreadyApplied: 0 });
    expect(db.daySales()).toMatchObject({ orders: 2n, sales: 260n });
  });

  it("goes on past kept messages that come back during a long run, and shows them again with their latest handles", async () => {
    const unknown = new GlueAvroEncoder<Sale>(currentSalesSchema, randomUUID());
    const bodies = [
      ...Array.from({ length: 10 }, (_, i) => JSON.stringify(letter(i, unknown.encode(sale("1.00"))))),
      ...Array.from({ length: 20 }, (_, i) => JSON.stringify(letter(20 + i, encoder.encode(sale("0.01"))))),
    ];
    // Five per receive, hidden for four: the ten kept ones are back before the last ten good ones are read.
    const sqs = queue(bodies, { perReceive: 5, hideFor: 4 });
    const db = table();
    const summary = await run(sqs, db);
    expect(summary).toMatchObject({ messages: 30, applied: 20, stillFailing: { UNKNOWN_SCHEMA_VERSION: 10 } });
    expect(db.daySales()).toMatchObject({ orders: 20n, sales: 20n });
    expect(sqs.messages).toHaveLength(10);
    expect(sqs.visibleNow()).toBe(10);
  });

  it("re-reads and tries again when a concurrent write cancels the transaction, and counts the record once", async () => {
    const sqs = queue([JSON.stringify(letter(5, encoder.encode(sale("1.00"))))]);
    const db = table();
    db.state.cancelNext = 2;
    const summary = await run(sqs, db);
    expect(summary).toMatchObject({ applied: 1, alreadyApplied: 0 });
    expect(db.mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(3);
    expect(db.daySales()).toMatchObject({ orders: 1n, sales: 100n });
    expect(sqs.messages).toHaveLength(0);
  });

  it("takes a record whose marker exists as already applied, and a duplicate letter of one run too", async () => {
    const body = JSON.stringify(letter(5, encoder.encode(sale("1.00"))));
    const sqs = queue([body, body]);
    const db = table();
    const summary = await run(sqs, db);
    expect(summary).toMatchObject({ messages: 2, applied: 1, alreadyApplied: 1 });
    expect(db.daySales()).toMatchObject({ orders: 1n });
    expect(sqs.messages).toHaveLength(0);
  });

  it("leaves a record its partition's aggregator has not finished with (watermark not past it)", async () => {
    const sqs = queue([JSON.stringify(letter(150, encoder.encode(sale("1.00"))))]);
    const db = table(120);
    expect(await run(sqs, db)).toMatchObject({ applied: 0, stillFailing: { PARTITION_NOT_SETTLED: 1 } });
    expect(db.mock.commandCalls(TransactWriteItemsCommand)).toHaveLength(0);
    expect(sqs.visibleNow()).toBe(1);
  });

  it("counts records as still failing while the registry is down, and shows a bug's messages again before throwing", async () => {
    const body = JSON.stringify(letter(5, encoder.encode(sale("1.00"))));
    const down = new MemorySchemaSource();
    down.before = async () => {
      throw new RegistryUnavailableError("Glue throttled", undefined);
    };
    const sqs = queue([body]);
    expect(await run(sqs, table(), new Map(), down)).toMatchObject({ stillFailing: { SCHEMA_REGISTRY_UNAVAILABLE: 1 } });
    expect(sqs.visibleNow()).toBe(1);

    const buggy = new MemorySchemaSource();
    buggy.before = async () => {
      throw new TypeError("undefined is not a function");
    };
    const second = queue([body, JSON.stringify({ DDBStreamBatchInfo: {} })]);
    await expect(run(second, table(), new Map(), buggy)).rejects.toThrow(TypeError);
    expect(second.visibleNow()).toBe(2);
  });
});
