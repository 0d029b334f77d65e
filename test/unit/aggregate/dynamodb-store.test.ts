import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it, vi } from "vitest";
import { createAggregateStore, createRedriveStore } from "#functions/aggregate/dynamodb-store";
import type { Metrics } from "#shared/aggregates/metrics";
import { emptySlice, type SliceItem } from "#shared/aggregates/slices";
import { marshalSlice, redriveCountKey, redriveMarkerKey } from "#shared/aggregates/table";
import { metricsOf } from "#test/support/metrics";

const m = metricsOf;
const T0 = Date.UTC(2022, 7, 1, 10);
const ref = { window: "1h", start: T0, topicPartition: "sales-1" };

function slice(tp: string, values: Record<string, Metrics>, version = 1): SliceItem {
  return { ...emptySlice("1h", T0, T0 + 3_600_000, tp), version, offset: 41, values: new Map(Object.entries(values)) };
}

/** A real client whose sends aws-sdk-client-mock answers. */
function dynamodb() {
  const client = new DynamoDBClient({ region: "eu-west-1" });
  return { client, db: mockClient(client) };
}

const conditionFailed = () => new ConditionalCheckFailedException({ message: "no", $metadata: {} });

describe("the aggregate store", () => {
  it("writes a new slice only if absent and a read one only at the version read; a refusal is a conflict", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand).resolvesOnce({}).rejects(conditionFailed());
    const store = createAggregateStore(client, "t");
    expect(await store.writeSlice(slice("sales-0", {}, 0))).toBe("written");
    expect(await store.writeSlice(slice("sales-0", {}, 4))).toBe("conflict");
    const [first, second] = db.commandCalls(PutItemCommand).map((call) => call.args[0].input);
    expect(first).toMatchObject({ TableName: "t", ConditionExpression: "attribute_not_exists(pk)" });
    expect(second).toMatchObject({ ConditionExpression: "ver = :read", ExpressionAttributeValues: { ":read": { N: "4" } } });
    expect(second?.Item?.ver).toEqual({ N: "5" });
    expect(store.counts).toMatchObject({ writes: 2, conflicts: 1 });
  });

  it("rethrows a throttle rather than calling it a conflict", async () => {
    const throttle = Object.assign(new Error("slow down"), { name: "ProvisionedThroughputExceededException" });
    const { client, db } = dynamodb();
    db.onAnyCommand().rejects(throttle);
    const store = createAggregateStore(client, "t");
    await expect(store.writeSlice(slice("sales-0", {}))).rejects.toThrow("slow down");
    await expect(store.readSlices([ref])).rejects.toThrow("slow down");
  });

  it("asks again for keys DynamoDB left unprocessed, and gives up after 9 attempts naming how many keys", async () => {
    const stored = marshalSlice(slice("sales-1", { "all#all": m(1, 1) }));
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand)
      .callsFakeOnce((input) => ({ Responses: { t: [] }, UnprocessedKeys: input.RequestItems }))
      .resolves({ Responses: { t: [stored] } });
    const found = await createAggregateStore(client, "t").readSlices([ref]);
    expect([...found.keys()]).toEqual(["1h#2022-08-01T10:00:00.000Z#sales-1"]);
    expect(db.commandCalls(BatchGetItemCommand)).toHaveLength(2);

    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      const stuck = dynamodb();
      stuck.db.on(BatchGetItemCommand).callsFake((input) => ({ UnprocessedKeys: input.RequestItems }));
      const outcome = expect(createAggregateStore(stuck.client, "t").readSlices([ref])).rejects.toThrow(
        /left 1 keys unprocessed after 9 attempts/,
      );
      await vi.runAllTimersAsync();
      await outcome;
      expect(stuck.db.commandCalls(BatchGetItemCommand)).toHaveLength(9);
    } finally {
      vi.useRealTimers();
    }
  });

  it("never moves a watermark back, and keeps a partition that has no event time yet without one", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: "older", $metadata: {} }));
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [{ tp: { S: "my-topic-2" }, off: { N: "9" } }] } });
    const store = createAggregateStore(client, "t");
    await store.writeWatermark("my-topic-2", { eventTime: Number.NEGATIVE_INFINITY, offset: 9 });
    const first = db.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(first).toMatchObject({ ConditionExpression: "attribute_not_exists(pk) OR off <= :off" });
    expect(first?.Item?.wm).toBeUndefined();
    expect(first?.Item?.topic).toEqual({ S: "my-topic" });
    // The wall-clock time of the batch, by which the query tells idle partitions from delivering ones.
    expect(Math.abs(Number(first?.Item?.at?.N) - Date.now())).toBeLessThan(60_000);
    expect(await store.readWatermarks(["my-topic-2"])).toEqual(
      new Map([["my-topic-2", { eventTime: Number.NEGATIVE_INFINITY, offset: 9, deadLettered: 0 }]]),
    );
    // The count of dead letters goes with the watermark (a stored one reads back).
    await store.writeWatermark("my-topic-2", { eventTime: 5, offset: 10, deadLettered: 3 });
    expect(db.commandCalls(PutItemCommand)[1]?.args[0].input.Item?.dl).toEqual({ N: "3" });
  });

  it("tells the write observer each item's partition key and size", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand).resolves({});
    const seen: string[] = [];
    const store = createAggregateStore(client, "t", (key, bytes) => seen.push(`${key}:${bytes > 0}`));
    await store.writeSlice(slice("sales-0", { "all#all": m(1, 1) }, 0));
    await store.writeWatermark("sales-0", { eventTime: 1, offset: 1 });
    expect(seen).toEqual(["1h#2022-08-01T10:00:00.000Z#sales-0:true", "watermark#sales-0:true"]);
    expect(store.counts.largestItemBytes).toBeGreaterThan(0);
  });
});

describe("the redrive store", () => {
  it("reads the record's marker strongly consistent", async () => {
    const { client, db } = dynamodb();
    db.on(GetItemCommand)
      .resolvesOnce({ Item: redriveMarkerKey("sales-0", 7) })
      .resolves({});
    const store = createRedriveStore(client, "t");
    expect(await store.isRedriven("sales-0", 7)).toBe(true);
    expect(await store.isRedriven("sales-0", 8)).toBe(false);
    expect(db.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: "t",
      Key: redriveMarkerKey("sales-0", 7),
      ConsistentRead: true,
    });
  });

  it("applies a record in one transaction: its slices at the version read, the marker only if absent, the count", async () => {
    const { client, db } = dynamodb();
    db.on(TransactWriteItemsCommand).resolves({});
    const at = Date.parse("2031-03-01T10:00:00Z");
    const outcome = await createRedriveStore(client, "t").applyRedrive([slice("sales-0", { "all#all": m(1, 1) }, 3)], {
      topicPartition: "sales-0",
      offset: 7,
      reason: "UNKNOWN_SCHEMA_VERSION",
      at,
    });
    expect(outcome).toBe("applied");
    const items = db.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(3);
    expect(items[0]?.Put).toMatchObject({ ConditionExpression: "ver = :read", ExpressionAttributeValues: { ":read": { N: "3" } } });
    expect(items[1]?.Put).toMatchObject({
      Item: {
        ...redriveMarkerKey("sales-0", 7),
        reason: { S: "UNKNOWN_SCHEMA_VERSION" },
        slices: { N: "1" },
        at: { S: "2031-03-01T10:00:00.000Z" },
      },
      ConditionExpression: "attribute_not_exists(pk)",
    });
    expect(items[2]?.Update).toMatchObject({ Key: redriveCountKey("sales-0"), UpdateExpression: "ADD rd :one SET tp = :tp" });
  });

  it("answers cancelled when a condition fails, and throws DynamoDB's other errors", async () => {
    const { client, db } = dynamodb();
    db.on(TransactWriteItemsCommand)
      .rejectsOnce(new TransactionCanceledException({ message: "cancelled", $metadata: {} }))
      .rejects(Object.assign(new Error("throttled"), { name: "ThrottlingException" }));
    const store = createRedriveStore(client, "t");
    const record = { topicPartition: "sales-0", offset: 7, reason: "X", at: 0 };
    expect(await store.applyRedrive([], record)).toBe("cancelled");
    await expect(store.applyRedrive([], record)).rejects.toThrow("throttled");
  });
});
