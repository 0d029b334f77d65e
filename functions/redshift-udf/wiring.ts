import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { currentVersionFirst } from "#shared/avro/current-version";
import { asLocalRegistryError } from "#shared/avro/errors";
import type { GlueSchemaRegistry, SchemaSource } from "#shared/avro/registry";
import { type Instruments, lambdaHandler } from "#shared/lambda/handler";
import { lazy } from "#shared/lambda/lazy";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import type { config } from "./config.ts";
import { decodeRows, type UdfRequest, type UdfResponse } from "./udf.ts";

/** What the UDF handler runs on; tests hand in a registry over a fake Glue, handler.ts the real one. */
export interface UdfHandlerDeps extends Required<Instruments> {
  readonly registry: SchemaSource & Pick<GlueSchemaRegistry, "getLatestVersion">;
  readonly registryName: string;
  readonly onError: "null" | "fail";
}

/**
 * Redshift's Lambda UDF call over `deps`: one JSON text (or NULL) per row, in order. Throws when
 * the registry is unavailable (Redshift retries the query); a bad row is NULL or fails the query
 * as `onError` says.
 */
export function createHandler(deps: UdfHandlerDeps) {
  const { logger, metrics, registry } = deps;
  const decoder = new GlueAvroDecoder<Sale>(registry, currentSalesSchema);
  return lambdaHandler<UdfRequest, UdfResponse>(deps).handler(async (request) => {
    logger.appendKeys({ queryId: request.query_id, redshiftRequestId: request.request_id });
    const outcome = await decodeRows(request, {
      decoder,
      latestVersion: (schemaName) => registry.getLatestVersion(deps.registryName, schemaName),
      onError: deps.onError,
      logBadRow: (row, code, reason) => logger.warn("row not decodable", { row, code, reason }),
    });
    metrics.addMetric("UdfRows", MetricUnit.Count, outcome.rows);
    metrics.addMetric("UdfBadRows", MetricUnit.Count, outcome.bad);
    logger.info("rows decoded", { rows: outcome.rows, nulls: outcome.nulls, bad: outcome.bad, success: outcome.response.success });
    return outcome.response;
  });
}

/**
 * The real deps for `settings` (the function's config): the deployment's schema version from the
 * bundle, Glue for the others and for the latest version by name. Cannot fail.
 */
export function productionDeps(settings: typeof config): UdfHandlerDeps {
  const { logger, tracer } = observability("redshift-udf");
  // Glue's client loads only for a value of another schema version than the deployment's, or one
  // with no frame, once per container: a bundle of its own (template.yaml EntryPoints), left out
  // of this one (External), so the import names the built file (.js), which sits beside this bundle.
  const glue = lazy(async () => (await import("./glue-registry.js")).glueSchemaRegistry(tracer));
  const fromGlue = (error: unknown) => {
    throw asLocalRegistryError(error);
  };
  return {
    logger,
    tracer,
    metrics: metricsFor("redshift-udf"),
    registry: {
      ...currentVersionFirst({ id: settings.schemaVersionId, schema: currentSalesSchema }, glue),
      getLatestVersion: async (registryName, schemaName) => (await glue()).getLatestVersion(registryName, schemaName).catch(fromGlue),
    },
    registryName: settings.registryName,
    onError: settings.onError,
  };
}
