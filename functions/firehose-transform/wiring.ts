import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { GlueAvroDecoder } from "#shared/avro/codec";
import type { SchemaSource } from "#shared/avro/registry";
import { schemaRegistry } from "#shared/clients/schema-registry";
import { type Instruments, lambdaHandler } from "#shared/lambda/handler";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
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

/** The real deps: the Glue Schema Registry (the function has no settings of its own). Cannot fail. */
export function productionDeps(): TransformDeps {
  const { logger, tracer } = observability("firehose-transform");
  return { logger, tracer, metrics: metricsFor("firehose-transform"), registry: schemaRegistry(tracer)() };
}
