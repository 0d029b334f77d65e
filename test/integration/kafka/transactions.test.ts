import { randomUUID } from "node:crypto";
import type { Kafka, ProducerConfig } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localClients } from "#local/stack/clients";
import { stopProcess } from "#local/stack/processes";
import { componentNamed, startComponent } from "#local/stack/stack";
import { type ProduceOutcome, TransactionalProducer } from "#shared/kafka/producer";
import { readTopic } from "#test/support/topic";

/**
 * The producer ingest uses, on the real broker: a transaction's records reach read_committed
 * readers only if it commits, and a commit whose coordinator dies is repeated until Kafka gives
 * a definite answer (patches/kafkajs+2.2.4.patch).
 */
const kafka: Kafka = localClients().kafka;
const topic = `txn-test-${randomUUID().slice(0, 8)}`;
const admin = kafka.admin();

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
});
afterAll(async () => {
  await startComponent(componentNamed("kafka"));
  await admin.disconnect().catch(() => undefined);
});

const records = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i % 5}`, value: Buffer.from(`${tag}-${i}`) }));
const tagged = (tag: string) => (message: { value: Buffer | null }) => message.value?.toString().startsWith(`${tag}-`) ?? false;
/** Every record so far with this tag, read until `want` are there or a quiet 6 s. */
const read = (tag: string, want: number, readUncommitted = false) =>
  readTopic(kafka, topic, tagged(tag), (got) => got.length >= want, want === 0 ? 6000 : 20_000, readUncommitted);

describe("transactional produce on the real broker", () => {
  it("shows a committed batch to read_committed readers, with the offsets it reported, and hides an aborted one", async () => {
    const producer = new TransactionalProducer(kafka, topic, {
      transactionalId: `test-${randomUUID()}`,
      transactionTimeoutMs: 10_000,
      commitRetry: { retries: 3 },
      commitDeadlineMs: 10_000,
    });
    const outcome = await producer.send(records("kept", 20));
    expect(outcome.status).toBe("committed");
    const written = (outcome as Extract<ProduceOutcome, { status: "committed" }>).records;
    const seen = await read("kept", 20);
    expect(seen).toHaveLength(20);
    const where = new Map(seen.map((r) => [r.message.value?.toString(), `${r.partition}/${r.offset}`]));
    for (const record of written) expect(where.get(`kept-${record.index}`)).toBe(`${record.partition}/${record.offset}`);
    await producer.close();

    // An aborted transaction: written to the log (a read_uncommitted reader sees it), hidden from read_committed.
    const raw = kafka.producer({ transactionalId: `test-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
    await raw.connect();
    const transaction = await raw.transaction();
    await transaction.send({ topic, acks: -1, messages: records("dropped", 10) });
    await transaction.abort();
    await raw.disconnect();
    expect(await read("dropped", 10, true)).toHaveLength(10);
    expect(await read("dropped", 0)).toHaveLength(0);
  });

  it("repeats a commit while the broker is down and completes it once the broker is back", async () => {
    const producer = kafka.producer({
      transactionalId: `test-${randomUUID()}`,
      transactionTimeout: 60_000,
      idempotent: true,
      maxInFlightRequests: 1,
      endTransactionRetry: { retries: 20, initialRetryTime: 300, maxRetryTime: 2000 },
    } as ProducerConfig);
    await producer.connect();
    const transaction = await producer.transaction();
    await transaction.send({ topic, acks: -1, messages: records("in-doubt", 12) });

    await stopProcess("kafka", { signal: "SIGKILL" });
    const committing = transaction.commit().then(
      () => "committed",
      (error: Error) => `failed: ${error.message}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await startComponent(componentNamed("kafka"));
    expect(await committing).toBe("committed");
    await producer.disconnect();
    expect(await read("in-doubt", 12)).toHaveLength(12);
  });
});
