import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { endpoints, LocalRuntime, localAws, localClients, localStackContext, samFunctions, up } from "@sales-stream-analytics/local-aws";
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
 * -> 202) or per send. On a topic of its own, deleted after. Then the bundle's size.
 */
const report = benchReport("ingest");
const count = Number(process.env.BENCH_RECORDS ?? 20_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 500);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
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
}

/** One way of sending the bench's batches: `send(item, worker)` sends batch `item` from loop `worker`. */
interface Subject {
  readonly name: string;
  readonly send: (item: number, worker: number) => Promise<void>;
}

/**
 * `workers` loops per subject, taking the next batch until none is left. The subjects take turns
 * round by round (a warm-up round first), so drift on a shared machine (another process, the
 * broker's log growing) falls on all of them alike; best round of records/s, latencies of every
 * measured round.
 */
async function compare(subjects: readonly Subject[], items: number, workers: number): Promise<Run[]> {
  const latencies = subjects.map(() => [] as number[]);
  const best = subjects.map(() => 0);
  for (let round = -1; round < rounds; round++) {
    for (const [i, subject] of subjects.entries()) {
      let next = 0;
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
      if (round >= 0) best[i] = Math.max(best[i] ?? 0, (items * batchSize) / seconds);
    }
  }
  return subjects.map((subject, i) => {
    const sorted = (latencies[i] ?? []).sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return { name: subject.name, recordsPerSecond: best[i] ?? 0, p50: pct(0.5), p99: pct(0.99) };
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
  `\nIngest, ${count.toLocaleString("en-US")} records in batches of ${batchSize}, ${containers} in flight, ${partitions} partitions, best of ${rounds} rounds (Node ${process.version})`,
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
