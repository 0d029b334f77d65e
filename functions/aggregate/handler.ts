import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GlueClient } from "@aws-sdk/client-glue";
import middy from "@middy/core";
import type { MSKEvent } from "aws-lambda";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { correlationIdsOf } from "#shared/kafka/headers";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { config } from "./config.ts";
import type { DeadLetter } from "./dead-letters.ts";
import { type KafkaEventRecord, processBatch } from "./process-batch.ts";
import { AggregateStore } from "./store.ts";

const { logger, tracer } = observability("aggregate");
const metrics = metricsFor("aggregate");
const decoder = new GlueAvroDecoder<Sale>(
  new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 }))),
  currentSalesSchema,
);
const store = new AggregateStore(tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 6 })), config.table);
// SQS and S3 are needed only for batches with poison records: their clients load then, once per
// container, instead of at every cold start.
let deadLetterSender: Promise<(letters: readonly DeadLetter[]) => Promise<number>> | undefined;
/** The dead-letter sender, created on first use; a failed load is retried on the next use. */
function deadLetters(): Promise<(letters: readonly DeadLetter[]) => Promise<number>> {
  deadLetterSender ??= Promise.all([import("@aws-sdk/client-sqs"), import("@aws-sdk/client-s3"), import("./dead-letters.ts")])
    .then(([{ SQSClient }, { S3Client }, { sendDeadLetters }]) => {
      const sink = {
        sqs: tracer.captureAWSv3Client(new SQSClient({})),
        queueUrl: config.deadLetterQueueUrl,
        s3: tracer.captureAWSv3Client(new S3Client({})),
        bucket: config.deadLetterBucket,
        prefix: config.deadLetterPrefix,
      };
      return (letters: readonly DeadLetter[]) => sendDeadLetters(sink, letters);
    })
    .catch((error: unknown) => {
      deadLetterSender = undefined;
      throw error;
    });
  return deadLetterSender;
}
const settings = {
  windows: config.windows,
  allowedLatenessMs: config.allowedLatenessMs,
  ttlSeconds: config.ttlSeconds,
  maxCountriesPerWindow: config.maxCountriesPerWindow,
};

/** MSK event source mapping on the sales topic: windowed aggregates in DynamoDB, exactly once. */
export const handler = middy<MSKEvent, unknown>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const records = event.records as unknown as Record<string, KafkaEventRecord[]>;
    const correlationIds = correlationIdsOf(Object.values(records).flat());
    logger.appendKeys({ correlationIds });
    const writesBefore = store.counts.writes;
    const summary = await processBatch(records, {
      decoder,
      store,
      deadLetter: async (letters) => (await deadLetters())(letters),
      settings,
      maxConflictRetries: config.maxConflictRetries,
    });
    tracer.putAnnotation("records", summary.records);
    tracer.putAnnotation("poison", summary.poison);
    metrics.addMetric("RecordsIn", MetricUnit.Count, summary.records);
    metrics.addMetric("RecordsApplied", MetricUnit.Count, summary.applied);
    metrics.addMetric("LateWindowRecords", MetricUnit.Count, summary.late);
    metrics.addMetric("DuplicateRecords", MetricUnit.Count, summary.duplicates);
    metrics.addMetric("FoldedCountryRecords", MetricUnit.Count, summary.folded);
    metrics.addMetric("PoisonRecords", MetricUnit.Count, summary.poison);
    metrics.addMetric("DynamoDBWrites", MetricUnit.Count, store.counts.writes - writesBefore);
    metrics.addMetric("SliceWriteConflicts", MetricUnit.Count, summary.conflicts);
    // With OffsetLag, the stalled-partition alarm's input (template.yaml AggregateWatermarkStalledAlarm).
    metrics.addMetric("WatermarkAdvances", MetricUnit.Count, summary.advanced);
    logger.info("batch aggregated", { ...summary });
    return summary;
  });
