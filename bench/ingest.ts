import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  endpoints,
  LocalRuntime,
  localAws,
  localClients,
  localStackContext,
  samFunctions,
  status,
  up,
} from "@sales-stream-analytics/local-aws";
import { bundleOf } from "@sales-stream-analytics/local-aws/testing";
import type { Producer } from "kafkajs";
import { type IngestAccepted, packAnswer } from "#functions/ingest/answer";
import { createRequestLedger } from "#functions/ingest/dynamodb-store";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { HEADER_CORRELATION_ID, HEADER_RECORD_INDEX, HEADER_REQUEST_ID } from "#shared/kafka/headers";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { SEND_RETRY } from "#shared/kafka/producer";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";

/**
 * POST /sales -> 202 (local HTTP API, payload 2.0 event, validation, Avro, request ledger in
 * DynamoDB Local, one idempotent acks=all produce per request) against a fair baseline: as many
 * bare kafkajs producers as the local API runs ingest containers in flight (one per container,
 * the same idempotent settings), each sending the same encoded bytes with the same headers in
 * the same batches, concurrently. Records/s over the whole run, and p50/p99 per request (POST
 * -> 202) or per send, and the CPU each subject's rounds cost each process of the 2-core box. On
 * a topic of its own, deleted after. Then the bundle's size.
 */
const report = benchReport("ingest");
const count = Number(process.env.BENCH_RECORDS ?? 20_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 500);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
/**
 * Unmeasured rounds first: each ingest container is a new isolate whose JIT compiles the
 * request path (the SDK's once-a-request code included) over its first tens of requests, as a
 * Lambda container does once in a life of thousands.
 */
const warmupRounds = Number(process.env.BENCH_WARMUP_ROUNDS ?? 3);
/** LocalFunction's default maxConcurrency: the ingest containers the local API keeps in flight. */
const containers = 4;
await up();
const clients = localClients();
const ctx = localStackContext();
// A namespace of its own (topic, ledger table...): the bench's sales never reach what `npm start` serves.
const runtime = await LocalRuntime.start({
  namespace: `bench-${Date.now().toString(36)}`,
  apiPort: 0,
  log: () => undefined,
  eventSources: false,
});
const topic = runtime.salesTopic;
const admin = clients.kafka.admin();
await admin.connect();
const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 6;

const sales = sampleSales(count, { seed: 9 });
const batches: Sale[][] = [];
for (let i = 0; i < sales.length; i += batchSize) batches.push(sales.slice(i, i + batchSize));
const bodies = batches.map((batch) => JSON.stringify(batch));

const registry = new GlueSchemaRegistry(clients.glue);
const id = await registry.getVersionIdForDefinition({
  registryName: runtime.resourceName("SchemaRegistry"),
  schemaName: runtime.resourceName("SalesSchema"),
  definition: JSON.stringify(currentSalesSchema),
});
const encoder = new GlueAvroEncoder<Sale>(currentSalesSchema, id);
/** The same bytes and headers ingest writes (a correlation id of API Gateway's length, a request id, the index). */
const encoded = batches.map((batch) => {
  const requestId = randomUUID();
  return batch.map((sale, index) => ({
    key: sale.country,
    value: encoder.encode(sale),
    partition: partitionOfKey(sale.country, partitions),
    headers: { [HEADER_CORRELATION_ID]: "Cx1bAjEoIAMEV3w=", [HEADER_REQUEST_ID]: requestId, [HEADER_RECORD_INDEX]: String(index) },
  }));
});

interface Run {
  readonly name: string;
  readonly recordsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU ms per 1,000 records over the measured rounds, by process (as `processes`). */
  readonly cpu: readonly number[];
}

/**
 * Where the CPU goes: every subject runs on the same 2 cores as the local stack, so a round
 * that costs more CPU anywhere (this process, Kafka, DynamoDB Local) is slower. This process
 * holds the client, the local API and the ingest containers (worker threads); its main thread
 * is the client and the local API only.
 */
const components = await status();
const dynamodbPid = components.find((component) => component.name === "dynamodb")?.pid;
const kafkaPid = components.find((component) => component.name === "kafka")?.pid;
/** `counted`: part of a subject's total (node's main thread is already in its all threads). */
const processes = [
  { name: "node, all threads", cpuMs: () => usageMs(process.cpuUsage()), counted: true },
  { name: "node main thread", cpuMs: () => usageMs(process.threadCpuUsage()), counted: false },
  { name: "Kafka", cpuMs: () => procCpuMs(kafkaPid), counted: true },
  { name: "DynamoDB Local", cpuMs: () => procCpuMs(dynamodbPid), counted: true },
] as const;
function usageMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}
/** CPU ms a process has used (user + system) from /proc, whose clock ticks are 1/100 s; 0 where there is no /proc. */
function procCpuMs(pid: number | undefined): number {
  try {
    // The fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** One way of sending the bench's batches: `send(item, worker)` sends batch `item` from loop `worker`. */
interface Subject {
  readonly name: string;
  readonly send: (item: number, worker: number) => Promise<void>;
}

/**
 * `workers` loops per subject, taking the next batch until none is left. The subjects take turns
 * round by round (`warmupRounds` unmeasured first), each round in another order (none always runs right
 * after the same one), so drift on a shared machine (another process, the broker's log growing)
 * falls on all of them alike; best round of records/s, latencies and CPU of every measured round.
 */
async function compare(subjects: readonly Subject[], items: number, workers: number): Promise<Run[]> {
  const latencies = subjects.map(() => [] as number[]);
  const best = subjects.map(() => 0);
  const cpu = subjects.map(() => processes.map(() => 0));
  for (let round = -warmupRounds; round < rounds; round++) {
    const shift = (round + warmupRounds) % subjects.length;
    const order = subjects.map((_, i) => (i + shift) % subjects.length);
    for (const i of order) {
      const subject = subjects[i] as Subject;
      let next = 0;
      const cpuBefore = processes.map((p) => p.cpuMs());
      const started = performance.now();
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          while (next < items) {
            const item = next++;
            const begin = performance.now();
            await subject.send(item, worker);
            if (round >= 0) latencies[i]?.push(performance.now() - begin);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      if (round < 0) continue;
      best[i] = Math.max(best[i] ?? 0, (items * batchSize) / seconds);
      const used = cpu[i] as number[];
      for (const [p, process] of processes.entries()) used[p] = (used[p] ?? 0) + process.cpuMs() - (cpuBefore[p] ?? 0);
    }
  }
  return subjects.map((subject, i) => {
    const sorted = (latencies[i] ?? []).sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    const perThousand = (cpu[i] ?? []).map((ms) => (ms * 1000) / (rounds * items * batchSize));
    return { name: subject.name, recordsPerSecond: best[i] ?? 0, p50: pct(0.5), p99: pct(0.99), cpu: perThousand };
  });
}

const producers: Producer[] = Array.from({ length: containers }, () =>
  clients.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: SEND_RETRY }),
);
await Promise.all(producers.map((p) => p.connect()));
const post = (withKey: boolean) => async (item: number) => {
  const response = await fetch(`${runtime.apiUrl}/sales`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(withKey && { "idempotency-key": randomUUID() }) },
    body: bodies[item],
  });
  if (response.status !== 202) throw new Error(`POST /sales answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
};
const subjects: Subject[] = [
  {
    name: `${containers} bare kafkajs producers (idempotent, acks=all), one per container`,
    send: async (item, worker) => {
      await producers[worker]?.sendBatch({ acks: -1, topicMessages: [{ topic, messages: encoded[item] ?? [] }] });
    },
  },
  { name: "POST /sales -> 202 without a key (no ledger)", send: post(false) },
  { name: "POST /sales -> 202 with Idempotency-Key (ledger claim + complete)", send: post(true) },
];

/**
 * Runs `op` (`containers` at a time) in steps of `step` until the CPU per op that `cpuMs` counts
 * has stopped falling: the best of the last 3 steps is not a tenth below the best before them
 * (at most 30 steps). A JVM of the local stack started just before compiles its hot paths over
 * the first thousands of requests: CPU that DynamoDB or MSK would not take from these 2 cores,
 * and that would fall on whichever subject uses that JVM most (DynamoDB Local: the keyed POST
 * alone). Returns the ops run and the CPU per op of the first and the best step.
 */
async function warm(cpuMs: () => number, op: () => Promise<unknown>, step: number): Promise<{ ops: number; first: number; best: number }> {
  const perOp: number[] = [];
  for (let steps = 0; steps < 30; steps++) {
    const before = cpuMs();
    let left = step;
    await Promise.all(
      Array.from({ length: containers }, async () => {
        while (left-- > 0) await op();
      }),
    );
    perOp.push((cpuMs() - before) / step);
    if (perOp.length >= 4 && Math.min(...perOp.slice(-3)) > Math.min(...perOp.slice(0, -3)) * 0.9) break;
  }
  return { ops: perOp.length * step, first: perOp[0] ?? 0, best: Math.min(...perOp) };
}
const warmLedger = createRequestLedger(clients.dynamodb, runtime.resourceName("IdempotencyTable"), 3600);
const warmedDynamodb = await warm(
  () => procCpuMs(dynamodbPid),
  async () => {
    const key = randomUUID();
    const now = Date.now();
    const claim = await warmLedger.claim(key, { bodyHash: key, now, leaseUntil: now + 25_000 });
    if (claim.kind === "fresh") await warmLedger.complete(key, claim.attempt, "{}");
  },
  500,
);
let warmBatch = 0;
const warmedKafka = await warm(
  () => procCpuMs(kafkaPid),
  () =>
    (producers[0] as Producer).sendBatch({ acks: -1, topicMessages: [{ topic, messages: encoded[warmBatch++ % encoded.length] ?? [] }] }),
  20,
);

const [baseline, unkeyed, keyed] = (await compare(subjects, bodies.length, containers)) as [Run, Run, Run];
// One request at a time: what each costs without the 2 cores' contention (the ledger's own round trips show here).
const alone = (await compare(subjects, Math.min(bodies.length, 10), 1)) as [Run, Run, Run];
await Promise.all(producers.map((p) => p.disconnect()));

/**
 * What the ledger's writes of one keyed request cost, by request size: the claim and the
 * completion a keyed POST makes, sent by the function's own ledger store to DynamoDB Local with
 * ReturnConsumedCapacity (it reports units as DynamoDB does), the completion keeping the real
 * 202 of a POST of that body.
 */
async function ledgerWriteUnits(records: number): Promise<number> {
  const batch = sales.slice(0, records);
  const response = await fetch(`${runtime.apiUrl}/sales`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(batch),
  });
  if (response.status !== 202) throw new Error(`POST /sales answered ${response.status}: ${await response.text()}`);
  const accepted = (await response.json()) as IngestAccepted;
  let units = 0;
  const client = new DynamoDBClient({ region: localAws.region, endpoint: endpoints.dynamodb, credentials: localAws.credentials });
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      units += (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
      return result;
    },
    { step: "initialize", name: "countWriteUnits" },
  );
  const ledger = createRequestLedger(client, runtime.resourceName("IdempotencyTable"), 3600);
  const key = randomUUID();
  const now = Date.now();
  const claim = await ledger.claim(key, { bodyHash: randomUUID(), now, leaseUntil: now + 25_000 });
  if (claim.kind !== "fresh") throw new Error(`a new key was claimed as ${claim.kind}`);
  const kept = packAnswer(
    accepted,
    batch.map((sale) => sale.country),
    partitions,
  );
  if (!(await ledger.complete(key, claim.attempt, kept))) throw new Error("the completion was refused");
  client.destroy();
  return units;
}
const writeUnits: [number, number][] = [];
for (const size of [1, 100, batchSize]) writeUnits.push([size, await ledgerWriteUnits(size)]);

await admin.disconnect();
await runtime.stop();

const rows = [baseline, keyed, unkeyed];
const aloneRows = [alone[0], alone[2], alone[1]];
const width = Math.max(...rows.map((row) => row.name.length));
const ms = (value: number) => value.toFixed(1).padStart(8);
report.print(
  `\nIngest, ${count.toLocaleString("en-US")} records in batches of ${batchSize}, ${containers} in flight, ${partitions} partitions, best of ${rounds} rounds after ${warmupRounds} unmeasured (Node ${process.version})`,
);
report.print(`| ${"".padEnd(width)} | records/s | vs base | p50 ms   | p99 ms   | p99 vs base |`);
report.print(`| ${"-".repeat(width)} | --------- | ------- | -------- | -------- | ----------- |`);
for (const row of rows) {
  report.print(
    `| ${row.name.padEnd(width)} | ${Math.round(row.recordsPerSecond).toLocaleString("en-US").padStart(9)} | ${(row.recordsPerSecond / baseline.recordsPerSecond).toFixed(2).padStart(6)}x | ${ms(row.p50)} | ${ms(row.p99)} | ${(row.p99 / baseline.p99).toFixed(2).padStart(10)}x |`,
  );
}
report.print(
  `POST with a key against without: ${(keyed.recordsPerSecond / unkeyed.recordsPerSecond).toFixed(2)}x the records/s, p99 ${(keyed.p99 / unkeyed.p99).toFixed(2)}x.`,
);
report.print(
  "Goals: unkeyed POST >= 0.8x the baseline's records/s with p99 <= 1.5x its p99; keyed POST >= 0.8x the unkeyed records/s with p99 <= 1.5x its p99.",
);
const cpuWidth = Math.max(...processes.map((p) => p.name.length));
report.print(
  "\nCPU ms per 1,000 records over the measured rounds, by process of the 2 shared cores (node's main thread: the client and the local API; its other threads: the ingest containers, GC and JIT):",
);
report.print(`| ${"".padEnd(width)} | ${processes.map((p) => p.name.padStart(cpuWidth)).join(" | ")} |`);
report.print(`| ${"-".repeat(width)} | ${processes.map(() => "-".repeat(cpuWidth)).join(" | ")} |`);
for (const row of rows)
  report.print(`| ${row.name.padEnd(width)} | ${row.cpu.map((ms) => ms.toFixed(1).padStart(cpuWidth)).join(" | ")} |`);
/** CPU ms of one request (batch) of `run` in process `p`, or in all of them. */
const perRequest = (run: Run, p: number) => ((run.cpu[p] ?? 0) * batchSize) / 1000;
const perRequestAll = (run: Run) => processes.reduce((sum, process, p) => sum + (process.counted ? perRequest(run, p) : 0), 0);
const keyCosts = processes.map((p, i) => `${p.name} ${(perRequest(keyed, i) - perRequest(unkeyed, i)).toFixed(2)} ms`);
report.print(
  `CPU per request of ${batchSize} records, all processes: baseline ${perRequestAll(baseline).toFixed(2)} ms, without a key ${perRequestAll(unkeyed).toFixed(2)} ms, with a key ${perRequestAll(keyed).toFixed(2)} ms. What the key adds: ${keyCosts.join(", ")}.`,
);
report.print(
  `Before measuring, the local stack's JVMs were warmed (their JIT is no subject's cost): DynamoDB Local with ${warmedDynamodb.ops} ledger claim + completion pairs (its CPU per pair ${warmedDynamodb.first.toFixed(2)} ms at first, ${warmedDynamodb.best.toFixed(2)} ms at best), Kafka with ${warmedKafka.ops} batches (${warmedKafka.first.toFixed(2)} ms per batch at first, ${warmedKafka.best.toFixed(2)} ms at best).`,
);
report.print("\nThe same requests one at a time (none other in flight, no contention for the 2 cores):");
for (const row of aloneRows) report.print(`| ${row.name.padEnd(width)} | p50 ${ms(row.p50)} ms | p99 ${ms(row.p99)} ms |`);
report.print(`A key adds ${(alone[2].p50 - alone[1].p50).toFixed(1)} ms at p50 one at a time: the ledger's claim and completion.`);
report.print(
  `\nRequest ledger writes of one keyed POST (claim + completion, ReturnConsumedCapacity on DynamoDB Local): ${writeUnits
    .map(([size, units]) => `${size} record${size === 1 ? "" : "s"}: ${units} WCU`)
    .join(", ")}. Goal: at most 2 at any size.`,
);

const fn = samFunctions(ctx).find((f) => f.logicalId === "IngestFunction");
if (fn === undefined) throw new Error("template.yaml has no IngestFunction");
const bundle = await bundleOf(fn);
report.print(`\nIngestFunction bundle (the template's BuildProperties, as deployed): ${(bundle.bytes / 1024).toFixed(1)} KiB`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
report.save();
process.exit(0);
