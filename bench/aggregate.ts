import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { localClients, up } from "@sales-stream-analytics/local-aws";
import { type AggregationSettings, aggregate, planBatch } from "#functions/aggregate/aggregate";
import { createAggregateStore } from "#functions/aggregate/dynamodb-store";
import { processBatch } from "#functions/aggregate/process-batch";
import { valueKey } from "#shared/aggregates/metrics";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { knownCountries, regionOf } from "#shared/sales/regions";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { parseWindows, windowStarts } from "#shared/windows/windows";
import { createPrivateAggregatesTable, kafkaEvent, keyedRecords, salesEncoders } from "#tools/pipeline/aggregates";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";
import { measure, printTable } from "./support.ts";

/**
 * 1) DynamoDB write requests per record for one 1,000-record batch over ~70 countries with the
 *    default windows, against a writer that updates each (record, window, dimension) item.
 * 2) Cost of the aggregation core (decode + windows + merge, no I/O) against JSON.parse of the
 *    same records.
 */
const report = benchReport("aggregate");
await up();
const clients = localClients();
const settings: AggregationSettings = {
  windows: parseWindows("1m,10m/5m,1h,1d"),
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 1000,
};
const encode = await salesEncoders();
const countries = knownCountries.slice(0, 70);
// A live-like batch: 1,000 sales over ~100 s from 70 countries on 6 partitions.
const sales = sampleSales(1000, { seed: 70, startMs: Date.UTC(2022, 7, 1, 10, 14, 30), meanGapMs: 100, countries, unknownCountryShare: 0 });
const records = keyedRecords(sales, 6, encode);
const event = kafkaEvent("sales", records);

const batched = await createPrivateAggregatesTable(clients.dynamodb);
const store = createAggregateStore(clients.dynamodb, batched.name);
const decoder = new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema);
let started = performance.now();
const summary = await processBatch(event.records as never, { decoder, store, deadLetter: async () => undefined, settings });
const batchedMs = performance.now() - started;

const perRecord = await createPrivateAggregatesTable(clients.dynamodb);
let perRecordWrites = 0;
const updates: (() => Promise<unknown>)[] = [];
for (const sale of sales) {
  for (const spec of settings.windows) {
    for (const start of windowStarts(spec, sale.payment_date)) {
      for (const key of [valueKey("country", sale.country), valueKey("region", regionOf(sale.country)), valueKey("all", "all")]) {
        updates.push(() => {
          perRecordWrites++;
          return clients.dynamodb.send(
            new UpdateItemCommand({
              TableName: perRecord.name,
              Key: { pk: { S: `${spec.name}#${start}#${key}` }, sk: { S: "window" } },
              UpdateExpression: "ADD orders :one, sales :amount",
              ExpressionAttributeValues: { ":one": { N: "1" }, ":amount": { N: sale.amount } },
            }),
          );
        });
      }
    }
  }
}
started = performance.now();
for (let i = 0; i < updates.length; i += 64) await Promise.all(updates.slice(i, i + 64).map((run) => run()));
const perRecordMs = performance.now() - started;

report.print(
  `\nDynamoDB writes for one ${sales.length}-record batch, ${new Set(sales.map((s) => s.country)).size} countries, windows 1m,10m/5m,1h,1d`,
);
report.print("| writer | write requests | per record | wall ms |");
report.print("| --- | --- | --- | --- |");
report.print(
  `| per-record UpdateItem (record x window x dimension) | ${perRecordWrites} | ${(perRecordWrites / sales.length).toFixed(3)} | ${perRecordMs.toFixed(0)} |`,
);
report.print(
  `| this aggregator (one conditional PutItem per slice touched + watermarks) | ${store.counts.writes} | ${(store.counts.writes / sales.length).toFixed(3)} | ${batchedMs.toFixed(0)} |`,
);
report.print(
  `(${summary.itemsWritten} slices, ${summary.partitions} watermarks, ${store.counts.reads} BatchGetItem requests; ratio ${(perRecordWrites / store.counts.writes).toFixed(0)}x fewer writes)`,
);
await Promise.all([batched.drop(), perRecord.drop()]);

// 2) The core without I/O, on 100k records of the same shape.
const big = sampleSales(100_000, { seed: 71, startMs: Date.UTC(2022, 7, 1), meanGapMs: 100, countries, unknownCountryShare: 0 });
// As ingest produces them (no compression), alternating v1 and v2 writers; zlib shown apart.
const encodePlain = await salesEncoders("none");
const frames = big.map((sale, i) => encodePlain(sale, i));
const zlibFrames = big.map((sale, i) => encode(sale, i));
const json = big.map((sale) => JSON.stringify(sale));
await decoder.load([...frames, ...zlibFrames]);
const rows = [
  await measure(
    "JSON.parse of the same records",
    big.length,
    () => {
      for (const text of json) JSON.parse(text);
    },
    { note: "baseline" },
  ),
  await measure("core: decode (v1/v2) + windows + merge, no I/O", big.length, () => {
    const decoded = frames.map((frame, i) => ({ topicPartition: "sales-0", offset: i, sale: decoder.decode(frame) }));
    aggregate(planBatch(decoded, settings), new Map(), new Map(), settings);
  }),
  await measure("core, half the frames zlib-compressed", big.length, () => {
    const decoded = zlibFrames.map((frame, i) => ({ topicPartition: "sales-0", offset: i, sale: decoder.decode(frame) }));
    aggregate(planBatch(decoded, settings), new Map(), new Map(), settings);
  }),
];
printTable(report.print, `Aggregation core cost, ${big.length.toLocaleString("en-US")} records (Node ${process.version})`, rows);
const [json0, core] = rows;
if (json0 !== undefined && core !== undefined) report.print(`core time / JSON.parse time = ${(core.seconds / json0.seconds).toFixed(2)}x`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
report.save();
process.exit(0);
