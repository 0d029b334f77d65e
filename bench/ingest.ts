import { bundleOf } from "#local/build/bundle";
import { LocalRuntime } from "#local/runtime/runtime";
import { sampleSales } from "#local/sales/generator";
import { localClients } from "#local/stack/clients";
import { localStackContext } from "#local/stack/context";
import { up } from "#local/stack/stack";
import { samFunctions } from "#local/template/functions";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { TRANSACTIONAL_SEND_RETRY } from "#shared/kafka/producer";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { measure, printTable } from "./support.ts";

/**
 * Records/s from POST /sales to committed (the whole local path: HTTP, payload 2.0 event,
 * validation, Avro, one acks=all Kafka transaction per request), beside bare kafkajs producers
 * sending the same encoded bytes in the same batches in the same run: idempotent (the
 * baseline), and transactional (what the transaction alone costs). Then the bundle's size.
 */
const count = Number(process.env.BENCH_RECORDS ?? 20_000);
const batchSize = 500;
const concurrency = 4;
await up();
const clients = localClients();
const ctx = localStackContext();
// A namespace of its own: the bench's sales never reach the topic `npm start` serves.
const runtime = await LocalRuntime.start({ namespace: `bench-${Date.now().toString(36)}`, apiPort: 0, log: () => undefined });

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
const encoded = batches.map((batch) => batch.map((sale) => ({ key: sale.country, value: encoder.encode(sale) })));

async function inParallel<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await run(items[next++] as T);
    }),
  );
}

const producer = clients.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
// One transactional producer per request in flight: Kafka allows one open transaction per id.
const transactional = Array.from({ length: concurrency }, (_, i) =>
  clients.kafka.producer({
    transactionalId: `bench-ingest-${i}-${Date.now()}`,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: TRANSACTIONAL_SEND_RETRY,
  }),
);
await Promise.all(transactional.map((p) => p.connect()));
const idle = [...transactional];
const rows = [
  await measure(
    "bare kafkajs producer, same Avro bytes, idempotent acks=all",
    count,
    () =>
      inParallel(encoded, async (messages) => {
        await producer.send({ topic: runtime.salesTopic, acks: -1, messages });
      }),
    { rounds: 5, note: "baseline" },
  ),
  await measure(
    "bare kafkajs producer, same Avro bytes, one transaction per batch",
    count,
    () =>
      inParallel(encoded, async (messages) => {
        const owner = idle.pop() as (typeof transactional)[number];
        try {
          const transaction = await owner.transaction();
          await transaction.send({ topic: runtime.salesTopic, acks: -1, messages });
          await transaction.commit();
        } finally {
          idle.push(owner);
        }
      }),
    { rounds: 5 },
  ),
  await measure(
    "POST /sales -> 202 (local HTTP API + ingest function, one transaction per request)",
    count,
    () =>
      inParallel(bodies, async (body) => {
        const response = await fetch(`${runtime.apiUrl}/sales`, { method: "POST", headers: { "content-type": "application/json" }, body });
        if (response.status !== 202) throw new Error(`POST /sales answered ${response.status}: ${await response.text()}`);
      }),
    { rounds: 5 },
  ),
];
await Promise.all(transactional.map((p) => p.disconnect()));
await producer.disconnect();
await runtime.stop();
printTable(
  `Ingest throughput, ${count.toLocaleString("en-US")} records in batches of ${batchSize}, ${concurrency} in flight (Node ${process.version})`,
  rows,
);

const fn = samFunctions(ctx).find((f) => f.logicalId === "IngestFunction");
if (fn === undefined) throw new Error("template.yaml has no IngestFunction");
const bundle = await bundleOf(fn);
console.log(`\nIngestFunction bundle (the template's BuildProperties, as deployed): ${(bundle.bytes / 1024).toFixed(1)} KiB`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
process.exit(0);
