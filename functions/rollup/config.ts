import { integer, loadConfig, text } from "#shared/config/env";

/** Settings of the rollup function, read once at cold start. */
export const config = loadConfig({
  table: text("AGGREGATES_TABLE"),
  // The sales topic's partition count: a window's slices are read for partitions 0..n-1.
  partitions: integer("SALES_TOPIC_PARTITIONS", 6, { min: 1, max: 10_000 }),
  concurrency: integer("ROLLUP_CONCURRENCY", 8, { min: 1, max: 64 }),
});
