import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  TransactGetItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, describe, expect, it } from "vitest";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { rollupOf } from "#functions/rollup/rollup";
import { rollupKey, sliceKey } from "#shared/aggregates/table";
import { ungrantedDynamoDbRequests } from "#test/support/dynamodb-grants";

/** Every stub of this file: what the store sent, checked against the function's template policy at the end. */
const stubs: { calls(): { args: readonly unknown[] }[] }[] = [];
// DynamoDB Local enforces no IAM: what the store sends must be what RollupFunction's policy grants on AWS.
// The backfill (npm run rollups) scans with an operator's credentials, never the function.
afterAll(() => expect(ungrantedDynamoDbRequests("RollupFunction", stubs, ["ScanCommand"])).toEqual([]));

/** A real client whose sends aws-sdk-client-mock answers. */
function dynamodb() {
  const client = new DynamoDBClient({ region: "eu-west-1" });
  const db = mockClient(client);
  stubs.push(db);
  return { client, db };
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
  const transactGets = (db: ReturnType<typeof dynamodb>["db"]) =>
    db.commandCalls(TransactGetItemsCommand).map((call) => call.args[0].input.TransactItems?.map((item) => item.Get) ?? []);
  const slice = (start: number, tp: string) => ({
    ...sliceKey("1m", start, tp),
    we: { N: "1" },
    ver: { N: "3" },
    r: { M: {} },
    a: { M: {} },
  });

  it("reads the stored rollups, then each window's slices of every partition as one snapshot, projected to what a rollup adds", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [] } });
    db.on(TransactGetItemsCommand).resolves({
      Responses: [{}, {}, {}, { Item: slice(T0, "sales-3") }, {}, { Item: slice(T0, "sales-5") }],
    });
    const store = createRollupStore(client, "t", 6);
    expect((await store.slices([ref])).map((window) => [window.slices.length, window.partitions])).toEqual([[2, 6]]);
    const [rollups] = batchGets(db);
    expect(rollups).toMatchObject({ Keys: [rollupKey("1m", T0)], ConsistentRead: true });
    const [gets] = transactGets(db);
    expect(gets?.map((get) => get?.Key)).toEqual([0, 1, 2, 3, 4, 5].map((p) => sliceKey("1m", T0, `sales-${p}`)));
    expect(gets?.[0]).toMatchObject({ ProjectionExpression: "pk, sk, we, ver, r, a, expiresAt, parts, rv" });
    expect(store.counts.reads).toBe(2);
  });

  it("reads the partitions the stream named beyond the configured count (a topic grown before its setting)", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [] } });
    db.on(TransactGetItemsCommand).resolves({ Responses: [] });
    await createRollupStore(client, "t", 6).slices([{ ...ref, partitionsSeen: 9 }]);
    const keys = transactGets(db)[0]?.map((get) => get?.Key) ?? [];
    expect(keys).toHaveLength(9);
    expect(keys[8]).toEqual(sliceKey("1m", T0, "sales-8"));
  });

  it("reads as many partitions as the stored rollup covered, even past the configured count", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [{ ...rollupKey("1m", T0), parts: { N: "8" } }] } });
    db.on(TransactGetItemsCommand).resolves({ Responses: [{ Item: slice(T0, "sales-7") }] });
    const [read] = await createRollupStore(client, "t", 6).slices([ref]);
    expect(read).toMatchObject({ partitions: 8 });
    expect(read?.slices).toHaveLength(1);
    expect(transactGets(db)[0]).toHaveLength(8);
  });

  it("reads several windows' rollups in one request and hands each window its own slices; refuses an item it did not ask for", async () => {
    const other = { ...ref, start: T0 + 60_000 };
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({ Responses: { t: [] } });
    db.on(TransactGetItemsCommand)
      .resolvesOnce({ Responses: [{ Item: slice(T0, "sales-0") }, {}] })
      .resolves({ Responses: [{ Item: slice(T0 + 60_000, "sales-0") }, { Item: slice(T0 + 60_000, "sales-1") }] });
    const store = createRollupStore(client, "t", 2);
    expect((await store.slices([ref, other])).map((window) => window.slices.length)).toEqual([1, 2]);
    expect(db.commandCalls(BatchGetItemCommand)).toHaveLength(1);
    const stray = dynamodb();
    stray.db.on(BatchGetItemCommand).resolves({ Responses: { t: [] } });
    stray.db.on(TransactGetItemsCommand).resolves({ Responses: [{ Item: slice(T0 + 120_000, "sales-0") }] });
    await expect(createRollupStore(stray.client, "t", 1).slices([ref])).rejects.toThrow(/not asked for/);
  });

  it("writes a rollup only over one read earlier (smaller sum of slice versions), with money as exact decimals", async () => {
    const { client, db } = dynamodb();
    db.on(PutItemCommand).resolves({});
    expect(await createRollupStore(client, "t", 6).put(rollup)).toBe("written");
    const input = db.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TableName: "t",
      ConditionExpression:
        "attribute_not_exists(pk) OR ((attribute_not_exists(#rv) AND seen < :seen) AND (attribute_not_exists(parts) OR parts <= :parts))",
      ExpressionAttributeNames: { "#rv": "rv" },
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
