import { createServer, type Server, type Socket } from "node:net";
import type { ISocketFactory } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { IdempotentProducer, type OutgoingRecord } from "#shared/kafka/producer";
import { acknowledgeAll, type FakeAck, type FakeSession, fakeKafka } from "#test/support/fakes/kafka";

/** A loopback server that swallows what it gets, so that the producer's own sockets are real. */
let server: Server;
let port = 0;
const accepted: Socket[] = [];
beforeAll(async () => {
  server = createServer((socket) => {
    accepted.push(socket);
    socket.on("error", () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** A request of the given Kafka API key, framed as kafkajs writes one: int32 size, int16 key, int16 version, ... */
const request = (apiKey: number) => {
  const buffer = Buffer.alloc(12);
  buffer.writeInt32BE(8, 0);
  buffer.writeInt16BE(apiKey, 4);
  return buffer;
};

/** What the session's producer writes: a request of an API key, through the socket factory the producer gave its client. */
const writeThrough = (session: FakeSession) => (apiKey: number) =>
  new Promise<Socket>((resolve, reject) => {
    const factory = session.config.socketFactory as ISocketFactory;
    const socket = factory({ host: "127.0.0.1", port, ssl: false, onConnect: () => undefined } as never) as Socket;
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(request(apiKey));
      resolve(socket);
    });
  });

type SendBatch = (partitions: number[], write: (apiKey: number) => Promise<Socket>) => Promise<FakeAck[]>;

/** The fake cluster with topic sales; by default each send writes a Produce request (key 0) and is acknowledged. */
function salesCluster(overrides: { partitions?: number; connect?: () => Promise<void>; sendBatch?: SendBatch } = {}) {
  const kafka = fakeKafka({ topics: { sales: overrides.partitions ?? 3 } });
  if (overrides.connect !== undefined) kafka.script.connect = overrides.connect;
  const sendBatch: SendBatch =
    overrides.sendBatch ??
    (async (partitions, write) => {
      await write(0);
      return acknowledgeAll(partitions);
    });
  kafka.script.sendBatch = (partitions, session) => sendBatch(partitions, writeThrough(session));
  return { kafkaFor: kafka.kafkaFor, script: kafka.script, sessions: kafka.calls.sessions, topics: kafka.cluster.topics };
}

const records = (...keys: string[]): OutgoingRecord[] => keys.map((key) => ({ key, value: Buffer.from(key) }));
const never = () => new Promise<never>(() => undefined);

describe("IdempotentProducer", () => {
  it("partitions by murmur2 of the key and answers each record's offset from its partition's base offset", async () => {
    const { kafkaFor, sessions } = salesCluster();
    const producer = new IdempotentProducer(kafkaFor, "sales");
    const keys = ["France", "Japan", "France", "India"];
    const outcome = await producer.send(records(...keys));
    const partitionsOf = keys.map((key) => partitionOfKey(key, 3));
    const next = new Map<number, number>();
    expect(outcome).toEqual({
      status: "written",
      partitions: 3,
      records: partitionsOf.map((partition, index) => {
        const offset = partition * 100 + (next.get(partition) ?? 0);
        next.set(partition, (next.get(partition) ?? 0) + 1);
        return { index, partition, offset: String(offset) };
      }),
    });
    expect(sessions[0]?.producerConfigs).toEqual([expect.objectContaining({ idempotent: true, maxInFlightRequests: 1 })]);
    // Warm: the next send reuses the session.
    await producer.send(records("Peru"));
    expect(sessions).toHaveLength(1);
  });

  it("answers not-written when connecting fails, and connects afresh on the next send", async () => {
    const fake = salesCluster({ connect: () => Promise.reject(new Error("ECONNREFUSED")) });
    const producer = new IdempotentProducer(fake.kafkaFor, "sales");
    expect(await producer.send(records("France"))).toMatchObject({ status: "not-written" });
    fake.script.connect = async () => undefined;
    expect(await producer.send(records("France"))).toMatchObject({ status: "written" });
    expect(fake.sessions).toHaveLength(2);
    expect(fake.sessions[0]?.disconnected).toBe(true);
  });

  it("answers not-written when the send fails before a Produce request left (metadata, connection)", async () => {
    const { kafkaFor } = salesCluster({
      sendBatch: async (_, write) => {
        await write(3); // a Metadata request only
        throw new Error("Connection error");
      },
    });
    expect(await new IdempotentProducer(kafkaFor, "sales").send(records("France"))).toMatchObject({ status: "not-written" });
  });

  it("answers unknown once a Produce request left without an answer, resets its sockets and opens no new ones", async () => {
    let sent: Socket | undefined;
    const fake = salesCluster({
      sendBatch: async (_, write) => {
        sent = await write(0);
        return never();
      },
    });
    const producer = new IdempotentProducer(fake.kafkaFor, "sales");
    const outcome = await producer.send(records("France", "Japan"), Date.now() + 300);
    expect(outcome).toMatchObject({ status: "unknown", partitions: [partitionOfKey("France", 3), partitionOfKey("Japan", 3)] });
    expect(sent?.destroyed).toBe(true);
    // kafkajs' retry of the lost request would reconnect through the old session's factory: refused.
    const factory = fake.sessions[0]?.config.socketFactory as ISocketFactory;
    const retry = factory({ host: "127.0.0.1", port, ssl: false, onConnect: () => undefined } as never) as Socket;
    const error = await new Promise<Error>((resolve) => retry.once("error", resolve));
    expect(error.message).toContain("opens no new connections");
  });

  it("answers not-written when the broker refuses the whole topic (authorization), unknown when a partition is not acknowledged", async () => {
    const refused = salesCluster({
      sendBatch: async (_, write) => {
        await write(0);
        throw Object.assign(new Error("Not authorized"), { type: "TOPIC_AUTHORIZATION_FAILED" });
      },
    });
    expect(await new IdempotentProducer(refused.kafkaFor, "sales").send(records("France"))).toMatchObject({ status: "not-written" });
    const partial = salesCluster({
      sendBatch: async (_, write) => {
        await write(0);
        return [];
      },
    });
    const outcome = await new IdempotentProducer(partial.kafkaFor, "sales").send(records("France"));
    expect(outcome).toMatchObject({ status: "unknown" });
    expect((outcome as { error: Error }).error.message).toContain("no acknowledgement for partition");
  });

  it("answers not-written for a topic without partitions, and close() disconnects", async () => {
    const fake = salesCluster({ partitions: 0 });
    const producer = new IdempotentProducer(fake.kafkaFor, "sales");
    const outcome = await producer.send(records("France"));
    expect(outcome).toMatchObject({ status: "not-written" });
    expect((outcome as { error: Error }).error.message).toContain("has no partitions");
    fake.topics.set("sales", 2);
    await producer.send(records("France"));
    await producer.close();
    expect(fake.sessions.at(-1)?.disconnected).toBe(true);
  });
});
