import { describe, expect, it } from "vitest";
import { type IngestAccepted, packAnswer, unpackAnswer } from "#functions/ingest/answer";
import { InvariantError } from "#shared/errors/internal-errors";
import { partitionOfKey } from "#shared/kafka/partitioner";

const COUNTRIES = ["India", "France", "Chile", "United States", "Japan", "Brazil", "Kenya", "Germany"];

/** The 202 one produce request gives `keys`: per partition, consecutive offsets from a base. */
function answered(keys: readonly string[], partitions: number, base = (p: number) => 1_000n * BigInt(p + 1)): IngestAccepted {
  const next = new Map<number, bigint>();
  const records = keys.map((key, index) => {
    const partition = partitionOfKey(key, partitions);
    const offset = next.get(partition) ?? base(partition);
    next.set(partition, offset + 1n);
    return { index, partition, offset: offset.toString() };
  });
  return { accepted: records.length, correlationId: "till-7/42", records };
}

const keysOf = (count: number) => Array.from({ length: count }, (_, i) => COUNTRIES[(i * 7 + (i >> 2)) % COUNTRIES.length] as string);

describe("the 202 kept in the request ledger", () => {
  it.each([1, 17, 500, 5000])("keeps %i records in a few hundred bytes and gives the same 202 back", (count) => {
    const keys = keysOf(count);
    const accepted = answered(keys, 6);
    const kept = packAnswer(accepted, keys, 6);
    expect(Buffer.byteLength(kept)).toBeLessThan(400);
    expect(unpackAnswer(kept, keys)).toEqual(accepted);
  });

  it("keeps offsets of offsets above 2^53 exactly", () => {
    const keys = keysOf(40);
    const accepted = answered(keys, 3, (p) => 9_007_199_254_740_993n + BigInt(p) * 100n);
    expect(unpackAnswer(packAnswer(accepted, keys, 3), keys)).toEqual(accepted);
  });

  it("keeps a partition's gaps as separate runs (a recovery found some records, wrote the rest later)", () => {
    const keys = keysOf(60);
    const first = answered(keys, 4);
    // Records 30 and on were written by the retry, 500 offsets further on their partitions.
    const records = first.records.map((record) =>
      record.index < 30 ? record : { ...record, offset: (BigInt(record.offset) + 500n).toString() },
    );
    const accepted = { ...first, records };
    const kept = packAnswer(accepted, keys, 4);
    expect(JSON.parse(kept).p.flatMap(([, runs]: [number, unknown[]]) => runs).length).toBeGreaterThan(4);
    expect(unpackAnswer(kept, keys)).toEqual(accepted);
  });

  it("keeps the whole 202 when a record is not where the partition count puts its key", () => {
    const keys = keysOf(10);
    const accepted = answered(keys, 6);
    const moved = { ...accepted, records: accepted.records.map((r, i) => (i === 3 ? { ...r, partition: (r.partition + 1) % 6 } : r)) };
    expect(packAnswer(moved, keys, 6)).toBe(JSON.stringify(moved));
    expect(packAnswer(accepted, keys, undefined)).toBe(JSON.stringify(accepted));
    expect(unpackAnswer(JSON.stringify(moved), keys)).toEqual(moved);
  });

  it("refuses a kept answer that does not fit the request's records", () => {
    const keys = keysOf(12);
    const kept = packAnswer(answered(keys, 6), keys, 6);
    expect(() => unpackAnswer(kept, [...keys, "India"])).toThrow(InvariantError);
    expect(() => unpackAnswer(kept, keys.slice(1))).toThrow(/more offsets/);
  });
});
