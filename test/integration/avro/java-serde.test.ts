import { join } from "node:path";
import { localClients, localStackContext, paths, physicalName } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { buildJavaHarness, javaDecode, javaEncode } from "#test/support/java-serde";
import { decodeAll } from "#test/support/schemas";
import { sampleSales } from "#tools/sales/generator";

const { glue } = localClients();
const ctx = localStackContext();
const registryName = physicalName(ctx, "SchemaRegistry");
const schemaName = physicalName(ctx, "SalesSchema");
const sales = sampleSales(300, { seed: 11 });
const withoutChannel = ({ channel: _channel, ...rest }: Sale) => rest;

const writers = [
  {
    version: 1,
    file: join(paths.projectRoot, "schemas", "sales-v1.json"),
    schema: salesSchemaVersions[0],
    records: sales.map(withoutChannel),
  },
  { version: 2, file: join(paths.projectRoot, "schemas", "sales-v2.json"), schema: salesSchemaVersions[1], records: sales },
] as const;
const compressions = [
  ["NONE", "none"],
  ["ZLIB", "zlib"],
] as const;

beforeAll(() => buildJavaHarness(), 600_000);
afterAll(() => glue.destroy());

describe("compatibility with the official Java serde (software.amazon.glue:schema-registry-serde)", () => {
  for (const writer of writers) {
    for (const [javaCompression, compression] of compressions) {
      it(`decodes what Java wrote with the v${writer.version} schema, compression ${javaCompression}, field by field`, async () => {
        const frames = javaEncode(registryName, schemaName, writer.file, javaCompression, [...writer.records]);
        expect(frames).toHaveLength(sales.length);
        expect(frames.every((f) => f[0] === 3 && f[1] === (compression === "zlib" ? 5 : 0))).toBe(true);
        const decoder = new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(glue), currentSalesSchema);
        const decoded = await decodeAll(decoder, frames);
        decoded.forEach((result, i) => {
          const expected = writer.version === 1 ? { ...sales[i], channel: "store" } : sales[i];
          expect(result, `record ${i}`).toEqual({ ok: true, value: expected });
        });
      });

      it(`writes v${writer.version} frames, compression ${javaCompression}, that Java reads back field by field`, async () => {
        const registry = new GlueSchemaRegistry(glue);
        const id = await registry.getVersionIdForDefinition({ registryName, schemaName, definition: JSON.stringify(writer.schema) });
        const encoder = new GlueAvroEncoder<object>(writer.schema, id, compression);
        const ours = writer.records.map((record) => encoder.encode(record));
        const readByJava = javaDecode(ours);
        expect(readByJava).toEqual(writer.records.map((record) => ({ ...record })));
        if (compression === "none") {
          // Same schema version, same record: the uncompressed frames are byte for byte the same.
          const javas = javaEncode(registryName, schemaName, writer.file, "NONE", [...writer.records]);
          expect(Buffer.concat(ours).equals(Buffer.concat(javas))).toBe(true);
        }
      });
    }
  }
});
