import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { dynamoDbClient } from "#shared/clients/dynamodb";
import { kafkaClients } from "#shared/clients/kafka";
import { type HttpResponse, json } from "#shared/http/responses";
import type { IdempotentProducer } from "#shared/kafka/producer";
import { RequestScanner } from "#shared/kafka/request-scan";
import { httpLambdaHandler } from "#shared/lambda/handler";
import { lazy } from "#shared/lambda/lazy";
import { observability } from "#shared/observability/powertools";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import type { config } from "./config.ts";
import { createRequestLedger } from "./dynamodb-store.ts";
import { type IngestDeps, ingestSales } from "./ingest.ts";
import type { RequestLedger } from "./ledger.ts";
import { checkHeaders } from "./parse.ts";

type IngestConfig = typeof config;

/** What the ingest handler runs on; tests hand in fakes, handler.ts the real ones. */
export interface IngestHandlerDeps {
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly producer: () => Pick<IdempotentProducer, "send">;
  readonly scanner: () => Pick<RequestScanner, "scan">;
  readonly ledger: RequestLedger;
  readonly settings: Pick<IngestConfig, "schemaVersionId" | "compression" | "limits" | "retryAfterSeconds" | "recoverySkewMs">;
}

/** Time kept back from Kafka to record the answer in the request ledger and send it. */
const ANSWER_MARGIN_MS = 3000;

/**
 * POST /sales (HTTP API, payload 2.0) over `deps`. Never throws: each outcome of ingestSales (its
 * contract lists them) and any other error (a generic 500) is the response.
 */
export function createHandler(deps: IngestHandlerDeps) {
  const { logger, tracer, settings } = deps;
  // The current schema's registered version: its id comes with the deployment, so no registry call.
  const encoder = new GlueAvroEncoder<Sale>(currentSalesSchema, settings.schemaVersionId, settings.compression);
  const core: IngestDeps = {
    encoder,
    produce: (records, deadline) => deps.producer().send(records, deadline),
    scan: (query) => deps.scanner().scan(query),
    ledger: deps.ledger,
    newRequestId: randomUUID,
    warn: (message, fields) => logger.warn(message, fields),
    limits: settings.limits,
    retryAfterSeconds: settings.retryAfterSeconds,
    recoverySkewMs: settings.recoverySkewMs,
  };
  /** The X-Ray trace of this invocation, in the header form consumers can continue. */
  const traceHeader = () => {
    const root = tracer.getRootXrayTraceId();
    return root === undefined ? undefined : `Root=${root}`;
  };
  return httpLambdaHandler<APIGatewayProxyEventV2, HttpResponse>(deps)
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
        core,
      );
      logger.info("sales accepted", { records: accepted.accepted });
      return json(202, accepted, { "x-correlation-id": correlationId });
    });
}

/**
 * The real deps for `settings` (the function's config): Glue, the idempotent producer and the
 * recovery scanner of the sales topic, the DynamoDB request ledger. Throws ConfigError when the
 * settings name no Kafka brokers (at cold start, as a bad setting should).
 */
export function productionDeps(settings: IngestConfig): IngestHandlerDeps {
  const { logger, tracer } = observability("ingest");
  const kafka = kafkaClients(settings.kafka);
  return {
    logger,
    tracer,
    producer: kafka.producer(settings.topic),
    scanner: lazy(() => new RequestScanner(kafka.kafka(), settings.topic, settings.recoveryGroupPrefix)),
    ledger: createRequestLedger(dynamoDbClient(tracer, { maxAttempts: 2 })(), settings.idempotencyTable, settings.idempotencyTtlSeconds),
    settings,
  };
}
