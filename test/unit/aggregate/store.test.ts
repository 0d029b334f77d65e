import { type AttributeValue, ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { describe, expect, it, vi } from "vitest";
import { AggregateStore, itemBytes } from "#functions/aggregate/store";
import { dynamoQueryStore } from "#functions/query/store";
import { emptySlice, type Metrics, marshalSlice, rollupKey, type SliceItem, sliceKey, unmarshalSlice } from "#shared/aggregates/model";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { fakeDynamoClient, type Sent } from "#test/support/fake-dynamodb";

const itemOf = (sent: Sent | undefined) => (sent?.input.Item ?? {}) as Record<string, AttributeValue>;

const fakeClient = fakeDynamoClient;

const m = (orders: number, cents: number): Metrics => ({
  orders: BigInt(orders),
  sales: BigInt(cents),
  min: 1n,
  max: BigInt(cents),
  late: 0n,
});
const T0 = Date.UTC(2022, 7, 1, 10);

function slice(tp: string, values: Record<string, Metrics>, version = 1): SliceItem {
  return { ...emptySlice("1h", T0, T0 + 3_600_000, tp), version, offset: 41, values: new Map(Object.entries(values)) };
}

describe("slices in DynamoDB attributes", () => {
  it("round-trip exactly, countries, regions and the total in their own maps", () => {
    const item = slice("sales-3", { "country#Côte d'Ivoire": m(2, 12_345_678_901_234), "region#Africa": m(2, 3), "all#all": m(2, 3) });
    const attributes = marshalSlice(item);
    expect(attributes.pk).toEqual({ S: "1h#2022-08-01T10:00:00.000Z#sales-3" });
    expect(attributes.spk).toEqual({ S: "1h#sales-3" });
    expect(Object.keys(attributes.c?.M ?? {})).toEqual(["Côte d'Ivoire"]);
    expect(attributes.c?.M?.["Côte d'Ivoire"]?.M?.s).toEqual({ N: "123456789012.34" });
    expect(unmarshalSlice(attributes)).toEqual(item);
    expect(() => unmarshalSlice({ ...attributes, ws: { S: "x" } })).toThrow(/ws is not a number/);
  });
});

describe("AggregateStore", () => {
  it("writes a new slice only if absent and a read one only at the version read; a refusal is a conflict", async () => {
    let refuse = false;
    const { client, sent } = fakeClient(() => (refuse ? new ConditionalCheckFailedException({ message: "no", $metadata: {} }) : {}));
    const store = new AggregateStore(client, "t");
    expect(await store.writeSlice(slice("sales-0", {}, 0))).toBe("written");
    expect(sent[0]?.input).toMatchObject({ ConditionExpression: "attribute_not_exists(pk)" });
    refuse = true;
    expect(await store.writeSlice(slice("sales-0", {}, 4))).toBe("conflict");
    expect(sent[1]?.input).toMatchObject({ ConditionExpression: "ver = :read", ExpressionAttributeValues: { ":read": { N: "4" } } });
    expect(itemOf(sent[1]).ver).toEqual({ N: "5" });
    expect(store.counts).toMatchObject({ writes: 2, conflicts: 1 });
  });

  it("rethrows a throttle rather than calling it a conflict", async () => {
    const throttle = Object.assign(new Error("slow down"), { name: "ProvisionedThroughputExceededException" });
    const store = new AggregateStore(fakeClient(() => throttle).client, "t");
    await expect(store.writeSlice(slice("sales-0", {}))).rejects.toBe(throttle);
    await expect(store.readSlices([{ window: "1h", start: T0, topicPartition: "sales-0" }])).rejects.toBe(throttle);
  });

  it("asks again for keys DynamoDB left unprocessed, and gives up after 9 attempts naming how many keys", async () => {
    const stored = marshalSlice(slice("sales-1", { "all#all": m(1, 1) }));
    let calls = 0;
    const { client } = fakeClient(({ input }) => {
      calls++;
      const keys = (input.RequestItems as Record<string, { Keys: Record<string, AttributeValue>[] }>).t?.Keys ?? [];
      return calls === 1 ? { Responses: { t: [] }, UnprocessedKeys: { t: { Keys: keys } } } : { Responses: { t: [stored] } };
    });
    const found = await new AggregateStore(client, "t").readSlices([{ window: "1h", start: T0, topicPartition: "sales-1" }]);
    expect([...found.keys()]).toEqual(["1h#2022-08-01T10:00:00.000Z#sales-1"]);
    expect(calls).toBe(2);

    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      const stuck = fakeClient(({ input }) => ({ UnprocessedKeys: input.RequestItems }));
      const outcome = expect(
        new AggregateStore(stuck.client, "t").readSlices([{ window: "1h", start: T0, topicPartition: "sales-1" }]),
      ).rejects.toThrow(/left 1 keys unprocessed after 9 attempts/);
      await vi.runAllTimersAsync();
      await outcome;
      expect(stuck.sent).toHaveLength(9);
    } finally {
      vi.useRealTimers();
    }
  });

  it("never moves a watermark back, and keeps a partition that has no event time yet without one", async () => {
    const { client, sent } = fakeClient(() => new ConditionalCheckFailedException({ message: "older", $metadata: {} }));
    const store = new AggregateStore(client, "t");
    await store.writeWatermark("my-topic-2", { eventTime: Number.NEGATIVE_INFINITY, offset: 9 });
    expect(sent[0]?.input).toMatchObject({ ConditionExpression: "attribute_not_exists(pk) OR off <= :off" });
    expect(itemOf(sent[0]).wm).toBeUndefined();
    expect(itemOf(sent[0]).topic).toEqual({ S: "my-topic" });
    // The wall-clock time of the batch, by which the query tells idle partitions from delivering ones.
    expect(Math.abs(Number(itemOf(sent[0]).at?.N) - Date.now())).toBeLessThan(60_000);
    const read = new AggregateStore(fakeClient(() => ({ Responses: { t: [{ tp: { S: "my-topic-2" }, off: { N: "9" } }] } })).client, "t");
    expect(await read.readWatermarks(["my-topic-2"])).toEqual(
      new Map([["my-topic-2", { eventTime: Number.NEGATIVE_INFINITY, offset: 9, deadLettered: 0 }]]),
    );
    // The count of dead letters goes with the watermark (a stored one reads back).
    await store.writeWatermark("my-topic-2", { eventTime: 5, offset: 10, deadLettered: 3 });
    expect(itemOf(sent[1]).dl).toEqual({ N: "3" });
  });

  it("sizes items about as DynamoDB does", () => {
    expect(itemBytes({ pk: { S: "abc" } })).toBe(5);
    const big = marshalSlice(
      slice("sales-0", Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`country#${"x".repeat(90)}${i}`, m(1, 1)]))),
    );
    expect(itemBytes(big)).toBeGreaterThan(500 * 100);
    expect(itemBytes(big)).toBeLessThan(400 * 1024);
  });
});

describe("the query store", () => {
  it("reads a window's slices of every partition in one BatchGetItem, projected to the dimension", async () => {
    const { client, sent } = fakeClient(() => ({
      Responses: {
        t: [marshalSlice(slice("sales-0", { "region#Europe": m(1, 5) })), marshalSlice(slice("sales-1", { "region#Europe": m(2, 7) }))],
      },
    }));
    const store = dynamoQueryStore(client, "t", "sales", 6);
    const partials = await store.windowValues("1h", T0, "region");
    expect(partials.map((p) => p.get("Europe")?.orders)).toEqual([1n, 2n]);
    expect(sent).toHaveLength(1);
    const requests = (sent[0]?.input.RequestItems ?? {}) as Record<string, { Keys: unknown[] }>;
    const request = requests.t;
    expect(request?.Keys).toEqual([0, 1, 2, 3, 4, 5].map((p) => sliceKey("1h", T0, `sales-${p}`)));
    expect(request).toMatchObject({ ProjectionExpression: "#d", ExpressionAttributeNames: { "#d": "r" } });
  });

  it("reads a country's series from its partition only, following pages; a region's from every partition", async () => {
    const { client, sent } = fakeClient(({ input }) => {
      const page = input.ExclusiveStartKey === undefined ? 1 : 2;
      return {
        Items: [
          { ws: { N: String(T0 + page) }, c: { M: { India: marshalSlice(slice("sales-0", { "all#all": m(page, 100) })).a?.M?.all } } },
        ],
        ...(page === 1 && { LastEvaluatedKey: { pk: { S: "next" } } }),
      };
    });
    const store = dynamoQueryStore(client, "t", "sales", 6);
    const series = await store.valueSeries("1m", T0, T0 + 60_000, "country", "India");
    expect(series.map((s) => [s.start - T0, s.metrics.orders])).toEqual([
      [1, 1n],
      [2, 2n],
    ]);
    expect(sent.map((s) => s.input.IndexName)).toEqual(["country-series", "country-series"]);
    expect(sent[0]?.input).toMatchObject({
      ProjectionExpression: "ws, #d.#v",
      ExpressionAttributeNames: { "#d": "c", "#v": "India" },
      ExpressionAttributeValues: { ":k": { S: `1m#sales-${partitionOfKey("India", 6)}` } },
    });
  });

  it("reads a region's or the total's series from the window spec's rollups: one Query whatever the partition count", async () => {
    const { client, sent } = fakeClient(() => ({
      Items: [{ ws: { N: String(T0) }, r: { M: { Europe: marshalSlice(slice("sales-0", { "all#all": m(7, 700) })).a?.M?.all } } }],
    }));
    for (const partitions of [1, 6, 120]) {
      sent.length = 0;
      const series = await dynamoQueryStore(client, "t", "sales", partitions).valueSeries("1m", T0, T0 + 60_000, "region", "Europe");
      expect(series.map((s) => [s.start, s.metrics.orders])).toEqual([[T0, 7n]]);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.input).toMatchObject({
        KeyConditionExpression: "pk = :k AND sk BETWEEN :from AND :to",
        ProjectionExpression: "ws, #d.#v",
        ExpressionAttributeNames: { "#d": "r", "#v": "Europe" },
        ExpressionAttributeValues: {
          ":k": rollupKey("1m", T0).pk,
          ":from": rollupKey("1m", T0).sk,
          ":to": rollupKey("1m", T0 + 60_000).sk,
        },
      });
      expect(sent[0]?.input.IndexName).toBeUndefined();
    }
  });

  it("lists watermarks by partition with the time of their last batch and the dead letters not yet redriven", async () => {
    const { client, sent } = fakeClient(() => ({
      Responses: {
        t: [
          { tp: { S: "sales-2" }, sk: { S: "watermark" }, wm: { N: "1000" }, at: { N: "5000" }, dl: { N: "7" } },
          { tp: { S: "sales-4" }, sk: { S: "watermark" } },
          { tp: { S: "sales-2" }, sk: { S: "redriven-count" }, rd: { N: "3" } },
        ],
      },
    }));
    expect(await dynamoQueryStore(client, "t", "sales", 6).watermarks()).toEqual(
      new Map([
        [2, { eventTime: 1000, lastBatchAt: 5000, pendingDeadLetters: 4 }],
        [4, { eventTime: undefined, lastBatchAt: undefined, pendingDeadLetters: 0 }],
      ]),
    );
    // One request for 6 watermarks and 6 redriven counts.
    expect(sent).toHaveLength(1);
    expect(JSON.stringify(sent[0]?.input)).toContain('"#a":"at"');
  });
});
