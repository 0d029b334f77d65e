import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { type Item, tableChangeOf } from "#shared/aggregates/table";
import { dynamoDbClient } from "#shared/clients/dynamodb";
import { disposition } from "#shared/errors/disposition";
import { type Instruments, lambdaHandler } from "#shared/lambda/handler";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import type { config } from "./config.ts";
import { createRollupStore } from "./dynamodb-store.ts";
import { type RollupStore, rollUp, windowsPerRead } from "./rollup.ts";

/** What the rollup handler runs on; tests hand in fakes, handler.ts the real ones. */
export interface RollupDeps extends Required<Instruments> {
  readonly store: RollupStore;
  /** The sales topic's partition count: a window's slices are read for partitions 0..n-1. */
  readonly partitions: number;
  readonly concurrency: number;
}

/**
 * The aggregates table's stream handler over `deps`: rolls up the window instances a batch
 * touched, and answers the first record of a window that failed on a data error as the batch
 * item failure (Lambda retries from there). Throws what rollUp throws (a retriable DynamoDB
 * failure or a bug), which fails the batch: Lambda counts a function error, bisects and retries
 * it, and after MaximumRetryAttempts sends its description to the on-failure destination.
 */
export function createHandler(deps: RollupDeps) {
  const { logger, metrics, store } = deps;
  return lambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse>(deps).handler(async (event) => {
    // The stream's keys are the SDK's attribute values; the table module turns them into domain changes.
    const changes = event.Records.map((record) =>
      tableChangeOf({
        ...(record.eventName !== undefined && { eventName: record.eventName }),
        sequenceNumber: record.dynamodb?.SequenceNumber ?? "",
        keys: (record.dynamodb?.Keys ?? {}) as Item,
      }),
    );
    const { summary, retryFrom } = await rollUp(changes, store, {
      concurrency: deps.concurrency,
      windowsPerRead: windowsPerRead(deps.partitions),
      // Window and start only: slices hold no sale or customer data in their keys.
      onError: (ref, error) =>
        logger.error("window rollup failed", {
          window: ref.window,
          start: new Date(ref.start).toISOString(),
          disposition: disposition(error).action,
          error: error as Error,
        }),
    });
    metrics.addMetric("RollupsWritten", MetricUnit.Count, summary.written);
    metrics.addMetric("RollupsStale", MetricUnit.Count, summary.stale);
    metrics.addMetric("RollupWindowsFailed", MetricUnit.Count, summary.failedWindows);
    logger.info("slice changes rolled up", { ...summary, retryFrom });
    return { batchItemFailures: retryFrom === undefined ? [] : [{ itemIdentifier: retryFrom }] };
  });
}

/** The real deps for `settings` (the function's config): the DynamoDB store of the aggregates table. Cannot fail. */
export function productionDeps(settings: typeof config): RollupDeps {
  const { logger, tracer } = observability("rollup");
  return {
    logger,
    tracer,
    metrics: metricsFor("rollup"),
    store: createRollupStore(dynamoDbClient(tracer, { maxAttempts: 6 })(), settings.table, settings.partitions),
    partitions: settings.partitions,
    concurrency: settings.concurrency,
  };
}
