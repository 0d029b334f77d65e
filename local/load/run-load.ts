import type { Sale } from "#shared/sales/schema";
import { type GeneratorOptions, generateSales } from "../sales/generator.ts";

export interface LoadOptions {
  readonly url: string;
  /** Records per second, spread over `durationSeconds`. */
  readonly rate: number;
  readonly durationSeconds: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly generator: GeneratorOptions;
  /** Called about once a second while the load runs. */
  readonly onProgress?: (summary: LoadSummary) => void;
}

export interface LoadSummary {
  readonly records: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly unknown: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
}

export interface LoadResult {
  readonly summary: LoadSummary;
  /** Every sale Kafka acknowledged (202), for tallies the tests compare with. */
  readonly accepted: readonly Sale[];
  /** Every sale of a request refused with nothing written (4xx, 503). */
  readonly rejected: readonly Sale[];
  /** Every sale of a request whose outcome nobody knows (504, another 5xx, no answer at all). */
  readonly unknown: readonly Sale[];
}

/** What a response says about its sales: written (202), not written (4xx and 503), or not known. */
function outcomeOf(status: number): "accepted" | "rejected" | "unknown" {
  if (status === 202) return "accepted";
  if ((status >= 400 && status < 500) || status === 503) return "rejected";
  return "unknown";
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Posts seeded sales to POST /sales at a steady rate with bounded concurrency and a bounded
 * number of records, and keeps the tally of what was acknowledged. Refuses any host but loopback.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL("/sales", options.url);
  if (!LOOPBACK.has(url.hostname)) throw new Error(`refusing to load ${url.hostname}: the load generator only targets loopback`);
  const total = Math.round(options.rate * options.durationSeconds);
  const sales = generateSales(options.generator);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const accepted: Sale[] = [];
  const rejected: Sale[] = [];
  const unknown: Sale[] = [];
  const outcomes = { accepted, rejected, unknown };
  let sent = 0;
  let inFlight = 0;
  const started = performance.now();

  const summarize = (): LoadSummary => {
    const seconds = (performance.now() - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0).toFixed(1));
    return {
      records: sent,
      accepted: accepted.length,
      rejected: rejected.length,
      unknown: unknown.length,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(accepted.length / Math.max(seconds, 0.001)),
      requests: latencies.length,
      statuses: { ...statuses },
      latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: Number((sorted.at(-1) ?? 0).toFixed(1)) },
    };
  };

  async function post(batch: Sale[]): Promise<void> {
    const begin = performance.now();
    inFlight++;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(30_000),
      });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      outcomes[outcomeOf(response.status)].push(...batch);
    } catch {
      statuses["0"] = (statuses["0"] ?? 0) + 1;
      unknown.push(...batch);
    } finally {
      inFlight--;
      latencies.push(performance.now() - begin);
    }
  }

  const progress = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress?.(summarize()), 1000);
  const pending = new Set<Promise<void>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate) + options.batchSize);
    if (sent >= due || inFlight >= options.concurrency) {
      await (pending.size > 0 && inFlight >= options.concurrency
        ? Promise.race(pending)
        : new Promise((resolve) => setTimeout(resolve, 5)));
      continue;
    }
    const batch: Sale[] = [];
    while (batch.length < options.batchSize && sent < total) {
      batch.push(sales.next().value as Sale);
      sent++;
    }
    const request = post(batch).finally(() => pending.delete(request));
    pending.add(request);
  }
  await Promise.all(pending);
  clearInterval(progress);
  return { summary: summarize(), accepted, rejected, unknown };
}
