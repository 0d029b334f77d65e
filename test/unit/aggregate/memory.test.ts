import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { type AggregationSettings, aggregate, type SaleRecord } from "#functions/aggregate/aggregate";
import { parseWindows } from "#shared/windows/windows";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const settings: AggregationSettings = {
  windows: parseWindows("1m,10m/5m,1h,1d"),
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 500,
};
const T0 = Date.UTC(2022, 7, 1, 10);

/** 1,000 sales, each from a country name never seen before. */
function batch(n: number): SaleRecord[] {
  return Array.from({ length: 1000 }, (_, i) => ({
    topicPartition: "sales-0",
    offset: n * 1000 + i,
    sale: {
      payment_id: i,
      customer_id: 1,
      amount: "1.00",
      payment_date: T0 + i * 100,
      city: null,
      district: null,
      country: `Invented country ${n}-${i} ${"x".repeat(40)}`,
      channel: "store",
    },
  }));
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("the aggregator's memory in a warm container", () => {
  it("stays bounded after 500,000 distinct country names, and keeps at most the bound by name per slice", () => {
    // Warm up, then measure: nothing of a batch may outlive it.
    for (let n = 0; n < 20; n++) aggregate(batch(n), new Map(), new Map(), settings);
    const before = heapAfterGc();
    const times: number[] = [];
    let kept = 0;
    for (let n = 20; n < 520; n++) {
      const started = performance.now();
      const result = aggregate(batch(n), new Map(), new Map(), settings);
      times.push(performance.now() - started);
      kept = Math.max(kept, ...result.items.map((item) => [...item.values.keys()].filter((k) => k.startsWith("country#")).length));
    }
    const growth = heapAfterGc() - before;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    console.log(
      `500k names: heap growth ${(growth / 2 ** 20).toFixed(1)} MiB; batch median ${median(times.slice(0, 50)).toFixed(1)} ms first 50, ${median(times.slice(-50)).toFixed(1)} ms last 50`,
    );
    // 500k names of ~60 characters are ~60 MB of strings alone: holding them would show.
    expect(growth).toBeLessThan(16 * 2 ** 20);
    expect(kept).toBe(501); // 500 by name + "(other countries)"
  });
});
