import { AssignerProtocol, type Cluster } from "kafkajs";
import { describe, expect, it } from "vitest";
import { HEADER_RECORD_INDEX, HEADER_REQUEST_ID } from "#shared/kafka/headers";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { type onlyPartitions, RequestScanner } from "#shared/kafka/request-scan";
import { type FakeRecord, fakeKafka } from "#test/support/fakes/kafka";

/** The fake cluster holding topic `sales` with `partitions` partitions and `log` as its records. */
function salesTopic(partitions: number, log: Map<number, FakeRecord[]>, options: { fetchFails?: boolean } = {}) {
  const kafka = fakeKafka({ topics: { sales: partitions }, log: { sales: log } });
  kafka.script.fetches = options.fetchFails !== true;
  return { kafka: kafka.client, calls: kafka.calls };
}

const record = (offset: number, timestamp: number, requestId: string, index: number | string): FakeRecord => ({
  offset,
  timestamp,
  headers: { [HEADER_REQUEST_ID]: Buffer.from(requestId), [HEADER_RECORD_INDEX]: Buffer.from(String(index)) },
});

describe("RequestScanner", () => {
  it("finds the request's records from the offset of `since` to the high watermark, read_uncommitted, on its keys' partitions only", async () => {
    const chile = partitionOfKey("Chile", 3);
    const log = new Map<number, FakeRecord[]>([
      [
        chile,
        [
          record(0, 100, "r1", 0),
          record(1, 900, "other", 0),
          record(2, 1000, "r1", 1),
          record(3, 1001, "r1", 2),
          record(4, 1002, "r1", "x"),
        ],
      ],
    ]);
    const { kafka, calls } = salesTopic(3, log);
    const scanner = new RequestScanner(kafka, "sales", "recovery");
    const result = await scanner.scan({ requestId: "r1", sinceMs: 500, keys: ["Chile", "Chile"], deadline: Date.now() + 5000 });
    // Record 0 is older than `since`; "other" is another request; "x" is no index.
    expect(result).toEqual({
      found: [
        { index: 1, partition: chile, offset: "2" },
        { index: 2, partition: chile, offset: "3" },
      ],
      duplicates: 0,
    });
    expect(calls.seeks).toEqual([{ topic: "sales", partition: chile, offset: "1" }]);
    expect(calls.consumers.map((c) => c.readUncommitted)).toEqual([true]);
    expect(calls.consumers[0]?.groupId).toMatch(/^recovery-[0-9a-f-]{36}$/);
  });

  it("counts an index found twice and keeps the first, and reads nothing when no partition has records since", async () => {
    const chile = partitionOfKey("Chile", 2);
    const log = new Map([[chile, [record(0, 1000, "r1", 0), record(1, 1000, "r1", 0)]]]);
    const twice = await new RequestScanner(salesTopic(2, log).kafka, "sales", "g").scan({
      requestId: "r1",
      sinceMs: 0,
      keys: ["Chile"],
      deadline: Date.now() + 5000,
    });
    expect(twice).toEqual({ found: [{ index: 0, partition: chile, offset: "0" }], duplicates: 1 });
    const empty = salesTopic(2, new Map());
    expect(
      await new RequestScanner(empty.kafka, "sales", "g").scan({
        requestId: "r1",
        sinceMs: 0,
        keys: ["Chile"],
        deadline: Date.now() + 5000,
      }),
    ).toEqual({ found: [], duplicates: 0 });
    expect(empty.calls.consumers).toEqual([]);
  });

  it("fails once the deadline passes without reaching the high watermark", async () => {
    const chile = partitionOfKey("Chile", 1);
    const { kafka } = salesTopic(1, new Map([[chile, [record(0, 1000, "r1", 0)]]]), { fetchFails: true });
    await expect(
      new RequestScanner(kafka, "sales", "g").scan({ requestId: "r1", sinceMs: 0, keys: ["Chile"], deadline: Date.now() + 200 }),
    ).rejects.toThrow(/scanning sales for request r1: no answer before the deadline/);
  });

  it("fails naming the topic when it has no partitions", async () => {
    await expect(
      new RequestScanner(salesTopic(0, new Map()).kafka, "sales", "g").scan({
        requestId: "r",
        sinceMs: 0,
        keys: ["Chile"],
        deadline: Date.now() + 1000,
      }),
    ).rejects.toThrow("topic sales has no partitions");
  });

  it("has its consumer assigned only the partitions it reads, so it connects to no other partition's leader", async () => {
    const chile = partitionOfKey("Chile", 6);
    const { kafka, calls } = salesTopic(6, new Map([[chile, [record(0, 1000, "r1", 0)]]]));
    await new RequestScanner(kafka, "sales", "g").scan({ requestId: "r1", sinceMs: 0, keys: ["Chile"], deadline: Date.now() + 5000 });
    const assigners = calls.consumers[0]?.partitionAssigners ?? [];
    expect(assigners).toHaveLength(1);
    const assigner = (assigners[0] as (config: { cluster: Cluster }) => ReturnType<ReturnType<typeof onlyPartitions>>)({
      cluster: {} as Cluster,
    });
    const members = [
      { memberId: "a", memberMetadata: Buffer.alloc(0) },
      { memberId: "b", memberMetadata: Buffer.alloc(0) },
    ];
    const assigned = await assigner.assign({ members, topics: ["sales"] });
    expect(assigned.map((a) => [a.memberId, AssignerProtocol.MemberAssignment.decode(a.memberAssignment)?.assignment])).toEqual([
      ["a", { sales: [chile] }],
      ["b", {}],
    ]);
    expect(AssignerProtocol.MemberMetadata.decode(assigner.protocol({ topics: ["sales"] }).metadata)?.topics).toEqual(["sales"]);
  });
});
