import { integer, loadConfig, schemaVersionId, text } from "#shared/config/env";
import { aggregationSettingsSpec } from "./settings.ts";

/** Settings of the aggregate function, read once at cold start. */
export const config = loadConfig({
  table: text("AGGREGATES_TABLE"),
  /** The registered version of the current sales schema: its records decode without a registry call. */
  schemaVersionId: schemaVersionId("SALES_SCHEMA_VERSION_ID"),
  deadLetterQueueUrl: text("DEAD_LETTER_QUEUE_URL"),
  // Dead letters too large for SQS keep their bytes here (the lake bucket, under its own prefix).
  deadLetterBucket: text("DEAD_LETTER_BUCKET"),
  deadLetterPrefix: text("DEAD_LETTER_PREFIX", "dead-letters/aggregate/"),
  ...aggregationSettingsSpec,
  maxConflictRetries: integer("MAX_CONFLICT_RETRIES", 10, { min: 1, max: 100 }),
});
