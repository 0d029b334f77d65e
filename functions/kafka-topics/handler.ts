import { createHandler, productionDeps } from "./wiring.ts";

/** Custom::KafkaTopics: creates the stack's Kafka topics before the consumers that read them. */
export const handler = createHandler(productionDeps());
