import type avro from "avsc";
import { describe, expect, it } from "vitest";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { CodecError, RegistryUnavailableError } from "#shared/avro/errors";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { MemorySchemaSource, V1_ID, V2_ID } from "#test/support/fakes/registry";
import { decodeAll } from "#test/support/schemas";
import { sampleSales } from "#tools/sales/generator";

const [v1Schema, v2Schema] = salesSchemaVersions;
const sales = sampleSales(50, { seed: 7 });
const v1Encoder = new GlueAvroEncoder<Omit<Sale, "channel">>(v1Schema, V1_ID);
const v2Encoder = new GlueAvroEncoder<Sale>(v2Schema, V2_ID, "zlib");
const withoutChannel = ({ channel: _channel, ...rest }: Sale) => rest;

describe("GlueAvroDecoder", () => {
  it("reads v1 and v2 writers into the current reader, defaulting v1's missing channel", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    const frames = sales.map((sale, i) => (i % 2 === 0 ? v1Encoder.encode(withoutChannel(sale)) : v2Encoder.encode(sale)));
    const decoded = await decodeAll(decoder, frames);
    decoded.forEach((result, i) => {
      const sale = sales[i] as Sale;
      expect(result).toEqual({ ok: true, value: i % 2 === 0 ? { ...sale, channel: "store" } : sale });
    });
  });

  it("keeps money exact and timestamps to the millisecond", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    const base = sales[0] as Sale;
    const edge = [
      { ...base, amount: "0.10", payment_date: Date.UTC(2022, 7, 31, 23, 59, 59, 999) },
      { ...base, amount: "0.20", payment_date: 0 },
      { ...base, amount: "99999999.99", payment_date: -1 },
      { ...base, amount: "-12.34", payment_date: 253402300799999 },
    ];
    const decoded = await decodeAll(
      decoder,
      edge.map((sale) => v2Encoder.encode(sale)),
    );
    expect(decoded.map((r) => (r.ok ? [r.value.amount, r.value.payment_date] : r.error.code))).toEqual(
      edge.map((s) => [s.amount, s.payment_date]),
    );
  });

  it("fetches each writer schema once and builds its resolver once, however many records", async () => {
    const source = new MemorySchemaSource();
    const decoder = new GlueAvroDecoder<Sale>(source, currentSalesSchema);
    const frames = Array.from({ length: 1000 }, (_, i) => v1Encoder.encode(withoutChannel(sales[i % sales.length] as Sale)));
    await decodeAll(decoder, frames);
    await decodeAll(decoder, frames);
    expect(source.lookups).toBe(1);
  });

  it("fails only the records of an unknown schema version, each with its own error", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource({ [V2_ID]: v2Schema }), currentSalesSchema);
    const decoded = await decodeAll(decoder, [v2Encoder.encode(sales[0] as Sale), v1Encoder.encode(withoutChannel(sales[1] as Sale))]);
    expect(decoded[0]?.ok).toBe(true);
    expect(decoded[1]).toMatchObject({ ok: false, error: { code: "UNKNOWN_SCHEMA_VERSION", message: expect.stringContaining(V1_ID) } });
  });

  it("reports a writer that cannot resolve to the reader as INCOMPATIBLE_SCHEMA", async () => {
    const incompatibleId = "11111111-2222-4333-8444-555555555555";
    const writer: avro.Schema = {
      type: "record",
      name: "Sale",
      namespace: "salesstream",
      fields: [{ name: "payment_id", type: "string" }],
    };
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource({ [incompatibleId]: writer }), currentSalesSchema);
    const frame = new GlueAvroEncoder<{ payment_id: string }>(writer, incompatibleId).encode({ payment_id: "x" });
    const [result] = await decodeAll(decoder, [frame]);
    expect(result).toMatchObject({ ok: false, error: { code: "INCOMPATIBLE_SCHEMA" } });
  });

  it("throws the retriable registry error from load, so the batch is retried, not dead-lettered", async () => {
    const down = new MemorySchemaSource();
    down.before = () => Promise.reject(new RegistryUnavailableError("throttled", undefined));
    const decoder = new GlueAvroDecoder<Sale>(down, currentSalesSchema);
    await expect(decodeAll(decoder, [v2Encoder.encode(sales[0] as Sale)])).rejects.toMatchObject({
      retriable: true,
      code: "SCHEMA_REGISTRY_UNAVAILABLE",
    });
  });

  it("ends load only when every lookup has ended: no lookup of a failed batch goes on calling the registry", async () => {
    let slowEnded = false;
    const source = new MemorySchemaSource();
    source.before = async (id) => {
      if (id === V1_ID) throw new RegistryUnavailableError("throttled", undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
      slowEnded = true;
    };
    const decoder = new GlueAvroDecoder<Sale>(source, currentSalesSchema);
    const frames = [v1Encoder.encode(withoutChannel(sales[0] as Sale)), v2Encoder.encode(sales[1] as Sale)];
    await expect(decoder.load(frames)).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(slowEnded).toBe(true);
  });

  it("decodes a string length of 2^40 as a corrupt body at once, without allocating it", async () => {
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    const good = new GlueAvroEncoder<Sale>(v2Schema, V2_ID).encode(sales[0] as Sale);
    // Body: payment_id, customer_id, then a zig-zag varint of 2^41 (= length 2^40) where amount's length goes.
    const hostile = Buffer.concat([
      good.subarray(0, 18),
      Buffer.from([0x02, 0x02]),
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]),
      Buffer.alloc(8),
    ]);
    await decoder.load([hostile]);
    const started = performance.now();
    expect(() => decoder.decode(hostile)).toThrow(CodecError);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("GlueAvroEncoder", () => {
  it("names the field that does not fit the writer schema", () => {
    const bad = { ...(sales[0] as Sale), country: 42 } as unknown as Sale;
    expect(() => new GlueAvroEncoder<Sale>(v2Schema, V2_ID).encode(bad)).toThrow(/at country/);
  });

  it("refuses an amount with more places than the schema's scale instead of rounding", () => {
    const bad = { ...(sales[0] as Sale), amount: "1.999" };
    expect(() => new GlueAvroEncoder<Sale>(v2Schema, V2_ID).encode(bad)).toThrow(/3 decimal places/);
  });
});
