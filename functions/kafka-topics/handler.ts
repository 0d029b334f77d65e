import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { Admin, Kafka } from "kafkajs";
import { createKafka } from "#shared/kafka/client";
import { loadTopicsConfig } from "./config.ts";
import { answerTopicsRequest, type CustomResourceResponse } from "./custom-resource.ts";
import { putResponse } from "./response-url.ts";

const logger = new Logger({ serviceName: "kafka-topics" });
// A bad setting must still reach CloudFormation as FAILED (otherwise the stack waits an hour for
// an answer), so the cold start keeps the error instead of throwing it.
const kafka: Kafka | Error = (() => {
  try {
    return createKafka(loadTopicsConfig().kafka);
  } catch (error) {
    return error as Error;
  }
})();

/** Custom::KafkaTopics: creates the stack's Kafka topics before the consumers that read them. */
export const handler = middy<unknown, CustomResourceResponse, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event, context) => {
    let admin: Admin | undefined;
    try {
      return await answerTopicsRequest(event, {
        admin: async () => {
          if (kafka instanceof Error) throw kafka;
          admin = kafka.admin();
          await admin.connect();
          return admin;
        },
        send: (url, response) => putResponse(url, response),
        remainingMs: () => context.getRemainingTimeInMillis(),
        log: (message, fields) => logger.info(message, fields),
      });
    } finally {
      await admin?.disconnect().catch(() => undefined);
    }
  });
