import { Partitioners } from "kafkajs";
import { describe, expect, it } from "vitest";
import { murmur2, partitionOfKey } from "#shared/kafka/partitioner";
import { knownCountries } from "#shared/sales/regions";

const kafkajs = Partitioners.DefaultPartitioner();
const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe("Kafka's default partitioner", () => {
  it("puts every key where kafkajs' DefaultPartitioner (the ingest producer's) does", () => {
    const keys = [
      ...knownCountries,
      "",
      "é",
      "Côte d'Ivoire",
      "日本",
      ...Array.from({ length: 2000 }, (_, i) => `Country ${i} ${"ab".repeat(i % 7)}`),
    ];
    for (const partitions of [1, 2, 6, 7, 64, 120]) {
      const expected = keys.map((key) => kafkajs({ topic: "sales", partitionMetadata: metadata(partitions), message: { key, value: "" } }));
      expect(keys.map((key) => partitionOfKey(key, partitions))).toEqual(expected);
    }
  });

  it("matches Java's murmur2 on known vectors and refuses a partition count below one", () => {
    // Values from Apache Kafka's UtilsTest (murmur2 of these strings' UTF-8 bytes).
    expect(murmur2(Buffer.from("21"))).toBe(-973932308);
    expect(murmur2(Buffer.from("foobar"))).toBe(-790332482);
    expect(murmur2(Buffer.from("a-little-bit-long-string"))).toBe(-985981536);
    expect(() => partitionOfKey("France", 0)).toThrow(RangeError);
  });
});
