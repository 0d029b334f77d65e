import { randomUUID } from "node:crypto";
import { bundleOf } from "#local/build/bundle";
import { FirehoseEmulator, firehoseStreams } from "#local/runtime/firehose";
import { LocalFunction } from "#local/runtime/lambda";
import { sampleSales } from "#local/sales/generator";
import { localClients } from "#local/stack/clients";
import { localStackContext } from "#local/stack/context";
import { up } from "#local/stack/stack";
import { samFunctions } from "#local/template/functions";
import { salesEncoders } from "#test/support/aggregates";

/**
 * Rows/s from the topic to Parquet in S3 for 100k records: the template's delivery stream
 * (transform buffer 1 MB, Parquet SNAPPY by the Glue table) reading a fresh topic, the real
 * transform function in a local container, moto's S3. Then the transform's bundle size.
 */
const count = Number(process.env.BENCH_RECORDS ?? 100_000);
await up();
const clients = localClients();
const ctx = localStackContext();
const topic = `bench-lake-${randomUUID().slice(0, 6)}`;
const admin = clients.kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
await admin.disconnect();

const encode = await salesEncoders("none");
const sales = sampleSales(count, { seed: 100, startMs: Date.UTC(2022, 7, 1), meanGapMs: 20_000 });
const producer = clients.kafka.producer();
await producer.connect();
for (let i = 0; i < sales.length; i += 5000) {
  await producer.send({ topic, messages: sales.slice(i, i + 5000).map((sale, j) => ({ key: sale.country, value: encode(sale, i + j) })) });
}
await producer.disconnect();

const [template] = firehoseStreams(ctx);
if (template === undefined) throw new Error("template.yaml has no delivery stream");
const stream = { ...template, topic, prefix: `bench/${topic}/dt=!{partitionKeyFromLambda:dt}/`, name: `bench-${topic}` };
const fnDef = samFunctions(ctx).find((f) => f.logicalId === stream.transformFunctionId);
if (fnDef === undefined) throw new Error("no transform function");
const transform = new LocalFunction(fnDef, () => undefined);
await transform.invoke({ invocationId: "warm", records: [] });
const firehose = new FirehoseEmulator(stream, transform, clients.kafka, clients.s3, () => undefined);
const started = performance.now();
await firehose.start();
while (firehose.stats.recordsRead < count) await new Promise((resolve) => setTimeout(resolve, 50));
await firehose.flush();
const seconds = (performance.now() - started) / 1000;
await firehose.stop();
await transform.stop();
console.log(`\nTopic -> transform -> Parquet in S3, ${count.toLocaleString("en-US")} records (Node ${process.version})`);
console.log(
  `rows written ${firehose.stats.rowsWritten}, failed ${firehose.stats.failedRecords}, transform invocations ${firehose.stats.invocations}, objects ${firehose.stats.objects}`,
);
console.log(`${(firehose.stats.rowsWritten / seconds).toFixed(0)} rows/s (${seconds.toFixed(1)} s)`);

const bundle = await bundleOf(fnDef);
console.log(`FirehoseTransformFunction bundle (the template's BuildProperties, as deployed): ${(bundle.bytes / 1024).toFixed(1)} KiB`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
process.exit(0);
