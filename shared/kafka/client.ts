import { GetBootstrapBrokersCommand, KafkaClient } from "@aws-sdk/client-kafka";
import { generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { ConfigError, list, oneOf, optionalText, text } from "../config/env.ts";
import { lazy } from "../lambda/lazy.ts";

/** How a function reaches Kafka: MSK Serverless with IAM (TLS, SASL/OAUTHBEARER, port 9098) or a plaintext local broker. */
export interface KafkaSettings {
  /** Bootstrap servers; when empty, they are looked up from `clusterArn` (MSK GetBootstrapBrokers). */
  readonly brokers: readonly string[];
  readonly clusterArn: string | undefined;
  readonly auth: "iam" | "none";
  readonly region: string;
  readonly clientId: string;
}

/** Config readers for KafkaSettings: KAFKA_BOOTSTRAP_SERVERS or KAFKA_CLUSTER_ARN, KAFKA_AUTH (iam|none), AWS_REGION. */
export const kafkaSettingsSpec = (clientId: string) => ({
  brokers: list("KAFKA_BOOTSTRAP_SERVERS"),
  clusterArn: optionalText("KAFKA_CLUSTER_ARN"),
  auth: oneOf("KAFKA_AUTH", ["iam", "none"], "iam"),
  region: text("AWS_REGION", "us-east-1"),
  clientId: () => clientId,
});

/** Throws ConfigError when the settings name no way to the brokers (neither servers nor a cluster). */
export function checkKafkaSettings(settings: KafkaSettings): void {
  if (settings.brokers.length === 0 && settings.clusterArn === undefined) {
    throw new ConfigError("no Kafka bootstrap servers configured: set KAFKA_BOOTSTRAP_SERVERS or KAFKA_CLUSTER_ARN");
  }
}

/**
 * A kafkajs client with timeouts that fit inside API Gateway's 29 s. With IAM, every
 * (re)authentication signs a fresh token (valid 15 min), so idle disconnects and token
 * expiry cost one reconnect, never a restart.
 */
export function createKafka(settings: KafkaSettings, overrides: Partial<KafkaConfig> = {}): Kafka {
  checkKafkaSettings(settings);
  const iam: Partial<KafkaConfig> =
    settings.auth === "iam"
      ? {
          ssl: true,
          sasl: {
            mechanism: "oauthbearer",
            oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region: settings.region })).token }),
          },
        }
      : {};
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers.length > 0 ? [...settings.brokers] : bootstrapFromCluster(settings.clusterArn as string, settings.region),
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

/**
 * CloudFormation exposes only an MSK Serverless cluster's ARN, so the IAM bootstrap string is
 * looked up once (kafkajs calls this on every (re)connect) and cached while it works.
 */
function bootstrapFromCluster(clusterArn: string, region: string): () => Promise<string[]> {
  // The dual-stack host (kafka-api.<region>.api.aws): the one the MSK API's current VPC endpoint
  // service (aws.api.<region>.kafka-api) serves; the MSK guide says to reach it with the SDK's
  // dual-stack setting. Through a NAT gateway it is an ordinary public endpoint.
  const client = new KafkaClient({ region, useDualstackEndpoint: true });
  return lazy(async () => {
    const response = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
    const brokers = response.BootstrapBrokerStringSaslIam?.split(",") ?? [];
    if (brokers.length === 0) throw new ConfigError(`cluster ${clusterArn} has no IAM bootstrap brokers`);
    return brokers;
  });
}
