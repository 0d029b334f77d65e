import { parseArgs } from "node:util";
import { generateSales } from "./sales/generator.ts";
import { endpoints } from "./stack/settings.ts";

/**
 * `npm run load -- --rate 200 --duration 30`: posts seeded, Pagila-like sales to POST /sales at
 * a steady rate, shows progress each second, and ends with accepted/rejected counts and latency
 * percentiles. The same seed always produces the same sales. Requests go to loopback by default.
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
const duration = positive("duration", values.duration, false);
const batchSize = positive("batch", values.batch);
const concurrency = positive("concurrency", values.concurrency);
const url = new URL("/sales", values.url);
if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
  console.error(`refusing to load ${url.hostname}: the load generator only targets loopback`);
  process.exit(2);
}

const total = Math.round(rate * duration);
const sales = generateSales({
  seed: Number(values.seed),
  startMs: Date.now(),
  meanGapMs: 1000 / rate,
  unknownCountryShare: Number(values["unknown-share"]),
});
const latencies: number[] = [];
const statuses = new Map<number, number>();
let sent = 0;
let accepted = 0;
let rejected = 0;
let inFlight = 0;
const started = performance.now();

async function postBatch(batch: object[]): Promise<void> {
  const begin = performance.now();
  inFlight++;
  try {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
    await response.arrayBuffer();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.status === 202) accepted += batch.length;
    else rejected += batch.length;
  } catch {
    statuses.set(0, (statuses.get(0) ?? 0) + 1);
    rejected += batch.length;
  } finally {
    inFlight--;
    latencies.push(performance.now() - begin);
  }
}

const progress = setInterval(() => {
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `\r${seconds.toFixed(0)}s sent ${sent}/${total} accepted ${accepted} rejected ${rejected} (${Math.round(accepted / seconds)} records/s)   `,
  );
}, 1000);

const pending = new Set<Promise<void>>();
while (sent < total) {
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + batchSize);
  if (sent >= due || inFlight >= concurrency) {
    await (pending.size > 0 && inFlight >= concurrency ? Promise.race(pending) : new Promise((resolve) => setTimeout(resolve, 5)));
    continue;
  }
  const batch: object[] = [];
  while (batch.length < batchSize && sent < total) {
    batch.push((sales.next() as IteratorResult<object>).value);
    sent++;
  }
  const request = postBatch(batch).finally(() => pending.delete(request));
  pending.add(request);
}
await Promise.all(pending);
clearInterval(progress);

const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const summary = {
  records: sent,
  accepted,
  rejected,
  seconds: Number(seconds.toFixed(2)),
  recordsPerSecond: Math.round(accepted / seconds),
  requests: latencies.length,
  statuses: Object.fromEntries(statuses),
  latencyMs: {
    p50: Number(pct(50).toFixed(1)),
    p90: Number(pct(90).toFixed(1)),
    p99: Number(pct(99).toFixed(1)),
    max: Number((latencies.at(-1) ?? 0).toFixed(1)),
  },
};
process.stderr.write("\n");
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `records ${summary.records}: accepted ${accepted}, rejected ${rejected} in ${summary.seconds} s (${summary.recordsPerSecond} records/s)`,
  );
  console.log(`requests ${summary.requests} (batches of ${batchSize}), statuses ${JSON.stringify(summary.statuses)}`);
  console.log(
    `latency ms: p50 ${summary.latencyMs.p50}  p90 ${summary.latencyMs.p90}  p99 ${summary.latencyMs.p99}  max ${summary.latencyMs.max}`,
  );
}
process.exit(rejected > 0 ? 1 : 0);
