import { describe, expect, it } from "vitest";
import {
  answerTopicsRequest,
  type CustomResourceRequest,
  type CustomResourceResponse,
  type TopicsResourceDeps,
} from "#functions/kafka-topics/custom-resource";
import { ensureTopics, parseTopicSpecs, type TopicAdmin, TopicError } from "#shared/kafka/topics";
import { fakeKafka } from "#test/support/fakes/kafka";

/** The fake cluster as ensureTopics sees it: its admin, topic -> partitions, configs, and every change made. */
function topicCluster(topics: Record<string, number> = {}, configs: Record<string, Record<string, string>> = {}) {
  const kafka = fakeKafka({ topics, configs });
  return { admin: kafka.admin, topics: kafka.cluster.topics, configs: kafka.cluster.configs, changes: kafka.calls.changes };
}

describe("ensureTopics", () => {
  it("creates missing topics, adds partitions to smaller ones and leaves equal ones alone", async () => {
    const cluster = topicCluster({ small: 2, same: 3 });
    const report = await ensureTopics(
      [
        { name: "fresh", partitions: 6 },
        { name: "small", partitions: 4 },
        { name: "same", partitions: 3 },
      ],
      { admin: cluster.admin },
    );
    expect(Object.fromEntries(cluster.topics)).toEqual({ fresh: 6, small: 4, same: 3 });
    expect(report).toEqual({
      created: [{ name: "fresh", partitions: 6 }],
      grown: [{ name: "small", from: 2, to: 4 }],
      unchanged: [{ name: "same", partitions: 3 }],
      reconfigured: [],
    });
  });

  it("creates a topic with its declared configs, and sets differing ones on an existing topic, keeping its other settings", async () => {
    const cluster = topicCluster({ sales: 6 }, { sales: { "retention.ms": "86400000", "max.message.bytes": "16777216" } });
    const config = { "max.message.bytes": "983040", "compression.type": "uncompressed" };
    const report = await ensureTopics(
      [
        { name: "sales", partitions: 6, config },
        { name: "fresh", partitions: 2, config },
      ],
      { admin: cluster.admin },
    );
    expect(cluster.configs.get("fresh")).toEqual(config);
    // The operator's retention stays; the declared configs win.
    expect(cluster.configs.get("sales")).toEqual({ "retention.ms": "86400000", ...config });
    expect(report.reconfigured).toEqual([{ name: "sales", configs: ["max.message.bytes", "compression.type"] }]);
    expect(report.unchanged).toEqual([]);

    // Once they agree, nothing is sent again.
    const before = cluster.changes.length;
    const again = await ensureTopics([{ name: "sales", partitions: 6, config }], { admin: cluster.admin });
    expect(cluster.changes).toHaveLength(before);
    expect(again).toMatchObject({ reconfigured: [], unchanged: [{ name: "sales" }] });
  });

  it("is idempotent: a second run changes nothing", async () => {
    const cluster = topicCluster();
    await ensureTopics([{ name: "sales", partitions: 6 }], { admin: cluster.admin });
    const again = await ensureTopics([{ name: "sales", partitions: 6 }], { admin: cluster.admin });
    expect(cluster.changes).toEqual(["create sales:6"]);
    expect(again.unchanged).toEqual([{ name: "sales", partitions: 6 }]);
  });

  it("refuses to shrink a topic, naming it and both counts, before changing anything", async () => {
    const cluster = topicCluster({ sales: 8 });
    const attempt = ensureTopics(
      [
        { name: "new-one", partitions: 1 },
        { name: "sales", partitions: 6 },
      ],
      { admin: cluster.admin },
    );
    await expect(attempt).rejects.toThrow(TopicError);
    await expect(attempt).rejects.toMatchObject({
      code: "TOPIC_HAS_MORE_PARTITIONS",
      message: expect.stringContaining("topic sales has 8 partitions and 6 are declared"),
    });
    expect(cluster.changes).toEqual([]);
  });
});

describe("parseTopicSpecs", () => {
  it("reads CloudFormation's string numbers", () => {
    expect(parseTopicSpecs([{ Name: "sales", Partitions: "6" }], "Topics")).toEqual([{ name: "sales", partitions: 6 }]);
  });

  it("reads a topic's Config map, values as strings", () => {
    expect(parseTopicSpecs([{ Name: "sales", Partitions: 6, Config: { "max.message.bytes": 983040 } }], "Topics")).toEqual([
      { name: "sales", partitions: 6, config: { "max.message.bytes": "983040" } },
    ]);
  });

  it.each([
    [[{ Name: "sales", Partitions: "0" }], "Topics[0].Partitions must be an integer of at least 1"],
    [[{ Name: "sales", Partitions: "six" }], 'Topics[0].Partitions must be an integer of at least 1, got "six"'],
    [[{ Name: "bad name", Partitions: 1 }], "Topics[0].Name must be a Kafka topic name"],
    [
      [
        { Name: "a", Partitions: 1 },
        { Name: "a", Partitions: 2 },
      ],
      "Topics[1].Name: topic a is declared twice",
    ],
    [[{ Name: "a", Partitions: 1, Config: ["max.message.bytes"] }], "Topics[0].Config must be a map of Kafka topic config names"],
    [[{ Name: "a", Partitions: 1, Config: { "Max Bytes": "1" } }], 'Topics[0].Config: "Max Bytes" is not a Kafka config name'],
    [[{ Name: "a", Partitions: 1, Config: { "retention.ms": null } }], "Topics[0].Config.retention.ms must be a string or a number"],
    [[], "Topics must be a non-empty list"],
    [undefined, "Topics must be a non-empty list"],
  ])("refuses %j naming the field", (raw, message) => {
    expect(() => parseTopicSpecs(raw, "Topics")).toThrow(message);
  });
});

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
  const cluster = topicCluster();
  let adminCalls = 0;
  const value: TopicsResourceDeps = {
    admin: async () => {
      adminCalls++;
      return cluster.admin;
    },
    send: async (url, response) => {
      sent.push({ url, response });
    },
    remainingMs: () => 60_000,
    log: () => undefined,
    ...overrides,
  };
  return { value, sent, cluster, adminCalls: () => adminCalls };
}

describe("answerTopicsRequest (Custom::KafkaTopics)", () => {
  it("answers Create with SUCCESS once, at the ResponseURL, with the request's ids and what it created", async () => {
    const d = deps();
    const response = await answerTopicsRequest(baseRequest, d.value);
    expect(d.cluster.topics.get("sales")).toBe(6);
    expect(d.sent).toHaveLength(1);
    expect(d.sent[0]?.url).toBe(baseRequest.ResponseURL);
    expect(d.sent[0]?.response).toEqual(response);
    expect(response).toMatchObject({
      Status: "SUCCESS",
      StackId: baseRequest.StackId,
      RequestId: "req-1",
      LogicalResourceId: "KafkaTopics",
      PhysicalResourceId: "kafka-topics-req-1",
      Data: { Created: "sales:6", Grown: "", Unchanged: "", Reconfigured: "" },
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
