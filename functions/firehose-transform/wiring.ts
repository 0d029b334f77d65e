import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { currentVersionFirst } from "#shared/avro/current-version";
import type { SchemaSource } from "#shared/avro/registry";
import { type Instruments, lambdaHandler } from "#shared/lambda/handler";
import { lazy } from "#shared/lambda/lazy";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import type { config } from "./config.ts";
import { type FirehoseMskRecord, type TransformedRecord, transformRecords } from "./transform.ts";

/** What the transform handler runs on; tests hand in a registry over a fake Glue, handler.ts the real one. */
export interface TransformDeps extends Required<Instruments> {
  readonly registry: SchemaSource;
}

interface FirehoseMskEvent {
  readonly invocationId: string;
  readonly deliveryStreamArn: string;
  readonly records: readonly FirehoseMskRecord[];
}

/**
 * Firehose's (MSK source) transformation over `deps`: Glue-framed Avro -> JSON lines with a `dt`
 * partition key; an undecodable record is ProcessingFailed with its reason logged. Throws when
 * the registry is unavailable, so Firehose retries the invocation.
 */
export function createHandler(deps: TransformDeps) {
  const { logger, metrics } = deps;
  const decoder = new GlueAvroDecoder<Sale>(deps.registry, currentSalesSchema);
  return lambdaHandler<FirehoseMskEvent, { records: readonly TransformedRecord[] }>(deps).handler(async (event) => {
    logger.appendKeys({ invocationId: event.invocationId });
    const outcome = await transformRecords(event.records, decoder);
    // Firehose writes failed records to the error prefix with its own errorMessage; the reason is here.
    for (const failure of outcome.failed) logger.warn("record not decodable", failure);
    metrics.addMetric("LakeRecordsOk", MetricUnit.Count, outcome.ok);
    metrics.addMetric("LakeRecordsFailed", MetricUnit.Count, outcome.failed.length);
    logger.info("records transformed", { records: event.records.length, ok: outcome.ok, failed: outcome.failed.length });
    return { records: outcome.records };
  });
}

/**
 * The real deps for `settings` (the function's config): the deployment's schema version from the
 * bundle, Glue for the others. Cannot fail.
 */
export function productionDeps(settings: typeof config): TransformDeps {
  const { logger, tracer } = observability("firehose-transform");
  // Glue's client loads only for a record of another schema version than the deployment's, once
  // per container: a bundle of its own (template.yaml EntryPoints), left out of this one
  // (External), so the import names the built file (.js), which sits beside this bundle.
  const glue = lazy(async () => (await import("./glue-registry.js")).glueSchemaRegistry(tracer));
  return {
    logger,
    tracer,
    metrics: metricsFor("firehose-transform"),
    registry: currentVersionFirst({ id: settings.schemaVersionId, schema: currentSalesSchema }, glue),
  };
}
