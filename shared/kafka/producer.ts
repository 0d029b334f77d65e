import { type Admin, type IHeaders, type Kafka, Partitioners, type Producer } from "kafkajs";

/** One record to produce. */
export interface OutgoingRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: IHeaders;
}

/** Where Kafka put a record, once every in-sync replica has it. */
export interface Acknowledged {
  readonly index: number;
  readonly partition: number;
  readonly offset: string;
}

/** The outcome of producing a batch: each record is either acknowledged or not, never unknown to the caller. */
export interface ProduceOutcome {
  readonly acknowledged: readonly Acknowledged[];
  /** Indexes of records Kafka did not acknowledge (they may or may not have been written). */
  readonly failed: readonly number[];
  readonly error: Error | undefined;
}

const partitionFor = Partitioners.DefaultPartitioner();

/**
 * An idempotent, acks=all producer created once per container and reused while warm. Records
 * get their partition here (murmur2 of the key, as Java's default partitioner) and each
 * partition's records are one request, sent in parallel: kafkajs fails a whole request on one
 * partition's error, so a request per partition is what tells exactly which records were acknowledged. A failed send drops the connection
 * and the metadata; the next call reconnects (broker restarts, idle disconnects, expired tokens).
 */
export class PartitionedProducer {
  readonly #kafka: Kafka;
  readonly #topic: string;
  #producer: Producer | undefined;
  #admin: Admin | undefined;
  #connecting: Promise<void> | undefined;
  /** Leader broker id of each partition, by partition id. */
  #leaders: number[] | undefined;

  constructor(kafka: Kafka, topic: string) {
    this.#kafka = kafka;
    this.#topic = topic;
  }

  async #connect(): Promise<void> {
    if (this.#producer !== undefined && this.#leaders !== undefined) return;
    this.#connecting ??= (async () => {
      const producer = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 2 },
      });
      const admin = this.#kafka.admin({ retry: { retries: 1 } });
      try {
        await Promise.all([producer.connect(), admin.connect()]);
        const metadata = await admin.fetchTopicMetadata({ topics: [this.#topic] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length === 0) throw new Error(`topic ${this.#topic} has no partitions`);
        const leaders: number[] = [];
        for (const partition of partitions) leaders[partition.partitionId] = partition.leader;
        this.#producer = producer;
        this.#admin = admin;
        this.#leaders = leaders;
      } catch (error) {
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
        throw error;
      }
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Forgets the connection so the next call starts afresh. */
  async reset(): Promise<void> {
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = undefined;
    this.#admin = undefined;
    this.#leaders = undefined;
    await Promise.allSettled([producer?.disconnect(), admin?.disconnect()]);
  }

  /** Produces the records; never throws for Kafka failures (they are in the outcome's `failed`). */
  async send(records: readonly OutgoingRecord[]): Promise<ProduceOutcome> {
    try {
      await this.#connect();
    } catch (error) {
      return { acknowledged: [], failed: records.map((_, index) => index), error: error as Error };
    }
    const producer = this.#producer as Producer;
    const leaders = this.#leaders as number[];
    const partitionMetadata = leaders.map((leader, partitionId) => ({
      partitionId,
      partitionErrorCode: 0,
      leader,
      replicas: [leader],
      isr: [leader],
    }));
    const partitionOf = records.map((record) =>
      partitionFor({ topic: this.#topic, partitionMetadata, message: { key: record.key, value: record.value } }),
    );
    const groups = new Map<number, number[]>();
    records.forEach((_, index) => {
      const partition = partitionOf[index] as number;
      const group = groups.get(partition);
      if (group === undefined) groups.set(partition, [index]);
      else group.push(index);
    });
    const results = await Promise.allSettled(
      [...groups.values()].map(async (indexes) => {
        const written = await producer.send({
          topic: this.#topic,
          acks: -1,
          messages: indexes.map((index) => {
            const record = records[index] as OutgoingRecord;
            return { key: record.key, value: record.value, headers: record.headers, partition: partitionOf[index] as number };
          }),
        });
        // Offsets within one partition are consecutive from its base offset, in send order.
        const next = new Map(written.map((meta) => [meta.partition, BigInt(meta.baseOffset ?? "-1")]));
        return indexes.map((index) => {
          const partition = partitionOf[index] as number;
          const offset = next.get(partition) ?? -1n;
          next.set(partition, offset + 1n);
          return { index, partition, offset: offset.toString() };
        });
      }),
    );
    const acknowledged: Acknowledged[] = [];
    const failed: number[] = [];
    let error: Error | undefined;
    [...groups.values()].forEach((indexes, i) => {
      const result = results[i];
      if (result?.status === "fulfilled") acknowledged.push(...result.value);
      else {
        failed.push(...indexes);
        error ??= result?.reason as Error;
      }
    });
    if (error !== undefined) await this.reset();
    acknowledged.sort((a, b) => a.index - b.index);
    failed.sort((a, b) => a - b);
    return { acknowledged, failed, error };
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
