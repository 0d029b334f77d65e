import { describe, expect, it } from "vitest";
import { backfillRollups, type SlicePage } from "#functions/rollup/backfill";
import type { RollupStore, WindowRef } from "#functions/rollup/rollup";

const T0 = Date.parse("2022-08-01T10:00:00Z");

describe("backfillRollups", () => {
  it("lists slices page by page and rolls up each page's windows once", async () => {
    const pages: SlicePage[] = [
      {
        slices: [
          { window: "1m", start: T0, topicPartition: "sales-0" },
          { window: "1m", start: T0, topicPartition: "sales-1" },
          { window: "1h", start: T0, topicPartition: "sales-0" },
        ],
        next: "page 2",
      },
      { slices: [{ window: "1m", start: T0 + 60_000, topicPartition: "sales-2" }], next: undefined },
    ];
    const listed: unknown[] = [];
    const reads: WindowRef[][] = [];
    const store: RollupStore & { listSlices: (pageSize: number, after: unknown) => Promise<SlicePage> } = {
      listSlices: async (pageSize, after) => {
        listed.push([pageSize, after]);
        return pages[listed.length - 1] as SlicePage;
      },
      slices: async (refs) => {
        reads.push([...refs]);
        return refs.map((ref) => ({
          slices: [{ end: ref.start + 60_000, version: 1n, values: new Map(), expiresAt: undefined }],
          partitions: 3,
        }));
      },
      put: async (rollup) => (rollup.window === "1h" ? "stale" : "written"),
    };
    const progress: number[] = [];
    const summary = await backfillRollups(store, { partitions: 3, pageSize: 3, onPage: (s) => progress.push(s.slices) });
    expect(summary).toEqual({ slices: 4, written: 2, stale: 1, failedWindows: 0 });
    expect(progress).toEqual([3, 4]);
    expect(listed).toEqual([
      [3, undefined],
      [3, "page 2"],
    ]);
    // Page one: two windows (1m and 1h) read together (33 windows fit one read at 3 partitions).
    expect(reads.map((group) => group.map((ref) => `${ref.window}/${ref.partitionsSeen}`))).toEqual([["1m/2", "1h/1"], ["1m/3"]]);
  });
});
