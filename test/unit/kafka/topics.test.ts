import { describe, expect, it } from "vitest";
import { ensureTopics, parseTopicSpecs, TopicError } from "#shared/kafka/topics";
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
