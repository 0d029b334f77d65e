import * as kafkajs from "kafkajs";
import { type Admin, type IHeaders, type Kafka, Partitioners, type PartitionMetadata, type Producer, type ProducerConfig } from "kafkajs";

/** One record to produce. */
export interface OutgoingRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: IHeaders;
}

/** Where Kafka put a record. */
export interface Acknowledged {
  readonly index: number;
  readonly partition: number;
  readonly offset: string;
}

/**
 * The outcome of producing a batch in one Kafka transaction. There is no partial outcome:
 * - `committed`: every record is written and visible to read_committed consumers;
 * - `aborted`: no record will ever be visible to them (the commit was never sent, or Kafka refused it);
 * - `unknown`: the commit was sent but Kafka gave no definite answer before the retries ran out.
 *   Kafka decides on its own: a commit that reached the coordinator completes, otherwise the
 *   transaction is aborted when it times out or when this transactional id is next initialised.
 */
export type ProduceOutcome =
  | { readonly status: "committed"; readonly records: readonly Acknowledged[] }
  | { readonly status: "aborted" | "unknown"; readonly error: Error };

export interface TransactionalProducerOptions {
  /** Unique per producer instance (one Lambda container): Kafka fences an older producer with the same id. */
  readonly transactionalId: string;
  /** How long an open transaction may last before Kafka aborts it (a container frozen or killed mid-request). */
  readonly transactionTimeoutMs: number;
  /** How a commit keeps asking when the coordinator is unreachable or busy. */
  readonly commitRetry: NonNullable<ProducerConfig["retry"]>;
  /** After this long without a definite answer to the commit, the outcome is `unknown`. */
  readonly commitDeadlineMs: number;
}

/** Kafka's definite refusals of EndTxn(commit): the transaction did not and will not commit. */
const REFUSED = new Set([
  "INVALID_PRODUCER_EPOCH",
  "INVALID_TXN_STATE",
  "INVALID_PRODUCER_ID_MAPPING",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

const partitionFor = Partitioners.DefaultPartitioner();

/** patches/kafkajs+2.2.4.patch marks the module; without it commits are sent once and `endTransactionRetry` is ignored. */
function kafkajsIsPatched(): boolean {
  type Marked = { endTransactionRetrySupported?: boolean };
  const module = kafkajs as Marked & { default?: Marked };
  return (module.default ?? module).endTransactionRetrySupported === true;
}

/** How long an abort after a failed send may hold the answer up. */
const ABORT_WAIT_MS = 1000;

/** Retries of a transaction's sends: about 0.8 s in all before the request is answered 503. */
export const TRANSACTIONAL_SEND_RETRY = { retries: 5, initialRetryTime: 25, maxRetryTime: 1000 } as const;

/**
 * A transactional (hence idempotent, acks=all) producer, created once per container and reused
 * while warm. Each `send` is one Kafka transaction, so a batch is written whole or not at all
 * for read_committed consumers: a failure before the commit aborts it, and only a commit whose
 * answer never comes leaves the outcome to Kafka. Records get their partition here (murmur2 of
 * the key, as Java's default partitioner), so each record's offset is known from its partition's
 * base offset. Sends are serialised (Kafka allows one open transaction per transactional id). A
 * failure drops the connection; the next send reconnects and re-initialises the same
 * transactional id, which makes Kafka finish whatever the failed transaction left open.
 */
export class TransactionalProducer {
  readonly #kafka: Kafka;
  readonly #topic: string;
  readonly #options: TransactionalProducerOptions;
  #producer: Producer | undefined;
  #admin: Admin | undefined;
  /** What the partitioner needs to know of the topic: only how many partitions it has. */
  #partitionMetadata: PartitionMetadata[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  /** Bumped by every reset: a connect begun before it must not install its producer after it. */
  #generation = 0;

  constructor(kafka: Kafka, topic: string, options: TransactionalProducerOptions) {
    if (!kafkajsIsPatched())
      throw new Error("kafkajs is not patched: install with npm so that postinstall applies patches/kafkajs+2.2.4.patch");
    this.#kafka = kafka;
    this.#topic = topic;
    this.#options = options;
  }

  /**
   * Produces the records in one transaction; never throws for Kafka failures (they are in the
   * outcome). `deadline` (epoch ms) bounds the whole call: past it before the commit is sent,
   * the transaction is given up (aborted); past it during the commit, the outcome is unknown.
   */
  send(records: readonly OutgoingRecord[], deadline = Number.POSITIVE_INFINITY): Promise<ProduceOutcome> {
    const result = this.#queue.then(() => this.#send(records, deadline));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #send(records: readonly OutgoingRecord[], deadline: number): Promise<ProduceOutcome> {
    let transaction: Awaited<ReturnType<Producer["transaction"]>>;
    try {
      transaction = await before(
        this.#connect().then((producer) => producer.transaction()),
        deadline,
        "connecting and starting the transaction",
      );
    } catch (error) {
      await this.reset();
      return { status: "aborted", error: error as Error };
    }

    const partitionOf = this.#partitionsOf(records);
    let written: Awaited<ReturnType<Producer["sendBatch"]>>;
    try {
      written = await before(
        transaction.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic: this.#topic,
              messages: records.map((record, index) => ({
                key: record.key,
                value: record.value,
                headers: record.headers,
                partition: partitionOf[index] as number,
              })),
            },
          ],
        }),
        deadline,
        "producing",
      );
      // Every partition written to must report where its records went, or no offset can be answered.
      const acknowledged = new Set(written.filter((meta) => meta.baseOffset !== undefined).map((meta) => meta.partition));
      const missing = [...new Set(partitionOf)].filter((partition) => !acknowledged.has(partition));
      if (missing.length > 0) throw new Error(`no acknowledgement for partition(s) ${missing.join(", ")} of ${this.#topic}`);
    } catch (error) {
      // The commit was never sent, so nothing will ever be visible. Abort now (briefly) so
      // read_committed readers move on at once; otherwise the next send's re-initialisation of
      // this transactional id, or the transaction timeout, aborts it.
      await before(transaction.abort(), Math.min(deadline, Date.now() + ABORT_WAIT_MS), "aborting").catch(() => undefined);
      await this.reset();
      return { status: "aborted", error: error as Error };
    }

    try {
      await before(transaction.commit(), Math.min(deadline, Date.now() + this.#options.commitDeadlineMs), "committing");
    } catch (error) {
      await this.reset();
      const refused = REFUSED.has((error as { type?: string }).type ?? "");
      return { status: refused ? "aborted" : "unknown", error: error as Error };
    }
    return { status: "committed", records: offsetsOf(partitionOf, written) };
  }

  async #connect(): Promise<Producer> {
    if (this.#producer !== undefined) return this.#producer;
    const generation = this.#generation;
    const producer = this.#kafka.producer({
      transactionalId: this.#options.transactionalId,
      transactionTimeout: this.#options.transactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // A transaction's first send meets CONCURRENT_TRANSACTIONS while Kafka still writes the
      // previous one's markers (a few ms): retry soon, as Java's producer does, not after 300 ms.
      retry: TRANSACTIONAL_SEND_RETRY,
      // Read by patches/kafkajs+2.2.4.patch: kafkajs sends EndTxn once; the patch repeats it.
      endTransactionRetry: this.#options.commitRetry,
    } as ProducerConfig);
    const admin = this.#kafka.admin({ retry: { retries: 1 } });
    try {
      await Promise.all([producer.connect(), admin.connect()]);
      const metadata = await admin.fetchTopicMetadata({ topics: [this.#topic] });
      const partitions = metadata.topics[0]?.partitions.length ?? 0;
      if (partitions === 0) throw new Error(`topic ${this.#topic} has no partitions`);
      // The send that started this connect gave up (its deadline passed) and reset: installing
      // this producer now would let the transaction it was about to begin stay open, and the
      // next send would meet "already an ongoing transaction". Close it instead.
      if (generation !== this.#generation) throw new Error("connected after the send that asked for it had given up");
      this.#producer = producer;
      this.#admin = admin;
      this.#partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        partitionErrorCode: 0,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      return producer;
    } catch (error) {
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      throw error;
    }
  }

  #partitionsOf(records: readonly OutgoingRecord[]): number[] {
    const partitionMetadata = this.#partitionMetadata;
    return records.map((record) =>
      partitionFor({ topic: this.#topic, partitionMetadata, message: { key: record.key, value: record.value } }),
    );
  }

  /** Forgets the connection so the next send starts afresh. */
  async reset(): Promise<void> {
    this.#generation++;
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = undefined;
    this.#admin = undefined;
    await Promise.allSettled([producer?.disconnect(), admin?.disconnect()]);
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.reset();
  }
}

/** `work`, or an error once `deadline` (epoch ms) passes; `work` itself is left to finish or fail unobserved. */
async function before<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  work.catch(() => undefined);
  if (deadline === Number.POSITIVE_INFINITY) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer before the deadline`)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Offsets within one partition are consecutive from its base offset, in send order (every partition was checked to have one). */
function offsetsOf(partitionOf: readonly number[], written: readonly { partition: number; baseOffset?: string }[]): Acknowledged[] {
  const next = new Map(written.map((meta) => [meta.partition, BigInt(meta.baseOffset ?? "-1")]));
  return partitionOf.map((partition, index) => {
    const offset = next.get(partition) as bigint;
    next.set(partition, offset + 1n);
    return { index, partition, offset: offset.toString() };
  });
}
