import { describe, expect, it } from "vitest";
import { type AggregationSettings, aggregate, type SaleRecord } from "#functions/aggregate/aggregate";
import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { type SliceItem, sliceId, type Watermark } from "#shared/aggregates/slices";
import { itemBytes, marshalSlice } from "#shared/aggregates/table";
import type { Sale } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { saleAt, T0 } from "#test/support/sales";

const settings: AggregationSettings = {
  windows: parseWindows("1m,10m/5m,1h,1d"),
  allowedLatenessMs: 10 * 60_000,
  ttlSeconds: new Map([["1m", 172_800]]),
  maxCountriesPerWindow: 1000,
  now: () => NOW,
};
/** The wall clock of the tests: years after the sales of T0, as for a backfill of history. */
const NOW = Date.parse("2026-12-01T12:00:00.400Z");

const sale = saleAt;

const records = (tp: string, sales: Sale[], firstOffset = 0): SaleRecord[] =>
  sales.map((s, i) => ({ topicPartition: tp, offset: firstOffset + i, sale: s }));

/** Applies batches one after another the way the store would keep the results. */
function run(batches: SaleRecord[][], using: AggregationSettings = settings) {
  const stored = new Map<string, SliceItem>();
  const watermarks = new Map<string, Watermark>();
  const results = [];
  for (const batch of batches) {
    const result = aggregate(batch, stored, watermarks, using);
    for (const item of result.items)
      stored.set(sliceId(item.window, item.start, item.topicPartition), { ...item, version: item.version + 1 });
    for (const [tp, wm] of result.watermarks) watermarks.set(tp, wm);
    results.push(result);
  }
  return { stored, results };
}

/** A window's figures: every partition's slice of it added up, as a reader sees them. */
function windowValues(stored: Map<string, SliceItem>, window: string, start: number): Map<string, Metrics> {
  const merged = new Map<string, Metrics>();
  for (const item of stored.values())
    if (item.window === window && item.start === start) for (const [key, metrics] of item.values) addPartial(merged, key, metrics);
  return merged;
}

const figures = (stored: Map<string, SliceItem>) =>
  Object.fromEntries(
    [...new Set([...stored.values()].map((item) => `${item.window}@${item.start}`))].sort().map((id) => {
      const [window = "", start = ""] = id.split("@");
      const values = windowValues(stored, window, Number(start));
      return [id, Object.fromEntries([...values].map(([k, m]) => [k, `${m.orders}/${m.sales}/${m.min}/${m.max}/${m.late}`]))];
    }),
  );

describe("aggregate", () => {
  const stream = records("sales-0", [
    sale("France", "0.10", 0, 1),
    sale("Germany", "0.20", 1, 2),
    sale("France", "4.99", 2, 3),
    sale("India", "1.00", 3, 4),
  ]);

  it("sums exact cents per country, region and overall in every window", () => {
    const { stored } = run([stream]);
    const minute15 = windowValues(stored, "1m", T0);
    expect(minute15.get("country#France")).toEqual({ orders: 1n, sales: 10n, min: 10n, max: 10n, late: 0n });
    const hour = windowValues(stored, "1h", Date.parse("2022-08-01T10:00:00Z"));
    expect(hour.get("region#Europe")).toEqual({ orders: 3n, sales: 529n, min: 10n, max: 499n, late: 0n });
    expect(hour.get("all#all")).toMatchObject({ orders: 4n, sales: 629n });
    expect(hour.get("region#Asia & Pacific")).toMatchObject({ orders: 1n, sales: 100n });
    expect(stored.get(sliceId("1h", Date.parse("2022-08-01T10:00:00Z"), "sales-0"))?.expiresAt).toBeUndefined();
  });

  it("expires a slice TTL after its last write, not after its window's end: backfilled history stays visible", () => {
    const { stored } = run([stream]);
    // Written at NOW (rounded up to the second), not at the 2022 window end plus two days.
    expect(stored.get(sliceId("1m", T0, "sales-0"))?.expiresAt).toBe(Math.ceil(NOW / 1000) + 172_800);
    const later = { ...settings, now: () => NOW + 3_600_000 };
    const again = aggregate(records("sales-0", [sale("France", "1.00", 0, 9)], 10), stored, new Map(), later);
    expect(again.items.find((item) => item.window === "1m")?.expiresAt).toBe(Math.ceil(NOW / 1000) + 3_600 + 172_800);
  });

  it("keeps a live window TTL past its end, and never shortens an expiry already stored", () => {
    const live = { ...settings, now: () => T0 + 30_000 };
    const { stored } = run([records("sales-0", [sale("France", "1.00", 0)])], live);
    const id = sliceId("1m", T0, "sales-0");
    expect(stored.get(id)?.expiresAt).toBe((T0 + 60_000) / 1000 + 172_800);
    const far = (stored.get(id)?.expiresAt ?? 0) + 1_000_000;
    const slice = { ...(stored.get(id) as SliceItem), expiresAt: far };
    const next = aggregate(records("sales-0", [sale("France", "2.00", 0, 2)], 5), new Map([[id, slice]]), new Map(), live);
    expect(next.items.find((item) => item.window === "1m")?.expiresAt).toBe(far);
  });

  it("changes nothing when the same batch is delivered three times", () => {
    const once = run([stream]);
    const thrice = run([stream, stream, stream]);
    expect(figures(thrice.stored)).toEqual(figures(once.stored));
    expect(thrice.results[1]?.items).toEqual([]);
    expect(thrice.results[2]?.duplicates).toBe(stream.length);
  });

  it("counts each record once across overlapping batches with shifted boundaries, in any partition mix", () => {
    const other = records("sales-1", [sale("Japan", "3.00", 0, 9), sale("Japan", "2.00", 1, 10)]);
    const reference = run([[...stream, ...other]]);
    const shifted = run([stream.slice(0, 2), [...stream.slice(1, 4), ...other.slice(0, 1)], [...stream.slice(3), ...other]]);
    expect(figures(shifted.stored)).toEqual(figures(reference.stored));
  });

  it("counts a record as late only on windows that closed beyond the allowed lateness", () => {
    const sales = records("sales-0", [
      sale("France", "1.00", 0),
      sale("France", "1.00", 30),
      sale("France", "2.00", 1),
      sale("France", "5.00", 25),
    ]);
    const { stored, results } = run([sales]);
    // The 3rd record (10:16) comes after the watermark reached 10:45: its 1m window ended 10:17,
    // 28 min earlier (> 10 min): late there and in both 10m/5m windows, but on time for 1h and 1d.
    expect(windowValues(stored, "1m", T0 + 60_000).get("country#France")).toEqual({
      orders: 0n,
      sales: 0n,
      min: undefined,
      max: undefined,
      late: 1n,
    });
    expect(windowValues(stored, "1h", Date.parse("2022-08-01T10:00:00Z")).get("country#France")).toMatchObject({
      orders: 4n,
      sales: 900n,
      late: 0n,
    });
    // The 4th (10:40) is out of order but its windows are still within the lateness: applied.
    expect(windowValues(stored, "1m", T0 + 25 * 60_000).get("country#France")).toMatchObject({ orders: 1n, sales: 500n });
    expect(results[0]?.late).toBe(3);
    expect(results[0]?.applied).toBe(4);
  });

  it("judges lateness against the stored watermark of the partition, not of others", () => {
    const ahead = records("sales-1", [sale("Japan", "1.00", 120)]);
    const first = run([ahead]);
    const behind = aggregate(
      records("sales-0", [sale("France", "1.00", 0)]),
      first.stored,
      new Map([["sales-1", { eventTime: T0 + 7_200_000, offset: 0 }]]),
      settings,
    );
    expect(behind.late).toBe(0);
  });

  it("fails loudly instead of losing exactness when a cents sum passes 2^53", () => {
    const huge = records(
      "sales-0",
      Array.from({ length: 1000 }, (_, i) => sale("France", "99999999.99", 0, i)),
    );
    expect(() => aggregate(huge, new Map(), new Map(), settings)).not.toThrow();
    expect(() => aggregate(records("sales-0", [sale("France", "90071992547409.92", 0)]), new Map(), new Map(), settings)).toThrow(
      /too large/,
    );
  });

  it("keeps at most maxCountriesPerWindow countries by name per item, the rest under (other countries), totals exact", () => {
    const bounded = { ...settings, windows: parseWindows("1h"), maxCountriesPerWindow: 3 };
    const names = ["France", "Germany", "India", "Atlantis 1", "Atlantis 2", "Atlantis 3"];
    // Two batches: the bound holds across writes, and a kept country stays kept.
    const { stored, results } = run(
      [
        records(
          "sales-0",
          names.slice(0, 4).map((country, i) => sale(country, "1.10", 0, i)),
        ),
        records(
          "sales-0",
          [...names.slice(2), "France"].map((country, i) => sale(country, "2.00", 1, 10 + i)),
          4,
        ),
      ],
      bounded,
    );
    const values = [...stored.values()][0]?.values;
    const countries = [...(values?.keys() ?? [])].filter((key) => key.startsWith("country#")).sort();
    // New names are taken in key order within a write: Atlantis 1, France, Germany; India is one too many.
    expect(countries).toEqual(["country#(other countries)", "country#Atlantis 1", "country#France", "country#Germany"]);
    expect(values?.get("country#(other countries)")).toMatchObject({ orders: 4n, sales: 710n }); // 1.10 + 3 x 2.00
    expect(values?.get("country#France")).toMatchObject({ orders: 2n, sales: 310n });
    expect(values?.get("all#all")).toMatchObject({ orders: 9n, sales: 1440n });
    expect(values?.get("region#Unassigned")).toMatchObject({ orders: 4n, sales: 710n });
    expect(results.map((r) => [...r.folded.values()].reduce((a, b) => a + b, 0))).toEqual([1, 3]);
  });
  it("writes every slice from one partition only, and adds partitions' partials up to the same figures", () => {
    const mixed = [
      ...records("sales-0", [sale("France", "1.00", 0, 1), sale("France", "2.00", 1, 2)]),
      ...records("sales-1", [sale("Germany", "3.00", 0, 3)]),
      ...records("sales-2", [sale("India", "4.00", 0, 4)]),
    ];
    const { stored, results } = run([mixed]);
    for (const item of results[0]?.items ?? []) {
      expect(item.values.size).toBeGreaterThan(0);
      for (const key of item.values.keys())
        if (key.startsWith("country#"))
          expect(mixed.find((r) => `country#${r.sale.country}` === key)?.topicPartition).toBe(item.topicPartition);
    }
    // Three partitions touch the same hour: three slices, each with its own partial of Europe and all.
    const hour = Date.parse("2022-08-01T10:00:00Z");
    const slices = [...stored.values()].filter((item) => item.window === "1h" && item.start === hour);
    expect(slices.map((item) => item.topicPartition).sort()).toEqual(["sales-0", "sales-1", "sales-2"]);
    expect(slices.find((item) => item.topicPartition === "sales-1")?.values.get("region#Europe")).toMatchObject({
      orders: 1n,
      sales: 300n,
    });
    expect(windowValues(stored, "1h", hour).get("region#Europe")).toEqual({ orders: 3n, sales: 600n, min: 100n, max: 300n, late: 0n });
    expect(windowValues(stored, "1h", hour).get("all#all")).toMatchObject({ orders: 4n, sales: 1000n });
  });

  it("advances a slice's offset only to its own partition's last offset", () => {
    const { stored } = run([
      [...records("sales-0", [sale("France", "1.00", 0)], 40), ...records("sales-1", [sale("Spain", "1.00", 0)], 7)],
    ]);
    expect(stored.get(sliceId("1m", T0, "sales-0"))?.offset).toBe(40);
    expect(stored.get(sliceId("1m", T0, "sales-1"))?.offset).toBe(7);
  });

  it("counts a week window from Monday 00:00 UTC: Sunday's last sale is in the week before", () => {
    // T0 is Monday 2022-08-01 10:15 UTC; minute -615 is its midnight.
    const weekly = { ...settings, windows: parseWindows("1w,1d") };
    const { stored } = run(
      [records("sales-0", [sale("France", "1.00", -616, 1), sale("France", "2.00", -615, 2), sale("France", "4.00", 2 * 24 * 60, 3)])],
      weekly,
    );
    const week = (iso: string) => windowValues(stored, "1w", Date.parse(iso)).get("country#France");
    expect(week("2022-07-25T00:00:00Z")).toMatchObject({ orders: 1n, sales: 100n });
    expect(week("2022-08-01T00:00:00Z")).toMatchObject({ orders: 2n, sales: 600n });
    expect([...stored.values()].filter((item) => item.window === "1w").map((item) => item.end - item.start)).toEqual([
      7 * 86_400_000,
      7 * 86_400_000,
    ]);
  });

  describe("the all-time window", () => {
    const allTime = { ...settings, windows: parseWindows("1h,all"), maxCountriesPerWindow: 500 };

    it("counts every record, however late, once, exact to the cent, in one slice per partition that never expires", () => {
      const sales = records("sales-0", [
        sale("France", "0.10", 0, 1),
        sale("France", "0.20", 60 * 24 * 365, 2), // a year later: the watermark jumps
        sale("France", "4.99", 0, 3), // a year late for its hour, not for all time
      ]);
      const { stored, results } = run([sales, sales], allTime);
      const all = [...stored.values()].filter((item) => item.window === "all");
      expect(all.map((item) => [item.start, item.topicPartition, item.expiresAt, item.offset])).toEqual([[0, "sales-0", undefined, 2]]);
      expect(all[0]?.values.get("country#France")).toEqual({ orders: 3n, sales: 529n, min: 10n, max: 499n, late: 0n });
      expect(results[0]?.late).toBe(1); // its 1h window only
      expect(results[1]?.duplicates).toBe(3);
    });

    it("folds countries past the bound into (other countries) for good, and its item stays under 400 KB", () => {
      // 600 names of 100 characters (the longest a sale may carry), in several batches.
      const name = (i: number) => `${String(i).padStart(3, "0")}${"\u20ac".repeat(97)}`;
      const batches = [0, 1, 2].map((b) =>
        records(
          "sales-0",
          Array.from({ length: 200 }, (_, i) => sale(name(b * 200 + i), "1.01", b, b * 200 + i)),
          b * 200,
        ),
      );
      const late = records("sales-0", [sale(name(599), "2.00", 3, 9999), sale(name(0), "3.00", 3, 10_000)], 600);
      const { stored } = run([...batches, late], allTime);
      const all = [...stored.values()].find((item) => item.window === "all") as SliceItem;
      const countries = [...all.values.keys()].filter((key) => key.startsWith("country#"));
      expect(countries).toHaveLength(501);
      // The first 500 names met keep theirs, later ones count under (other countries) ever after.
      expect(all.values.get(`country#${name(0)}`)).toMatchObject({ orders: 2n, sales: 401n });
      expect(all.values.get("country#(other countries)")).toMatchObject({ orders: 101n, sales: 10_300n });
      expect(all.values.get("all#all")).toMatchObject({ orders: 602n, sales: 60_600n + 500n });
      const bytes = itemBytes(marshalSlice(all));
      expect(bytes).toBeGreaterThan(150 * 1024);
      expect(bytes).toBeLessThan(400 * 1024);
    });
  });
});
