import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients, up } from "@sales-stream-analytics/local-aws";
import { bundleOf, FirehoseEmulator, firehoseStreams } from "@sales-stream-analytics/local-aws/testing";
import { salesEncoders } from "#tools/pipeline/aggregates";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";

/**
 * Rows/s from the topic to Parquet in S3 for 100k records: the template's delivery stream
 * (transform buffer 1 MB, Parquet SNAPPY by the Glue table) reading a fresh topic, the real
 * transform function in a local container, moto's S3. On a namespaced runtime's private topic and
 * bucket (removed at the end). Then the transform's bundle size.
 */
const report = benchReport("lake");
const count = Number(process.env.BENCH_RECORDS ?? 100_000);
await up();
const clients = localClients();
const runtime = await LocalRuntime.start({
  namespace: `bench-${randomUUID().slice(0, 6)}`,
  apiPort: 0,
  eventSources: false,
  log: () => undefined,
});
const topic = runtime.salesTopic;

const encode = await salesEncoders("none");
const sales = sampleSales(count, { seed: 100, startMs: Date.UTC(2022, 7, 1), meanGapMs: 20_000 });
const producer = clients.kafka.producer();
await producer.connect();
for (let i = 0; i < sales.length; i += 5000) {
  await producer.send({ topic, messages: sales.slice(i, i + 5000).map((sale, j) => ({ key: sale.country, value: encode(sale, i + j) })) });
}
await producer.disconnect();

const [stream] = firehoseStreams(runtime.context);
if (stream?.transformFunctionId === undefined) throw new Error("template.yaml has no delivery stream with a transform");
const transform = runtime.fn(stream.transformFunctionId);
await transform.invoke({ invocationId: "warm", records: [] });
const firehose = new FirehoseEmulator(stream, transform, clients.kafka, clients.s3, () => undefined);
const started = performance.now();
await firehose.start();
while (firehose.stats.recordsRead < count) await new Promise((resolve) => setTimeout(resolve, 50));
await firehose.flush();
const seconds = (performance.now() - started) / 1000;
await firehose.stop();
await runtime.stop();
report.print(`\nTopic -> transform -> Parquet in S3, ${count.toLocaleString("en-US")} records (Node ${process.version})`);
report.print(
  `rows written ${firehose.stats.rowsWritten}, failed ${firehose.stats.failedRecords}, transform invocations ${firehose.stats.invocations}, objects ${firehose.stats.objects}`,
);
report.print(`${(firehose.stats.rowsWritten / seconds).toFixed(0)} rows/s (${seconds.toFixed(1)} s)`);

const bundle = await bundleOf(transform.fn);
report.print(`FirehoseTransformFunction bundle (the template's BuildProperties, as deployed): ${(bundle.bytes / 1024).toFixed(1)} KiB`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
report.save();
process.exit(0);
