import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { KafkaApiKey, KafkaClusterProxy } from "../../runtime/kafka-proxy.ts";

// A fake broker (node id 7, one partition leader for all) speaking just enough of the protocol:
// it answers Metadata v6 and FindCoordinator v2 as a real one would, and records what it got.

const int16 = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const str = (s: string | null) => (s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]));
const sized = (body: Buffer) => Buffer.concat([int32(body.length), body]);
const request = (apiKey: number, version: number, correlationId: number, body: Buffer = Buffer.alloc(0)) =>
  sized(Buffer.concat([int16(apiKey), int16(version), int32(correlationId), str("test-client"), body]));

function metadataV6(correlationId: number, partitions: number): Buffer {
  const parts = Array.from({ length: partitions }, (_, p) =>
    Buffer.concat([int16(0), int32(p), int32(7), int32(1), int32(7), int32(1), int32(7), int32(0)]),
  );
  return sized(
    Buffer.concat([
      int32(correlationId),
      int32(0), // throttle
      int32(1),
      int32(7),
      str("real-broker"),
      int32(9092),
      str(null),
      str("cluster"),
      int32(7),
      int32(1),
      int16(0),
      str("sales"),
      Buffer.from([0]),
      int32(partitions),
      ...parts,
    ]),
  );
}

const coordinatorV2 = (correlationId: number) =>
  sized(Buffer.concat([int32(correlationId), int32(0), int16(0), str(null), int32(7), str("real-broker"), int32(9092)]));

/** Reads size-prefixed frames from a socket. */
function reader(socket: Socket): () => Promise<Buffer> {
  let buffered = Buffer.alloc(0);
  const waiting: ((frame: Buffer) => void)[] = [];
  const ready: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= buffered.readInt32BE(0) + 4) {
      const frame = buffered.subarray(0, buffered.readInt32BE(0) + 4);
      buffered = buffered.subarray(frame.length);
      const next = waiting.shift();
      if (next === undefined) ready.push(frame);
      else next(frame);
    }
  });
  return () => {
    const frame = ready.shift();
    return frame === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(frame);
  };
}

let broker: Server;
let proxy: KafkaClusterProxy | undefined;
const received: number[] = [];
const clients: Socket[] = [];

async function start(brokers: number): Promise<KafkaClusterProxy> {
  broker = createServer((socket) => {
    const next = reader(socket);
    const serve = async (): Promise<void> => {
      const frame = await next();
      const apiKey = frame.readInt16BE(4);
      const correlationId = frame.readInt32BE(8);
      received.push(apiKey);
      if (apiKey === KafkaApiKey.metadata) socket.write(metadataV6(correlationId, 6));
      else if (apiKey === KafkaApiKey.findCoordinator) socket.write(coordinatorV2(correlationId));
      else socket.write(sized(Buffer.concat([int32(correlationId), int16(0)])));
      return serve();
    };
    serve().catch(() => undefined);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => broker.listen(0, "127.0.0.1", resolve));
  const address = broker.address() as { port: number };
  proxy = await KafkaClusterProxy.start({ upstream: `127.0.0.1:${address.port}`, brokers });
  return proxy;
}

async function connect(address: string): Promise<{ socket: Socket; next: () => Promise<Buffer> }> {
  const [host, port] = address.split(":");
  const socket = tcpConnect({ host: host as string, port: Number(port) });
  clients.push(socket);
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, next: reader(socket) };
}

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  await proxy?.stop();
  proxy = undefined;
  await new Promise((resolve) => broker.close(resolve));
  received.length = 0;
});

/** The brokers and each partition's leader in a rewritten Metadata v6 answer. */
function readMetadata(frame: Buffer): { brokers: { id: number; port: number }[]; leaders: number[]; isr: number[][] } {
  let at = 12; // size, correlation id, throttle
  const i32 = () => {
    at += 4;
    return frame.readInt32BE(at - 4);
  };
  const i16 = () => {
    at += 2;
    return frame.readInt16BE(at - 2);
  };
  const s = () => {
    const n = i16();
    at += Math.max(n, 0);
  };
  const brokers = Array.from({ length: i32() }, () => {
    const id = i32();
    s();
    const port = i32();
    s();
    return { id, port };
  });
  s();
  i32();
  i32(); // one topic
  i16();
  s();
  at += 1;
  const leaders: number[] = [];
  const isr: number[][] = [];
  for (let p = i32(); p > 0; p--) {
    i16();
    i32();
    leaders.push(i32());
    const lists = [0, 1, 2].map(() => Array.from({ length: i32() }, () => i32()));
    isr.push(lists[1] as number[]);
  }
  return { brokers, leaders, isr };
}

describe("KafkaClusterProxy", () => {
  it("shows one broker as N, each on its own port, with partition leaders spread over them", async () => {
    const cluster = await start(3);
    const { socket, next } = await connect(cluster.bootstrap);
    socket.write(request(KafkaApiKey.metadata, 6, 41, int32(-1)));
    const answer = await next();
    expect(answer.readInt32BE(4)).toBe(41);
    const { brokers, leaders, isr } = readMetadata(answer);
    expect(brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(new Set(brokers.map((b) => b.port)).size).toBe(3);
    expect(leaders).toEqual([1, 2, 3, 1, 2, 3]);
    expect(isr).toEqual(leaders.map((leader) => [leader]));

    // A connection to a virtual broker reaches the real one and is counted on its listener.
    const second = await connect(`127.0.0.1:${brokers[1]?.port}`);
    second.socket.write(request(KafkaApiKey.produce, 3, 42));
    expect((await second.next()).readInt32BE(4)).toBe(42);
    expect(cluster.connections.map((c) => [c.listener, c.clientId])).toEqual([
      ["bootstrap", "test-client"],
      [2, "test-client"],
    ]);
    expect(received).toEqual([KafkaApiKey.metadata, KafkaApiKey.produce]);
  });

  it("points each group's coordinator at one virtual broker, the same for the same group", async () => {
    const cluster = await start(4);
    const { socket, next } = await connect(cluster.bootstrap);
    const find = async (group: string, correlationId: number) => {
      socket.write(request(KafkaApiKey.findCoordinator, 2, correlationId, Buffer.concat([str(group), Buffer.from([0])])));
      const frame = await next();
      // correlation, throttle, error, null message, node id, host, port
      const node = frame.readInt32BE(4 + 4 + 4 + 2 + 2);
      const hostLength = frame.readInt16BE(20);
      return { node, port: frame.readInt32BE(22 + hostLength) };
    };
    const first = await find("recovery-a", 1);
    expect(await find("recovery-a", 2)).toEqual(first);
    expect(first.node).toBeGreaterThanOrEqual(1);
    expect(first.node).toBeLessThanOrEqual(4);
    expect(first.port).not.toBe(Number(cluster.bootstrap.split(":")[1]));
  });

  it("refuses a Metadata version it cannot rewrite, closing the connection and saying which", async () => {
    const cluster = await start(2);
    const { socket } = await connect(cluster.bootstrap);
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write(request(KafkaApiKey.metadata, 12, 1));
    await closed;
    expect(cluster.errors).toEqual(["Metadata v12 is not supported (1-8)"]);
    expect(received).toEqual([]);
  });

  it("cuts a connection right after passing on a Produce request while told to, and closes all on demand", async () => {
    const cluster = await start(1);
    cluster.cutAfter(KafkaApiKey.produce);
    const { socket } = await connect(cluster.bootstrap);
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.write(request(KafkaApiKey.produce, 3, 5));
    await closed;
    await expect.poll(() => received).toEqual([KafkaApiKey.produce]);
    cluster.cutAfter(undefined);

    const other = await connect(cluster.bootstrap);
    other.socket.write(request(KafkaApiKey.produce, 3, 6));
    expect((await other.next()).readInt32BE(4)).toBe(6);
    const gone = new Promise((resolve) => other.socket.once("close", resolve));
    cluster.closeAll();
    await gone;
    await expect.poll(() => cluster.counts().open).toBe(0);
  });

  it("counts connections opened, open, at once and within a second, per client id", async () => {
    const cluster = await start(2);
    const a = await connect(cluster.bootstrap);
    await connect(cluster.bootstrap);
    a.socket.write(request(KafkaApiKey.produce, 3, 1));
    await a.next();
    a.socket.destroy();
    await expect.poll(() => cluster.counts().open).toBe(1);
    expect(cluster.counts()).toEqual({ opened: 2, open: 1, peakOpen: 2, peakPerSecond: 2, listeners: 1 });
    expect(cluster.counts({ clientId: (id) => id === "test-client" })).toMatchObject({ opened: 1, open: 0 });
    expect(cluster.counts({ from: 1 })).toMatchObject({ opened: 1, open: 1 });
  });

  it("refuses an upstream that is not host:port and a broker count below one", async () => {
    await expect(KafkaClusterProxy.start({ upstream: "nowhere" })).rejects.toThrow('upstream must be host:port, got "nowhere"');
    await expect(KafkaClusterProxy.start({ upstream: "127.0.0.1:1", brokers: 0 })).rejects.toThrow(
      "brokers must be a positive integer, got 0",
    );
    broker = createServer();
  });
});
