import { loadConfig, oneOf, text } from "#shared/config/env";

/** Settings of the Redshift UDF, read once at cold start. */
export const config = loadConfig({
  registryName: text("SCHEMA_REGISTRY_NAME"),
  onError: oneOf("UDF_ON_ERROR", ["null", "fail"], "null"),
});
