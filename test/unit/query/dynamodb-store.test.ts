import {
  type AttributeValue,
  BatchGetItemCommand,
  DynamoDBClient,
  QueryCommand,
  TransactGetItemsCommand,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, describe, expect, it } from "vitest";
import { createQueryStore } from "#functions/query/dynamodb-store";
import type { Metrics } from "#shared/aggregates/metrics";
import { emptySlice, type SliceItem } from "#shared/aggregates/slices";
import { marshalSlice, rollupKey, sliceKey } from "#shared/aggregates/table";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { ungrantedDynamoDbRequests } from "#test/support/dynamodb-grants";
import { metricsOf } from "#test/support/metrics";

const m = metricsOf;
const T0 = Date.UTC(2022, 7, 1, 10);

function slice(tp: string, values: Record<string, Metrics>): SliceItem {
  return { ...emptySlice("1h", T0, T0 + 3_600_000, tp), version: 1, offset: 41, values: new Map(Object.entries(values)) };
}
/** One value's figures as a slice's map holds them. */
const figures = (orders: number, cents: number) =>
  marshalSlice(slice("sales-0", { "all#all": m(orders, cents) })).a?.M?.all as AttributeValue;

/** Every stub of this file: what the store sent, checked against the function's template policy at the end. */
const stubs: { calls(): { args: readonly unknown[] }[] }[] = [];
// DynamoDB Local enforces no IAM: what the store sends must be what QueryFunction's policy grants on AWS.
afterAll(() => expect(ungrantedDynamoDbRequests("QueryFunction", stubs)).toEqual([]));

/** A real client whose sends aws-sdk-client-mock answers. */
function dynamodb() {
  const client = new DynamoDBClient({ region: "eu-west-1" });
  const db = mockClient(client);
  stubs.push(db);
  return { client, db };
}

describe("the query store", () => {
  it("reads a window's slices of every partition as one snapshot (TransactGetItems), projected to the dimension and revision", async () => {
    const { client, db } = dynamodb();
    const revised = { at: T0 + 1, reason: "restated" };
    db.on(TransactGetItemsCommand).resolves({
      Responses: [
        { Item: marshalSlice({ ...slice("sales-0", { "region#Europe": m(1, 5) }), revised }) },
        {},
        { Item: marshalSlice(slice("sales-2", { "region#Europe": m(2, 7) })) },
      ],
    });
    const store = createQueryStore(client, "t", "sales", 3);
    const { partials, revised: latest } = await store.windowValues("1h", T0, "region");
    expect(partials.map((p) => p.get("Europe")?.orders)).toEqual([1n, 2n]);
    expect(latest).toEqual(revised);
    const calls = db.commandCalls(TransactGetItemsCommand);
    expect(calls).toHaveLength(1);
    const gets = calls[0]?.args[0].input.TransactItems ?? [];
    expect(gets.map((g) => g.Get?.Key)).toEqual([0, 1, 2].map((p) => sliceKey("1h", T0, `sales-${p}`)));
    expect(gets[0]?.Get).toMatchObject({ ProjectionExpression: "#d, #rv", ExpressionAttributeNames: { "#d": "r", "#rv": "rv" } });
    expect(store.counts.requests).toBe(1);
  });

  it("asks again when a rebuild's transaction was writing the slices, and gives up after 6 tries", async () => {
    const { client, db } = dynamodb();
    const conflict = new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: [{ Code: "TransactionConflict" }],
    });
    db.on(TransactGetItemsCommand)
      .rejectsOnce(conflict)
      .resolves({ Responses: [{}] });
    const store = createQueryStore(client, "t", "sales", 1);
    expect((await store.windowValues("1h", T0, "all")).partials).toEqual([]);
    expect(store.counts.requests).toBe(2);
    db.on(TransactGetItemsCommand).rejects(conflict);
    await expect(store.windowValues("1h", T0, "all")).rejects.toBe(conflict);
  });

  it("reads a country's series from its partition only, following pages, and its windows' revisions from the rollups", async () => {
    const { client, db } = dynamodb();
    const revised = { at: T0 + 9, reason: "restated" };
    db.on(QueryCommand).callsFake((input) => {
      if (input.IndexName === undefined)
        return { Items: [{ ws: { N: String(T0 + 2) }, rv: { M: { at: { N: String(revised.at) }, why: { S: revised.reason } } } }] };
      const page = input.ExclusiveStartKey === undefined ? 1 : 2;
      return {
        Items: [{ ws: { N: String(T0 + page) }, c: { M: { India: figures(page, 100) } } }],
        ...(page === 1 && { LastEvaluatedKey: { pk: { S: "next" } } }),
      };
    });
    const series = await createQueryStore(client, "t", "sales", 6).valueSeries("1m", T0, T0 + 60_000, "country", "India");
    expect(series.map((s) => [s.start - T0, s.metrics.orders, s.revised])).toEqual([
      [1, 1n, undefined],
      [2, 2n, revised],
    ]);
    const all = db.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(all.filter((input) => input.IndexName === undefined)).toMatchObject([
      {
        ProjectionExpression: "ws, rv",
        FilterExpression: "attribute_exists(rv)",
        ExpressionAttributeValues: { ":k": rollupKey("1m", T0).pk },
      },
    ]);
    const inputs = all.filter((input) => input.IndexName !== undefined);
    expect(inputs.map((input) => input.IndexName)).toEqual(["country-series", "country-series"]);
    expect(inputs[0]).toMatchObject({
      ProjectionExpression: "ws, #d.#v",
      ExpressionAttributeNames: { "#d": "c", "#v": "India" },
      ExpressionAttributeValues: { ":k": { S: `1m#sales-${partitionOfKey("India", 6)}` } },
    });
  });

  it("reads a region's or the total's series from the window spec's rollups: one Query whatever the partition count", async () => {
    for (const partitions of [1, 6, 120]) {
      const { client, db } = dynamodb();
      db.on(QueryCommand).resolves({ Items: [{ ws: { N: String(T0) }, r: { M: { Europe: figures(7, 700) } } }] });
      const series = await createQueryStore(client, "t", "sales", partitions).valueSeries("1m", T0, T0 + 60_000, "region", "Europe");
      expect(series.map((s) => [s.start, s.metrics.orders])).toEqual([[T0, 7n]]);
      const calls = db.commandCalls(QueryCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toMatchObject({
        KeyConditionExpression: "pk = :k AND sk BETWEEN :from AND :to",
        ProjectionExpression: "ws, #d.#v, rv",
        ExpressionAttributeNames: { "#d": "r", "#v": "Europe" },
        ExpressionAttributeValues: {
          ":k": rollupKey("1m", T0).pk,
          ":from": rollupKey("1m", T0).sk,
          ":to": rollupKey("1m", T0 + 60_000).sk,
        },
      });
      expect(calls[0]?.args[0].input.IndexName).toBeUndefined();
    }
  });

  it("lists watermarks by partition with the time of their last batch and the dead letters not yet redriven", async () => {
    const { client, db } = dynamodb();
    db.on(BatchGetItemCommand).resolves({
      Responses: {
        t: [
          { tp: { S: "sales-2" }, sk: { S: "watermark" }, wm: { N: "1000" }, at: { N: "5000" }, dl: { N: "7" } },
          { tp: { S: "sales-4" }, sk: { S: "watermark" } },
          { tp: { S: "sales-2" }, sk: { S: "redriven-count" }, rd: { N: "3" } },
        ],
      },
    });
    expect(await createQueryStore(client, "t", "sales", 6).watermarks()).toEqual(
      new Map([
        [2, { eventTime: 1000, lastBatchAt: 5000, pendingDeadLetters: 4 }],
        [4, { eventTime: undefined, lastBatchAt: undefined, pendingDeadLetters: 0 }],
      ]),
    );
    // One request for 6 watermarks and 6 redriven counts.
    const calls = db.commandCalls(BatchGetItemCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.RequestItems?.t?.Keys).toHaveLength(12);
    expect(calls[0]?.args[0].input.RequestItems?.t?.ExpressionAttributeNames).toMatchObject({ "#a": "at" });
  });
});
