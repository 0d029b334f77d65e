import { loadConfig, schemaVersionId } from "#shared/config/env";

/** Settings of the Firehose transform, read once at cold start. */
export const config = loadConfig({
  /** The registered version of the current sales schema: its records decode without a registry call. */
  schemaVersionId: schemaVersionId("SALES_SCHEMA_VERSION_ID"),
});
