import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { type OutgoingRecord, TransactionalProducer } from "#shared/kafka/producer";

/** What a fake broker does with each call; a test changes it to stage a failure. */
interface Script {
  partitions: number;
  connect: () => Promise<void>;
  sendBatch: (partitions: number[]) => Promise<{ partition: number; baseOffset?: string }[]>;
  commit: () => Promise<void>;
  abort: () => Promise<void>;
}

/**
 * A fake kafkajs client with the transaction state machine that matters here: one open
 * transaction per producer, refused as kafkajs refuses it, and a log of what was called.
 */
function fakeKafka(overrides: Partial<Script> = {}) {
  const script: Script = {
    partitions: 3,
    connect: async () => undefined,
    sendBatch: async (partitions) => [...new Set(partitions)].map((partition) => ({ partition, baseOffset: String(partition * 100) })),
    commit: async () => undefined,
    abort: async () => undefined,
    ...overrides,
  };
  const calls: string[] = [];
  const producers: { open: boolean; connected: boolean }[] = [];
  const kafka = {
    producer: (config: { transactionalId: string; idempotent: boolean }) => {
      const state = { open: false, connected: false };
      producers.push(state);
      calls.push(`producer ${config.transactionalId} idempotent=${config.idempotent}`);
      return {
        connect: async () => {
          calls.push("connect");
          await script.connect();
          state.connected = true;
        },
        disconnect: async () => {
          calls.push("disconnect");
          state.connected = false;
        },
        transaction: async () => {
          if (state.open) throw new Error("There is already an ongoing transaction for this producer.");
          state.open = true;
          calls.push("begin");
          return {
            sendBatch: async (batch: { acks: number; topicMessages: { messages: { partition: number }[] }[] }) => {
              calls.push(`sendBatch acks=${batch.acks}`);
              return script.sendBatch(batch.topicMessages[0]?.messages.map((m) => m.partition) ?? []);
            },
            commit: async () => {
              calls.push("commit");
              await script.commit();
              state.open = false;
            },
            abort: async () => {
              calls.push("abort");
              await script.abort();
              state.open = false;
            },
          };
        },
      };
    },
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicMetadata: async () => ({ topics: [{ name: "sales", partitions: Array.from({ length: script.partitions }, () => ({})) }] }),
    }),
  };
  return { kafka: kafka as unknown as Kafka, script, calls, producers };
}

const options = {
  transactionalId: "unit-tx",
  transactionTimeoutMs: 10_000,
  commitRetry: { retries: 0 },
  commitDeadlineMs: 200,
};
const records = (...keys: string[]): OutgoingRecord[] => keys.map((key) => ({ key, value: Buffer.from(key) }));
const never = () => new Promise<never>(() => undefined);

describe("TransactionalProducer", () => {
  it("commits a batch in one transaction and answers each record's partition and consecutive offset", async () => {
    const { kafka, calls } = fakeKafka();
    const producer = new TransactionalProducer(kafka, "sales", options);
    const outcome = await producer.send(records("France", "France", "India"));
    expect(outcome.status).toBe("committed");
    if (outcome.status !== "committed") return;
    const [first, second, third] = outcome.records;
    expect(second?.partition).toBe(first?.partition);
    expect(BigInt(second?.offset ?? 0) - BigInt(first?.offset ?? 0)).toBe(1n);
    expect(first?.offset).toBe(String((first?.partition ?? 0) * 100));
    expect(third?.offset).toBe(String((third?.partition ?? 0) * 100 + (third?.partition === first?.partition ? 2 : 0)));
    expect(calls).toEqual(["producer unit-tx idempotent=true", "connect", "begin", "sendBatch acks=-1", "commit"]);
    // Warm: the next send reuses the connection.
    await producer.send(records("Chile"));
    expect(calls.filter((call) => call === "connect")).toHaveLength(1);
    await producer.close();
    expect(calls.at(-1)).toBe("disconnect");
  });

  it("aborts and drops the connection when a send fails (a throttled or unreachable broker), so nothing is visible", async () => {
    const throttled = Object.assign(new Error("Broker: Throttling quota exceeded"), { type: "THROTTLING_QUOTA_EXCEEDED" });
    const { kafka, calls, script } = fakeKafka({ sendBatch: async () => Promise.reject(throttled) });
    const producer = new TransactionalProducer(kafka, "sales", options);
    const outcome = await producer.send(records("France"));
    expect(outcome).toEqual({ status: "aborted", error: throttled });
    expect(calls.slice(-3)).toEqual(["sendBatch acks=-1", "abort", "disconnect"]);
    // The next send starts afresh on a new connection and succeeds.
    script.sendBatch = async (partitions) => partitions.map((partition) => ({ partition, baseOffset: "0" }));
    expect((await producer.send(records("France"))).status).toBe("committed");
    expect(calls.filter((call) => call === "connect")).toHaveLength(2);
  });

  it("treats a partial acknowledgement (a partition missing from the answer) as a failure before the commit", async () => {
    const { kafka, calls } = fakeKafka({
      partitions: 6,
      sendBatch: async (partitions) => [{ partition: partitions[0] ?? 0, baseOffset: "5" }],
    });
    const producer = new TransactionalProducer(kafka, "sales", options);
    // Two keys on two different partitions (murmur2 over 6 partitions).
    const outcome = await producer.send(records("France", "India", "Chile", "Japan"));
    expect(outcome.status).toBe("aborted");
    if (outcome.status === "committed") return;
    expect(outcome.error.message).toMatch(/no acknowledgement for partition/);
    expect(calls).not.toContain("commit");
    expect(calls).toContain("abort");
  });

  it("reports a commit Kafka refused as aborted, and one that got no answer as unknown", async () => {
    const fenced = Object.assign(new Error("fenced"), { type: "INVALID_PRODUCER_EPOCH" });
    const refused = fakeKafka({ commit: async () => Promise.reject(fenced) });
    expect(await new TransactionalProducer(refused.kafka, "sales", options).send(records("France"))).toEqual({
      status: "aborted",
      error: fenced,
    });
    const lost = Object.assign(new Error("Connection timeout"), { type: "UNKNOWN" });
    const silent = fakeKafka({ commit: async () => Promise.reject(lost) });
    expect(await new TransactionalProducer(silent.kafka, "sales", options).send(records("France"))).toEqual({
      status: "unknown",
      error: lost,
    });
    const hanging = fakeKafka({ commit: never });
    const outcome = await new TransactionalProducer(hanging.kafka, "sales", options).send(records("France"));
    expect(outcome.status).toBe("unknown");
    expect(hanging.calls.at(-1)).toBe("disconnect");
  });

  it("gives up a send whose deadline passes before the commit: aborted, never unknown", async () => {
    const { kafka, calls } = fakeKafka({ sendBatch: never });
    const producer = new TransactionalProducer(kafka, "sales", options);
    const outcome = await producer.send(records("France"), Date.now() + 50);
    expect(outcome.status).toBe("aborted");
    if (outcome.status === "committed") return;
    expect(outcome.error.message).toBe("producing: no answer before the deadline");
    expect(calls).not.toContain("commit");
  });

  it("reports a connect that fails as aborted, and closes what it opened", async () => {
    const { kafka, calls } = fakeKafka({ connect: async () => Promise.reject(new Error("ECONNREFUSED")) });
    const outcome = await new TransactionalProducer(kafka, "sales", options).send(records("France"));
    expect(outcome).toMatchObject({ status: "aborted", error: { message: "ECONNREFUSED" } });
    expect(calls).toContain("disconnect");
    const empty = fakeKafka({ partitions: 0 });
    const none = await new TransactionalProducer(empty.kafka, "sales", options).send(records("France"));
    expect(none).toMatchObject({ status: "aborted", error: { message: "topic sales has no partitions" } });
  });

  it("does not let a connect that completes after the deadline leave a half-open transaction for the next request", async () => {
    let finishConnect: () => void = () => undefined;
    const { kafka, script, producers } = fakeKafka({
      connect: () =>
        new Promise<void>((resolve) => {
          finishConnect = resolve;
        }),
    });
    const producer = new TransactionalProducer(kafka, "sales", options);
    const late = await producer.send(records("France"), Date.now() + 20);
    expect(late).toMatchObject({
      status: "aborted",
      error: { message: "connecting and starting the transaction: no answer before the deadline" },
    });

    // The broker answers the connect only now, after the request was answered 503.
    finishConnect();
    await new Promise((resolve) => setImmediate(resolve));
    expect(producers[0]).toEqual({ open: false, connected: false });

    script.connect = async () => undefined;
    const next = await producer.send(records("France"));
    expect(next.status).toBe("committed");
  });

  it("runs one transaction at a time: a second send waits for the first to end", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { kafka, calls, script } = fakeKafka();
    const answer = script.sendBatch;
    let first = true;
    script.sendBatch = async (partitions) => {
      if (first) {
        first = false;
        await gate;
      }
      return answer(partitions);
    };
    const producer = new TransactionalProducer(kafka, "sales", options);
    const sends = [producer.send(records("France")), producer.send(records("India"))];
    setTimeout(release, 20);
    // Interleaved, the second would meet the first's open transaction and be aborted.
    expect((await Promise.all(sends)).map((outcome) => outcome.status)).toEqual(["committed", "committed"]);
    expect(calls.filter((call) => call !== "connect" && !call.startsWith("producer"))).toEqual([
      "begin",
      "sendBatch acks=-1",
      "commit",
      "begin",
      "sendBatch acks=-1",
      "commit",
    ]);
  });
});
