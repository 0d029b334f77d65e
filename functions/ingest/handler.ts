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
import { HttpError } from "#shared/http/errors";
import { httpErrors } from "#shared/http/middleware";
import { errorResponse, type HttpResponse, json } from "#shared/http/responses";
import { createKafka } from "#shared/kafka/client";
import { TransactionalProducer } from "#shared/kafka/producer";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { config } from "./config.ts";
import { ingestSales } from "./ingest.ts";
import { checkHeaders } from "./parse.ts";

const { logger, tracer } = observability("ingest");
const registry = new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 })));
// One transactional id per container: a new container never fences a live one.
const producer = new TransactionalProducer(createKafka(config.kafka), config.topic, {
  transactionalId: `${config.transactionalIdPrefix}-${randomUUID()}`,
  transactionTimeoutMs: config.transactionTimeoutMs,
  commitRetry: { retries: 12, initialRetryTime: 300, maxRetryTime: 2000 },
  commitDeadlineMs: 18_000,
});
/** Time kept back from Kafka to write the idempotency record and answer. */
const ANSWER_MARGIN_MS = 3000;

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
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(httpErrors(logger))
  // Before the idempotency layer: a malformed key must not become a DynamoDB record.
  .use({ before: (request) => checkHeaders(request.event.headers) })
  .use(
    makeHandlerIdempotent({ persistenceStore: new DynamoDBPersistenceLayer({ tableName: config.idempotencyTable }), config: idempotency }),
  )
  .handler(async (event, context) => {
    const correlationId = event.headers["x-correlation-id"] ?? event.requestContext.requestId ?? randomUUID();
    logger.appendKeys({ correlationId });
    // Kafka gets what is left of the invocation, less a margin to answer and record the answer.
    const deadline = Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
    try {
      const accepted = await ingestSales(
        { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers["content-type"] },
        { correlationId, traceHeader: traceHeader() },
        {
          encoder: currentEncoder,
          produce: (records) => producer.send(records, deadline),
          limits: config.limits,
          retryAfterSeconds: config.retryAfterSeconds,
        },
      );
      logger.info("sales accepted", { records: accepted.accepted });
      return json(202, accepted, { "x-correlation-id": correlationId });
    } catch (error) {
      // The records may be in Kafka: answer instead of throwing, so the idempotency layer keeps
      // this answer and a retry with the same Idempotency-Key cannot write them a second time.
      if (error instanceof HttpError && error.status === 504) {
        logger.warn("commit outcome unknown", { code: error.code });
        return errorResponse(error, event.requestContext.requestId);
      }
      throw error;
    }
  });
