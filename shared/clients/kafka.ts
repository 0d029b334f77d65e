import type { Kafka } from "kafkajs";
import { checkKafkaSettings, createKafka, type KafkaSettings } from "#shared/kafka/client";
import { IdempotentProducer } from "#shared/kafka/producer";
import { lazy } from "#shared/lambda/lazy";

/** The Kafka clients of one function, each made on first use and reused while the container is warm. */
export interface KafkaClients {
  /** A kafkajs client (admin, consumers); making it opens no connection. */
  readonly kafka: () => Kafka;
  /** The idempotent producer of `topic`; it connects on its first send. */
  readonly producer: (topic: string) => () => IdempotentProducer;
}

/**
 * The Kafka clients for `settings`. Throws ConfigError at once (at cold start, where the settings
 * are read) when they name no way to the brokers; making the clients later cannot fail.
 */
export function kafkaClients(settings: KafkaSettings): KafkaClients {
  checkKafkaSettings(settings);
  return {
    kafka: lazy(() => createKafka(settings)),
    // The producer makes its own clients: after an unknown outcome it starts afresh with new sockets.
    producer: (topic) => lazy(() => new IdempotentProducer((overrides) => createKafka(settings, overrides), topic)),
  };
}
