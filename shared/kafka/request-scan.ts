import { randomUUID } from "node:crypto";
import { AssignerProtocol, type Kafka, type PartitionAssigner } from "kafkajs";
import { DependencyError, DependencyErrorCode } from "../errors/internal-errors.ts";
import { HEADER_RECORD_INDEX, HEADER_REQUEST_ID } from "./headers.ts";
import { partitionOfKey } from "./partitioner.ts";
import type { Acknowledged } from "./producer.ts";
import { before } from "./producer.ts";

/** What to look for: the records of one ingest request, on the partitions of its keys, written since `sinceMs`. */
export interface ScanQuery {
  readonly requestId: string;
  /** Epoch ms: records with an earlier timestamp are not looked at. */
  readonly sinceMs: number;
  /** The Kafka key of each record of the request (the scan reads only their partitions). */
  readonly keys: readonly string[];
  /** Epoch ms: the scan fails once it passes. */
  readonly deadline: number;
}

/** The records found, by index; `duplicates` counts indices found more than once (kept: the lowest offset). */
export interface ScanResult {
  readonly found: readonly Acknowledged[];
  readonly duplicates: number;
}

/**
 * Finds what earlier attempts of an ingest request wrote: reads the request's partitions from
 * the offset of `sinceMs` up to the high watermark taken when the scan starts, as
 * read_uncommitted (what every reader of the topic counts), and keeps the records whose headers
 * name the request. A throwaway consumer group (`<groupPrefix>-<uuid>`, nothing committed) does
 * the fetching, because kafkajs fetches only through a group. Throws on any Kafka failure and
 * once `deadline` passes; what it returns is complete up to that high watermark.
 */
export class RequestScanner {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #groupPrefix: string;

  constructor(kafka: Kafka, topic: string, groupPrefix: string) {
    this.#kafka = kafka;
    this.#topic = topic;
    this.#groupPrefix = groupPrefix;
  }

  /** See the class. Throws Error naming the topic on failure or deadline. */
  async scan(query: ScanQuery): Promise<ScanResult> {
    const ranges = await before(this.#ranges(query), query.deadline, `finding the offsets of ${this.#topic} to scan`);
    const pending = new Map([...ranges].filter(([, range]) => range.from < range.to));
    const found = new Map<number, Acknowledged>();
    let duplicates = 0;
    if (pending.size === 0) return { found: [], duplicates };

    const consumer = this.#kafka.consumer({
      groupId: `${this.#groupPrefix}-${randomUUID()}`,
      readUncommitted: true,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      retry: { retries: 2 },
      // Only the partitions it reads: the consumer then connects to their leaders only, not to
      // every broker that leads a partition of the topic (connection attempts are a cluster quota).
      partitionAssigners: [onlyPartitions(this.#topic, [...pending.keys()])],
    });
    try {
      await before(
        (async () => {
          await consumer.connect();
          await consumer.subscribe({ topic: this.#topic, fromBeginning: false });
          let done: () => void = () => undefined;
          const finished = new Promise<void>((resolve) => {
            done = resolve;
          });
          await consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const range = pending.get(batch.partition);
              if (range === undefined) return;
              for (const message of batch.messages) {
                if (BigInt(message.offset) >= range.to) break;
                if (header(message.headers?.[HEADER_REQUEST_ID]) !== query.requestId) continue;
                const index = Number(header(message.headers?.[HEADER_RECORD_INDEX]));
                if (!Number.isInteger(index)) continue;
                if (found.has(index)) duplicates++;
                else found.set(index, { index, partition: batch.partition, offset: message.offset });
              }
              if (BigInt(batch.lastOffset()) + 1n >= range.to) {
                pending.delete(batch.partition);
                if (pending.size === 0) done();
              }
            },
          });
          for (const [partition, range] of pending) consumer.seek({ topic: this.#topic, partition, offset: range.from.toString() });
          await finished;
        })(),
        query.deadline,
        `scanning ${this.#topic} for request ${query.requestId}`,
      );
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return { found: [...found.values()].sort((a, b) => a.index - b.index), duplicates };
  }

  async #ranges(query: ScanQuery): Promise<Map<number, { from: bigint; to: bigint }>> {
    const admin = this.#kafka.admin({ retry: { retries: 1 } });
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [this.#topic] });
      const partitions = metadata.topics[0]?.partitions.length ?? 0;
      if (partitions === 0) throw new DependencyError(DependencyErrorCode.unreachable, `topic ${this.#topic} has no partitions`);
      const wanted = new Set(query.keys.map((key) => partitionOfKey(key, partitions)));
      const [starts, ends] = await Promise.all([
        admin.fetchTopicOffsetsByTimestamp(this.#topic, Math.max(0, query.sinceMs)),
        admin.fetchTopicOffsets(this.#topic),
      ]);
      const ranges = new Map<number, { from: bigint; to: bigint }>();
      for (const partition of wanted) {
        const from = starts.find((p) => p.partition === partition)?.offset;
        const to = ends.find((p) => p.partition === partition)?.high;
        if (from === undefined || to === undefined)
          throw new DependencyError(DependencyErrorCode.unreachable, `no offsets for partition ${partition} of ${this.#topic}`);
        ranges.set(partition, { from: BigInt(from), to: BigInt(to) });
      }
      return ranges;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

const ASSIGNER = "RequestScanPartitions";

/** Gives the group's member (the scan's group has one) exactly `partitions` of `topic`; any other member nothing. */
export function onlyPartitions(topic: string, partitions: readonly number[]): PartitionAssigner {
  const encode = (assignment: Record<string, number[]>) =>
    AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) });
  return () => ({
    name: ASSIGNER,
    version: 1,
    protocol: ({ topics }) => ({
      name: ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    }),
    assign: async ({ members }) =>
      members.map(({ memberId }, index) => ({ memberId, memberAssignment: encode(index === 0 ? { [topic]: [...partitions] } : {}) })),
  });
}

function header(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : one.toString();
}
