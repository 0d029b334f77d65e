import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { rollupOf } from "#functions/rollup/rollup";
import { rollupKey, sliceKey } from "#shared/aggregates/table";

/** A real client whose sends aws-sdk-client-mock answers. */
function dynamodb() {
  const client = new DynamoDBClient({ region: "eu-west-1" });
  return { client, db: mockClient(client) };
}
const batchGets = (db: ReturnType<typeof dynamodb>["db"]) =>
  db.commandCalls(BatchGetItemCommand).map((call) => call.args[0].input.RequestItems?.t);

const T0 = Date.parse("2022-08-01T10:15:00Z");
const ref = { window: "1m", start: T0, topic: "sales", partitionsSeen: 1 };
const rollup = rollupOf(
  ref,
  [
    {
      end: T0 + 60_000,
      version: 12n,
      values: new Map([["region#Europe", { orders: 2n, sales: 1234567890123456789n, min: 5n, max: 9n, late: 1n }]]),
      expiresAt: 77,
    },
  ],
  6,
);

describe("the rollup store", () => {
  it("reads a window's slices of every partition, strongly consistent, projected to what a rollup adds, 100 keys a request", async () => {
    const slice = (tp: string) => ({ ...sliceKey("1m", T0, tp), we: { N: "1" }, ver: { N: "3" }, r: { M: {} }, a: { M: {} } });
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand)
      .resolvesOnce({ Responses: { t: [slice("sales-3"), slice("sales-77")] } })
      .resolves({ Responses: { t: [slice("sales-140")] } });
    const store = createRollupStore(client, "t", 150);
    expect((await store.slices([ref])).map((window) => [window.slices.length, window.partitions])).toEqual([[3, 150]]);
    expect(db.calls()).toHaveLength(2);
    const [first] = batchGets(db);
    expect(first?.Keys).toHaveLength(100);
    expect(first?.Keys?.[7]).toEqual(sliceKey("1m", T0, "sales-7"));
    expect(first).toMatchObject({ ConsistentRead: true, ProjectionExpression: "pk, sk, we, ver, r, a, expiresAt, parts" });
    expect(store.counts.reads).toBe(2);
  });

  it("reads the partitions the stream named beyond the configured count (a topic grown before its setting)", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [] } });
    await createRollupStore(client, "t", 6).slices([{ ...ref, partitionsSeen: 9 }]);
    const keys = batchGets(db)[0]?.Keys ?? [];
    // Nine slices, then the stored rollup.
    expect(keys).toHaveLength(10);
    expect(keys[8]).toEqual(sliceKey("1m", T0, "sales-8"));
    expect(keys[9]).toEqual(rollupKey("1m", T0));
  });

  it("reads as many partitions as the stored rollup covered, even past the configured count", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand)
      .resolvesOnce({ Responses: { t: [{ pk: rollupKey("1m", T0).pk, sk: rollupKey("1m", T0).sk, parts: { N: "8" } }] } } as never)
      .resolves({ Responses: { t: [{ pk: sliceKey("1m", T0, "sales-7").pk, we: { N: "1" }, ver: { N: "2" } }] } } as never);
    const [read] = await createRollupStore(client, "t", 6).slices([ref]);
    expect(read).toMatchObject({ partitions: 8 });
    expect(read?.slices).toHaveLength(1);
    expect(batchGets(db)[1]?.Keys).toEqual([sliceKey("1m", T0, "sales-6"), sliceKey("1m", T0, "sales-7")]);
  });

  it("reads several windows in one request and hands each its own slices; refuses an item it did not ask for", async () => {
    const other = { ...ref, start: T0 + 60_000 };
    const item = (start: number, tp: string) => ({ pk: sliceKey("1m", start, tp).pk, we: { N: "1" }, ver: { N: "2" } });
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({
      Responses: { t: [item(T0 + 60_000, "sales-1"), item(T0, "sales-0"), item(T0 + 60_000, "sales-0")] },
    } as never);
    const store = createRollupStore(client, "t", 2);
    expect((await store.slices([ref, other])).map((window) => window.slices.length)).toEqual([1, 2]);
    expect(db.calls()).toHaveLength(1);
    const stray = dynamodb();
    stray.db.on(BatchGetItemCommand).resolves({ Responses: { t: [item(T0 + 120_000, "sales-0")] } } as never);
    await expect(createRollupStore(stray.client, "t", 2).slices([ref])).rejects.toThrow(/not asked for/);
  });

  it("writes a rollup only over one read earlier (smaller sum of slice versions), with money as exact decimals", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand).resolves({});
    expect(await createRollupStore(client, "t", 6).put(rollup)).toBe("written");
    const input = db.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TableName: "t",
      ConditionExpression: "attribute_not_exists(pk) OR (seen < :seen AND (attribute_not_exists(parts) OR parts <= :parts))",
      ExpressionAttributeValues: { ":seen": { N: "12" }, ":parts": { N: "6" } },
    });
    expect(input?.Item).toMatchObject({
      ...rollupKey("1m", T0),
      seen: { N: "12" },
      slices: { N: "1" },
      parts: { N: "6" },
      expiresAt: { N: "77" },
    });
    expect(input?.Item?.r?.M?.Europe?.M?.s).toEqual({ N: "12345678901234567.89" });
  });

  it("answers stale when a later rollup is stored, and throws DynamoDB's other errors", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: "no", $metadata: {} }))
      .rejects(Object.assign(new Error("ProvisionedThroughputExceeded"), { name: "ProvisionedThroughputExceededException" }));
    const store = createRollupStore(client, "t", 6);
    expect(await store.put(rollup)).toBe("stale");
    await expect(store.put(rollup)).rejects.toThrow(/ProvisionedThroughput/);
  });

  it("lists slice keys a Scan page at a time, and where the next page starts", async () => {
    const { client, db } = dynamodb();
    db.on(ScanCommand)
      .resolvesOnce({ Items: [sliceKey("1m", T0, "sales-0"), sliceKey("1h", T0, "sales-2")], LastEvaluatedKey: { pk: { S: "x" } } })
      .resolves({ Items: [sliceKey("1m", T0 + 60_000, "sales-1")] });
    const store = createRollupStore(client, "t", 6);
    const first = await store.listSlices(2, undefined);
    expect(first).toEqual({
      slices: [
        { window: "1m", start: T0, topicPartition: "sales-0" },
        { window: "1h", start: T0, topicPartition: "sales-2" },
      ],
      next: { pk: { S: "x" } },
    });
    expect((await store.listSlices(2, first.next)).next).toBeUndefined();
    const [scan, again] = db.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(scan).toMatchObject({ TableName: "t", FilterExpression: "sk = :slice", ProjectionExpression: "pk, sk", Limit: 2 });
    expect(scan?.ExclusiveStartKey).toBeUndefined();
    expect(again).toMatchObject({ ExclusiveStartKey: { pk: { S: "x" } } });
  });
});
