import { randomUUID } from "node:crypto";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GlueClient } from "@aws-sdk/client-glue";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { httpErrors } from "#shared/http/middleware";
import { type HttpResponse, json } from "#shared/http/responses";
import { createKafka } from "#shared/kafka/client";
import { IdempotentProducer } from "#shared/kafka/producer";
import { RequestScanner } from "#shared/kafka/request-scan";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { config } from "./config.ts";
import { ingestSales } from "./ingest.ts";
import { DynamoDbRequestLedger } from "./ledger-dynamodb.ts";
import { checkHeaders } from "./parse.ts";

const { logger, tracer } = observability("ingest");
const registry = new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 })));
const producer = new IdempotentProducer((overrides) => createKafka(config.kafka, overrides), config.topic);
const scanner = new RequestScanner(createKafka(config.kafka), config.topic, config.recoveryGroupPrefix);
const ledger = new DynamoDbRequestLedger(
  tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 2 })),
  config.idempotencyTable,
  config.idempotencyTtlSeconds,
);
/** Time kept back from Kafka to record the answer in the request ledger and send it. */
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

/** POST /sales (HTTP API, payload 2.0). */
export const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(httpErrors(logger))
  .use({ before: (request) => checkHeaders(request.event.headers) })
  .handler(async (event, context) => {
    const correlationId = event.headers["x-correlation-id"] ?? event.requestContext.requestId ?? randomUUID();
    logger.appendKeys({ correlationId });
    // Kafka gets what is left of the invocation, less a margin to record the answer and send it;
    // the attempt's lease on its Idempotency-Key lasts as long as the invocation can.
    const now = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const accepted = await ingestSales(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: event.headers["content-type"] },
      {
        correlationId,
        traceHeader: traceHeader(),
        idempotencyKey: event.headers["idempotency-key"],
        now,
        deadline: now + remaining - ANSWER_MARGIN_MS,
        leaseUntil: now + remaining,
      },
      {
        encoder: currentEncoder,
        produce: (records, deadline) => producer.send(records, deadline),
        scan: (query) => scanner.scan(query),
        ledger,
        newRequestId: randomUUID,
        warn: (message, fields) => logger.warn(message, fields),
        limits: config.limits,
        retryAfterSeconds: config.retryAfterSeconds,
        recoverySkewMs: config.recoverySkewMs,
      },
    );
    logger.info("sales accepted", { records: accepted.accepted });
    return json(202, accepted, { "x-correlation-id": correlationId });
  });
