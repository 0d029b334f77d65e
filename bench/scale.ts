import { localClients, up } from "@sales-stream-analytics/local-aws";
import { type AggregationSettings, planBatch } from "#functions/aggregate/aggregate";
import { createAggregateStore } from "#functions/aggregate/dynamodb-store";
import { type KafkaEventRecord, processBatch } from "#functions/aggregate/process-batch";
import { createQueryStore } from "#functions/query/dynamodb-store";
import { createRollupStore } from "#functions/rollup/dynamodb-store";
import { rollUp, windowsPerRead } from "#functions/rollup/rollup";
import { parseSliceId, type TableChange } from "#shared/aggregates/slices";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { knownCountries } from "#shared/sales/regions";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { createPrivateAggregatesTable, kafkaEvent, salesEncoders } from "#tools/pipeline/aggregates";
import { seededRandom } from "#tools/sales/generator";
import { benchReport } from "./report.ts";

/**
 * How aggregation scales with partitions. For P = 1..64 concurrent partition workers, each
 * replays its own partition's batches (records keyed by country, so each partition has its own
 * countries; every partition covers the same stretch of event time, so all of them touch the
 * same windows) through the real core and store against DynamoDB Local. Prints records/s,
 * conflicts, writes per record, the largest item, the busiest key's write rate (DynamoDB allows
 * 1,000 WCU/s per key) and its writes per batch of one partition (1 when no key is shared by
 * partitions, P when every partition writes it), what the query API's reads cost at that P, and
 * what the rollup (region and overall series) costs per window instance and stream batch.
 *
 * BATCHES (default 4) and BATCH_SIZE (default 1000) per worker; PARTITIONS="1,2,4" to choose P.
 */
const report = benchReport("scale");
const batches = Number(process.env.BATCHES ?? 4);
const batchSize = Number(process.env.BATCH_SIZE ?? 1000);
const counts = (process.env.PARTITIONS ?? "1,2,4,8,16,32,64").split(",").map(Number);
const topic = "sales";
const T0 = Date.UTC(2022, 7, 1, 10);
const settings: AggregationSettings = {
  windows: parseWindows("1m,10m/5m,1h,1d"),
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 500,
};

await up();
const clients = localClients();
const encode = await salesEncoders();
const decoder = new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema);

/** Countries whose records Kafka's partitioner puts on partition p (invented ones where none does). */
function countriesOf(p: number, partitions: number): string[] {
  const known = knownCountries.filter((c) => partitionOfKey(c, partitions) === p);
  for (let k = 0; known.length === 0; k++) if (partitionOfKey(`Country ${k}`, partitions) === p) known.push(`Country ${k}`);
  return known;
}

/** A partition's batches as the mapping delivers them: `batchSize` records ~100 s of event time each. */
function partitionBatches(p: number, partitions: number): Record<string, KafkaEventRecord[]>[] {
  const random = seededRandom(1000 + p);
  const countries = countriesOf(p, partitions);
  const gap = 100_000 / batchSize;
  return Array.from({ length: batches }, (_, b) => {
    const records = Array.from({ length: batchSize }, (_, i) => {
      const offset = b * batchSize + i;
      const sale: Sale = {
        payment_id: offset,
        customer_id: 1 + Math.floor(random() * 599),
        amount: (0.99 + Math.floor(random() * 10) + 0.01 * Math.floor(random() * 2)).toFixed(2),
        payment_date: T0 + Math.round(offset * gap + random() * gap),
        city: null,
        district: null,
        country: countries[Math.floor(random() * countries.length)] as string,
        channel: "web",
      };
      return { partition: p, offset, value: encode(sale, offset), key: sale.country };
    });
    return kafkaEvent(topic, records).records as unknown as Record<string, KafkaEventRecord[]>;
  });
}

interface KeyLoad {
  writes: number;
  bytes: number;
  wcu: number;
}

const rows: string[] = [];
let baselineRate = 0;
// The first pass warms DynamoDB Local's JVM and this process's JIT; its figures are not printed.
for (const [pass, partitions] of [counts[0] as number, ...counts].entries()) {
  const warmUp = pass === 0;
  const work = Array.from({ length: partitions }, (_, p) => partitionBatches(p, partitions));
  const frames = work
    .flat()
    .flatMap((batch) => Object.values(batch).flatMap((records) => records.map((r) => Buffer.from(r.value ?? "", "base64"))));
  await decoder.load(frames);
  // No stream: DynamoDB Local's stream emulation slows every write ~5x (measured here), DynamoDB
  // does not; the rollup is fed the slice writes directly below.
  const table = await createPrivateAggregatesTable(clients.dynamodb, { stream: false });
  const keys = new Map<string, KeyLoad>();
  const observe = (key: string, bytes: number) => {
    const load = keys.get(key) ?? { writes: 0, bytes: 0, wcu: 0 };
    load.writes++;
    load.bytes += bytes;
    load.wcu += Math.max(1, Math.ceil(bytes / 1024));
    keys.set(key, load);
  };
  // Slice writes by round (every partition's b-th batch): what the table's stream hands the rollup.
  const rounds: TableChange[][] = Array.from({ length: batches }, () => []);
  const stores = work.map((_, p) => {
    const current = { round: 0 };
    const store = createAggregateStore(clients.dynamodb, table.name, (key, bytes) => {
      observe(key, bytes);
      // Every write names its partition key; a slice's is its id (watermarks' are not ids).
      const slice = parseSliceId(key);
      if (slice !== undefined) rounds[current.round]?.push({ kind: "written", ...slice, sequenceNumber: "0" });
    });
    return { store, current, p };
  });
  const started = performance.now();
  await Promise.all(
    work.map(async (partitionWork, p) => {
      const { store, current } = stores[p] as (typeof stores)[number];
      for (const [b, batch] of partitionWork.entries()) {
        current.round = b;
        await processBatch(batch, { decoder, store, deadLetter: async () => undefined, settings });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const records = partitions * batches * batchSize;
  const rate = records / seconds;
  if (pass === 1) baselineRate = rate / partitions;
  const writes = stores.reduce((sum, s) => sum + s.store.counts.writes, 0);
  const conflicts = stores.reduce((sum, s) => sum + s.store.counts.conflicts, 0);
  const largest = Math.max(...stores.map((s) => s.store.counts.largestItemBytes));

  // The rollup, one stream batch per round: each window instance's rollup is written once per
  // batch, whatever P is; its reads grow with P (a BatchGetItem reads 100 slices).
  const rollups = createRollupStore(clients.dynamodb, table.name, partitions);
  let rollupWindows = 0;
  for (const round of rounds)
    rollupWindows += (await rollUp(round, rollups, { windowsPerRead: windowsPerRead(partitions) })).summary.windows;
  const rollupWritesPerWindowBatch = rollups.counts.writes / rollupWindows;
  const [busiestKey, busiest] = [...keys].sort((a, b) => b[1].wcu - a[1].wcu)[0] ?? ["", { writes: 0, bytes: 0, wcu: 0 }];

  // What the query API reads at this P: a leaderboard, a 1,500-window country series, a region series.
  const reads = createQueryStore(clients.dynamodb, table.name, topic, partitions);
  const before = () => reads.counts.requests;
  let mark = before();
  await reads.windowValues("10m/5m", T0, "country");
  const leaderboardRequests = before() - mark;
  mark = before();
  const someCountry = countriesOf(0, partitions)[0] as string;
  const countrySeries = await reads.valueSeries("1m", T0, T0 + 1499 * 60_000, "country", someCountry);
  const countryRequests = before() - mark;
  mark = before();
  await reads.valueSeries("1m", T0, T0 + 1499 * 60_000, "region", "Europe");
  const regionRequests = before() - mark;
  const regionSeries = await reads.valueSeries("1m", T0, T0 + 1499 * 60_000, "all", "all");
  if (regionSeries.length === 0) throw new Error("no overall series read back: the rollups and the reader disagree");
  if (countrySeries.length === 0) throw new Error(`no series read back for ${someCountry}: the layout and the reader disagree`);

  if (!warmUp)
    rows.push(
      [
        partitions,
        Math.round(rate).toLocaleString("en-US"),
        `${(rate / (baselineRate * partitions)).toFixed(2)}`,
        (conflicts / (partitions * batches)).toFixed(2),
        (writes / records).toFixed(4),
        (largest / 1024).toFixed(1),
        `${(busiest.writes / seconds).toFixed(1)} / ${(busiest.wcu / seconds).toFixed(1)} / ${(busiest.bytes / 1024 / seconds).toFixed(1)}`,
        (busiest.writes / batches).toFixed(2),
        busiestKey,
        `${leaderboardRequests} / ${countryRequests} / ${regionRequests}`,
        `${rollupWritesPerWindowBatch.toFixed(2)} / ${(rollups.counts.reads / rollupWindows).toFixed(2)}`,
      ].join(" | "),
    );
  await table.drop();
  console.error(`P=${partitions}${warmUp ? " (warm-up)" : ""}: ${records} records in ${seconds.toFixed(1)} s`);
}

const plan = planBatch([], settings);
report.print(
  `\nAggregation with P concurrent partition workers, ${batches} batches of ${batchSize} records each (~100 s of event time per batch), windows 1m,10m/5m,1h,1d, ${plan.perRecord} windows per record, Node ${process.version}`,
);
report.print(
  "| P | records/s | vs P x (P=1 rate) | conflicts per batch | writes per record | largest item KB | busiest key writes/s / WCU/s / KB/s | busiest key writes per partition batch | busiest key | query requests: leaderboard / country series / region series | rollup writes / reads per window per stream batch |",
);
report.print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) report.print(`| ${row} |`);
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
report.save();
process.exit(0);
