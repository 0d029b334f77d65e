import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import { endpoints } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import {
  batchingOf,
  DEFAULT_RETRY_BACKOFF,
  deliverBatch,
  type ExhaustedBatch,
  onFailureMessage,
  onFailureQueueOf,
  Pauses,
  type RetryBackoff,
  retryLimitOf,
  sendToOnFailureQueue,
} from "./esm-core.ts";
import type { LocalFunction, LogSink } from "./lambda.ts";
import type { MetricSink } from "./metrics.ts";

/** An MSK event of a function in template.yaml, as the mapping emulator needs it. */
export interface MskMapping {
  readonly functionId: string;
  readonly eventName: string;
  readonly clusterArn: string;
  readonly topics: readonly string[];
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly fromBeginning: boolean;
  readonly consumerGroupId: string;
  /** Retries of a failing batch after its first attempt; Infinity = until it succeeds (the partition waits). */
  readonly maxRetryAttempts: number;
  /** SQS queue name of the on-failure destination, if any. */
  readonly onFailureQueue: string | undefined;
}

/** The retries Lambda documents for a Kafka mapping's settings, with the cap it applies when there is a destination. */
export const INFINITE_WITH_DESTINATION_RETRIES = 10;

/**
 * What Lambda does with a failing batch, from an MSK event's properties: with no on-failure
 * destination and no limit (MaximumRetryAttempts absent or -1, the default) it retries forever and
 * the partition waits; with a destination and no limit it stops after 10 retries ("When you
 * configure both infinite retries and an on-failure destination, Lambda automatically applies a
 * maximum of 10 retry attempts"); an explicit limit is kept either way. Throws naming `where` when
 * MaximumRetryAttempts is not an integer of -1 to 10000 (Lambda's range).
 */
export function kafkaRetryPolicy(
  properties: Readonly<Record<string, unknown>>,
  where: string,
): Pick<MskMapping, "maxRetryAttempts" | "onFailureQueue"> {
  const onFailureQueue = onFailureQueueOf(properties);
  const limit = retryLimitOf(properties, where);
  if (limit >= 0) return { maxRetryAttempts: limit, onFailureQueue };
  return { maxRetryAttempts: onFailureQueue === undefined ? Number.POSITIVE_INFINITY : INFINITE_WITH_DESTINATION_RETRIES, onFailureQueue };
}

/** The MSK events of the template's functions. Throws naming the event whose retry settings Lambda would refuse. */
export function mskMappings(functions: readonly SamFunction[]): MskMapping[] {
  return functions.flatMap((fn) =>
    Object.entries(fn.events)
      .filter(([, event]) => event.Type === "MSK")
      .map(([eventName, { Properties: p }]) => ({
        functionId: fn.logicalId,
        eventName,
        clusterArn: String(p.Stream),
        topics: (p.Topics as string[]).map(String),
        // Lambda's Kafka mapping waits up to 0.5 s by default for a batch to fill.
        ...batchingOf(p, 0.5),
        fromBeginning: p.StartingPosition !== "LATEST",
        consumerGroupId: String(p.ConsumerGroupId ?? `${fn.logicalId}-${eventName}`),
        ...kafkaRetryPolicy(p, `Resources.${fn.logicalId}.Properties.Events.${eventName}.Properties`),
      })),
  );
}

export interface MappingStats {
  batches: number;
  records: number;
  failedInvocations: number;
  sentToDestination: number;
  /** Batches given up on with no destination to send them to (only with an explicit MaximumRetryAttempts). */
  dropped: number;
}

/**
 * One batch's way through the mapping, in ms since the epoch: when its fetch returned (the
 * batching window and poll are behind it), when the function was first invoked with it, and when
 * the mapping was done with it (the invocation that succeeded, or the hand-over to the destination).
 */
export interface KafkaBatchTiming {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string;
  readonly lastOffset: string;
  readonly fetchedAt: number;
  readonly invokedAt: number;
  readonly doneAt: number;
}

const toEventRecord = (topic: string, partition: number, message: KafkaMessage) => ({
  topic,
  partition,
  offset: Number(message.offset),
  timestamp: Number(message.timestamp),
  timestampType: "CREATE_TIME",
  ...(message.key !== null && message.key !== undefined && { key: message.key.toString("base64") }),
  value: message.value === null ? null : message.value.toString("base64"),
  headers: Object.entries(message.headers ?? {}).map(([name, value]) => ({
    [name]: [...Buffer.from(value === undefined ? "" : (value as Buffer | string))],
  })),
});

/**
 * The Lambda event source mapping for Kafka, emulated: its own consumer group, batches of up to
 * BatchSize within the batching window, the aws:kafka event (base64 key/value, headers as byte
 * arrays), whole-batch retries with capped backoff as kafkaRetryPolicy reads them from the
 * template (forever without a destination: the partition waits), the on-failure destination once
 * retries are exhausted (its message re-sent until SQS takes it: the partition waits meanwhile),
 * and offsets committed only after the batch succeeded or was sent there. The retry loop and the
 * destination are the shared event source mapping core (esm-core.ts).
 */
export class KafkaEventSourceMapping {
  readonly mapping: MskMapping;
  readonly stats: MappingStats = { batches: 0, records: 0, failedInvocations: 0, sentToDestination: 0, dropped: 0 };
  /** Told of every batch once it is done (benchmarks break a record's delay down with it); must not throw. */
  onBatch: ((timing: KafkaBatchTiming) => void) | undefined;
  readonly #consumer: Consumer;
  readonly #fn: LocalFunction;
  readonly #sqs: SQSClient;
  readonly #log: LogSink;
  readonly #backoff: RetryBackoff;
  #running = false;
  readonly #pauses = new Pauses();
  readonly #metrics: { readonly sink: MetricSink; readonly functionName: string } | undefined;
  /** Each partition's records not yet done, as of its last fetch or commit (the OffsetLag it publishes). */
  readonly #lags = new Map<string, bigint>();
  /** A member of its group (joined, not disconnected or crashed): it polls, or retries a batch it polled. */
  #member = false;
  #lagTimer: NodeJS.Timeout | undefined;

  /**
   * `readUncommitted` (default true, Kafka's default) is the isolation level it reads with. With
   * `metrics`, it publishes OffsetLag to its sink as Lambda does (AWS/Lambda, FunctionName the
   * function's physical name: records on its topics it has not done, summed over partitions), once
   * a minute of the sink and only while it is a member of its group (polling, or retrying a batch):
   * a mapping that cannot reach the broker publishes nothing.
   */
  constructor(
    mapping: MskMapping,
    fn: LocalFunction,
    kafka: Kafka,
    sqs: SQSClient,
    log: LogSink,
    {
      backoff = DEFAULT_RETRY_BACKOFF,
      readUncommitted = true,
      metrics,
    }: {
      backoff?: RetryBackoff;
      readUncommitted?: boolean;
      metrics?: { readonly sink: MetricSink; readonly functionName: string };
    } = {},
  ) {
    this.mapping = mapping;
    this.#metrics = metrics;
    this.#fn = fn;
    this.#sqs = sqs;
    this.#log = log;
    this.#backoff = backoff;
    this.#consumer = kafka.consumer({
      groupId: mapping.consumerGroupId,
      // Kafka's default isolation level: AWS documents none for the MSK mapping, so the emulator
      // assumes the worst (it also sees records of aborted transactions).
      readUncommitted,
      // Fetches return as soon as records are there; the batching window is kept per batch below,
      // from its oldest record, as Lambda's does (not from the fetch, which would make records
      // that arrived during the last invocation wait a whole window more).
      maxWaitTimeInMs: Math.max(mapping.batchingWindowMs, 10),
      minBytes: 1,
      maxBytes: 6 * 1024 * 1024,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      // kafkajs restarts a crashed consumer (a broker restart) on a timer it sets after its own
      // disconnect, which a stop() racing the crash shares: without this, a stopped mapping comes
      // back as a member nobody stops, and its group can never be deleted.
      retry: { restartOnFailure: async () => this.#running },
    });
  }

  async start(): Promise<void> {
    this.#running = true;
    const { GROUP_JOIN, DISCONNECT, CRASH, STOP } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, () => {
      this.#member = true;
    });
    for (const event of [DISCONNECT, CRASH, STOP])
      this.#consumer.on(event, () => {
        this.#member = false;
      });
    const metrics = this.#metrics;
    if (metrics !== undefined) this.#lagTimer = setInterval(() => this.#publishLag(metrics), metrics.sink.minuteMs);
    await this.#consumer.connect();
    for (const topic of this.mapping.topics) await this.#consumer.subscribe({ topic, fromBeginning: this.mapping.fromBeginning });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const current = () => isRunning() && !isStale() && this.#running;
        const fetchedAt = Date.now();
        const key = `${batch.topic}-${batch.partition}`;
        const end = BigInt(batch.highWatermark);
        this.#lags.set(key, end - BigInt(batch.firstOffset() ?? batch.highWatermark));
        for (let i = 0; i < batch.messages.length && current(); i += this.mapping.batchSize) {
          const messages = batch.messages.slice(i, i + this.mapping.batchSize);
          // A batch short of BatchSize goes once the window has passed since its oldest record arrived.
          const due = Number(messages[0]?.timestamp) + this.mapping.batchingWindowMs;
          const wait = Math.min(due - Date.now(), this.mapping.batchingWindowMs);
          if (messages.length < this.mapping.batchSize && wait > 0) await this.#pauses.pause(wait);
          if (!current()) return;
          const invokedAt = Date.now();
          // A batch abandoned unfinished (stopping, or the partition went to another member) is not
          // committed: whoever reads the partition next starts again at its first record.
          if (!(await this.#deliver(batch.topic, batch.partition, messages, heartbeat, current))) return;
          this.onBatch?.({
            topic: batch.topic,
            partition: batch.partition,
            firstOffset: messages[0]?.offset ?? "0",
            lastOffset: messages.at(-1)?.offset ?? "0",
            fetchedAt,
            invokedAt,
            doneAt: Date.now(),
          });
          const last = messages.at(-1)?.offset ?? "0";
          // Resolve as well as commit: once kafkajs has resolved an offset itself (it does for a
          // fetch holding only transaction markers or aborted records), it fetches from its
          // resolved offset, not the committed one, and would deliver the same records again.
          resolveOffset(last);
          await this.#consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
          this.#lags.set(key, end - BigInt(last) - 1n);
        }
      },
    });
  }

  /** Resolves true once the batch may be committed (succeeded, sent to the destination, or dropped), false if abandoned. */
  async #deliver(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    heartbeat: () => Promise<void>,
    current: () => boolean,
  ): Promise<boolean> {
    const event = {
      eventSource: "aws:kafka",
      eventSourceArn: this.mapping.clusterArn,
      bootstrapServers: endpoints.kafkaBrokers,
      records: { [`${topic}-${partition}`]: messages.map((message) => toEventRecord(topic, partition, message)) },
    };
    this.stats.batches++;
    this.stats.records += messages.length;
    const range = `${topic}-${partition} offsets ${messages[0]?.offset}..${messages.at(-1)?.offset}`;
    const log = (line: string) => this.#log(this.mapping.functionId, `[esm] ${line}`);
    const { maxRetryAttempts } = this.mapping;
    const delivered = await deliverBatch(messages, {
      maxRetryAttempts,
      // The emulator reads neither BisectBatchOnFunctionError nor ReportBatchItemFailures for
      // Kafka (the template sets neither): a failing batch is retried whole.
      bisectOnFunctionError: false,
      backoff: this.#backoff,
      pauses: this.#pauses,
      current,
      attempt: async () => {
        const outcome = await this.#fn.invoke(event);
        // The error's type and message only: the records themselves never reach the log.
        return outcome.ok
          ? { kind: "success" }
          : { kind: "failure", reason: `${outcome.error.errorType}: ${outcome.error.errorMessage}`, functionError: true };
      },
      failed: async (_, outcome, retries) => {
        this.stats.failedInvocations++;
        const limit = Number.isFinite(maxRetryAttempts) ? ` of ${maxRetryAttempts + 1}` : ", retrying until it succeeds";
        log(`batch ${range} failed (attempt ${retries + 1}${limit}): ${outcome.kind === "failure" ? outcome.reason : ""}`);
        await heartbeat().catch(() => undefined);
      },
      exhausted: (batch) => this.#sendToDestination(topic, partition, messages, event, batch, current),
    });
    if (delivered.kind === "abandoned") {
      log(`batch ${range} abandoned uncommitted after ${delivered.retries} attempts (mapping stopped or partition reassigned)`);
      return false;
    }
    return true;
  }

  async #sendToDestination(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    event: object,
    batch: ExhaustedBatch<KafkaMessage>,
    current: () => boolean,
  ): Promise<boolean> {
    const range = `${topic}-${partition} offsets ${messages[0]?.offset}..${messages.at(-1)?.offset}`;
    if (this.mapping.onFailureQueue === undefined) {
      this.stats.dropped++;
      this.#log(
        this.mapping.functionId,
        `[esm] batch ${range} dropped after ${this.mapping.maxRetryAttempts} retries (no on-failure destination): ${batch.reason}`,
      );
      return true;
    }
    const first = messages[0];
    const last = messages.at(-1);
    const message = onFailureMessage(this.mapping.functionId, batch, "KafkaBatchInfo", {
      batchSize: messages.length,
      eventSourceArn: this.mapping.clusterArn,
      bootstrapServers: endpoints.kafkaBrokers,
      payloadSize: JSON.stringify(event).length,
      recordsInfo: {
        [`${topic}-${partition}`]: {
          firstRecordOffset: first?.offset,
          lastRecordOffset: last?.offset,
          firstRecordTimestamp: first?.timestamp,
          lastRecordTimestamp: last?.timestamp,
        },
      },
    });
    const sent = await sendToOnFailureQueue(this.#sqs, this.mapping.onFailureQueue, message, {
      current,
      pauses: this.#pauses,
      backoff: this.#backoff,
      log: (line) => this.#log(this.mapping.functionId, `[esm] batch ${range}: ${line}`),
    });
    if (sent) this.stats.sentToDestination++;
    return sent;
  }

  /** One minute's OffsetLag, while the mapping is a member of its group. Never throws. */
  #publishLag({ sink, functionName }: { readonly sink: MetricSink; readonly functionName: string }): void {
    if (!this.#running || !this.#member) return;
    const lag = [...this.#lags.values()].reduce((a, b) => a + b, 0n);
    sink.put({ namespace: "AWS/Lambda", name: "OffsetLag", dimensions: { FunctionName: functionName } }, Number(lag));
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#lagTimer);
    this.#pauses.wake();
    await this.#consumer.disconnect();
  }
}
