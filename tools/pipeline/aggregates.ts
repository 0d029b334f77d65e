import { randomUUID } from "node:crypto";
import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { localArn, localClients, localStackContext, physicalName, resolveValue } from "@sales-stream-analytics/local-aws";
import { tableInput } from "@sales-stream-analytics/local-aws/testing";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { type Sale, salesSchemaVersions } from "#shared/sales/schema";

/**
 * The pipeline's own pieces on the local stack, for tests and benchmarks alike: a private copy of
 * the aggregates table, encoders for every registered sales schema version, and the aws:kafka
 * event Lambda's MSK mapping hands the aggregate function.
 */

const ctx = localStackContext();

/**
 * A fresh table with the template's aggregates table definition, so a test owns every item in it.
 * `stream: false` leaves the stream off (the scale benchmark: DynamoDB Local's stream emulation
 * makes each write several times slower, which DynamoDB itself does not).
 */
export async function createPrivateAggregatesTable(
  dynamodb: DynamoDBClient,
  { stream = true }: { stream?: boolean } = {},
): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = `test-aggregates-${randomUUID().slice(0, 8)}`;
  const props = resolveValue(ctx, ctx.template.Resources.AggregatesTable?.Properties ?? {}, "AggregatesTable") as Record<string, unknown>;
  const { StreamSpecification: _stream, ...withoutStream } = props;
  await dynamodb.send(new CreateTableCommand(tableInput(name, stream ? props : withoutStream)));
  return { name, drop: async () => void (await dynamodb.send(new DeleteTableCommand({ TableName: name }))) };
}

/**
 * Encoders for every registered sales schema version, ids looked up from the local registry (the
 * served stack's, or a namespaced runtime's when named). Rejects when a version is not registered.
 */
export async function salesEncoders(
  v2Compression: "none" | "zlib" = "zlib",
  names: { registryName: string; schemaName: string } = {
    registryName: physicalName(ctx, "SchemaRegistry"),
    schemaName: physicalName(ctx, "SalesSchema"),
  },
) {
  const { glue } = localClients();
  const registry = new GlueSchemaRegistry(glue);
  const ids = await Promise.all(
    salesSchemaVersions.map((schema) =>
      registry.getVersionIdForDefinition({
        ...names,
        definition: JSON.stringify(schema),
      }),
    ),
  );
  glue.destroy();
  const v1 = new GlueAvroEncoder<object>(salesSchemaVersions[0], ids[0] as string);
  const v2 = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], ids[1] as string, v2Compression);
  /** Record i alternates v1 (plain) and v2 (zlib unless asked otherwise) writers. */
  return (sale: Sale, index: number): Buffer => {
    if (index % 2 === 1) return v2.encode(sale);
    const { channel: _channel, ...old } = sale;
    return v1.encode(old);
  };
}

export interface EventRecordInput {
  readonly partition: number;
  readonly offset: number;
  readonly value: Buffer;
  readonly key?: string;
}

/**
 * Sales as the producer lays them out: keyed by country, on the partition Kafka's default
 * partitioner picks, at consecutive offsets from 0 per partition, in the sales' order.
 */
export function keyedRecords(
  sales: readonly Sale[],
  partitions: number,
  encode: (sale: Sale, index: number) => Buffer,
): EventRecordInput[] {
  const offsets = new Array<number>(partitions).fill(0);
  return sales.map((sale, i) => {
    const partition = partitionOfKey(sale.country, partitions);
    const offset = offsets[partition] ?? 0;
    offsets[partition] = offset + 1;
    return { partition, offset, value: encode(sale, i), key: sale.country };
  });
}

/** An aws:kafka event, records grouped under "<topic>-<partition>" in offset order. */
export function kafkaEvent(topic: string, records: readonly EventRecordInput[]) {
  const grouped: Record<string, object[]> = {};
  for (const r of records) {
    const tp = `${topic}-${r.partition}`;
    grouped[tp] ??= [];
    grouped[tp].push({
      topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: 1659348900000,
      timestampType: "CREATE_TIME",
      ...(r.key !== undefined && { key: Buffer.from(r.key).toString("base64") }),
      value: r.value.toString("base64"),
      headers: [{ "correlation-id": [...Buffer.from("test-batch")] }],
    });
  }
  return {
    eventSource: "aws:kafka",
    eventSourceArn: localArn("kafka", "cluster/sales-analytics-kafka/x"),
    bootstrapServers: "127.0.0.1:9092",
    records: grouped,
  };
}
