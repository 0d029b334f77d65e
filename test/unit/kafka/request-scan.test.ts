import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { HEADER_RECORD_INDEX, HEADER_REQUEST_ID } from "#shared/kafka/headers";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { RequestScanner } from "#shared/kafka/request-scan";

interface LogRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly headers: Record<string, Buffer>;
}

/** A fake kafkajs client over an in-memory log per partition: offsets by timestamp, watermarks, and a consumer that fetches from where it is sought. */
function fakeKafka(partitions: number, log: Map<number, LogRecord[]>, options: { fetchFails?: boolean } = {}) {
  const calls = { seeks: [] as { partition: number; offset: string }[], groups: [] as string[], readUncommitted: [] as boolean[] };
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicMetadata: async () => ({ topics: [{ name: "sales", partitions: Array.from({ length: partitions }, () => ({})) }] }),
      fetchTopicOffsetsByTimestamp: async (_: string, timestamp: number) =>
        Array.from({ length: partitions }, (_, partition) => {
          const records = log.get(partition) ?? [];
          const first = records.find((r) => r.timestamp >= timestamp);
          return { partition, offset: String(first?.offset ?? records.length) };
        }),
      fetchTopicOffsets: async () =>
        Array.from({ length: partitions }, (_, partition) => ({ partition, high: String((log.get(partition) ?? []).length), low: "0" })),
    }),
    consumer: (config: { groupId: string; readUncommitted: boolean }) => {
      calls.groups.push(config.groupId);
      calls.readUncommitted.push(config.readUncommitted);
      let eachBatch: ((payload: unknown) => Promise<void>) | undefined;
      return {
        connect: async () => undefined,
        subscribe: async () => undefined,
        disconnect: async () => undefined,
        run: async (run: { eachBatch: (payload: unknown) => Promise<void> }) => {
          eachBatch = run.eachBatch;
        },
        seek: ({ partition, offset }: { partition: number; offset: string }) => {
          calls.seeks.push({ partition, offset });
          if (options.fetchFails) return;
          // Two fetches, as a broker may split them.
          const records = (log.get(partition) ?? []).filter((r) => r.offset >= Number(offset));
          const halves = [records.slice(0, 2), records.slice(2)].filter((half) => half.length > 0);
          void (async () => {
            for (const half of halves) {
              await eachBatch?.({
                batch: {
                  partition,
                  messages: half.map((r) => ({ offset: String(r.offset), headers: r.headers })),
                  lastOffset: () => String(half.at(-1)?.offset),
                },
              });
            }
          })();
        },
      };
    },
  };
  return { kafka: kafka as unknown as Kafka, calls };
}

const record = (offset: number, timestamp: number, requestId: string, index: number | string): LogRecord => ({
  offset,
  timestamp,
  headers: { [HEADER_REQUEST_ID]: Buffer.from(requestId), [HEADER_RECORD_INDEX]: Buffer.from(String(index)) },
});

describe("RequestScanner", () => {
  it("finds the request's records from the offset of `since` to the high watermark, read_uncommitted, on its keys' partitions only", async () => {
    const chile = partitionOfKey("Chile", 3);
    const log = new Map<number, LogRecord[]>([
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
    const { kafka, calls } = fakeKafka(3, log);
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
    expect(calls.seeks).toEqual([{ partition: chile, offset: "1" }]);
    expect(calls.readUncommitted).toEqual([true]);
    expect(calls.groups[0]).toMatch(/^recovery-[0-9a-f-]{36}$/);
  });

  it("counts an index found twice and keeps the first, and reads nothing when no partition has records since", async () => {
    const chile = partitionOfKey("Chile", 2);
    const log = new Map([[chile, [record(0, 1000, "r1", 0), record(1, 1000, "r1", 0)]]]);
    const twice = await new RequestScanner(fakeKafka(2, log).kafka, "sales", "g").scan({
      requestId: "r1",
      sinceMs: 0,
      keys: ["Chile"],
      deadline: Date.now() + 5000,
    });
    expect(twice).toEqual({ found: [{ index: 0, partition: chile, offset: "0" }], duplicates: 1 });
    const empty = fakeKafka(2, new Map());
    expect(
      await new RequestScanner(empty.kafka, "sales", "g").scan({
        requestId: "r1",
        sinceMs: 0,
        keys: ["Chile"],
        deadline: Date.now() + 5000,
      }),
    ).toEqual({ found: [], duplicates: 0 });
    expect(empty.calls.groups).toEqual([]);
  });

  it("fails once the deadline passes without reaching the high watermark", async () => {
    const chile = partitionOfKey("Chile", 1);
    const { kafka } = fakeKafka(1, new Map([[chile, [record(0, 1000, "r1", 0)]]]), { fetchFails: true });
    await expect(
      new RequestScanner(kafka, "sales", "g").scan({ requestId: "r1", sinceMs: 0, keys: ["Chile"], deadline: Date.now() + 200 }),
    ).rejects.toThrow(/scanning sales for request r1: no answer before the deadline/);
  });

  it("fails naming the topic when it has no partitions", async () => {
    await expect(
      new RequestScanner(fakeKafka(0, new Map()).kafka, "sales", "g").scan({
        requestId: "r",
        sinceMs: 0,
        keys: ["Chile"],
        deadline: Date.now() + 1000,
      }),
    ).rejects.toThrow("topic sales has no partitions");
  });
});
