import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import type { Admin, Kafka } from "kafkajs";
import { kafkaClients } from "#shared/clients/kafka";
import { lambdaHandler } from "#shared/lambda/handler";
import { lazy } from "#shared/lambda/lazy";
import { loadTopicsConfig } from "./config.ts";
import { answerTopicsRequest, type CustomResourceResponse } from "./custom-resource.ts";
import { putResponse } from "./response-url.ts";

/** What the topics custom resource runs on; tests hand in an in-memory Kafka and a local ResponseURL. */
export interface TopicsDeps {
  readonly logger: Logger;
  /** The Kafka client; throws (ConfigError) when the function's settings are wrong. */
  readonly kafka: () => Pick<Kafka, "admin">;
  /** The bootstrap servers the client reaches; rejects when the settings are wrong or the MSK API cannot answer. */
  readonly bootstrapBrokers: () => Promise<readonly string[]>;
}

/**
 * Custom::KafkaTopics over `deps`: answers CloudFormation at its ResponseURL, FAILED naming the
 * cause when a setting or Kafka is wrong (so the stack never waits an hour for an answer).
 * Throws only when the ResponseURL refuses the answer; the admin is always disconnected.
 */
export function createHandler(deps: TopicsDeps) {
  const { logger } = deps;
  return lambdaHandler<unknown, CustomResourceResponse>(deps).handler(async (event, context: Context) => {
    let admin: Admin | undefined;
    try {
      return await answerTopicsRequest(event, {
        admin: async () => {
          admin = deps.kafka().admin();
          await admin.connect();
          return admin;
        },
        bootstrapBrokers: deps.bootstrapBrokers,
        send: (url, response) => putResponse(url, response),
        remainingMs: () => context.getRemainingTimeInMillis(),
        log: (message, fields) => logger.info(message, fields),
      });
    } finally {
      await admin?.disconnect().catch(() => undefined);
    }
  });
}

/**
 * The real deps. The settings are read on first use, not at cold start: a bad setting must
 * reach CloudFormation as FAILED, which only an invocation can answer. Cannot fail.
 */
export function productionDeps(): TopicsDeps {
  const settings = lazy(() => loadTopicsConfig().kafka);
  return {
    logger: new Logger({ serviceName: "kafka-topics" }),
    kafka: lazy(() => kafkaClients(settings()).kafka()),
    bootstrapBrokers: async () => {
      const { brokers } = settings();
      return typeof brokers === "function" ? await brokers() : brokers;
    },
  };
}
