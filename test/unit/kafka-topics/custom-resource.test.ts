import { describe, expect, it } from "vitest";
import {
  answerTopicsRequest,
  type CustomResourceRequest,
  type CustomResourceResponse,
  type TopicsResourceDeps,
} from "#functions/kafka-topics/custom-resource";
import type { TopicAdmin } from "#shared/kafka/topics";
import { fakeKafka } from "#test/support/fakes/kafka";

const baseRequest: CustomResourceRequest = {
  RequestType: "Create",
  ResponseURL: "https://example.invalid/response",
  StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/sales-analytics/guid",
  RequestId: "req-1",
  LogicalResourceId: "KafkaTopics",
  ResourceProperties: { ServiceToken: "arn", Topics: [{ Name: "sales", Partitions: "6" }] },
};

function deps(overrides: Partial<TopicsResourceDeps> = {}) {
  const sent: { url: string; response: CustomResourceResponse }[] = [];
  const kafka = fakeKafka();
  let adminCalls = 0;
  const value: TopicsResourceDeps = {
    admin: async () => {
      adminCalls++;
      return kafka.admin;
    },
    bootstrapBrokers: async () => ["boot-abc.c1.kafka-serverless.us-east-1.amazonaws.com:9098"],
    send: async (url, response) => {
      sent.push({ url, response });
    },
    remainingMs: () => 60_000,
    log: () => undefined,
    ...overrides,
  };
  return { value, sent, topics: kafka.cluster.topics, adminCalls: () => adminCalls };
}

describe("answerTopicsRequest (Custom::KafkaTopics)", () => {
  it("answers Create with SUCCESS once, at the ResponseURL, with the request's ids and what it created", async () => {
    const d = deps();
    const response = await answerTopicsRequest(baseRequest, d.value);
    expect(d.topics.get("sales")).toBe(6);
    expect(d.sent).toHaveLength(1);
    expect(d.sent[0]?.url).toBe(baseRequest.ResponseURL);
    expect(d.sent[0]?.response).toEqual(response);
    expect(response).toMatchObject({
      Status: "SUCCESS",
      StackId: baseRequest.StackId,
      RequestId: "req-1",
      LogicalResourceId: "KafkaTopics",
      PhysicalResourceId: "kafka-topics-req-1",
      Data: {
        Created: "sales:6",
        Grown: "",
        Unchanged: "",
        Reconfigured: "",
        BootstrapBrokers: "boot-abc.c1.kafka-serverless.us-east-1.amazonaws.com:9098",
      },
    });
  });

  it("keeps the physical id on Update, so CloudFormation never replaces (and deletes) the resource", async () => {
    const d = deps();
    const response = await answerTopicsRequest(
      { ...baseRequest, RequestType: "Update", PhysicalResourceId: "kafka-topics-first" },
      d.value,
    );
    expect(response).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: "kafka-topics-first" });
  });

  it("answers Delete with SUCCESS without asking Kafka", async () => {
    const d = deps();
    const response = await answerTopicsRequest(
      { ...baseRequest, RequestType: "Delete", PhysicalResourceId: "kafka-topics-first" },
      d.value,
    );
    expect(response.Status).toBe("SUCCESS");
    expect(d.adminCalls()).toBe(0);
    expect(d.sent).toHaveLength(1);
  });

  it("answers FAILED with the reason when the declaration is invalid or Kafka refuses", async () => {
    const invalid = deps();
    const bad = await answerTopicsRequest(
      { ...baseRequest, ResourceProperties: { Topics: [{ Name: "sales", Partitions: "0" }] } },
      invalid.value,
    );
    expect(bad).toMatchObject({ Status: "FAILED", Reason: expect.stringContaining("Topics[0].Partitions") });

    const down = deps({
      admin: async () => {
        throw new Error("Connection error: connect ECONNREFUSED");
      },
    });
    const refused = await answerTopicsRequest(baseRequest, down.value);
    expect(refused).toMatchObject({ Status: "FAILED", Reason: "Error: Connection error: connect ECONNREFUSED" });
    expect(down.sent.map((s) => s.response.Status)).toEqual(["FAILED"]);
  });

  it("answers FAILED before the function's time runs out when Kafka never answers", async () => {
    const stuck = deps({ admin: () => new Promise<TopicAdmin>(() => undefined), remainingMs: () => 10_050, marginMs: 10_000 });
    const response = await answerTopicsRequest(baseRequest, stuck.value);
    expect(response).toMatchObject({ Status: "FAILED", Reason: expect.stringContaining("no answer from Kafka") });
    expect(stuck.sent).toHaveLength(1);
  });

  it("rejects, sending nothing, a request without a ResponseURL; rejects when the answer is not delivered", async () => {
    const d = deps();
    await expect(answerTopicsRequest({ ...baseRequest, ResponseURL: undefined }, d.value)).rejects.toThrow(
      "custom resource request has no ResponseURL",
    );
    expect(d.sent).toEqual([]);
    const undelivered = deps({
      send: async () => {
        throw new Error("the custom resource response was refused with HTTP 403");
      },
    });
    await expect(answerTopicsRequest(baseRequest, undelivered.value)).rejects.toThrow("HTTP 403");
  });
});
