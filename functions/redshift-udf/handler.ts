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
import { config } from "./config.ts";
import { decodeRows, type UdfRequest, type UdfResponse } from "./udf.ts";

const { logger, tracer } = observability("redshift-udf");
const metrics = metricsFor("redshift-udf");
const registry = new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 })));
const decoder = new GlueAvroDecoder<Sale>(registry, currentSalesSchema);

/** Redshift scalar Lambda UDF f_sales_avro_to_json (see docs/redshift.md). */
export const handler = middy<UdfRequest, UdfResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics))
  .handler(async (request) => {
    logger.appendKeys({ queryId: request.query_id, redshiftRequestId: request.request_id });
    const outcome = await decodeRows(request, {
      decoder,
      latestVersion: (schemaName) => registry.getLatestVersion(config.registryName, schemaName),
      onError: config.onError,
      logBadRow: (row, code, reason) => logger.warn("row not decodable", { row, code, reason }),
    });
    metrics.addMetric("UdfRows", MetricUnit.Count, outcome.rows);
    metrics.addMetric("UdfBadRows", MetricUnit.Count, outcome.bad);
    logger.info("rows decoded", { rows: outcome.rows, nulls: outcome.nulls, bad: outcome.bad, success: outcome.response.success });
    return outcome.response;
  });
