import { randomUUID } from "node:crypto";
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
  /**
   * Post as POST /sales' contract asks of a client that must not lose or double a sale: every
   * request carries an Idempotency-Key, and a 409, 503, 504, other 5xx or a lost answer is
   * retried with the same key (after Retry-After, at most `retryForMs` after the first attempt)
   * until a definite answer. Without it each request is posted once, with no key.
   */
  readonly retry?: { readonly retryForMs: number };
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
  /** Every answer of every attempt, by status ("0": no answer). */
  readonly statuses: Record<string, number>;
  /** Attempts after the first (retries with the same key). */
  readonly retries: number;
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
  let retries = 0;
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
      retries,
      latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: Number((sorted.at(-1) ?? 0).toFixed(1)) },
    };
  };

  /** One attempt: its status, 0 when no answer came, and the Retry-After it named (seconds). */
  async function attempt(batch: Sale[], key: string | undefined): Promise<{ status: number; retryAfter: number }> {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key !== undefined && { "idempotency-key": key }) },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(30_000),
      });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      return { status: response.status, retryAfter: Number(response.headers.get("retry-after") ?? 1) || 1 };
    } catch {
      statuses["0"] = (statuses["0"] ?? 0) + 1;
      return { status: 0, retryAfter: 1 };
    }
  }

  async function post(batch: Sale[]): Promise<void> {
    const begin = performance.now();
    inFlight++;
    try {
      if (options.retry === undefined) {
        const { status } = await attempt(batch, undefined);
        outcomes[status === 0 ? "unknown" : outcomeOf(status)].push(...batch);
        return;
      }
      const key = randomUUID();
      const giveUpAt = Date.now() + options.retry.retryForMs;
      for (;;) {
        const { status, retryAfter } = await attempt(batch, key);
        const definite = status === 202 || (status >= 400 && status < 500 && status !== 409);
        if (definite || Date.now() >= giveUpAt) {
          outcomes[status === 0 ? "unknown" : status === 503 ? "unknown" : outcomeOf(status)].push(...batch);
          return;
        }
        retries++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfter, 5) * 1000));
      }
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
