import { describe, expect, it } from "vitest";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { CodecError } from "#shared/avro/errors";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { MemorySchemaSource, V2_ID } from "#test/support/fakes/registry";
import { sampleSales, seededRandom } from "#tools/sales/generator";

/** Mutations a hostile or broken producer could send: flipped bytes, cut frames, spliced garbage. */
function mutate(frame: Buffer, random: () => number): Buffer {
  const copy = Buffer.from(frame);
  switch (Math.floor(random() * 4)) {
    case 0: {
      const flips = 1 + Math.floor(random() * 4);
      for (let i = 0; i < flips; i++) copy[18 + Math.floor(random() * (copy.length - 18))] = Math.floor(random() * 256);
      return copy;
    }
    case 1:
      return copy.subarray(0, Math.floor(random() * copy.length));
    case 2:
      return Buffer.concat([copy, Buffer.from(Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256)))]);
    default: {
      const garbage = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      if (garbage.length > 2 && random() < 0.7) {
        garbage[0] = 3;
        garbage[1] = random() < 0.5 ? 0 : 5;
      }
      return garbage;
    }
  }
}

describe("decoding hostile frames", () => {
  it("turns thousands of fuzzed and truncated frames into values or typed errors only, quickly", async () => {
    const random = seededRandom(42);
    const decoder = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    const plain = new GlueAvroEncoder<Sale>(currentSalesSchema, V2_ID);
    const zipped = new GlueAvroEncoder<Sale>(currentSalesSchema, V2_ID, "zlib");
    const seeds = sampleSales(200, { seed: 3 }).flatMap((sale) => [plain.encode(sale), zipped.encode(sale)]);
    const cases = Array.from({ length: 20_000 }, (_, i) => mutate(seeds[i % seeds.length] as Buffer, random));
    await decoder.load(cases);
    const codes = new Map<string, number>();
    let decoded = 0;
    const started = performance.now();
    for (const frame of cases) {
      try {
        decoder.decode(frame);
        decoded++;
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError);
        const code = (error as CodecError).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    const ms = performance.now() - started;
    console.log(
      `fuzz: ${cases.length} frames in ${ms.toFixed(0)} ms; decoded ${decoded}; errors ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect([...codes.keys()]).toEqual(expect.arrayContaining(["TRUNCATED_FRAME", "CORRUPT_BODY", "UNKNOWN_SCHEMA_VERSION"]));
    expect(decoded + [...codes.values()].reduce((a, b) => a + b, 0)).toBe(cases.length);
  });
});
