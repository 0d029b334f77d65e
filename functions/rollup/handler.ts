import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { type AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import middy from "@middy/core";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { metricsFor } from "#shared/observability/metrics";
import { observability } from "#shared/observability/powertools";
import { config } from "./config.ts";
import { rollUp, type StreamRecord, windowsPerRead } from "./rollup.ts";
import { dynamoRollupStore } from "./store.ts";

const { logger, tracer } = observability("rollup");
const metrics = metricsFor("rollup");
const store = dynamoRollupStore(tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 6 })), config.table, config.partitions);

/** DynamoDB stream of the aggregates table: region and overall rollups of the window instances a batch touched. */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const records: StreamRecord[] = event.Records.map((record) => ({
      eventName: record.eventName,
      sequenceNumber: record.dynamodb?.SequenceNumber ?? "",
      keys: (record.dynamodb?.Keys ?? {}) as Record<string, AttributeValue>,
    }));
    const { summary, retryFrom } = await rollUp(records, store, {
      concurrency: config.concurrency,
      windowsPerRead: windowsPerRead(config.partitions),
      // Window and start only: slices hold no sale or customer data in their keys.
      onError: (ref, error) =>
        logger.error("window rollup failed", { window: ref.window, start: new Date(ref.start).toISOString(), error: error as Error }),
    });
    metrics.addMetric("RollupsWritten", MetricUnit.Count, summary.written);
    metrics.addMetric("RollupsStale", MetricUnit.Count, summary.stale);
    metrics.addMetric("RollupWindowsFailed", MetricUnit.Count, summary.failedWindows);
    logger.info("slice changes rolled up", { ...summary, retryFrom });
    return { batchItemFailures: retryFrom === undefined ? [] : [{ itemIdentifier: retryFrom }] };
  });
