import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * The Kafka API keys the proxy reads: Produce (to cut after it), Metadata and FindCoordinator
 * (their answers name brokers, which it rewrites to its own listeners).
 */
export const KafkaApiKey = { produce: 0, metadata: 3, findCoordinator: 10 } as const;

/** One client connection the proxy accepted, on the bootstrap listener or a virtual broker's. */
export interface ProxiedConnection {
  /** "bootstrap", or the node id of the virtual broker it was made to. */
  readonly listener: "bootstrap" | number;
  /** The client id of the first request on it (a Kafka request header field); undefined until one arrives. */
  clientId: string | undefined;
  readonly openedAt: number;
  closedAt: number | undefined;
}

/** What a set of connections amounts to against a cluster's connection quotas. */
export interface ConnectionCounts {
  /** Connections accepted (each one a connection attempt the cluster counts). */
  readonly opened: number;
  /** Of them, still open. */
  readonly open: number;
  /** The most open at any one moment. */
  readonly peakOpen: number;
  /** The most accepted within any one second. */
  readonly peakPerSecond: number;
  /** Distinct listeners connected to: the bootstrap and each virtual broker count once. */
  readonly listeners: number;
}

export interface KafkaClusterProxyOptions {
  /** The real broker, "host:port" (one broker: every partition's leader). */
  readonly upstream: string;
  /** Virtual brokers the cluster is shown as (default 3); partition p is led by broker (p mod brokers) + 1. */
  readonly brokers?: number;
}

/**
 * A Kafka cluster of `brokers` virtual brokers in front of one real broker, counting every
 * connection a client opens, independently of the client. Clients bootstrap through its own
 * listener (as MSK's bootstrap endpoint is apart from its brokers), and the Metadata and
 * FindCoordinator answers are rewritten so that partition leaders and group coordinators are
 * spread over the virtual brokers, each on its own port: a client opens the connections it would
 * open to a cluster of that many brokers. Every request is passed to the real broker unchanged.
 * Only the request versions kafkajs uses are rewritten (Metadata 1-8, FindCoordinator 0-2); a
 * client asking for another version of them has its connection closed and the refusal recorded in
 * `errors`, rather than being pointed at the real broker past the count.
 */
export class KafkaClusterProxy {
  readonly connections: ProxiedConnection[] = [];
  /** Requests the proxy refused to rewrite, each naming the API and version. */
  readonly errors: string[] = [];
  readonly #upstream: { host: string; port: number };
  readonly #brokers: number;
  readonly #servers: Server[] = [];
  readonly #ports: number[] = [];
  readonly #sockets = new Set<Socket>();
  #cutAfter: number | undefined;

  private constructor(upstream: { host: string; port: number }, brokers: number) {
    this.#upstream = upstream;
    this.#brokers = brokers;
  }

  /** Listens on loopback (the kernel picks the ports). Throws when `upstream` is not host:port or brokers is not a positive integer. */
  static async start({ upstream, brokers = 3 }: KafkaClusterProxyOptions): Promise<KafkaClusterProxy> {
    const match = /^(.+):(\d+)$/.exec(upstream);
    if (match === null) throw new Error(`KafkaClusterProxy: upstream must be host:port, got "${upstream}"`);
    if (!Number.isInteger(brokers) || brokers < 1) throw new Error(`KafkaClusterProxy: brokers must be a positive integer, got ${brokers}`);
    const proxy = new KafkaClusterProxy({ host: match[1] as string, port: Number(match[2]) }, brokers);
    try {
      for (const listener of ["bootstrap" as const, ...Array.from({ length: brokers }, (_, i) => i + 1)]) await proxy.#listen(listener);
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  /** The bootstrap server to give clients ("127.0.0.1:<port>"). */
  get bootstrap(): string {
    return `127.0.0.1:${this.#ports[0]}`;
  }

  /** Counts over the connections accepted since `from` (an index into `connections`, default 0) whose client id passes `clientId`. */
  counts({ from = 0, clientId }: { from?: number; clientId?: (id: string | undefined) => boolean } = {}): ConnectionCounts {
    const chosen = this.connections.slice(from).filter((c) => clientId === undefined || clientId(c.clientId));
    const events = chosen.flatMap((c) => [
      { at: c.openedAt, delta: 1 },
      ...(c.closedAt === undefined ? [] : [{ at: c.closedAt, delta: -1 }]),
    ]);
    // Closings first at equal times: a connection replaced within the same millisecond is not two at once.
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let open = 0;
    let peakOpen = 0;
    for (const event of events) {
      open += event.delta;
      peakOpen = Math.max(peakOpen, open);
    }
    const opened = chosen.map((c) => c.openedAt).sort((a, b) => a - b);
    let peakPerSecond = 0;
    for (let first = 0, last = 0; last < opened.length; last++) {
      while ((opened[last] as number) - (opened[first] as number) >= 1000) first++;
      peakPerSecond = Math.max(peakPerSecond, last - first + 1);
    }
    return {
      opened: chosen.length,
      open: chosen.filter((c) => c.closedAt === undefined).length,
      peakOpen,
      peakPerSecond,
      listeners: new Set(chosen.map((c) => c.listener)).size,
    };
  }

  /**
   * While set, every connection that passes a request of this API key to the broker is reset right
   * after (the broker gets the request, the client never gets its answer): the fault of a
   * connection lost mid-request. `undefined` ends it.
   */
  cutAfter(apiKey: number | undefined): void {
    this.#cutAfter = apiKey;
  }

  /** Closes every client connection (what a broker's idle timeout or a broker restart does to a client). */
  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Stops listening and closes every connection. Never throws. */
  async stop(): Promise<void> {
    this.closeAll();
    await Promise.all(this.#servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }

  async #listen(listener: "bootstrap" | number): Promise<void> {
    const server = createServer((client) => this.#accept(client, listener));
    this.#servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("KafkaClusterProxy: no port to listen on");
    this.#ports.push(address.port);
  }

  #accept(client: Socket, listener: "bootstrap" | number): void {
    const connection: ProxiedConnection = { listener, clientId: undefined, openedAt: Date.now(), closedAt: undefined };
    this.connections.push(connection);
    const broker = tcpConnect(this.#upstream);
    this.#sockets.add(client);
    this.#sockets.add(broker);
    const close = () => {
      connection.closedAt ??= Date.now();
      client.destroy();
      broker.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(broker);
    };
    for (const socket of [client, broker]) {
      socket.on("error", close);
      socket.on("close", close);
    }
    /** Correlation id -> what its answer needs to be rewritten (only for the APIs that name brokers). */
    const pending = new Map<number, Rewrite>();
    frames(client, (frame) => {
      const header = requestHeader(frame);
      connection.clientId ??= header.clientId;
      const rewrite = this.#rewriteFor(header, frame);
      if (typeof rewrite === "string") {
        this.errors.push(rewrite);
        close();
        return;
      }
      if (rewrite !== undefined) pending.set(header.correlationId, rewrite);
      // Cut once the request is handed to the kernel: the broker still gets it, the client no answer.
      if (header.apiKey === this.#cutAfter) broker.write(frame, close);
      else broker.write(frame);
    });
    frames(broker, (frame) => {
      const correlationId = frame.readInt32BE(4);
      const rewrite = pending.get(correlationId);
      pending.delete(correlationId);
      client.write(rewrite === undefined ? frame : rewrite(frame));
    });
  }

  /** How to rewrite the answer to this request, undefined when it names no broker, or why it is refused. */
  #rewriteFor(header: RequestHeader, frame: Buffer): Rewrite | string | undefined {
    const { apiKey, apiVersion } = header;
    if (apiKey === KafkaApiKey.metadata) {
      if (apiVersion < 1 || apiVersion > 8) return `Metadata v${apiVersion} is not supported (1-8)`;
      return (answer) => this.#metadata(answer, apiVersion);
    }
    if (apiKey === KafkaApiKey.findCoordinator) {
      if (apiVersion > 2) return `FindCoordinator v${apiVersion} is not supported (0-2)`;
      const key = new Reader(frame, header.bodyAt).string() ?? "";
      return (answer) => this.#coordinator(answer, apiVersion, key);
    }
    return undefined;
  }

  #brokerOf(partition: number): number {
    return (partition % this.#brokers) + 1;
  }

  #metadata(frame: Buffer, version: number): Buffer {
    const r = new Reader(frame, 8);
    const w = new Writer(frame.subarray(4, 8));
    if (version >= 3) w.int32(r.int32()); // throttle_time_ms
    for (let n = r.int32(); n > 0; n--) {
      r.int32();
      r.string();
      r.int32();
      r.string();
    }
    w.int32(this.#brokers);
    for (let id = 1; id <= this.#brokers; id++) {
      w.int32(id);
      w.string("127.0.0.1");
      w.int32(this.#ports[id] as number);
      w.string(null);
    }
    if (version >= 2) w.string(r.string()); // cluster_id
    r.int32();
    w.int32(1); // controller_id
    const topics = r.int32();
    w.int32(topics);
    for (let t = 0; t < topics; t++) {
      w.int16(r.int16());
      w.string(r.string());
      w.int8(r.int8()); // is_internal
      const partitions = r.int32();
      w.int32(partitions);
      for (let p = 0; p < partitions; p++) {
        w.int16(r.int16());
        const index = r.int32();
        w.int32(index);
        const leader = r.int32();
        const shown = leader < 0 ? leader : this.#brokerOf(index);
        w.int32(shown);
        if (version >= 7) w.int32(r.int32()); // leader_epoch
        const nodes = version >= 5 ? 3 : 2; // replicas, isr (, offline_replicas)
        for (let list = 0; list < nodes; list++) {
          const count = r.int32();
          for (let i = 0; i < count; i++) r.int32();
          const shownList = list < 2 && shown >= 0 ? [shown] : [];
          w.int32(shownList.length);
          for (const id of shownList) w.int32(id);
        }
      }
      if (version >= 8) w.int32(r.int32()); // topic_authorized_operations
    }
    if (version >= 8) w.int32(r.int32()); // cluster_authorized_operations
    return w.frame();
  }

  #coordinator(frame: Buffer, version: number, key: string): Buffer {
    const r = new Reader(frame, 8);
    const w = new Writer(frame.subarray(4, 8));
    if (version >= 1) w.int32(r.int32()); // throttle_time_ms
    const error = r.int16();
    w.int16(error);
    if (version >= 1) w.string(r.string()); // error_message
    if (error !== 0) return frame;
    // The coordinator of a key stays on one broker, as Kafka's does (hash of the key).
    let hash = 0;
    for (const char of key) hash = (hash * 31 + (char.codePointAt(0) as number)) | 0;
    const id = this.#brokerOf(Math.abs(hash));
    w.int32(id);
    w.string("127.0.0.1");
    w.int32(this.#ports[id] as number);
    return w.frame();
  }
}

type Rewrite = (answer: Buffer) => Buffer;

interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | undefined;
  /** Where the body starts (requests of the versions read here have no tagged fields in the header). */
  readonly bodyAt: number;
}

function requestHeader(frame: Buffer): RequestHeader {
  const r = new Reader(frame, 4);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.string() ?? undefined;
  return { apiKey, apiVersion, correlationId, clientId, bodyAt: r.at };
}

/** Calls `each` with every whole size-prefixed Kafka frame read from `socket`, in order. */
function frames(socket: Socket, each: (frame: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0) + 4;
      if (buffered.length < size) break;
      each(buffered.subarray(0, size));
      buffered = buffered.subarray(size);
    }
  });
}

class Reader {
  readonly #buffer: Buffer;
  at: number;
  constructor(buffer: Buffer, at: number) {
    this.#buffer = buffer;
    this.at = at;
  }
  int8(): number {
    return this.#buffer.readInt8(this.#step(1));
  }
  int16(): number {
    return this.#buffer.readInt16BE(this.#step(2));
  }
  int32(): number {
    return this.#buffer.readInt32BE(this.#step(4));
  }
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const start = this.#step(length);
    return this.#buffer.toString("utf8", start, start + length);
  }
  #step(bytes: number): number {
    const start = this.at;
    this.at += bytes;
    return start;
  }
}

/** Writes a response frame: its size, then the correlation id it was given, then what is written. */
class Writer {
  readonly #parts: Buffer[];
  constructor(correlationId: Buffer) {
    this.#parts = [Buffer.from(correlationId)];
  }
  int8(value: number): void {
    this.#parts.push(Buffer.from([value & 0xff]));
  }
  int16(value: number): void {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.#parts.push(b);
  }
  int32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.#parts.push(b);
  }
  string(value: string | null): void {
    if (value === null) {
      this.int16(-1);
      return;
    }
    const bytes = Buffer.from(value, "utf8");
    this.int16(bytes.length);
    this.#parts.push(bytes);
  }
  frame(): Buffer {
    const body = Buffer.concat(this.#parts);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    return Buffer.concat([size, body]);
  }
}
