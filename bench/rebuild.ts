import { randomUUID } from "node:crypto";
import { type DynamoDBClient, ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { LocalRuntime, localClients, startTrino, trinoQuery, up } from "@sales-stream-analytics/local-aws";
import { expandPrefix, firehoseStreams, stopProcess, toParquet } from "@sales-stream-analytics/local-aws/testing";
import { createAggregateStore } from "#functions/aggregate/dynamodb-store";
import { firstLakeDate, type RebuildSummary, rebuild } from "#functions/aggregate/rebuild";
import type { LakeEngine } from "#functions/aggregate/rebuild-core";
import { lakeJson, partitionKeysOf } from "#functions/firehose-transform/transform";
import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { unmarshalSlice } from "#shared/aggregates/table";
import { parseJsonKeepingNumbers } from "#shared/json/exact-numbers";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { bigCentsOf } from "#shared/money/cents";
import type { Sale } from "#shared/sales/schema";
import { parseWindows, type WindowSpec, windowStarts } from "#shared/windows/windows";
import { localRebuildTarget } from "#tools/rebuild-local";
import { sampleSales } from "#tools/sales/generator";
import { benchReport } from "./report.ts";

/**
 * `npm run rebuild`'s throughput on the local stack: a lake of BENCH_REBUILD_SALES seeded sales
 * (default 100,000 over BENCH_REBUILD_DAYS days, default 3) written straight into a private copy's
 * lake as Firehose's Parquet objects (the transform's rows, the emulator's writer), with the live
 * path's progress items saying it applied every offset
 * but with no slice (a lost table). Then the rebuild's own code with Trino as the lake engine:
 * the live rule over 1h,1d, a restatement of the same windows, a restatement of the stack's
 * default windows (left out with BENCH_REBUILD_DEFAULT_WINDOWS=0). Each run's time is split into
 * the engine's (Trino's queries and their result pages) and DynamoDB's (the snapshot reads and swap transactions, while any is in flight); the
 * rest is the aggregation core's fold. The figures stored are checked against a recount of the
 * seeded sales in exact cents. On a namespaced runtime (removed at the end).
 */
const report = benchReport("rebuild");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const count = Number(process.env.BENCH_REBUILD_SALES ?? 100_000);
const days = Number(process.env.BENCH_REBUILD_DAYS ?? 3);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(days) || days < 1)
  throw new Error(`BENCH_REBUILD_SALES and BENCH_REBUILD_DAYS must be positive whole numbers; got "${count}" and "${days}"`);
/** Every so many sales, one arrives this long after its event time: late for the 1h windows by the live rule. */
const LATE_EVERY = 40;
const LATE_BY = 2 * HOUR;

await up();
const trino = await startTrino();
const clients = localClients();
// A private copy without event sources: nothing but the rebuild writes its table.
const runtime = await LocalRuntime.start({
  namespace: `rebuild-${randomUUID().slice(0, 6)}`,
  apiPort: 0,
  eventSources: false,
  log: () => undefined,
});
try {
  const { settings, table, schema, tables, ...query } = localRebuildTarget(runtime);
  const [stream] = firehoseStreams(runtime.context);
  if (stream === undefined) throw new Error("template.yaml has no delivery stream");

  // The seeded history, offsets in arrival order per partition (the topic's key is the country).
  const from = Date.UTC(2022, 7, 1);
  const to = from + days * DAY;
  const sales: Sale[] = sampleSales(count, { seed: 26, startMs: from, meanGapMs: Math.floor((0.95 * days * DAY) / count) }).map(
    (sale, i) =>
      i % LATE_EVERY === LATE_EVERY - 1 && sale.payment_date - LATE_BY >= from
        ? { ...sale, payment_date: sale.payment_date - LATE_BY }
        : sale,
  );
  if (sales.some((sale) => sale.payment_date >= to)) throw new Error("the generator's sales run past the seeded range");
  const decimals = stream.columns.filter((column) => column.type.startsWith("decimal")).map((column) => column.name);
  const nextOffset = new Map<number, number>();
  const progress = new Map<number, { offset: number; eventTime: number }>();
  const byPrefix = new Map<string, Record<string, unknown>[]>();
  const seeding = performance.now();
  for (const sale of sales) {
    const partition = partitionOfKey(sale.country, query.partitions);
    const offset = nextOffset.get(partition) ?? 0;
    nextOffset.set(partition, offset + 1);
    const seen = progress.get(partition);
    progress.set(partition, { offset, eventTime: Math.max(seen?.eventTime ?? sale.payment_date, sale.payment_date) });
    // The transform's line for the sale, read as the emulator reads it (decimals kept exact).
    const prefix = expandPrefix(stream.prefix, Date.now(), partitionKeysOf(sale));
    const rows = byPrefix.get(prefix) ?? [];
    rows.push(parseJsonKeepingNumbers(lakeJson(sale, partition, offset).trim(), decimals) as Record<string, unknown>);
    byPrefix.set(prefix, rows);
  }
  let objects = 0;
  // At most 50,000 rows an object, as several Firehose deliveries a day would write them.
  for (const [prefix, rows] of byPrefix)
    for (let i = 0; i < rows.length; i += 50_000, objects++)
      await clients.s3.send(
        new PutObjectCommand({
          Bucket: stream.bucket,
          Key: `${prefix}${stream.name}-bench-${objects}.parquet`,
          Body: toParquet(rows.slice(i, i + 50_000), stream.columns, stream.parquet),
        }),
      );
  const store = createAggregateStore(clients.dynamodb, table);
  for (const [partition, watermark] of progress) await store.writeWatermark(`${query.topic}-${partition}`, watermark);
  const seededIn = (performance.now() - seeding) / 1000;
  const [landed] = (await trinoQuery(`SELECT count(*) FROM ${tables.once}`, { schema })).rows;
  if (Number(landed?.[0]) !== count) throw new Error(`the lake holds ${landed?.[0]} sales, not the ${count} seeded`);

  // The rebuild's ports, timed: the engine's calls run one at a time; DynamoDB's overlap (swaps run 16 at once), so its busy time is kept.
  const clock = { engineMs: 0, dynamodbMs: 0, inFlight: 0, busySince: 0 };
  const lake: LakeEngine = {
    async rows(sql) {
      const started = performance.now();
      try {
        return (await trinoQuery(sql, { schema })).rows;
      } finally {
        clock.engineMs += performance.now() - started;
      }
    },
  };
  const dynamodb = {
    async send(command: Parameters<DynamoDBClient["send"]>[0]) {
      if (clock.inFlight++ === 0) clock.busySince = performance.now();
      try {
        return await clients.dynamodb.send(command);
      } finally {
        if (--clock.inFlight === 0) clock.dynamodbMs += performance.now() - clock.busySince;
      }
    },
  } as Pick<DynamoDBClient, "send">;

  const runs: { name: string; summary: RebuildSummary; seconds: number; engine: number; dynamodb: number; instances: number }[] = [];
  const run = async (name: string, restate: boolean, windows: readonly WindowSpec[]) => {
    clock.engineMs = 0;
    clock.dynamodbMs = 0;
    const started = performance.now();
    const summary = await rebuild(
      { from, to, restate, windows, reason: `bench: ${name}` },
      {
        dynamodb,
        table,
        lake,
        tables,
        settings,
        ...query,
        pollMs: 1_000,
        lakeWaitMs: 0,
        firstLakeDate: firstLakeDate(clients, { database: schema, table: tables.raw }),
      },
    );
    const seconds = (performance.now() - started) / 1000;
    if (summary.deferred.length > 0)
      throw new Error(`${name}: ${summary.deferred.length} window instances deferred; nothing else writes here`);
    const instances = summary.rebuilt + summary.unchanged;
    runs.push({ name, summary, seconds, engine: clock.engineMs / 1000, dynamodb: clock.dynamodbMs / 1000, instances });
    console.error(`${name}: ${seconds.toFixed(1)} s`);
  };

  const windows = parseWindows("1h,1d");
  await run("live rule, 1h,1d", false, windows);
  await check(windows, false);
  await run("restate, 1h,1d", true, windows);
  await check(windows, true);
  const defaults = settings.windows.filter((spec) => !spec.unbounded);
  // The default windows' fine instances take most of the time (BENCH_REBUILD_DEFAULT_WINDOWS=0 leaves them out).
  if (process.env.BENCH_REBUILD_DEFAULT_WINDOWS !== "0") {
    await run(`restate, ${defaults.map((spec) => spec.name).join(",")}`, true, defaults);
    await check(defaults, true);
  }

  report.print(
    `\nRebuild from the lake on the local stack (Trino ${trino === "started" ? "started for the run" : "already running"}, DynamoDB Local): ${count.toLocaleString("en-US")} sales over ${days} day${days === 1 ? "" : "s"} in ${query.partitions} partitions, ${objects} Parquet objects seeded in ${seededIn.toFixed(1)} s; 1 in ${LATE_EVERY} sales ${LATE_BY / HOUR} h late (Node ${process.version})`,
  );
  report.print("| run | wall s | sales read | instances (rebuilt / unchanged) | sales/s | engine s | DynamoDB s | fold s |");
  report.print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of runs)
    report.print(
      `| ${r.name} | ${r.seconds.toFixed(1)} | ${r.summary.salesRead.toLocaleString("en-US")} | ${r.instances} (${r.summary.rebuilt} / ${r.summary.unchanged}) | ${Math.round(r.summary.salesRead / r.seconds).toLocaleString("en-US")} | ${r.engine.toFixed(1)} | ${r.dynamodb.toFixed(1)} | ${Math.max(0, r.seconds - r.engine - r.dynamodb).toFixed(1)} |`,
    );
  report.print(
    "Every country's figures of every window instance matched a recount of the seeded sales in exact cents after each run (the live rule: orders + late; a restatement: orders, sales, min, max, no late).",
  );

  /**
   * Throws unless the stored figures of every country in every instance of `specs` equal a recount
   * of the seeded sales: a restatement counts each sale in every window it belongs to; the live
   * rule counts each either as an order or as late, and some as late in the 1h windows.
   */
  async function check(specs: readonly WindowSpec[], restated: boolean): Promise<void> {
    const expected = new Map<string, Metrics>();
    for (const sale of sales)
      for (const spec of specs)
        for (const start of windowStarts(spec, sale.payment_date)) {
          const cents = bigCentsOf(sale.amount);
          addPartial(expected, `${spec.name}@${start} ${sale.country}`, { orders: 1n, sales: cents, min: cents, max: cents, late: 0n });
        }
    const stored = new Map<string, Metrics>();
    let startKey: ScanCommandOutput["LastEvaluatedKey"];
    do {
      const page = await clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
      for (const attributes of page.Items ?? []) {
        if (attributes.sk?.S !== "slice") continue;
        const slice = unmarshalSlice(attributes);
        if (!specs.some((spec) => spec.name === slice.window)) continue;
        for (const [key, metrics] of slice.values)
          if (key.startsWith("country#")) addPartial(stored, `${slice.window}@${slice.start} ${key.slice("country#".length)}`, metrics);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    let late = 0n;
    for (const [id, want] of expected) {
      const got = stored.get(id);
      late += got?.late ?? 0n;
      const same = restated
        ? got !== undefined &&
          got.orders === want.orders &&
          got.sales === want.sales &&
          got.min === want.min &&
          got.max === want.max &&
          got.late === 0n
        : got !== undefined && got.orders + got.late === want.orders;
      if (!same)
        throw new Error(
          `${id}: stored ${JSON.stringify(got, (_, v) => (typeof v === "bigint" ? String(v) : v))}, recount ${want.orders} orders ${want.sales} cents`,
        );
    }
    if (stored.size !== expected.size)
      throw new Error(`the table holds ${stored.size} country figures of ${specs.map((s) => s.name)}, the recount ${expected.size}`);
    if (!restated && late === 0n) throw new Error("the live rule counted no sale late; the seeded late sales should be");
  }
} finally {
  await runtime.stop();
  if (trino === "started") await stopProcess("trino");
  for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs]) client.destroy();
}
report.save();
process.exit(0);
