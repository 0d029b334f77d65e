import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { ConfigError, list, oneOf, text } from "../config/env.ts";
import { mskIamTokens } from "./msk-iam.ts";

/** Finds the bootstrap servers when they were not known at deploy time (kafkajs asks on every (re)connect). */
export type BrokerLookup = () => Promise<string[]>;

/** How a function reaches Kafka: MSK Serverless with IAM (TLS, SASL/OAUTHBEARER, port 9098) or a plaintext local broker. */
export interface KafkaSettings {
  /**
   * Bootstrap servers. The stack knows them at deploy time (Custom::KafkaTopics answers them), so
   * a function gets them in its environment and loads no MSK API client; only the topics custom
   * resource, which answers them, looks them up (./bootstrap.ts).
   */
  readonly brokers: readonly string[] | BrokerLookup;
  readonly auth: "iam" | "none";
  readonly region: string;
  readonly clientId: string;
}

/** Config readers for KafkaSettings: KAFKA_BOOTSTRAP_SERVERS, KAFKA_AUTH (iam|none), AWS_REGION. */
export const kafkaSettingsSpec = (clientId: string) => ({
  brokers: list("KAFKA_BOOTSTRAP_SERVERS"),
  auth: oneOf("KAFKA_AUTH", ["iam", "none"], "iam"),
  region: text("AWS_REGION", "us-east-1"),
  clientId: () => clientId,
});

/** Throws ConfigError when the settings name no bootstrap servers and no way to find them. */
export function checkKafkaSettings(settings: KafkaSettings): void {
  if (Array.isArray(settings.brokers) && settings.brokers.length === 0) {
    throw new ConfigError("no Kafka bootstrap servers configured: set KAFKA_BOOTSTRAP_SERVERS");
  }
}

/**
 * A kafkajs client with timeouts that fit inside API Gateway's 29 s. With IAM, every
 * (re)authentication signs a fresh token (valid 15 min), so idle disconnects and token
 * expiry cost one reconnect, never a restart.
 */
export function createKafka(settings: KafkaSettings, overrides: Partial<KafkaConfig> = {}): Kafka {
  checkKafkaSettings(settings);
  const token = settings.auth === "iam" ? mskIamTokens(settings.region) : undefined;
  const iam: Partial<KafkaConfig> =
    token !== undefined
      ? { ssl: true, sasl: { mechanism: "oauthbearer", oauthBearerProvider: async () => ({ value: await token() }) } }
      : {};
  return new Kafka({
    clientId: settings.clientId,
    brokers: typeof settings.brokers === "function" ? settings.brokers : [...settings.brokers],
    connectionTimeout: 3000,
    authenticationTimeout: 5000,
    requestTimeout: 8000,
    enforceRequestTimeout: true,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.ERROR,
    ...iam,
    ...overrides,
  });
}
