import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import { exponentialDelay, sleep } from "#shared/retry/backoff";
import { localQueueUrl } from "../stack/clients.ts";
import { endpoints } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";
import type { LocalFunction, LogSink } from "./lambda.ts";

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
  readonly maxRetryAttempts: number;
  /** SQS queue name of the on-failure destination, if any. */
  readonly onFailureQueue: string | undefined;
}

/** The MSK events of the template's functions. */
export function mskMappings(functions: readonly SamFunction[]): MskMapping[] {
  return functions.flatMap((fn) =>
    Object.entries(fn.events)
      .filter(([, event]) => event.Type === "MSK")
      .map(([eventName, { Properties: p }]) => {
        const destination = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure?.Destination;
        // Lambda retries a failing Kafka batch until it succeeds or ages out; with an on-failure
        // destination and no explicit limit, treat "forever" as 10 attempts locally.
        const retries = p.MaximumRetryAttempts === undefined || Number(p.MaximumRetryAttempts) < 0 ? 10 : Number(p.MaximumRetryAttempts);
        return {
          functionId: fn.logicalId,
          eventName,
          clusterArn: String(p.Stream),
          topics: (p.Topics as string[]).map(String),
          batchSize: Number(p.BatchSize ?? 100),
          batchingWindowMs: Math.round(Number(p.MaximumBatchingWindowInSeconds ?? 0.5) * 1000),
          fromBeginning: p.StartingPosition !== "LATEST",
          consumerGroupId: String(p.ConsumerGroupId ?? `${fn.logicalId}-${eventName}`),
          maxRetryAttempts: retries,
          onFailureQueue: destination?.split(":").pop(),
        };
      }),
  );
}

export interface MappingStats {
  batches: number;
  records: number;
  failedInvocations: number;
  sentToDestination: number;
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
 * arrays), whole-batch retries with backoff, the on-failure destination once retries are
 * exhausted, and offsets committed only after the batch succeeded or was sent there.
 */
export class KafkaEventSourceMapping {
  readonly mapping: MskMapping;
  readonly stats: MappingStats = { batches: 0, records: 0, failedInvocations: 0, sentToDestination: 0 };
  /** Told of every batch once it is done (benchmarks break a record's delay down with it); must not throw. */
  onBatch: ((timing: KafkaBatchTiming) => void) | undefined;
  readonly #consumer: Consumer;
  readonly #fn: LocalFunction;
  readonly #sqs: SQSClient;
  readonly #log: LogSink;
  #running = false;

  constructor(mapping: MskMapping, fn: LocalFunction, kafka: Kafka, sqs: SQSClient, log: LogSink) {
    this.mapping = mapping;
    this.#fn = fn;
    this.#sqs = sqs;
    this.#log = log;
    this.#consumer = kafka.consumer({
      groupId: mapping.consumerGroupId,
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
    await this.#consumer.connect();
    for (const topic of this.mapping.topics) await this.#consumer.subscribe({ topic, fromBeginning: this.mapping.fromBeginning });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const fetchedAt = Date.now();
        for (let i = 0; i < batch.messages.length && isRunning() && !isStale() && this.#running; i += this.mapping.batchSize) {
          const messages = batch.messages.slice(i, i + this.mapping.batchSize);
          // A batch short of BatchSize goes once the window has passed since its oldest record arrived.
          const due = Number(messages[0]?.timestamp) + this.mapping.batchingWindowMs;
          const wait = Math.min(due - Date.now(), this.mapping.batchingWindowMs);
          if (messages.length < this.mapping.batchSize && wait > 0) await sleep(wait);
          if (!this.#running || isStale()) break;
          const invokedAt = Date.now();
          await this.#deliver(batch.topic, batch.partition, messages, heartbeat);
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
        }
      },
    });
  }

  async #deliver(topic: string, partition: number, messages: KafkaMessage[], heartbeat: () => Promise<void>): Promise<void> {
    const event = {
      eventSource: "aws:kafka",
      eventSourceArn: this.mapping.clusterArn,
      bootstrapServers: endpoints.kafkaBrokers,
      records: { [`${topic}-${partition}`]: messages.map((message) => toEventRecord(topic, partition, message)) },
    };
    this.stats.batches++;
    this.stats.records += messages.length;
    let lastError = "";
    for (let attempt = 0; attempt <= this.mapping.maxRetryAttempts && this.#running; attempt++) {
      // The real mapping's retry delay grows without jitter (one poller per partition, nothing to spread).
      if (attempt > 0) await sleep(exponentialDelay(attempt, { baseMs: 200, capMs: 5000 }));
      const outcome = await this.#fn.invoke(event);
      if (outcome.ok) return;
      this.stats.failedInvocations++;
      lastError = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
      this.#log(
        this.mapping.functionId,
        `[esm] batch ${topic}-${partition} offsets ${messages[0]?.offset}..${messages.at(-1)?.offset} failed (attempt ${attempt + 1}): ${lastError}`,
      );
      await heartbeat().catch(() => undefined);
    }
    if (!this.#running) throw new Error("mapping stopped while retrying");
    await this.#sendToDestination(topic, partition, messages, event, lastError);
  }

  async #sendToDestination(topic: string, partition: number, messages: KafkaMessage[], event: object, lastError: string): Promise<void> {
    if (this.mapping.onFailureQueue === undefined) {
      this.#log(
        this.mapping.functionId,
        `[esm] batch ${topic}-${partition} dropped after retries (no on-failure destination): ${lastError}`,
      );
      return;
    }
    const first = messages[0];
    const last = messages.at(-1);
    const record = {
      requestContext: {
        requestId: crypto.randomUUID(),
        functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${this.mapping.functionId}`,
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: this.mapping.maxRetryAttempts + 1,
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      timestamp: new Date().toISOString(),
      KafkaBatchInfo: {
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
      },
    };
    await this.#sqs.send(
      new SendMessageCommand({ QueueUrl: localQueueUrl(this.mapping.onFailureQueue), MessageBody: JSON.stringify(record) }),
    );
    this.stats.sentToDestination++;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#consumer.disconnect();
  }
}
