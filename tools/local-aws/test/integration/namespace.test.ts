import { randomUUID } from "node:crypto";
import { DescribeTableCommand, ResourceNotFoundException, ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetRegistryCommand } from "@aws-sdk/client-glue";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { regionOf } from "../../../../shared/sales/regions.ts";
import { eventually } from "../../../pipeline/figures.ts";
import { postSales, request } from "../../../pipeline/http.ts";
import { listKeys } from "../../../pipeline/s3.ts";
import { LocalRuntime } from "../../runtime/runtime.ts";
import { localClients } from "../../stack/clients.ts";
import { localStackContext } from "../../stack/context.ts";
import { physicalName } from "../../template/intrinsics.ts";

/** A namespaced runtime runs the whole template on private resources and leaves the served ones as they were. */
const clients = localClients();
const served = localStackContext();
const servedTopic = "sales";
const servedTable = physicalName(served, "AggregatesTable");
const servedBucket = physicalName(served, "LakeBucket");

afterAll(() => {
  for (const client of [clients.dynamodb, clients.s3, clients.sqs, clients.glue, clients.iam]) client.destroy();
});

async function endOffsets(topic: string): Promise<string> {
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets
      .map((p) => `${p.partition}:${p.high}`)
      .sort()
      .join(",");
  } finally {
    await admin.disconnect();
  }
}

async function itemCount(table: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await clients.dynamodb.send(new ScanCommand({ TableName: table, Select: "COUNT", ExclusiveStartKey: startKey }));
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return count;
}

const served_ = async () => ({
  offsets: await endOffsets(servedTopic),
  items: await itemCount(servedTable),
  objects: (await listKeys(clients.s3, servedBucket, "")).length,
});

const gone = (promise: Promise<unknown>) =>
  promise.then(
    () => false,
    () => true,
  );

describe("LocalRuntime.start({ namespace })", () => {
  it("aggregates, rolls up and lands posted sales on its own resources, leaves the served topic, table and bucket untouched, and removes its own on stop", async () => {
    const before = await served_();
    const namespace = `t${randomUUID().slice(0, 6)}`;
    const runtime = await LocalRuntime.start({ namespace, apiPort: 0, log: () => undefined });
    const topic = runtime.salesTopic;
    const table = runtime.resourceName("AggregatesTable");
    const bucket = runtime.resourceName("LakeBucket");
    const queue = runtime.resourceName("DeadLetterQueue");
    const registry = runtime.resourceName("SchemaRegistry");
    const groups = runtime.mappings.map((m) => m.mapping.consumerGroupId);
    try {
      expect(topic).toBe(`${namespace}-sales`);
      expect([table, queue, registry].every((name) => name.includes(namespace))).toBe(true);
      // The bucket is named from the stack id, which a namespace's stack name changes.
      expect(bucket).not.toBe(servedBucket);
      expect(runtime.firehoses[0]?.stream.bucket).toBe(bucket);
      expect(runtime.streamMappings[0]?.mapping.tableName).toBe(table);

      const at = Math.floor(Date.now() / 60_000) * 60_000 - 30_000;
      const from = new Date(Math.floor(at / 60_000) * 60_000).toISOString();
      const to = new Date(Math.floor(at / 60_000) * 60_000 + 60_000).toISOString();
      const sales = ["1.10", "2.20", "3.30"].map((amount, i) => ({
        payment_id: 1 + i,
        customer_id: 1,
        amount,
        payment_date: at,
        country: "Kenya",
      }));
      const posted = await postSales(runtime.apiUrl, sales);
      expect(posted.status).toBe(202);
      const total = async (path: string) =>
        (
          (await (await request(`${runtime.apiUrl}${path}?window=1m&from=${from}&to=${to}`)).json()) as {
            total: { orders: number; sales: string };
          }
        ).total;
      expect(await eventually(async () => (await total("/series/country/Kenya")).orders === 3, 60_000, 250)).toBe(true);
      await Promise.all(runtime.streamMappings.map((mapping) => mapping.drain()));
      expect(await total(`/series/region/${encodeURIComponent(regionOf("Kenya"))}`)).toMatchObject({ orders: 3, sales: "6.60" });
      await runtime.firehoses[0]?.flush();
      expect((await listKeys(clients.s3, bucket, "sales/")).length).toBeGreaterThan(0);
    } finally {
      await runtime.stop();
    }

    expect(await served_()).toEqual(before);
    const admin = clients.kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    const listedGroups = (await admin.listGroups()).groups.map((g) => g.groupId);
    await admin.disconnect();
    expect(topics).not.toContain(topic);
    expect(listedGroups.filter((g) => groups.includes(g) || g.includes(namespace))).toEqual([]);
    const tableGone = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table })).then(
      () => false,
      (error) => error instanceof ResourceNotFoundException,
    );
    expect(tableGone).toBe(true);
    expect(await gone(clients.s3.send(new HeadBucketCommand({ Bucket: bucket })))).toBe(true);
    expect(await gone(clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue })))).toBe(true);
    expect(await gone(clients.glue.send(new GetRegistryCommand({ RegistryId: { RegistryName: registry } })))).toBe(true);
  });
});
