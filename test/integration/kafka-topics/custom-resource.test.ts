import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LocalFunction, localClients, localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CustomResourceResponse } from "#functions/kafka-topics/custom-resource";

// CloudFormation's side of the contract: a server standing in for the presigned ResponseURL.
interface Received {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: CustomResourceResponse;
}

const received: Received[] = [];
let server: Server;
let responseBase: string;
let fn: LocalFunction;
let admin: Admin;
const topic = `topics-cr-${randomUUID()}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ method: req.method, path: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  responseBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const definition = samFunctions(localStackContext()).find((candidate) => candidate.logicalId === "KafkaTopicsFunction");
  if (definition === undefined) throw new Error("template.yaml has no KafkaTopicsFunction");
  fn = new LocalFunction(definition, () => undefined);
  admin = localClients().kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  await fn.stop();
  await new Promise((resolve) => server.close(resolve));
});

const sample = JSON.parse(readFileSync("events/cfn-kafka-topics-create.json", "utf8"));

/** The sample event, answering to the local server, for this test's own topic. */
function event(
  requestType: "Create" | "Update" | "Delete",
  partitions: number,
  physicalId?: string,
  config: Record<string, string> = sample.ResourceProperties.Topics[0].Config,
) {
  const requestId = randomUUID();
  return {
    ...sample,
    RequestType: requestType,
    RequestId: requestId,
    ResponseURL: `${responseBase}/responses/${requestId}?X-Amz-Signature=local`,
    ...(physicalId !== undefined && { PhysicalResourceId: physicalId }),
    ResourceProperties: { ...sample.ResourceProperties, Topics: [{ Name: topic, Partitions: String(partitions), Config: config }] },
  };
}

async function invoke(payload: ReturnType<typeof event>): Promise<Received> {
  const before = received.length;
  const result = await fn.invoke(payload);
  expect(result.ok, JSON.stringify(result)).toBe(true);
  expect(received.length).toBe(before + 1);
  const answer = received.at(-1) as Received;
  expect(answer.method).toBe("PUT");
  expect(answer.path).toBe(new URL(payload.ResponseURL).pathname + new URL(payload.ResponseURL).search);
  expect(answer.headers["content-type"] ?? "").toBe("");
  expect(answer.body).toMatchObject({ StackId: sample.StackId, RequestId: payload.RequestId, LogicalResourceId: "KafkaTopics" });
  return answer;
}

/** The topic's configs as the broker reports them. */
async function configsOnBroker(names: string[]): Promise<Record<string, string>> {
  const described = await admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: names }], includeSynonyms: false });
  return Object.fromEntries((described.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
}

async function partitionsOnBroker(): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  return metadata.topics[0]?.partitions.length ?? 0;
}

describe("Custom::KafkaTopics on the real broker, answering a stand-in ResponseURL", () => {
  it("creates the topic with its configs, sets a changed config and adds partitions on update, refuses to shrink, and keeps the topic on delete", async () => {
    const created = await invoke(event("Create", 3));
    expect(created.body).toMatchObject({ Status: "SUCCESS", Data: { Created: `${topic}:3` } });
    expect(await partitionsOnBroker()).toBe(3);
    const physicalId = created.body.PhysicalResourceId;
    expect(physicalId).toMatch(/^kafka-topics-/);

    const same = await invoke(event("Update", 3, physicalId));
    expect(same.body).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: physicalId, Data: { Unchanged: `${topic}:3` } });

    // The declared configs are set at creation; a changed one is set on update, the rest kept.
    const declared = sample.ResourceProperties.Topics[0].Config as Record<string, string>;
    expect(await configsOnBroker(Object.keys(declared))).toEqual(declared);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: topic,
          configEntries: [
            ...Object.entries(declared).map(([name, value]) => ({ name, value })),
            { name: "retention.ms", value: "86400000" },
          ],
        },
      ],
    });
    const reconfigured = await invoke(event("Update", 3, physicalId, { ...declared, "max.message.bytes": "524288" }));
    expect(reconfigured.body).toMatchObject({ Status: "SUCCESS", Data: { Reconfigured: `${topic}:max.message.bytes` } });
    expect(await configsOnBroker(["max.message.bytes", "compression.type", "retention.ms"])).toEqual({
      "max.message.bytes": "524288",
      "compression.type": "uncompressed",
      "retention.ms": "86400000",
    });

    const grown = await invoke(event("Update", 5, physicalId));
    expect(grown.body).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: physicalId, Data: { Grown: `${topic}:3->5` } });
    expect(await partitionsOnBroker()).toBe(5);

    const shrink = await invoke(event("Update", 2, physicalId));
    expect(shrink.body).toMatchObject({
      Status: "FAILED",
      PhysicalResourceId: physicalId,
      Reason: expect.stringContaining(`topic ${topic} has 5 partitions and 2 are declared`),
    });
    expect(await partitionsOnBroker()).toBe(5);

    const deleted = await invoke(event("Delete", 5, physicalId));
    expect(deleted.body).toMatchObject({ Status: "SUCCESS", PhysicalResourceId: physicalId });
    expect(await admin.listTopics()).toContain(topic);
  });
});
