import { localStackContext, resolveValue } from "@sales-stream-analytics/local-aws";
import { expandPrefix, firehoseStreams } from "@sales-stream-analytics/local-aws/testing";
import { describe, expect, it } from "vitest";
import { lakeJson, transformRecords } from "#functions/firehose-transform/transform";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { MemorySchemaSource, V1_ID, V2_ID } from "#test/support/fakes/registry";
import { lakeColumns, partitionColumn } from "#test/support/lake-columns";
import { sampleSales } from "#tools/sales/generator";
import { lakeColumnsOf } from "../../../tools/gen/contract.ts";

const sale: Sale = {
  payment_id: 7,
  customer_id: 3,
  amount: "12345678.90",
  payment_date: Date.UTC(2022, 7, 1, 23, 59, 59, 999),
  city: null,
  district: "D",
  country: "Peru",
  channel: "web",
};

describe("the lake's Glue table", () => {
  it("has exactly the columns the Avro reader schema implies, plus the Kafka coordinates, partitioned by dt", () => {
    const ctx = localStackContext();
    const table = resolveValue(ctx, ctx.template.Resources.SalesTable?.Properties, "SalesTable") as {
      TableInput: { StorageDescriptor: { Columns: { Name: string; Type: string }[] }; PartitionKeys: { Name: string; Type: string }[] };
    };
    expect(table.TableInput.StorageDescriptor.Columns.map((c) => ({ name: c.Name, type: c.Type }))).toEqual(lakeColumns);
    expect(lakeColumns).toEqual(lakeColumnsOf(currentSalesSchema as Parameters<typeof lakeColumnsOf>[0]));
    expect(table.TableInput.PartitionKeys).toEqual([{ Name: partitionColumn.name, Type: partitionColumn.type }]);
    expect(partitionColumn).toEqual({ name: "dt", type: "string" });
    expect(lakeColumns.find((c) => c.name === "amount")?.type).toBe("decimal(10,2)");
  });

  it("is what the template's delivery stream converts to, under a dt prefix from the transform", () => {
    const [stream] = firehoseStreams(localStackContext());
    expect(stream?.columns.map((c) => c.name)).toEqual(lakeColumns.map((c) => c.name));
    expect(stream?.transformFunctionId).toBe("FirehoseTransformFunction");
    // Like the aggregate mapping's TRIM_HORIZON: the lake starts at the topic's earliest record.
    expect(stream?.fromBeginning).toBe(true);
    expect(expandPrefix(stream?.prefix ?? "", 0, { dt: "2022-08-01" })).toBe("sales/dt=2022-08-01/");
    expect(expandPrefix(stream?.errorPrefix ?? "", Date.UTC(2026, 10, 22), {})).toBe("errors/processing-failed/dt=2026-11-22/");
  });
});

describe("the Firehose transform", () => {
  it("writes one JSON line per sale with the amount's exact decimal text and a Hive timestamp", () => {
    const line = lakeJson(sale, 4, 99);
    expect(line.endsWith("\n")).toBe(true);
    expect(line).toContain('"amount":12345678.90,');
    expect(JSON.parse(line)).toMatchObject({
      payment_date: "2022-08-01 23:59:59.999",
      kafka_partition: 4,
      kafka_offset: 99,
      city: null,
      country: "Peru",
    });
  });

  it("returns Ok with a dt partition key for v1 and v2 records and ProcessingFailed with the original bytes for poison", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    const [a, b] = sampleSales(2, { seed: 4, startMs: Date.UTC(2022, 7, 31, 23, 59) });
    const { channel: _c, ...oldA } = a as Sale;
    const frames = [
      new GlueAvroEncoder<object>(salesSchemaVersions[0], V1_ID).encode(oldA),
      Buffer.from("definitely not an avro frame"),
      new GlueAvroEncoder<Sale>(salesSchemaVersions[1], V2_ID, "zlib").encode(b as Sale),
    ];
    const records = frames.map((frame, i) => ({
      recordId: `r${i}`,
      mskRecordMetadata: { offset: String(10 + i), partitionId: "2" },
      kafkaRecordValue: frame.toString("base64"),
    }));
    const outcome = await transformRecords(records, decoder);
    expect(outcome.records.map((r) => r.result)).toEqual(["Ok", "ProcessingFailed", "Ok"]);
    expect(outcome.records[1]?.kafkaRecordValue).toBe(records[1]?.kafkaRecordValue);
    expect(outcome.failed).toEqual([
      { recordId: "r1", partition: "2", offset: "11", code: "BAD_HEADER_VERSION", message: expect.any(String) },
    ]);
    const first = JSON.parse(Buffer.from(outcome.records[0]?.kafkaRecordValue ?? "", "base64").toString());
    expect(first).toMatchObject({ payment_id: a?.payment_id, channel: "store", kafka_offset: 10, kafka_partition: 2 });
    expect(outcome.records[0]?.metadata?.partitionKeys.dt).toBe(new Date((a as Sale).payment_date).toISOString().slice(0, 10));
  });

  it("throws on a bug-type error instead of answering ProcessingFailed, and still fails data errors per record", async () => {
    const frame = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], V2_ID).encode(sale);
    const records = [{ recordId: "r0", kafkaRecordValue: frame.toString("base64") }];
    const buggy = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    buggy.decode = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'amount')");
    };
    await expect(transformRecords(records, buggy)).rejects.toBeInstanceOf(TypeError);

    const unknown = new GlueAvroDecoder<Sale>(new MemorySchemaSource({}), currentSalesSchema);
    const outcome = await transformRecords(records, unknown);
    expect(outcome.records.map((r) => [r.result, r.metadata?.partitionKeys.error])).toEqual([
      ["ProcessingFailed", "UNKNOWN_SCHEMA_VERSION"],
    ]);
  });
});
