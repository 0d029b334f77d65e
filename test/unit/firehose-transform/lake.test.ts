import { localStackContext, resolveValue } from "@sales-stream-analytics/local-aws";
import { expandPrefix, firehoseStreams } from "@sales-stream-analytics/local-aws/testing";
import { describe, expect, it } from "vitest";
import { lakeJson, transformRecords } from "#functions/firehose-transform/transform";
import { MAX_FUTURE_MS } from "#functions/ingest/validate";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { MemorySchemaSource, V1_ID, V2_ID } from "#test/support/fakes/registry";
import { lakeColumns, partitionColumn } from "#test/support/lake-columns";
import { sampleSales } from "#tools/sales/generator";
import { lakeColumnsOf, onceViewSql, sqlTypeOf } from "../../../tools/gen/contract.ts";

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

  it("projects every dt= prefix Firehose writes, for every event date POST /sales accepts (no partition to register)", () => {
    const ctx = localStackContext();
    const { Parameters: p } = (
      resolveValue(ctx, ctx.template.Resources.SalesTable?.Properties, "SalesTable") as {
        TableInput: { Parameters: Record<string, string> };
      }
    ).TableInput;
    expect(p).toMatchObject({ "projection.enabled": "true", "projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd" });
    // The location of a projected partition is where Firehose puts that date's objects.
    const [stream] = firehoseStreams(ctx);
    const location = (dt: string) => (p["storage.location.template"] ?? "").replace("${dt}", dt);
    for (const dt of ["1970-01-01", "2022-08-01", "9999-12-31"])
      expect(location(dt)).toBe(`s3://${stream?.bucket}/${expandPrefix(stream?.prefix ?? "", 0, { dt })}`);
    // From the earliest accepted event time to tomorrow: up to MAX_FUTURE_MS ahead lands on the next UTC date near midnight.
    const [start, end] = (p["projection.dt.range"] ?? "").split(",");
    expect(start).toBe(new Date(0).toISOString().slice(0, 10));
    const ahead = /^NOW\+(\d+)DAYS$/.exec(end ?? "");
    expect(Number(ahead?.[1]) * 86_400_000).toBeGreaterThanOrEqual(MAX_FUTURE_MS);
  });

  it("has a view (Presto view, as Athena and Trino store one) of every column and dt, deduplicated on the Kafka coordinates", () => {
    const ctx = localStackContext();
    const resolved = (id: string) =>
      resolveValue(ctx, ctx.template.Resources[id]?.Properties, id) as {
        DatabaseName: string;
        TableInput: {
          Name: string;
          TableType: string;
          Parameters: Record<string, string>;
          ViewOriginalText: string;
          ViewExpandedText: string;
          StorageDescriptor: { Columns: { Name: string; Type: string }[] };
        };
      };
    const table = resolved("SalesTable");
    const view = resolved("SalesOnceView");
    expect(view.DatabaseName).toBe(table.DatabaseName);
    expect(view.TableInput).toMatchObject({
      TableType: "VIRTUAL_VIEW",
      Parameters: { presto_view: "true" },
      ViewExpandedText: "/* Presto View */",
    });
    const encoded = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(view.TableInput.ViewOriginalText)?.[1];
    const definition = JSON.parse(Buffer.from(encoded ?? "", "base64").toString("utf8"));
    const withDt = [...lakeColumns, partitionColumn];
    expect(definition).toEqual({
      originalSql: onceViewSql(lakeColumns),
      catalog: "awsdatacatalog",
      schema: table.DatabaseName,
      columns: withDt.map((c) => ({ name: c.name, type: sqlTypeOf(c.type) })),
      runAsInvoker: true,
    });
    expect(definition.originalSql).toContain(` FROM ${table.TableInput.Name})`);
    expect(definition.originalSql).toContain("PARTITION BY dt, kafka_partition, kafka_offset");
    expect(view.TableInput.StorageDescriptor.Columns.map((c) => ({ name: c.Name, type: c.Type }))).toEqual(withDt);
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
  it("writes one JSON line per sale with the amount's exact decimal text, a Hive timestamp and the country's region", () => {
    const line = lakeJson(sale, 4, 99);
    expect(JSON.parse(lakeJson({ ...sale, country: "Atlantis" }, 0, 0)).region).toBe("Unassigned");
    expect(line.endsWith("\n")).toBe(true);
    expect(line).toContain('"amount":12345678.90,');
    expect(JSON.parse(line)).toMatchObject({
      payment_date: "2022-08-01 23:59:59.999",
      kafka_partition: 4,
      kafka_offset: 99,
      city: null,
      country: "Peru",
      region: "Latin America",
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
