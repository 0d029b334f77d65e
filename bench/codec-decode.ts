import { kafkaConsumer, SchemaType } from "@aws-lambda-powertools/kafka";
import { GlueSchemaRegistry as MeinestadtRegistry } from "@meinestadt.de/glue-schema-registry";
import { endpoints, localArn, localAws, localClients, localStackContext, physicalName, up } from "@sales-stream-analytics/local-aws";
import { adminCredentials } from "@sales-stream-analytics/local-aws/testing";
import avro from "avsc";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { HEADER_LENGTH } from "#shared/avro/wire-format";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";
import { measure, printTable } from "./support.ts";

/**
 * Decode throughput of 100k Glue-framed sales (v1 writer -> v2 reader) against, on the same
 * bytes in the same run: raw avsc with a cached type (the practical limit), JSON.parse of the
 * same records as JSON, @meinestadt.de/glue-schema-registry and @aws-lambda-powertools/kafka.
 */
const report = benchReport("codec-decode");
const count = Number(process.env.BENCH_RECORDS ?? 100_000);
await up();
const { glue } = localClients();
const ctx = localStackContext();
const registryName = physicalName(ctx, "SchemaRegistry");
const schemaName = physicalName(ctx, "SalesSchema");
const [v1] = salesSchemaVersions;
const ourRegistry = new GlueSchemaRegistry(glue);
const v1Id = await ourRegistry.getVersionIdForDefinition({ registryName, schemaName, definition: JSON.stringify(v1) });

const sales = sampleSales(count, { seed: 5 }).map(({ channel: _channel, ...v1Sale }) => v1Sale);
const encoder = new GlueAvroEncoder<object>(v1, v1Id);
const frames = sales.map((sale) => encoder.encode(sale));
const bodies = frames.map((frame) => frame.subarray(HEADER_LENGTH));
const json = sales.map((sale) => JSON.stringify(sale));
const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
report.print(
  `${count.toLocaleString("en-US")} sales, ${(bytes / count).toFixed(1)} bytes per Glue frame, ${(json.reduce((s, j) => s + j.length, 0) / count).toFixed(1)} bytes per JSON record`,
);

const rows = [];

const rawType = avro.Type.forSchema(v1);
rows.push(
  await measure(
    "avsc fromBuffer, cached type, raw body",
    count,
    () => {
      for (const body of bodies) rawType.fromBuffer(body);
    },
    { note: "baseline" },
  ),
);

const decoder = new GlueAvroDecoder<Sale>(ourRegistry, currentSalesSchema);
await decoder.load(frames.slice(0, 1));
rows.push(
  await measure("this codec: frame + v1->v2 resolution + exact decimal", count, () => {
    for (const frame of frames) decoder.decode(frame);
  }),
);

rows.push(
  await measure("JSON.parse of the same records", count, () => {
    for (const text of json) JSON.parse(text);
  }),
);

const meinestadt = new MeinestadtRegistry(registryName, {
  region: localAws.region,
  endpoint: endpoints.moto,
  credentials: adminCredentials(),
});
const readerType = avro.Type.forSchema(currentSalesSchema);
const peerCount = Math.min(count, 10_000);
rows.push(
  await measure(
    "@meinestadt.de/glue-schema-registry decode",
    peerCount,
    async () => {
      for (let i = 0; i < peerCount; i++) await meinestadt.decode(frames[i] as Buffer, readerType);
    },
    { rounds: 2, note: `${peerCount.toLocaleString("en-US")} records` },
  ),
);

const powertools = kafkaConsumer(
  async (consumerRecords: { records: { value: unknown }[] }) => {
    for (const record of consumerRecords.records) void record.value;
  },
  { value: { type: SchemaType.AVRO, schema: JSON.stringify(v1) } },
);
const event = {
  eventSource: "aws:kafka",
  eventSourceArn: localArn("kafka", "cluster/bench/x"),
  bootstrapServers: "local",
  records: {
    "sales-0": bodies.slice(0, peerCount).map((body, offset) => ({
      topic: "sales",
      partition: 0,
      offset,
      timestamp: 0,
      timestampType: "CREATE_TIME",
      key: "",
      value: body.toString("base64"),
      headers: [],
    })),
  },
} as unknown as Parameters<typeof powertools>[0];
rows.push(
  await measure("@aws-lambda-powertools/kafka AVRO (raw body, writer schema)", peerCount, () => powertools(event, {} as never), {
    rounds: 2,
    note: `${peerCount.toLocaleString("en-US")} records`,
  }),
);

printTable(report.print, `Decode throughput, v1 writer -> v2 reader (Node ${process.version})`, rows);
glue.destroy();
report.save();
process.exit(0);
