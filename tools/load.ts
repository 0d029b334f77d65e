import { parseArgs } from "node:util";
import { endpoints } from "@sales-stream-analytics/local-aws";
import { runLoad } from "./load/run-load.ts";

/**
 * `npm run load -- --rate 200 --duration 30`: posts seeded, Pagila-like sales to POST /sales at
 * a steady rate, shows progress each second, and ends with accepted/rejected/unknown counts and latency
 * percentiles. The same seed always produces the same sales. Requests go to loopback only.
 */
const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "100" },
    duration: { type: "string", default: "10" },
    batch: { type: "string", default: "10" },
    concurrency: { type: "string", default: "8" },
    seed: { type: "string", default: "1" },
    url: { type: "string", default: endpoints.api },
    "unknown-share": { type: "string", default: "0.02" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: npm run load -- [--rate records/s] [--duration s] [--batch n] [--concurrency n] [--seed n] [--url base] [--unknown-share 0..1] [--json]",
  );
  process.exit(0);
}

function positive(name: string, raw: string, integer = true): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const rate = positive("rate", values.rate, false);
const batchSize = positive("batch", values.batch);
const { summary } = await runLoad({
  url: values.url,
  rate,
  durationSeconds: positive("duration", values.duration, false),
  batchSize,
  concurrency: positive("concurrency", values.concurrency),
  generator: {
    seed: Number(values.seed),
    startMs: Date.now(),
    meanGapMs: 1000 / rate,
    unknownCountryShare: Number(values["unknown-share"]),
  },
  onProgress: (s) =>
    process.stderr.write(
      `\r${s.seconds.toFixed(0)}s sent ${s.records} accepted ${s.accepted} rejected ${s.rejected} unknown ${s.unknown} (${s.recordsPerSecond} records/s)   `,
    ),
}).catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(2);
});
process.stderr.write("\n");
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `records ${summary.records}: accepted ${summary.accepted}, rejected ${summary.rejected}, unknown ${summary.unknown} in ${summary.seconds} s (${summary.recordsPerSecond} records/s)`,
  );
  console.log(`requests ${summary.requests} (batches of ${batchSize}), statuses ${JSON.stringify(summary.statuses)}`);
  const l = summary.latencyMs;
  console.log(`latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`);
}
process.exit(summary.rejected + summary.unknown > 0 ? 1 : 0);
