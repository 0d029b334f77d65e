import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  endpoints,
  localArn,
  localAws,
  localClients,
  localStackContext,
  paths,
  physicalName,
  resolveValue,
  up,
} from "@sales-stream-analytics/local-aws";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { sampleSales } from "../sales/generator.ts";

/**
 * `npm run events`: rebuilds the events/ files that carry real Glue-framed Avro records. The
 * local stack seeds moto's ids, so the schema version ids inside them exist on every fresh stack.
 */
await up();
const { glue } = localClients();
const ctx = localStackContext();
const registry = new GlueSchemaRegistry(glue);
const [v1Id, v2Id] = await Promise.all(
  salesSchemaVersions.map((schema) =>
    registry.getVersionIdForDefinition({
      registryName: physicalName(ctx, "SchemaRegistry"),
      schemaName: physicalName(ctx, "SalesSchema"),
      definition: JSON.stringify(schema),
    }),
  ),
);
const v1 = new GlueAvroEncoder<Omit<Sale, "channel">>(salesSchemaVersions[0], v1Id as string);
const v2 = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], v2Id as string);
const v2zlib = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], v2Id as string, "zlib");

/** Sales of 2022-08-01 10:15-10:17 UTC, one record per country of a few regions. */
export const eventSales: readonly Sale[] = sampleSales(8, {
  seed: 2022,
  startMs: Date.UTC(2022, 7, 1, 10, 15),
  meanGapMs: 7000,
  countries: ["France", "Germany", "India", "United States", "Japan", "Brazil"],
  unknownCountryShare: 0,
});

function frameOf(sale: Sale, index: number): Buffer {
  if (index % 3 === 0) {
    const { channel: _channel, ...old } = sale;
    return v1.encode(old);
  }
  return index % 3 === 1 ? v2.encode(sale) : v2zlib.encode(sale);
}

/** The headers ingest writes: the correlation id, the request id and the record's index in its request. */
const headers = (correlationId: string, index: number) => [
  { "correlation-id": [...Buffer.from(correlationId)] },
  { "ingest-request-id": [...Buffer.from("0b7e3c52-9a41-4d8e-b1f6-5c2d7e8a9f10")] },
  { "ingest-record-index": [...Buffer.from(String(index))] },
];
const topic = String(resolveValue(ctx, { Ref: "SalesTopicName" }, "SalesTopicName"));
const clusterArn = String(resolveValue(ctx, { Ref: "KafkaCluster" }, "KafkaCluster"));
const records = eventSales.map((sale, index) => ({
  topic,
  partition: 0,
  offset: 100 + index,
  timestamp: sale.payment_date + 150,
  timestampType: "CREATE_TIME",
  key: Buffer.from(sale.country).toString("base64"),
  value: frameOf(sale, index).toString("base64"),
  headers: headers("7d1e0c55-events-msk", index),
}));
// A poison record: a Glue header naming a schema version no registry has.
records.push({
  topic,
  partition: 0,
  offset: 100 + records.length,
  timestamp: Date.UTC(2022, 7, 1, 10, 17),
  timestampType: "CREATE_TIME",
  key: Buffer.from("France").toString("base64"),
  value: Buffer.concat([Buffer.from([3, 0]), Buffer.from("00000000000040008000000000000bad", "hex"), Buffer.from([2, 4, 6])]).toString(
    "base64",
  ),
  headers: headers("7d1e0c55-events-msk", records.length),
});

const mskEvent = {
  eventSource: "aws:kafka",
  eventSourceArn: clusterArn,
  bootstrapServers: endpoints.kafkaBrokers,
  records: { [`${topic}-0`]: records },
};
writeFileSync(join(paths.projectRoot, "events", "msk-sales-batch.json"), `${JSON.stringify(mskEvent, null, 2)}\n`);
console.log(`events/msk-sales-batch.json: ${records.length} records (v1, v2, v2+zlib, 1 poison), schema versions ${v1Id} ${v2Id}`);

// The request Redshift sends f_sales_avro_to_json(TO_HEX(kafka_value)): one row per argument
// array, with a NULL argument, a row that is not a frame, and a NULL row (as in the Redshift
// guide's own example request).
const udfRows: ((string | null)[] | null)[] = records.map((record) => [Buffer.from(record.value, "base64").toString("hex")]);
udfRows.splice(2, 0, [null]);
udfRows.push(null);
const udfRequest = {
  request_id: "23FF1F97-F28A-44AA-AB67-266ED976BF40",
  cluster: localArn("redshift", "cluster:analytics"),
  user: "analyst",
  database: "dev",
  external_function: "f_sales_avro_to_json",
  query_id: 5678234,
  num_records: udfRows.length,
  arguments: udfRows,
};
// A Firehose delivery stream with an MSK source sends the same records to its transform.
const firehoseEvent = {
  invocationId: "a1f4c2d8-5e6b-4c7d-8e9f-001122334455",
  deliveryStreamArn: localArn("firehose", `deliverystream/${physicalName(ctx, "SalesDeliveryStream")}`),
  sourceMSKArn: clusterArn,
  region: localAws.region,
  records: records.map((record, i) => ({
    recordId: `49546986683135544286507457936321625675700192471156785154${String(i).padStart(2, "0")}`,
    approximateArrivalTimestamp: record.timestamp,
    mskRecordMetadata: {
      offset: String(record.offset),
      partitionId: String(record.partition),
      approximateArrivalTimestamp: record.timestamp,
    },
    kafkaRecordValue: record.value,
  })),
};
writeFileSync(join(paths.projectRoot, "events", "firehose-msk-records.json"), `${JSON.stringify(firehoseEvent, null, 2)}\n`);
console.log(`events/firehose-msk-records.json: ${records.length} records (one poison)`);
writeFileSync(join(paths.projectRoot, "events", "redshift-udf-request.json"), `${JSON.stringify(udfRequest, null, 2)}\n`);
console.log(`events/redshift-udf-request.json: ${udfRows.length} rows (one NULL argument, one poison, one NULL row)`);
glue.destroy();
process.exit(0);
