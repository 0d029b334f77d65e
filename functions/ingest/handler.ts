import { randomUUID } from "node:crypto";
import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { makeHandlerIdempotent } from "@aws-lambda-powertools/idempotency/middleware";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { GlueClient } from "@aws-sdk/client-glue";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { httpErrors } from "#shared/http/middleware";
import { type HttpResponse, json } from "#shared/http/responses";
import { createKafka } from "#shared/kafka/client";
import { TransactionalProducer } from "#shared/kafka/producer";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { config } from "./config.ts";
import { ingestSales } from "./ingest.ts";

const { logger, tracer } = observability("ingest");
const registry = new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 })));
// One transactional id per container: a new container never fences a live one.
const producer = new TransactionalProducer(createKafka(config.kafka), config.topic, {
  transactionalId: `${config.transactionalIdPrefix}-${randomUUID()}`,
  transactionTimeoutMs: config.transactionTimeoutMs,
  commitRetry: { retries: 30, initialRetryTime: 300, maxRetryTime: 2000 },
  // Inside the function's 25 s Timeout, after at most a few seconds of produce retries.
  commitDeadlineMs: 18_000,
});

let encoder: Promise<GlueAvroEncoder<Sale>> | undefined;
/** The current schema's version id, looked up once per container (again after a failure). */
function currentEncoder(): Promise<GlueAvroEncoder<Sale>> {
  encoder ??= registry
    .getVersionIdForDefinition({
      registryName: config.registryName,
      schemaName: config.schemaName,
      definition: JSON.stringify(currentSalesSchema),
      autoRegister: config.autoRegisterSchema,
    })
    .then((id) => new GlueAvroEncoder<Sale>(currentSalesSchema, id, config.compression))
    .catch((error: unknown) => {
      encoder = undefined;
      throw error;
    });
  return encoder;
}

/** The X-Ray trace of this invocation, in the header form consumers can continue. */
function traceHeader(): string | undefined {
  const root = tracer.getRootXrayTraceId();
  return root === undefined ? undefined : `Root=${root}`;
}

const idempotency = new IdempotencyConfig({
  eventKeyJmesPath: 'headers."idempotency-key"',
  payloadValidationJmesPath: "body",
  throwOnNoIdempotencyKey: false,
  expiresAfterSeconds: config.idempotencyTtlSeconds,
});

/** POST /sales (HTTP API, payload 2.0). */
export const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer))
  .use(httpErrors(logger))
  .use(
    makeHandlerIdempotent({ persistenceStore: new DynamoDBPersistenceLayer({ tableName: config.idempotencyTable }), config: idempotency }),
  )
  .handler(async (event) => {
    const correlationId = event.headers["x-correlation-id"] ?? event.requestContext.requestId ?? randomUUID();
    logger.appendKeys({ correlationId });
    const accepted = await ingestSales(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers["content-type"] },
      { correlationId, traceHeader: traceHeader() },
      {
        encoder: currentEncoder,
        produce: (records) => producer.send(records),
        limits: config.limits,
        retryAfterSeconds: config.retryAfterSeconds,
      },
    );
    logger.info("sales accepted", { records: accepted.accepted });
    return json(202, accepted, { "x-correlation-id": correlationId });
  });
