import { randomUUID } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { LocalRuntime, localClients, up } from "@sales-stream-analytics/local-aws";
import type { KafkaBatchTiming, StreamBatchTiming } from "@sales-stream-analytics/local-aws/testing";
import { regionOf } from "#shared/sales/regions";
import { runLoad } from "#tools/load/run-load";
import { salesEncoders } from "#tools/pipeline/aggregates";
import { apiFigures, eventually, lakeFigures, ordersOf } from "#tools/pipeline/figures";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";

/**
 * End to end on the local stack, on a namespaced runtime (private topic, tables, bucket: nothing
 * reaches what `npm start` serves): records/s from POST to visible in the aggregates and landed in
 * the lake, beside raw Kafka produce+consume of the same number of encoded records; and freshness
 * (202 to visible in the query API) of probe sales posted during the load, on the country series
 * (aggregator) and on the region and overall series (aggregator, table stream, rollup), each
 * broken down into the stages the runtime's mappings report (onBatch timings).
 */
const report = benchReport("e2e");
const RATE = Number(process.env.BENCH_RATE ?? 600);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const total = RATE * SECONDS;
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
const loadBefore = load();
await up();
const clients = localClients();

// Baseline: produce and consume the same number of encoded records through the broker.
const topic = `bench-raw-${randomUUID().slice(0, 6)}`;
const admin = clients.kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
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
await admin.deleteGroups([`bench-raw-${topic}`]).catch(() => undefined);
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();

// The pipeline, on resources of its own.
const runtime = await LocalRuntime.start({ namespace: `bench-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
const kafkaBatches: KafkaBatchTiming[] = [];
const streamBatches: StreamBatchTiming[] = [];
for (const esm of runtime.mappings) esm.onBatch = (timing) => kafkaBatches.push(timing);
for (const esm of runtime.streamMappings) esm.onBatch = (timing) => streamBatches.push(timing);
const run = randomUUID().slice(0, 6);
const countries = Array.from({ length: 10 }, (_, i) => `Bench ${run} ${i}`);
// The load's event times lie 8 to 5 minutes back; each probe loop writes a minute of its own
// (30 s and 150 s back), so a region or overall window it watches holds only its own probes.
const start = Math.floor((Date.now() - 8 * 60_000) / 60_000) * 60_000;

// Warm-up, as a deployed stack would be: every function's containers started and the mappings'
// consumer groups joined, so the figures are of the pipeline, not of its first seconds.
const warm = Array.from({ length: 24 }, (_, i) => ({
  payment_id: 96_000_000 + i,
  customer_id: 1,
  amount: "1.00",
  payment_date: start + 30_000,
  country: `Warm ${run} ${i}`,
}));
const warmed = await fetch(`${runtime.apiUrl}/sales`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(warm),
});
if (warmed.status !== 202) throw new Error(`warm-up POST /sales answered ${warmed.status}: ${await warmed.text()}`);
const warmRange = `window=1m&from=${new Date(start).toISOString()}&to=${new Date(start + 60_000).toISOString()}`;
await eventually(
  async () =>
    ((await (await fetch(`${runtime.apiUrl}/series/all/all?${warmRange}`)).json()) as { total: { orders: number } }).total.orders >=
    warm.length,
  300_000,
  250,
);
kafkaBatches.length = 0;
streamBatches.length = 0;
const functionIds = ["IngestFunction", "AggregateFunction", "RollupFunction", "QueryFunction"];
const statsAtStart = new Map(functionIds.map((id) => [id, { ...runtime.fn(id).stats }]));

interface Probe {
  readonly partition: number;
  readonly offset: bigint;
  readonly windowStart: number;
  readonly acked: number;
  /** ms since the epoch each series first showed the probe, by path. */
  readonly seen: Partial<Record<Path, number>>;
}
type Path = "country" | "region" | "overall";
const paths: readonly Path[] = ["country", "region", "overall"];
const probes: Probe[] = [];
let probing = true;
let probeId = 0;
const orders = async (url: string) => ((await (await fetch(url)).json()) as { total: { orders: number } }).total.orders;
const probeLoop = async (label: string, backMs: number) => {
  const country = `Probe ${run} ${label}`;
  const values: Record<Path, string> = {
    country: `country/${encodeURIComponent(country)}`,
    region: `region/${encodeURIComponent(regionOf(country))}`,
    overall: "all/all",
  };
  while (probing) {
    const id = probeId++;
    const at = Date.now() - backMs;
    const from = Math.floor(at / 60_000) * 60_000;
    const range = `window=1m&from=${new Date(from).toISOString()}&to=${new Date(from + 60_000).toISOString()}`;
    const urls = Object.fromEntries(paths.map((path) => [path, `${runtime.apiUrl}/series/${values[path]}?${range}`])) as Record<
      Path,
      string
    >;
    const before = Object.fromEntries(await Promise.all(paths.map(async (path) => [path, await orders(urls[path])]))) as Record<
      Path,
      number
    >;
    const posted = await fetch(`${runtime.apiUrl}/sales`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ payment_id: 97_000_000 + id, customer_id: 1, amount: "1.00", payment_date: at, country }]),
    });
    const acked = Date.now();
    const body = (await posted.json()) as { records?: { partition: number; offset: string }[] };
    const record = body.records?.[0];
    if (posted.status !== 202 || record === undefined) continue;
    const probe: Probe = { partition: record.partition, offset: BigInt(record.offset), windowStart: from, acked, seen: {} };
    const deadline = acked + 60_000;
    // The probes' queries load the same DynamoDB Local the pipeline writes to: the region and
    // overall series are polled only once the country series (which they follow) shows the probe.
    while (Date.now() < deadline && paths.some((path) => probe.seen[path] === undefined)) {
      const due = probe.seen.country === undefined ? (["country"] as const) : paths.filter((path) => probe.seen[path] === undefined);
      await Promise.all(
        due.map(async (path) => {
          if ((await orders(urls[path])) > before[path]) probe.seen[path] = Date.now();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    probes.push(probe);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
// Two probe loops, so a slow one does not leave the load unsampled.
const probing_ = Promise.all([probeLoop("A", 30_000), probeLoop("B", 150_000)]);
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
const loadDuring = load();
// Only probes posted while the load ran count (the last ones finish meanwhile).
probing = false;
await eventually(
  async () => ordersOf(await apiFigures(runtime.apiUrl, countries, start, start + 5 * 60_000)) >= result.accepted.length,
  300_000,
  250,
);
const aggregated = (performance.now() - started) / 1000;
await probing_;
const firehose = runtime.firehoses[0];
await firehose?.flush();
const lake = await lakeFigures(clients.s3, firehose?.stream.bucket ?? "", countries);
const landed = (performance.now() - started) / 1000;
const salesTopic = runtime.salesTopic;
// Per invocation during the run: waiting for a free container (LocalFunction's maxConcurrency) and running.
const functionLines = functionIds.map((id) => {
  const now = runtime.fn(id).stats;
  const was = statsAtStart.get(id) ?? now;
  const n = now.invocations - was.invocations;
  return `${id} ${n} invocations, queued ${((now.queuedMs - was.queuedMs) / Math.max(n, 1)).toFixed(0)} ms, ran ${((now.runMs - was.runMs) / Math.max(n, 1)).toFixed(0)} ms, ${now.coldStarts - was.coldStarts} cold starts`;
});
const batchSizes = (sizes: number[]) =>
  `${sizes.length} batches, mean ${(sizes.reduce((a, b) => a + b, 0) / Math.max(sizes.length, 1)).toFixed(0)} records`;
const kafkaSizes = kafkaBatches.map((b) => Number(BigInt(b.lastOffset) - BigInt(b.firstOffset)) + 1);
const streamSizes = streamBatches.map((b) => b.keys.length);
await runtime.stop();

const quantile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const mean = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

// Each probe's stages: the aggregator batch that held its offset, then the first stream batch done
// after that batch was invoked that held its partition's 1m slice of the probe's window.
type Stage = "batching" | "aggregate" | "stream" | "rollup" | "query";
const stagesOf = (probe: Probe, path: Path): Partial<Record<Stage, number>> | undefined => {
  const seen = probe.seen[path];
  const kafka = kafkaBatches.find(
    (b) =>
      b.topic === salesTopic &&
      b.partition === probe.partition &&
      BigInt(b.firstOffset) <= probe.offset &&
      probe.offset <= BigInt(b.lastOffset),
  );
  if (seen === undefined || kafka === undefined) return undefined;
  const aggregate = { batching: kafka.invokedAt - probe.acked, aggregate: kafka.doneAt - kafka.invokedAt };
  if (path === "country") return { ...aggregate, query: seen - kafka.doneAt };
  const pk = `1m#${new Date(probe.windowStart).toISOString()}#${salesTopic}-${probe.partition}`;
  const stream = streamBatches.find((b) => b.doneAt >= kafka.invokedAt && b.keys.some((key) => key.pk === pk));
  if (stream === undefined) return undefined;
  return { ...aggregate, stream: stream.invokedAt - kafka.doneAt, rollup: stream.doneAt - stream.invokedAt, query: seen - stream.doneAt };
};

report.print(
  `\nEnd to end, ${total.toLocaleString("en-US")} sales offered at ${RATE}/s (Node ${process.version}, ${availableParallelism()} CPUs)`,
);
report.print(`load average (1/5/15 min): before ${loadBefore}, at the end of the load ${loadDuring}, after ${load()}`);
report.print("| path | records | seconds | records/s |");
report.print("| --- | --- | --- | --- |");
report.print(
  `| raw Kafka produce (idempotent, acks=all) + consume, same encoded records | ${total} | ${rawSeconds.toFixed(1)} | ${(total / rawSeconds).toFixed(0)} |`,
);
report.print(
  `| POST /sales accepted (load generator) | ${result.accepted.length} | ${posted.toFixed(1)} | ${(result.accepted.length / posted).toFixed(0)} |`,
);
report.print(
  `| POST -> visible in the aggregates (query API) | ${result.accepted.length} | ${aggregated.toFixed(1)} | ${(result.accepted.length / aggregated).toFixed(0)} |`,
);
report.print(
  `| POST -> landed in the lake (after a flush) | ${ordersOf(lake.figures)} | ${landed.toFixed(1)} | ${(ordersOf(lake.figures) / landed).toFixed(0)} |`,
);
report.print(`aggregation / accepted rate: ${(posted / aggregated).toFixed(2)}x`);
for (const path of paths) {
  const fresh = probes.flatMap((probe) => (probe.seen[path] === undefined ? [] : [(probe.seen[path] as number) - probe.acked]));
  const missed = probes.length - fresh.length;
  const breakdowns = probes.flatMap((probe) => stagesOf(probe, path) ?? []);
  const stageNames = (
    path === "country" ? ["batching", "aggregate", "query"] : ["batching", "aggregate", "stream", "rollup", "query"]
  ) as Stage[];
  const whole = mean(breakdowns.map((b) => stageNames.reduce((sum, stage) => sum + (b[stage] ?? 0), 0)));
  const shares = stageNames
    .map((stage) => {
      const values = breakdowns.map((b) => b[stage] ?? 0);
      return `${stage} ${mean(values).toFixed(0)} ms (${((100 * mean(values)) / whole).toFixed(0)} %, p99 ${quantile(values, 99).toFixed(0)})`;
    })
    .join(", ");
  report.print(
    `freshness ${path.padEnd(7)} (202 -> visible in /series), ${fresh.length} probes${missed > 0 ? ` (${missed} never seen in 60 s)` : ""}: p50 ${quantile(fresh, 50).toFixed(0)} ms, p99 ${quantile(fresh, 99).toFixed(0)} ms`,
  );
  report.print(`  stages (mean of ${breakdowns.length}): ${shares}`);
}
report.print(`per invocation (mean): ${functionLines.join("; ")}`);
const streamWindow = mean(streamBatches.map((b) => b.invokedAt - b.readAt));
report.print(
  `aggregate mapping: ${batchSizes(kafkaSizes)}; rollup stream mapping: ${batchSizes(streamSizes)}, first record read to invocation ${streamWindow.toFixed(0)} ms (the batching window)`,
);
report.print(`rejected ${result.rejected.length}, lake duplicates ${lake.duplicates}`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs, clients.iam]) client.destroy();
report.save();
process.exit(0);
