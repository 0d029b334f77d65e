import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { GlueClient } from "@aws-sdk/client-glue";
import middy from "@middy/core";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { type FirehoseMskRecord, type TransformedRecord, transformRecords } from "./transform.ts";

const { logger, tracer } = observability("firehose-transform");
const metrics = metricsFor("firehose-transform");
const decoder = new GlueAvroDecoder<Sale>(
  new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 }))),
  currentSalesSchema,
);

interface FirehoseMskEvent {
  readonly invocationId: string;
  readonly deliveryStreamArn: string;
  readonly records: readonly FirehoseMskRecord[];
}

/** Firehose (MSK source) transformation: Glue-framed Avro -> JSON lines with a `dt` partition key. */
export const handler = middy<FirehoseMskEvent, { records: readonly TransformedRecord[] }>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    logger.appendKeys({ invocationId: event.invocationId });
    const outcome = await transformRecords(event.records, decoder);
    // Firehose writes failed records to the error prefix with its own errorMessage; the reason is here.
    for (const failure of outcome.failed) logger.warn("record not decodable", failure);
    metrics.addMetric("LakeRecordsOk", MetricUnit.Count, outcome.ok);
    metrics.addMetric("LakeRecordsFailed", MetricUnit.Count, outcome.failed.length);
    logger.info("records transformed", { records: event.records.length, ok: outcome.ok, failed: outcome.failed.length });
    return { records: outcome.records };
  });
