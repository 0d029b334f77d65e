import { ConfigError, loadConfig, optionalText } from "#shared/config/env";
import { mskBootstrapBrokers } from "#shared/kafka/bootstrap";
import { type KafkaSettings, kafkaSettingsSpec } from "#shared/kafka/client";

/**
 * Settings of the topics custom resource: how to reach Kafka (the topics come with each request).
 * On AWS the brokers are looked up from KAFKA_CLUSTER_ARN (this resource is what tells the stack
 * its bootstrap servers); KAFKA_BOOTSTRAP_SERVERS names them directly (a local broker). Throws
 * ConfigError naming both when neither is set.
 */
export function loadTopicsConfig(): { readonly kafka: KafkaSettings } {
  const { kafka, clusterArn } = loadConfig({ kafka: kafkaSettingsSpec("sales-topics"), clusterArn: optionalText("KAFKA_CLUSTER_ARN") });
  if (kafka.brokers.length > 0) return { kafka };
  if (clusterArn === undefined)
    throw new ConfigError("no Kafka bootstrap servers configured: set KAFKA_BOOTSTRAP_SERVERS or KAFKA_CLUSTER_ARN");
  return { kafka: { ...kafka, brokers: mskBootstrapBrokers(clusterArn, kafka.region) } };
}
