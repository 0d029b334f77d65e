import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { rollupOf } from "#functions/rollup/rollup";
import { dynamoRollupStore } from "#functions/rollup/store";
import { rollupKey, sliceKey } from "#shared/aggregates/model";
import { fakeDynamoClient } from "#test/support/fake-dynamodb";

const fakeClient = fakeDynamoClient;

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
    const slice = (tp: string) => ({ pk: sliceKey("1m", T0, tp).pk, we: { N: "1" }, ver: { N: "3" }, r: { M: {} }, a: { M: {} } });
    const { client, sent } = fakeClient(() => ({
      Responses: { t: sent.length === 1 ? [slice("sales-3"), slice("sales-77")] : [slice("sales-140")] },
    }));
    const store = dynamoRollupStore(client, "t", 150);
    expect((await store.slices([ref])).map((window) => [window.slices.length, window.partitions])).toEqual([[3, 150]]);
    expect(sent.map((s) => s.name)).toEqual(["BatchGetItemCommand", "BatchGetItemCommand"]);
    type Request = { Keys: unknown[]; ConsistentRead: boolean; ProjectionExpression: string };
    const first = (sent[0]?.input.RequestItems as Record<string, Request> | undefined)?.t;
    expect(first?.Keys).toHaveLength(100);
    expect(first?.Keys[7]).toEqual(sliceKey("1m", T0, "sales-7"));
    expect(first).toMatchObject({ ConsistentRead: true, ProjectionExpression: "pk, sk, we, ver, r, a, expiresAt, parts" });
    expect(store.counts.reads).toBe(2);
  });

  it("reads the partitions the stream named beyond the configured count (a topic grown before its setting)", async () => {
    const { client, sent } = fakeClient(() => ({ Responses: { t: [] } }));
    await dynamoRollupStore(client, "t", 6).slices([{ ...ref, partitionsSeen: 9 }]);
    const keys = (sent[0]?.input.RequestItems as Record<string, { Keys: unknown[] }> | undefined)?.t?.Keys ?? [];
    // Nine slices, then the stored rollup.
    expect(keys).toHaveLength(10);
    expect(keys[8]).toEqual(sliceKey("1m", T0, "sales-8"));
    expect(keys[9]).toEqual(rollupKey("1m", T0));
  });

  it("reads as many partitions as the stored rollup covered, even past the configured count", async () => {
    const { client, sent } = fakeClient(() =>
      sent.length === 1
        ? { Responses: { t: [{ pk: rollupKey("1m", T0).pk, sk: rollupKey("1m", T0).sk, parts: { N: "8" } }] } }
        : { Responses: { t: [{ pk: sliceKey("1m", T0, "sales-7").pk, we: { N: "1" }, ver: { N: "2" } }] } },
    );
    const [read] = await dynamoRollupStore(client, "t", 6).slices([ref]);
    expect(read).toMatchObject({ partitions: 8 });
    expect(read?.slices).toHaveLength(1);
    const second = (sent[1]?.input.RequestItems as Record<string, { Keys: unknown[] }> | undefined)?.t?.Keys;
    expect(second).toEqual([sliceKey("1m", T0, "sales-6"), sliceKey("1m", T0, "sales-7")]);
  });

  it("reads several windows in one request and hands each its own slices; refuses an item it did not ask for", async () => {
    const other = { ...ref, start: T0 + 60_000 };
    const item = (start: number, tp: string) => ({ pk: sliceKey("1m", start, tp).pk, we: { N: "1" }, ver: { N: "2" } });
    const { client, sent } = fakeClient(() => ({
      Responses: { t: [item(T0 + 60_000, "sales-1"), item(T0, "sales-0"), item(T0 + 60_000, "sales-0")] },
    }));
    const store = dynamoRollupStore(client, "t", 2);
    expect((await store.slices([ref, other])).map((window) => window.slices.length)).toEqual([1, 2]);
    expect(sent).toHaveLength(1);
    const stray = fakeClient(() => ({ Responses: { t: [item(T0 + 120_000, "sales-0")] } }));
    await expect(dynamoRollupStore(stray.client, "t", 2).slices([ref])).rejects.toThrow(/not asked for/);
  });

  it("writes a rollup only over one read earlier (smaller sum of slice versions), with money as exact decimals", async () => {
    const { client, sent } = fakeClient(() => ({}));
    expect(await dynamoRollupStore(client, "t", 6).put(rollup)).toBe("written");
    const input = sent[0]?.input as {
      Item: Record<string, { S?: string; N?: string; M?: Record<string, { M: Record<string, { N: string }> }> }>;
    };
    expect(sent[0]).toMatchObject({
      name: "PutItemCommand",
      input: {
        ConditionExpression: "attribute_not_exists(pk) OR (seen < :seen AND (attribute_not_exists(parts) OR parts <= :parts))",
        ExpressionAttributeValues: { ":seen": { N: "12" }, ":parts": { N: "6" } },
      },
    });
    expect(input.Item).toMatchObject({
      ...rollupKey("1m", T0),
      seen: { N: "12" },
      slices: { N: "1" },
      parts: { N: "6" },
      expiresAt: { N: "77" },
    });
    expect(input.Item.r?.M?.Europe?.M.s).toEqual({ N: "12345678901234567.89" });
  });

  it("answers stale when a later rollup is stored, and throws DynamoDB's other errors", async () => {
    const refused = fakeClient(() => new ConditionalCheckFailedException({ message: "no", $metadata: {} }));
    expect(await dynamoRollupStore(refused.client, "t", 6).put(rollup)).toBe("stale");
    const broken = fakeClient(() => new Error("ProvisionedThroughputExceeded"));
    await expect(dynamoRollupStore(broken.client, "t", 6).put(rollup)).rejects.toThrow(/ProvisionedThroughput/);
  });
});
