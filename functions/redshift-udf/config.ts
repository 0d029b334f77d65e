import { loadConfig, oneOf, schemaVersionId, text } from "#shared/config/env";

/** Settings of the Redshift UDF, read once at cold start. */
export const config = loadConfig({
  registryName: text("SCHEMA_REGISTRY_NAME"),
  /** The registered version of the current sales schema: its values decode without a registry call. */
  schemaVersionId: schemaVersionId("SALES_SCHEMA_VERSION_ID"),
  onError: oneOf("UDF_ON_ERROR", ["null", "fail"], "null"),
});
