import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createHandler, productionDeps } from "#functions/kafka-topics/wiring";
import { fakeKafka } from "#test/support/fakes/kafka";
import { captureLogs, eventFile, lambdaContext } from "#test/support/lambda";

// An in-memory cluster stands in for Kafka; the core and the PUT to the ResponseURL are the real
// ones (a local HTTP server plays CloudFormation's S3 URL).
let kafka = fakeKafka();
const logger = new Logger({ serviceName: "kafka-topics" });

type Handler = (event: unknown, context: Context) => Promise<{ Status: string; Reason?: string }>;
let server: Server;
let responseUrl: string;
let received: { method: string; contentType: string | undefined; body: Record<string, unknown> }[] = [];
let answerStatus = 200;
let logs: ReturnType<typeof captureLogs>;

const handler: Handler = createHandler({ logger, kafka: () => kafka.client, bootstrapBrokers: async () => ["127.0.0.1:9092"] });

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
  });

function event(requestType: string, partitions = "6") {
  const sample = eventFile<Record<string, unknown>>("cfn-kafka-topics-create.json");
  return {
    ...sample,
    RequestType: requestType,
    ResponseURL: responseUrl,
    ...(requestType !== "Create" && { PhysicalResourceId: "kafka-topics-sales" }),
    ResourceProperties: { ...(sample.ResourceProperties as object), Topics: [{ Name: "sales", Partitions: partitions }] },
  };
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    received.push({ method: req.method ?? "", contentType: req.headers["content-type"], body: JSON.parse(await readBody(req)) });
    res.writeHead(answerStatus).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stack/KafkaTopics?X-Amz-Signature=secret`;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  vi.unstubAllEnvs();
  kafka = fakeKafka();
  received = [];
  answerStatus = 200;
  logs = captureLogs();
  return () => logs.stop();
});

describe("kafka-topics handler (Custom::KafkaTopics)", () => {
  it("creates the declared topic, PUTs SUCCESS to the ResponseURL with an empty content type, and disconnects", async () => {
    const response = await handler(event("Create"), lambdaContext(60_000));
    expect(response.Status).toBe("SUCCESS");
    expect(kafka.cluster.topics.get("sales")).toBe(6);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: "PUT", contentType: "", body: { Status: "SUCCESS", LogicalResourceId: "KafkaTopics" } });
    expect(kafka.calls.connected).toBeGreaterThan(0);
    expect(kafka.calls.disconnected).toBe(kafka.calls.connected);

    // An update that grows the topic, then one that would shrink it: FAILED, and nothing changed.
    expect((await handler(event("Update", "8"), lambdaContext(60_000))).Status).toBe("SUCCESS");
    const shrink = await handler(event("Update", "2"), lambdaContext(60_000));
    expect(shrink.Status).toBe("FAILED");
    expect(shrink.Reason).toMatch(/8 partitions/);
    expect(kafka.cluster.topics.get("sales")).toBe(8);
  });

  it("answers FAILED naming the setting when the function's configuration is wrong, instead of leaving the stack waiting", async () => {
    // The real deps, which read the settings on first use: a bad one must become FAILED, not an init error.
    vi.stubEnv("KAFKA_AUTH", "kerberos");
    const misconfigured: Handler = createHandler({ ...productionDeps(), logger });
    const response = await misconfigured(event("Create"), lambdaContext(60_000));
    expect(response.Status).toBe("FAILED");
    expect(response.Reason).toMatch(/KAFKA_AUTH/);
    expect(received[0]?.body).toMatchObject({ Status: "FAILED" });
    expect(kafka.cluster.topics.size).toBe(0);
  });

  it("fails the invocation when CloudFormation's URL refuses the answer, without putting the signed URL in the error", async () => {
    answerStatus = 403;
    const failure = await handler(event("Delete"), lambdaContext(60_000)).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure?.message).toMatch(/refused with HTTP 403/);
    expect(failure?.message).not.toContain("secret");
  });
});
