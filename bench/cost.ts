import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { LocalRuntime, localClients, paths, UsageMeter, up } from "@sales-stream-analytics/local-aws";
import { declaredTopics, MetricSink, resourceEnabled } from "@sales-stream-analytics/local-aws/testing";
import {
  type CostLine,
  fixedMonthlyCost,
  flinkKpus,
  flinkMonthly,
  formatRatio,
  formatUsd,
  type LambdaUsage,
  type MeasuredUsage,
  ratio,
  salesPerMonth,
  scaled,
  total,
  variableCost,
} from "#tools/cost/estimate";
import { FLINK_RECORDS_PER_KPU, PRICES_READ_ON } from "#tools/cost/prices";
import { runLoad } from "#tools/load/run-load";
import { eventually } from "#tools/pipeline/figures";
import { benchReport } from "./report.ts";

/**
 * What the pipeline would cost on AWS, from what a seeded load asks of each service on the local
 * stack: one namespaced runtime with every event source on (aggregate mapping, rollup stream
 * mapping, Firehose), warmed up, then three loads of POST /sales at 1, 10 and 100 sales per
 * request. For each, the UsageMeter's counts (invocations and billed ms with INIT, API requests,
 * DynamoDB units, S3 and SQS requests, log bytes), Firehose's and the mappings' counters and the
 * topic's bytes on the broker's disk are taken as the load's difference, divided by its sales and
 * multiplied by tools/cost/prices.ts. Each batch size is measured, not scaled from another; what
 * depends on the rate (how full the mapping's batches are) is as it was at the load's rate.
 */
const report = benchReport("cost");
const RATE = Number(process.env.BENCH_RATE ?? 400);
const SALES = Number(process.env.BENCH_SALES ?? 2_000);
const BATCHES = [1, 10, 100] as const;
const RATES = [10, 1_000, 10_000] as const;
const AZS = 2;

await up();
const clients = localClients();
const usage = new UsageMeter();
const metrics = new MetricSink();
const runtime = await LocalRuntime.start({
  namespace: `cost-${Date.now().toString(36)}`,
  apiPort: 0,
  log: () => undefined,
  usage,
  metrics,
});
const ctx = runtime.context;
const topic = runtime.salesTopic;
const aggregateFound = runtime.mappings.find((m) => m.mapping.functionId === "AggregateFunction");
const firehoseFound = runtime.firehoses[0];
if (aggregateFound === undefined || firehoseFound === undefined)
  throw new Error("the runtime runs no aggregate mapping or no Firehose stream");
const [aggregateMapping, firehose] = [aggregateFound, firehoseFound];

/** Bytes of the topic's log segments on the broker's disk: what the producers wrote, batch framing included. */
function topicBytes(): number {
  let bytes = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (new RegExp(`^${topic.replace(/[.]/g, "\\.")}-\\d+$`).test(entry.name)) {
        for (const file of readdirSync(path)) if (file.endsWith(".log")) bytes += statSync(join(path, file)).size;
      } else if (!/-\d+$/.test(entry.name)) walk(path);
    }
  };
  walk(paths.kafkaData);
  return bytes;
}

const template = ctx.template as {
  Globals?: { Function?: { Architectures?: string[] } };
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};
const architectureOf = (id: string): LambdaUsage["architecture"] => {
  const value =
    (template.Resources[id]?.Properties?.Architectures as string[] | undefined)?.[0] ?? template.Globals?.Function?.Architectures?.[0];
  return value === "arm64" ? "arm64" : "x86_64";
};

interface Counters {
  readonly snapshot: ReturnType<UsageMeter["snapshot"]>;
  readonly aggregateRecords: number;
  readonly aggregateBatches: number;
  readonly firehose: typeof firehose.stats;
  readonly streamGetRecords: number;
  readonly streamRecords: number;
  readonly topicBytes: number;
}
const counters = (): Counters => ({
  snapshot: usage.snapshot(),
  aggregateRecords: aggregateMapping.stats.records,
  aggregateBatches: aggregateMapping.stats.batches,
  firehose: { ...firehose.stats },
  streamGetRecords: runtime.streamMappings.reduce((sum, m) => sum + m.stats.getRecordsRequests, 0),
  streamRecords: runtime.streamMappings.reduce((sum, m) => sum + m.stats.records, 0),
  topicBytes: topicBytes(),
});

/** Waits until the aggregate mapping has `records` more than `from` and the stream mapping and Firehose are done with them. */
async function settle(from: Counters, records: number): Promise<void> {
  await eventually(async () => aggregateMapping.stats.records - from.aggregateRecords >= records, 300_000, 200);
  let last = -1;
  await eventually(
    async () => {
      const now = runtime.streamMappings.reduce((sum, m) => sum + m.stats.records, 0);
      const still = now === last;
      last = now;
      return still;
    },
    120_000,
    3_000,
  );
  await firehose.flush();
}

/** The usage between two readings, for `sales` accepted in `posts` requests. */
function between(a: Counters, b: Counters, sales: number, posts: number): MeasuredUsage {
  const sum = <T>(record: Readonly<Record<string, T>>, pick: (value: T) => number) =>
    Object.values(record).reduce((total, value) => total + pick(value), 0);
  const fnDelta = (id: string) => {
    const [x, y] = [a.snapshot.functions[id], b.snapshot.functions[id]];
    const get = (key: "invocations" | "billedMs" | "initBilledMs" | "eventBytes" | "logBytes") => (y?.[key] ?? 0) - (x?.[key] ?? 0);
    return { memoryMb: y?.memoryMb ?? 0, get };
  };
  const lambda = [...runtime.functions.keys()]
    .map((functionId) => {
      const d = fnDelta(functionId);
      return {
        functionId,
        architecture: architectureOf(functionId),
        memoryMb: d.memoryMb,
        invocations: d.get("invocations"),
        billedMs: d.get("billedMs"),
        initBilledMs: d.get("initBilledMs"),
      };
    })
    .filter((fn) => fn.invocations > 0);
  const tableUnits = (s: Counters, key: "readUnits" | "writeUnits") => sum(s.snapshot.tables, (t) => Math.round(t[key] * 2));
  const bucketOps = (s: Counters, op: string) => sum(s.snapshot.buckets, (ops) => ops[op] ?? 0);
  const sqs = (s: Counters) => sum(s.snapshot.services.sqs ?? {}, (n) => n);
  const mskIn = b.topicBytes - a.topicBytes;
  const fh = (key: keyof Counters["firehose"]) => b.firehose[key] - a.firehose[key];
  // Data out: every consumer reads each record once; the bytes per record are the topic's own.
  const readers = b.aggregateRecords - a.aggregateRecords + fh("recordsRead");
  return {
    sales,
    posts,
    apiRequests: sum(b.snapshot.routes, (r) => r.meteredRequests) - sum(a.snapshot.routes, (r) => r.meteredRequests),
    lambda,
    dynamodbReadHalfUnits: tableUnits(b, "readUnits") - tableUnits(a, "readUnits"),
    dynamodbWriteHalfUnits: tableUnits(b, "writeUnits") - tableUnits(a, "writeUnits"),
    streamGetRecords: b.streamGetRecords - a.streamGetRecords,
    s3Puts: bucketOps(b, "PutObject") - bucketOps(a, "PutObject"),
    s3Gets: bucketOps(b, "GetObject") - bucketOps(a, "GetObject"),
    sqsRequests: sqs(b) - sqs(a),
    firehoseIngestBytes: Math.max(fh("bytesRead"), fh("bytesDelivered")),
    firehoseConvertedBytes: fh("bytesConverted"),
    firehoseObjects: fh("objects"),
    firehoseDeliveredBytes: fh("bytesDelivered"),
    mskBytesIn: mskIn,
    mskBytesOut: sales === 0 ? 0 : Math.round((mskIn * readers) / sales),
    logBytes: [...runtime.functions.keys()].reduce((total, id) => total + fnDelta(id).get("logBytes"), 0),
    // The MSK mapping's pollers invoke the aggregate function through the Lambda interface endpoint.
    endpointBytes: fnDelta("AggregateFunction").get("eventBytes"),
  };
}

// Warm-up: every function's first containers and the mappings' groups, as a deployed stack has them.
const start = Math.floor((Date.now() - 8 * 60_000) / 60_000) * 60_000;
const countries = Array.from({ length: 20 }, (_, i) => `Cost ${i}`);
let before = counters();
const warm = await runLoad({
  url: runtime.apiUrl,
  rate: 50,
  durationSeconds: 1,
  batchSize: 10,
  concurrency: 2,
  generator: { seed: 1, startMs: start, meanGapMs: 100, countries, unknownCountryShare: 0, firstPaymentId: 70_000_000 },
});
await settle(before, warm.accepted.length);

const runs: {
  batch: number;
  usage: MeasuredUsage;
  aggregateBatch: number;
  coldStarts: number;
  /** DynamoDB units by table (logical id) during the load. */
  tables: Record<string, { readUnits: number; writeUnits: number }>;
}[] = [];
const tableIds = ["IdempotencyTable", "AggregatesTable"];
for (const [i, batch] of BATCHES.entries()) {
  before = counters();
  const result = await runLoad({
    url: runtime.apiUrl,
    rate: RATE,
    durationSeconds: SALES / RATE,
    batchSize: batch,
    concurrency: 4,
    // The recommended path: every request carries an Idempotency-Key (the ledger's units count).
    retry: { retryForMs: 30_000 },
    generator: {
      seed: 10 + i,
      startMs: start,
      meanGapMs: (3 * 60_000) / SALES,
      countries,
      unknownCountryShare: 0,
      firstPaymentId: 71_000_000 + i * 1_000_000,
    },
  });
  if (result.rejected.length > 0) throw new Error(`${result.rejected.length} sales were rejected at ${batch} per POST`);
  await settle(before, result.accepted.length);
  const after = counters();
  const measured = between(before, after, result.accepted.length, Math.ceil(result.accepted.length / batch));
  const coldStarts =
    Object.values(after.snapshot.functions).reduce((n, f) => n + f.coldStarts, 0) -
    Object.values(before.snapshot.functions).reduce((n, f) => n + f.coldStarts, 0);
  const aggregateBatches = after.aggregateBatches - before.aggregateBatches;
  const tables = Object.fromEntries(
    tableIds.map((id) => {
      const name = runtime.resourceName(id);
      const [x, y] = [before.snapshot.tables[name], after.snapshot.tables[name]];
      return [id, { readUnits: (y?.readUnits ?? 0) - (x?.readUnits ?? 0), writeUnits: (y?.writeUnits ?? 0) - (x?.writeUnits ?? 0) }];
    }),
  );
  runs.push({ batch, usage: measured, aggregateBatch: Math.round(measured.sales / Math.max(1, aggregateBatches)), coldStarts, tables });
}

// The fixed side, from the template as deployed with its defaults.
const resources = Object.entries(template.Resources).filter(
  ([id]) => resourceEnabled(ctx, id) || template.Resources[id]?.Type === "AWS::EC2::VPCEndpoint",
);
const alarmMetrics = resources
  .filter(([id, r]) => r.Type === "AWS::CloudWatch::Alarm" && resourceEnabled(ctx, id))
  .reduce(
    (n, [, r]) =>
      n + Math.max(1, ((r.Properties?.Metrics as { MetricStat?: unknown }[] | undefined) ?? []).filter((m) => m.MetricStat).length),
    0,
  );
const interfaceEndpoints = resources.filter(
  ([, r]) => r.Type === "AWS::EC2::VPCEndpoint" && r.Properties?.VpcEndpointType === "Interface",
).length;
const customMetrics = new Set(
  metrics.datapoints().map((p) => `${p.namespace}|${p.name}|${JSON.stringify(Object.entries(p.dimensions).sort())}`),
).size;
const kmsKeys = resources.filter(([id, r]) => r.Type === "AWS::KMS::Key" && resourceEnabled(ctx, id)).length;
const partitions = declaredTopics(ctx).reduce((n, t) => n + t.partitions, 0);
const fixedInputs = { partitions, interfaceEndpoints, availabilityZones: AZS, alarmMetrics, customMetrics, kmsKeys };
const fixedWith = fixedMonthlyCost(fixedInputs);
const fixedWithout = fixedMonthlyCost({ ...fixedInputs, interfaceEndpoints: 0 });
await runtime.stop();
for (const client of [clients.glue, clients.dynamodb, clients.s3, clients.sqs, clients.iam]) client.destroy();

const perMillion = (u: MeasuredUsage) => scaled(variableCost(u), ratio(1_000_000, u.sales));
const usd = (line: CostLine | undefined) => (line === undefined ? "" : line.usd === null ? "unpriced" : formatUsd(line.usd));
const qty = (r: ReturnType<typeof ratio>, digits = 0) => formatRatio(r, digits);

report.print(
  `\nCost per million sales, measured on the local stack: ${SALES.toLocaleString("en-US")} sales per batch size, keyed POSTs (the recommended path) at ${RATE} sales/s, after a warm-up; list prices of ${PRICES_READ_ON} (docs/prices.md). Each column is its own load, not scaled from another; what depends on the rate (how full the aggregate mapping's batches are) is as it was at ${RATE} sales/s, and Firehose was flushed once per load (on AWS its objects follow its 300 s buffer, not the sales).`,
);
report.print("| per million sales | 1 sale per POST | 10 sales per POST | 100 sales per POST |");
report.print("| --- | --- | --- | --- |");
const measuredRow = (label: string, pick: (u: MeasuredUsage) => number) =>
  report.print(`| ${label} | ${runs.map((r) => qty(ratio(Math.round((pick(r.usage) * 1_000_000) / r.usage.sales)))).join(" | ")} |`);
measuredRow("API requests", (u) => u.apiRequests);
for (const id of runtime.functions.keys())
  if (runs.some((r) => r.usage.lambda.some((fn) => fn.functionId === id)))
    measuredRow(`${id} invocations`, (u) => u.lambda.find((fn) => fn.functionId === id)?.invocations ?? 0);
for (const id of tableIds)
  for (const kind of ["writeUnits", "readUnits"] as const)
    report.print(
      `| ${id} ${kind === "writeUnits" ? "write" : "read"} units | ${runs.map((r) => qty(ratio(Math.round(((r.tables[id]?.[kind] ?? 0) * 1_000_000) / r.usage.sales)))).join(" | ")} |`,
    );
measuredRow("DynamoDB write units, all tables", (u) => u.dynamodbWriteHalfUnits / 2);
measuredRow("DynamoDB read units, all tables", (u) => u.dynamodbReadHalfUnits / 2);
measuredRow("S3 PUTs", (u) => u.s3Puts);
measuredRow("MSK MB in", (u) => u.mskBytesIn / 1e6);
measuredRow("MSK MB out", (u) => u.mskBytesOut / 1e6);
measuredRow("log MB", (u) => u.logBytes / 1e6);
report.print(
  `aggregate mapping batches held ${runs.map((r) => `${r.aggregateBatch}`).join(" / ")} sales on average; cold starts during each load: ${runs.map((r) => r.coldStarts).join(" / ")}.`,
);

report.print("\n| $ per million sales | 1 sale per POST | 10 sales per POST | 100 sales per POST |");
report.print("| --- | --- | --- | --- |");
const tables = runs.map((r) => perMillion(r.usage));
const keys = [
  ...new Set(
    tables.flatMap((lines) => lines.filter((l) => l.quantity.n !== 0n).map((l) => `${l.service}: ${l.item.replace(/\(.*$/, "").trim()}`)),
  ),
];
const keyOf = (l: CostLine) => `${l.service}: ${l.item.replace(/\(.*$/, "").trim()}`;
for (const key of keys)
  report.print(`| ${key} | ${tables.map((lines) => usd(lines.find((l) => keyOf(l) === key && l.quantity.n !== 0n))).join(" | ")} |`);
report.print(`| **variable total** | ${tables.map((lines) => `**${formatUsd(total(lines).usd)}**`).join(" | ")} |`);
const unpriced = [
  ...new Set(tables.flatMap((lines) => total(lines).unpriced.map((l) => `${l.service} ${l.item.replace(/\(.*$/, "").trim()}`))),
];
if (unpriced.length > 0) report.print(`Unpriced (no figure in the stored pages, see docs/prices.md): ${unpriced.join("; ")}.`);

report.print("\n| fixed, per month | quantity | $ |");
report.print("| --- | --- | --- |");
for (const l of fixedWith) report.print(`| ${l.service}: ${l.item} | ${qty(l.quantity)} ${l.unit} | ${usd(l)} |`);
report.print(
  `| **fixed total** with CreateVpcEndpoints=true (${interfaceEndpoints} interface endpoints x ${AZS} AZs) | | **${formatUsd(total(fixedWith).usd)}** |`,
);
report.print(
  `| **fixed total** with CreateVpcEndpoints=false (the default; a NAT gateway, not priced here) | | **${formatUsd(total(fixedWithout).usd)}** |`,
);

report.print(
  "\n| monthly total (fixed with endpoints + variable) | 1 sale per POST | 10 sales per POST | 100 sales per POST | Flink instead of the aggregate and rollup functions |",
);
report.print("| --- | --- | --- | --- | --- |");
const flinkReplaces = new Set(["AggregateFunction", "RollupFunction"]);
for (const rate of RATES) {
  const month = salesPerMonth(rate);
  const totals = tables.map((lines) => total([...fixedWith, ...scaled(lines, ratio(month.n, 1_000_000n * month.d))]).usd);
  const tenPerPost = tables[1] ?? [];
  const withoutReplaced = tenPerPost.filter((l) => ![...flinkReplaces].some((id) => l.item.startsWith(`${id}:`)));
  const flink = flinkMonthly(rate);
  const kpus = flinkKpus(rate);
  const flinkBase = total([...fixedWith, ...scaled(withoutReplaced, ratio(month.n, 1_000_000n * month.d))]).usd;
  report.print(
    `| ${rate.toLocaleString("en-US")} sales/s | ${totals.map(formatUsd).join(" | ")} | ${formatUsd(flinkBase)} + ${kpus.processing + kpus.orchestration} KPUs (${qty(flink.quantity)} KPU-hours, ${usd(flink)}) |`,
  );
}
report.print(
  `The Flink column keeps everything else of the 10-sales-per-POST run (API, ingest, ledger, MSK, Firehose, the aggregates' DynamoDB writes and reads) and drops the aggregate and rollup Lambda costs; it needs MSK and the sinks all the same. KPUs: ${FLINK_RECORDS_PER_KPU.recordsPerSecond.toLocaleString("en-US")} records/s each (a vendor's figure, see docs/prices.md), at least one, plus the orchestration KPU AWS charges per application; running application storage (50 GB per KPU) is not priced.`,
);
report.print(
  `Measured, not modelled: durations are this machine's (local DynamoDB, Kafka and moto, not AWS's); INIT is the bundle's module scope only. Not counted: X-Ray traces (Tracing: Active), the Lambda platform's own log lines and the API's access log, SQS and KMS requests, MSK storage, Redshift streaming ingestion as a third reader, data transfer. Alarm metrics counted: ${alarmMetrics}; custom metrics (distinct name and dimension values the functions emitted): ${customMetrics}.`,
);
report.save();
process.exit(0);
