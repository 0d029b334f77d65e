import { GetBootstrapBrokersCommand, KafkaClient } from "@aws-sdk/client-kafka";
import { mockClient } from "aws-sdk-client-mock";
import type { KafkaConfig } from "kafkajs";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { mskBootstrapBrokers } from "#shared/kafka/bootstrap";
import { createKafka, type KafkaSettings } from "#shared/kafka/client";
import { correlationIdsOf, HEADER_CORRELATION_ID, headerValue } from "#shared/kafka/headers";

// What createKafka hands kafkajs is what matters here: record it instead of building a client.
const made = vi.hoisted(() => [] as KafkaConfig[]);
vi.mock("kafkajs", async (original) => ({
  ...(await original<typeof import("kafkajs")>()),
  Kafka: class {
    constructor(config: KafkaConfig) {
      made.push(config);
    }
  },
}));

const settings = (over: Partial<KafkaSettings> = {}): KafkaSettings => ({
  brokers: [],
  auth: "none",
  region: "us-east-1",
  clientId: "unit",
  ...over,
});
const lastConfig = () => made.at(-1) as KafkaConfig;

// mskBootstrapBrokers makes its own MSK client: every instance's send is mocked, and reset after each test.
const msk = mockClient(KafkaClient);
afterEach(() => msk.reset());
afterAll(() => msk.restore());

describe("Kafka client factory", () => {
  it("refuses to start without bootstrap servers, naming the variable", () => {
    expect(() => createKafka(settings())).toThrow(/set KAFKA_BOOTSTRAP_SERVERS/);
  });

  it("connects in plaintext to listed brokers, with timeouts that fit inside API Gateway's 29 s", () => {
    createKafka(settings({ brokers: ["127.0.0.1:9092"] }));
    expect(lastConfig()).toMatchObject({ clientId: "unit", brokers: ["127.0.0.1:9092"], requestTimeout: 8000, connectionTimeout: 3000 });
    expect(lastConfig().sasl).toBeUndefined();
  });

  it("signs a fresh MSK IAM token for the configured region with the environment's credentials on every authentication", async () => {
    // Lambda puts the execution role's keys in the environment.
    // A profile would make the default chain skip the environment on purpose.
    vi.stubEnv("AWS_PROFILE", undefined);
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    vi.stubEnv("AWS_SESSION_TOKEN", "role-session");
    try {
      createKafka(settings({ brokers: ["b-1:9098"], auth: "iam", region: "eu-west-1" }));
      const config = lastConfig();
      expect(config.ssl).toBe(true);
      const sasl = config.sasl as { mechanism: string; oauthBearerProvider: () => Promise<{ value: string }> };
      expect(sasl.mechanism).toBe("oauthbearer");
      const signed = new URL(Buffer.from((await sasl.oauthBearerProvider()).value, "base64url").toString("utf8"));
      expect(signed.host).toBe("kafka.eu-west-1.amazonaws.com");
      expect(signed.searchParams.get("Action")).toBe("kafka-cluster:Connect");
      expect(signed.searchParams.get("X-Amz-Credential")).toMatch(/^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/);
      expect(signed.searchParams.get("X-Amz-Security-Token")).toBe("role-session");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("looks the IAM bootstrap brokers up from the cluster ARN once, and again only after a failure", async () => {
    msk
      .on(GetBootstrapBrokersCommand, { ClusterArn: "arn:aws:kafka:us-east-1:123456789012:cluster/c/u" })
      .rejectsOnce(Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException" }))
      .resolvesOnce({ BootstrapBrokerStringSaslIam: "b-1.example:9098,b-2.example:9098" })
      .resolves({});
    createKafka(settings({ brokers: mskBootstrapBrokers("arn:aws:kafka:us-east-1:123456789012:cluster/c/u", "us-east-1"), auth: "iam" }));
    const brokers = lastConfig().brokers as () => Promise<string[]>;
    await expect(brokers()).rejects.toThrow("Rate exceeded");
    await expect(brokers()).resolves.toEqual(["b-1.example:9098", "b-2.example:9098"]);
    await expect(brokers()).resolves.toEqual(["b-1.example:9098", "b-2.example:9098"]);
    expect(msk.commandCalls(GetBootstrapBrokersCommand)).toHaveLength(2);
    expect(msk.calls()).toHaveLength(2);
  });

  it("says so when the cluster has no IAM bootstrap brokers", async () => {
    msk.on(GetBootstrapBrokersCommand).resolves({});
    const lookup = mskBootstrapBrokers("arn:aws:kafka:us-east-1:123456789012:cluster/empty/u", "us-east-1");
    await expect(lookup()).rejects.toThrow(/has no IAM bootstrap brokers/);
  });
});

describe("Kafka headers", () => {
  const headers = (id: string): Record<string, number[]>[] => [
    { other: [...Buffer.from("x")] },
    { [HEADER_CORRELATION_ID]: [...Buffer.from(id)] },
  ];

  it("reads a header of an event record, or undefined", () => {
    expect(headerValue(headers("c-1"), HEADER_CORRELATION_ID)).toBe("c-1");
    expect(headerValue(headers("c-1"), "missing")).toBeUndefined();
    expect(headerValue(undefined, HEADER_CORRELATION_ID)).toBeUndefined();
  });

  it("lists a batch's distinct correlation ids, at most `limit`", () => {
    const records = ["a", "b", "a", "c", "d"].map((id) => ({ headers: headers(id) }));
    expect(correlationIdsOf([...records, { headers: undefined }])).toEqual(["a", "b", "c", "d"]);
    expect(correlationIdsOf(records, 2)).toEqual(["a", "b"]);
  });
});
