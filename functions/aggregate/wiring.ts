import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MSKEvent } from "aws-lambda";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { currentVersionFirst } from "#shared/avro/current-version";
import { dynamoDbClient } from "#shared/clients/dynamodb";
import { correlationIdsOf } from "#shared/kafka/headers";
import { type Instruments, lambdaHandler } from "#shared/lambda/handler";
import { lazy } from "#shared/lambda/lazy";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import type { config } from "./config.ts";
import { createAggregateStore, type RequestCounts } from "./dynamodb-store.ts";
import { type BatchDeps, type BatchSummary, type KafkaEventRecord, processBatch } from "./process-batch.ts";

/** What the aggregate handler runs on; tests hand in fakes, handler.ts the real ones. */
export interface AggregateDeps extends Required<Instruments> {
  readonly batch: BatchDeps & { readonly store: BatchDeps["store"] & { readonly counts: RequestCounts } };
}

/**
 * The MSK event source mapping's handler over `deps`: the batch goes to processBatch, its
 * summary is logged (counts and correlation ids, never a record) and measured. Every failure
 * (registry down, DynamoDB throttled past its retries, dead letters refused) is rethrown, so
 * Lambda retries the batch.
 */
export function createHandler(deps: AggregateDeps) {
  const { logger, tracer, metrics, batch } = deps;
  return lambdaHandler<MSKEvent, BatchSummary>(deps).handler(async (event) => {
    const records = event.records as unknown as Record<string, KafkaEventRecord[]>;
    logger.appendKeys({ correlationIds: correlationIdsOf(Object.values(records).flat()) });
    const writesBefore = batch.store.counts.writes;
    const summary = await processBatch(records, batch);
    tracer.putAnnotation("records", summary.records);
    tracer.putAnnotation("poison", summary.poison);
    metrics.addMetric("RecordsIn", MetricUnit.Count, summary.records);
    metrics.addMetric("RecordsApplied", MetricUnit.Count, summary.applied);
    metrics.addMetric("LateWindowRecords", MetricUnit.Count, summary.late);
    metrics.addMetric("DuplicateRecords", MetricUnit.Count, summary.duplicates);
    metrics.addMetric("FoldedCountryRecords", MetricUnit.Count, summary.folded);
    metrics.addMetric("PoisonRecords", MetricUnit.Count, summary.poison);
    metrics.addMetric("DynamoDBWrites", MetricUnit.Count, batch.store.counts.writes - writesBefore);
    metrics.addMetric("SliceWriteConflicts", MetricUnit.Count, summary.conflicts);
    // With OffsetLag, the stalled-partition alarm's input (template.yaml AggregateWatermarkStalledAlarm).
    metrics.addMetric("WatermarkAdvances", MetricUnit.Count, summary.advanced);
    logger.info("batch aggregated", { ...summary });
    return summary;
  });
}

/** The real deps for `settings` (the function's config): DynamoDB, Glue for other schema versions, and SQS/S3 for dead letters. Cannot fail. */
export function productionDeps(settings: typeof config): AggregateDeps {
  const { logger, tracer } = observability("aggregate");
  // SQS, S3 and the sender load only for a batch with poison records, once per container: they
  // are a bundle of their own (template.yaml EntryPoints), left out of this one (External), so
  // the import names the built file (.js), which sits beside this bundle.
  const sender = lazy(async () =>
    (await import("./dead-letter-sink.js")).deadLetterSender(tracer, {
      queueUrl: settings.deadLetterQueueUrl,
      bucket: settings.deadLetterBucket,
      prefix: settings.deadLetterPrefix,
    }),
  );
  // Glue's client loads only for a record of another schema version than the deployment's, the
  // same way: a bundle of its own (glue-registry.js), imported on first need.
  const glue = lazy(async () => (await import("./glue-registry.js")).glueSchemaRegistry(tracer));
  return {
    logger,
    tracer,
    metrics: metricsFor("aggregate"),
    batch: {
      decoder: new GlueAvroDecoder<Sale>(
        currentVersionFirst({ id: settings.schemaVersionId, schema: currentSalesSchema }, glue),
        currentSalesSchema,
      ),
      store: createAggregateStore(dynamoDbClient(tracer, { maxAttempts: 6 })(), settings.table),
      deadLetter: async (letters) => (await sender())(letters),
      settings: {
        windows: settings.windows,
        allowedLatenessMs: settings.allowedLatenessMs,
        ttlSeconds: settings.ttlSeconds,
        maxCountriesPerWindow: settings.maxCountriesPerWindow,
      },
      maxConflictRetries: settings.maxConflictRetries,
    },
  };
}
