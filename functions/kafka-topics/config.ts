import { loadConfig } from "#shared/config/env";
import { kafkaSettingsSpec } from "#shared/kafka/client";

/** Settings of the topics custom resource: how to reach Kafka (the topics come with each request). */
export const loadTopicsConfig = () => loadConfig({ kafka: kafkaSettingsSpec("sales-topics") });
