import { isIP, Socket, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { IHeaders, ISocketFactory, Kafka, KafkaConfig, Producer } from "kafkajs";
import { DependencyError, DependencyErrorCode } from "../errors/internal-errors.ts";
import { partitionOfKey } from "./partitioner.ts";

/** One record to produce. */
export interface OutgoingRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: IHeaders;
}

/** Where Kafka put a record; `index` is its place in the batch given to `send`. */
export interface Acknowledged {
  readonly index: number;
  readonly partition: number;
  readonly offset: string;
}

/**
 * What producing a batch did. Every record in the topic is seen by every reader whatever its
 * isolation level (there are no transactions), so the outcome says what is in the log:
 * - `written`: every record is in the log (acks=all), with its partition and offset;
 * - `not-written`: none is, and none will be: no produce request left this process, or the
 *   broker refused the whole request (authorization);
 * - `unknown`: a produce request was sent and no definite answer came. Any of the records may
 *   be in the log; the producer's connections are already cut (reset), so no retry of it can
 *   still be sent. `partitions` gives each record's partition.
 */
export type ProduceOutcome =
  | {
      readonly status: "written";
      readonly records: readonly Acknowledged[];
      /** The topic's partition count the records were partitioned by (murmur2 of the key, modulo it). */
      readonly partitions?: number;
    }
  | { readonly status: "not-written"; readonly error: Error }
  | { readonly status: "unknown"; readonly partitions: readonly number[]; readonly error: Error };

/** Makes the Kafka client of one producer session; `overrides` carries the session's socket factory. */
export type KafkaFactory = (overrides: Partial<KafkaConfig>) => Kafka;

/** Retries of one send inside kafkajs (the caller's deadline bounds them too). */
export const SEND_RETRY = { retries: 5, initialRetryTime: 50, maxRetryTime: 1000 } as const;

/** Refusals the broker makes for a whole topic before appending anything to any partition. */
const WHOLE_REQUEST_REFUSALS = new Set(["TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED"]);

/** How long a reset waits for kafkajs to close the session (its sockets are cut before). */
const DISCONNECT_WAIT_MS = 200;

/** Kafka's API key of Produce: the int16 after a request's int32 size. */
const PRODUCE_API_KEY = 0;

/** One connection's worth of producer: replaced whole after any failure. */
interface Session {
  readonly producer: Producer;
  readonly sockets: Set<Socket>;
  /** Set once the session is given up: its socket factory refuses to connect again. */
  retired: boolean;
  /** Set when a Produce request's bytes are handed to a socket during the current send. */
  produceSent: boolean;
  partitions: number;
}

/**
 * An idempotent (acks=all, one request in flight per connection) producer, created once per
 * container and reused while warm. Records get their partition here (murmur2 of the key, as
 * Java's default partitioner), so each record's offset follows from its partition's base offset.
 * The producer owns its sockets: it sees whether a Produce request was written (so a failure
 * before that is a definite "not written"), and after an unknown outcome it resets them and
 * refuses new ones, because kafkajs would otherwise reconnect and re-send the batch behind the
 * caller's back after the caller had answered. Sends are serialised (one request per container).
 */
export class IdempotentProducer {
  readonly #kafkaFor: KafkaFactory;
  readonly #topic: string;
  #session: Session | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(kafkaFor: KafkaFactory, topic: string) {
    this.#kafkaFor = kafkaFor;
    this.#topic = topic;
  }

  /**
   * Produces the records (each to the partition of its key); never throws for Kafka failures,
   * they are in the outcome. `deadline` (epoch ms) bounds the call: past it before any produce
   * request was sent, the outcome is `not-written`; after, `unknown`.
   */
  send(records: readonly OutgoingRecord[], deadline = Number.POSITIVE_INFINITY): Promise<ProduceOutcome> {
    const result = this.#queue.then(() => this.#send(records, deadline));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #send(records: readonly OutgoingRecord[], deadline: number): Promise<ProduceOutcome> {
    let session: Session;
    try {
      session = await before(this.#connect(), deadline, "connecting the producer");
    } catch (error) {
      await this.reset();
      return { status: "not-written", error: error as Error };
    }
    const partitionOf = records.map((record) => partitionOfKey(record.key, session.partitions));
    session.produceSent = false;
    try {
      const written = await before(
        session.producer.sendBatch({
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
      const acknowledged = new Set(written.filter((meta) => meta.baseOffset !== undefined).map((meta) => meta.partition));
      const missing = [...new Set(partitionOf)].filter((partition) => !acknowledged.has(partition));
      if (missing.length > 0)
        throw new DependencyError(
          DependencyErrorCode.unreachable,
          `no acknowledgement for partition(s) ${missing.join(", ")} of ${this.#topic}`,
        );
      return { status: "written", records: offsetsOf(partitionOf, written), partitions: session.partitions };
    } catch (error) {
      const sent = session.produceSent;
      await this.reset();
      if (!sent || WHOLE_REQUEST_REFUSALS.has(kafkaErrorType(error) ?? "")) return { status: "not-written", error: error as Error };
      return { status: "unknown", partitions: partitionOf, error: error as Error };
    }
  }

  async #connect(): Promise<Session> {
    if (this.#session !== undefined) return this.#session;
    const sockets = new Set<Socket>();
    const session: Session = { producer: undefined as unknown as Producer, sockets, retired: false, produceSent: false, partitions: 0 };
    const kafka = this.#kafkaFor({ socketFactory: ownedSockets(session) });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: SEND_RETRY });
    (session as { producer: Producer }).producer = producer;
    this.#session = session;
    const admin = kafka.admin({ retry: { retries: 1 } });
    try {
      await Promise.all([producer.connect(), admin.connect()]);
      const metadata = await admin.fetchTopicMetadata({ topics: [this.#topic] });
      session.partitions = metadata.topics[0]?.partitions.length ?? 0;
      if (session.partitions === 0) throw new DependencyError(DependencyErrorCode.unreachable, `topic ${this.#topic} has no partitions`);
      if (session.retired) throw new DependencyError(DependencyErrorCode.unreachable, "the producer was reset while it connected");
      return session;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Cuts the current session: its sockets are reset (RST, so bytes not yet delivered are
   * dropped rather than retransmitted later), it may open no new ones, and the next send starts a
   * new session (a new producer id). Never throws.
   */
  async reset(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    session.retired = true;
    for (const socket of session.sockets) cut(socket);
    // kafkajs' disconnect waits for requests in flight (seconds, to a frozen broker): the sockets
    // are already cut, so it is not waited for past a moment, or the caller's answer would be late.
    await before(session.producer.disconnect(), Date.now() + DISCONNECT_WAIT_MS, "disconnecting").catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.reset();
  }
}

/** The session's socket factory (kafkajs' own, plus ownership): it notes Produce requests, and refuses to connect once retired. */
function ownedSockets(session: Session): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    if (session.retired) {
      const refused = new Socket();
      process.nextTick(() =>
        refused.destroy(
          new DependencyError(DependencyErrorCode.unreachable, "this producer session was reset; it opens no new connections"),
        ),
      );
      return refused;
    }
    const socket: Socket = ssl
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(typeof ssl === "object" ? ssl : {}) }, onConnect)
      : tcpConnect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    session.sockets.add(socket);
    socket.once("close", () => session.sockets.delete(socket));
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (chunk: unknown, ...rest: unknown[]) => {
      // kafkajs writes each request whole: int32 size, int16 API key, ...
      if (Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === PRODUCE_API_KEY) session.produceSent = true;
      return write(chunk, ...rest);
    };
    return socket;
  };
}

/** Resets a connection (RST) where the socket allows it, else closes it. */
function cut(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** The Kafka error code name of a kafkajs error, looking through its retry wrappers. */
function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (typeof current.type === "string") return current.type;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return undefined;
}

/** `work`, or an error once `deadline` (epoch ms) passes; `work` itself is left to finish or fail unobserved. */
export async function before<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  work.catch(() => undefined);
  if (deadline === Number.POSITIVE_INFINITY) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DependencyError(DependencyErrorCode.unreachable, `${what}: no answer before the deadline`)),
      Math.max(0, deadline - Date.now()),
    );
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
