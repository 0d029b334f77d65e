import { integer, loadConfig, oneOf, schemaVersionId, text } from "#shared/config/env";
import { kafkaSettingsSpec } from "#shared/kafka/client";

/** Settings of the ingest function, read once at cold start. */
export const config = loadConfig({
  topic: text("SALES_TOPIC"),
  /** The registered version of the current sales schema (the stack passes it: no lookup at run time). */
  schemaVersionId: schemaVersionId("SALES_SCHEMA_VERSION_ID"),
  compression: oneOf("AVRO_COMPRESSION", ["none", "zlib"], "none"),
  idempotencyTable: text("IDEMPOTENCY_TABLE"),
  idempotencyTtlSeconds: integer("IDEMPOTENCY_TTL_SECONDS", 3600, { min: 60, max: 7 * 24 * 3600 }),
  limits: {
    maxRecords: integer("MAX_RECORDS_PER_REQUEST", 500, { min: 1, max: 10_000 }),
    maxBodyBytes: integer("MAX_BODY_BYTES", 1_048_576, { min: 1024, max: 6_000_000 }),
  },
  retryAfterSeconds: integer("RETRY_AFTER_SECONDS", 5, { min: 1, max: 3600 }),
  kafka: kafkaSettingsSpec("sales-ingest"),
  /** Recovery scans use throwaway consumer groups `<prefix>-<uuid>`; IAM grants the prefix. */
  recoveryGroupPrefix: text("KAFKA_RECOVERY_GROUP_PREFIX", "sales-ingest-recovery"),
  /** A recovery scan starts this long before the first attempt began: producers' clocks may differ by up to this. */
  recoverySkewMs: integer("RECOVERY_SKEW_MS", 30_000, { min: 0, max: 600_000 }),
});
