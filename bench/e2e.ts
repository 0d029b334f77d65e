import { randomUUID } from "node:crypto";
import { runLoad } from "#local/load/run-load";
import { LocalRuntime } from "#local/runtime/runtime";
import { sampleSales } from "#local/sales/generator";
import { localClients } from "#local/stack/clients";
import { up } from "#local/stack/stack";
import { salesEncoders } from "#test/support/aggregates";
import { apiFigures, eventually, lakeFigures, ordersOf } from "#test/support/pipeline";

/**
 * End to end on the local stack: records/s from POST to visible in the aggregates and landed in
 * the lake, p50/p99 freshness (202 to visible in the query API) measured with probe sales during
 * the load, beside raw Kafka produce+consume of the same number of encoded records in the same run.
 */
const RATE = Number(process.env.BENCH_RATE ?? 600);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const total = RATE * SECONDS;
await up();
const clients = localClients();

// Baseline: produce and consume the same number of encoded records through the broker.
const topic = `bench-raw-${randomUUID().slice(0, 6)}`;
const admin = clients.kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
await admin.disconnect();
const encode = await salesEncoders("none");
const frames = sampleSales(total, { seed: 3 }).map((sale, i) => ({ key: sale.country, value: encode(sale, i) }));
const producer = clients.kafka.producer({ idempotent: true });
const consumer = clients.kafka.consumer({ groupId: `bench-raw-${topic}` });
await Promise.all([producer.connect(), consumer.connect()]);
await consumer.subscribe({ topic, fromBeginning: true });
let consumed = 0;
await consumer.run({
  eachBatch: async ({ batch }) => {
    consumed += batch.messages.length;
  },
});
let started = performance.now();
for (let i = 0; i < frames.length; i += 500) await producer.send({ topic, acks: -1, messages: frames.slice(i, i + 500) });
await eventually(async () => consumed >= total, 120_000, 20);
const rawSeconds = (performance.now() - started) / 1000;
await Promise.all([producer.disconnect(), consumer.disconnect()]);

// The pipeline.
const runtime = await LocalRuntime.start({ apiPort: 0, log: () => undefined });
const run = randomUUID().slice(0, 6);
const countries = Array.from({ length: 10 }, (_, i) => `Bench ${run} ${i}`);
const probeCountry = `Probe ${run}`;
const start = Math.floor((Date.now() - 4 * 60_000) / 60_000) * 60_000;
const freshness: number[] = [];
let probing = true;
let probeId = 0;
const probe = async () => {
  while (probing) {
    const id = probeId++;
    const at = Date.now() - 30_000;
    const from = Math.floor(at / 60_000) * 60_000;
    const url = `${runtime.apiUrl}/series/country/${encodeURIComponent(probeCountry)}?window=1m&from=${new Date(from).toISOString()}&to=${new Date(from + 60_000).toISOString()}`;
    const before = ((await (await fetch(url)).json()) as { total: { orders: number } }).total.orders;
    const posted = await fetch(`${runtime.apiUrl}/sales`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ payment_id: 97_000_000 + id, customer_id: 1, amount: "1.00", payment_date: at, country: probeCountry }]),
    });
    await posted.arrayBuffer();
    const acked = performance.now();
    const seen = await eventually(
      async () => ((await (await fetch(url)).json()) as { total: { orders: number } }).total.orders > before,
      60_000,
      25,
    );
    if (seen) freshness.push(performance.now() - acked);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
// Two probe loops, so a slow one does not leave the load unsampled.
const probes = Promise.all([probe(), probe()]);
started = performance.now();
const result = await runLoad({
  url: runtime.apiUrl,
  rate: RATE,
  durationSeconds: SECONDS,
  batchSize: 50,
  concurrency: 6,
  generator: { seed: 5, startMs: start, meanGapMs: (3 * 60_000) / total, countries, unknownCountryShare: 0, firstPaymentId: 80_000_000 },
});
const posted = (performance.now() - started) / 1000;
await eventually(
  async () => ordersOf(await apiFigures(runtime.apiUrl, countries, start, start + 5 * 60_000)) >= result.accepted.length,
  300_000,
  250,
);
const aggregated = (performance.now() - started) / 1000;
const firehose = runtime.firehoses[0];
await firehose?.flush();
const lake = await lakeFigures(clients.s3, firehose?.stream.bucket ?? "", countries);
const landed = (performance.now() - started) / 1000;
probing = false;
await probes;
await runtime.stop();

freshness.sort((a, b) => a - b);
const pct = (p: number) => (freshness[Math.min(freshness.length - 1, Math.floor((p / 100) * freshness.length))] ?? Number.NaN).toFixed(0);
console.log(`\nEnd to end, ${total.toLocaleString("en-US")} sales offered at ${RATE}/s (Node ${process.version})`);
console.log("| path | records | seconds | records/s |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| raw Kafka produce (idempotent, acks=all) + consume, same encoded records | ${total} | ${rawSeconds.toFixed(1)} | ${(total / rawSeconds).toFixed(0)} |`,
);
console.log(
  `| POST /sales accepted (load generator) | ${result.accepted.length} | ${posted.toFixed(1)} | ${(result.accepted.length / posted).toFixed(0)} |`,
);
console.log(
  `| POST -> visible in the aggregates (query API) | ${result.accepted.length} | ${aggregated.toFixed(1)} | ${(result.accepted.length / aggregated).toFixed(0)} |`,
);
console.log(
  `| POST -> landed in the lake (after a flush) | ${ordersOf(lake.figures)} | ${landed.toFixed(1)} | ${(ordersOf(lake.figures) / landed).toFixed(0)} |`,
);
console.log(`freshness (202 -> visible in /series), ${freshness.length} probes during the load: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
console.log(`rejected ${result.rejected.length}, lake duplicates ${lake.duplicates}`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
process.exit(0);
