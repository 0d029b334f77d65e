import { integer, loadConfig, parsed, text } from "#shared/config/env";
import { parseDuration, parseWindows } from "#shared/windows/windows";

/**
 * Settings of the query function, read once at cold start (windows and lateness as the
 * aggregator's). WINDOWS has no default: the template's `Windows` parameter is its one source.
 */
export const config = loadConfig({
  table: text("AGGREGATES_TABLE"),
  topic: text("SALES_TOPIC"),
  partitions: integer("SALES_TOPIC_PARTITIONS", 6, { min: 1, max: 10_000 }),
  windows: parsed("WINDOWS", undefined, parseWindows),
  allowedLatenessMs: parsed("ALLOWED_LATENESS", "10m", parseDuration),
  // A partition with no batch for this long no longer holds windows open (see completeness.ts).
  idleTimeoutMs: parsed("IDLE_TIMEOUT", "5m", parseDuration),
  maxSeriesWindows: integer("MAX_SERIES_WINDOWS", 1500, { min: 1, max: 100_000 }),
});
