import { randomUUID } from "node:crypto";
import { CreateQueueCommand, GetQueueUrlCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { LocalFunction, LocalRuntime, localArn, localClients } from "@sales-stream-analytics/local-aws";
import { KafkaEventSourceMapping, type MskMapping } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCents } from "#shared/money/cents";
import { regionOf } from "#shared/sales/regions";
import { postSales, request } from "#test/support/http";
import { eventually } from "#test/support/pipeline";

const clients = localClients();
let runtime: LocalRuntime;
/** How long a test waits for what it then asserts: bounded by time, generously (cold starts, backoffs and commits on a loaded machine). */
const WAIT_MS = 120_000;

beforeAll(async () => {
  runtime = await LocalRuntime.start({ namespace: `live-${randomUUID().slice(0, 6)}`, apiPort: 0, log: () => undefined });
});
afterAll(async () => {
  await runtime.stop();
});

const minute = (ms: number) => Math.floor(ms / 60_000) * 60_000;

describe("the live pipeline (npm start)", { timeout: 300_000 }, () => {
  it("shows posted sales in the query API once the mapping has aggregated them, and in the region's series once rolled up", async () => {
    const at = minute(Date.now()) - 60_000 + 30_000; // inside the previous minute: well within the lateness
    const from = new Date(minute(at)).toISOString();
    const to = new Date(minute(at) + 60_000).toISOString();
    const seriesUrl = `${runtime.apiUrl}/series/country/Kenya?window=1m&from=${from}&to=${to}`;
    const regionUrl = `${runtime.apiUrl}/series/region/${encodeURIComponent(regionOf("Kenya"))}?window=1m&from=${from}&to=${to}`;
    const before = (await (await request(seriesUrl)).json()) as { total: { orders: number; sales: string } };
    const regionBefore = (await (await request(regionUrl)).json()) as typeof before;
    const sales = ["0.10", "0.20", "12.34"].map((amount, i) => ({
      payment_id: 5_000_000 + i,
      customer_id: 7,
      amount,
      payment_date: at,
      country: "Kenya",
    }));
    const posted = await postSales(runtime.apiUrl, sales);
    expect(posted.status).toBe(202);

    let after = before;
    await eventually(async () => {
      after = (await (await request(seriesUrl)).json()) as typeof before;
      return after.total.orders >= before.total.orders + 3;
    }, WAIT_MS);
    expect(after.total.orders).toBe(before.total.orders + 3);
    const cents = (text: string) => BigInt(text.replace(".", ""));
    expect(formatCents(cents(after.total.sales) - cents(before.total.sales))).toBe("12.64");

    // The region's series is the rollup of every partition: it follows once the stream is read.
    await Promise.all(runtime.streamMappings.map((mapping) => mapping.drain()));
    const regionAfter = (await (await request(regionUrl)).json()) as typeof before;
    expect(regionAfter.total.orders).toBe(regionBefore.total.orders + 3);
    expect(formatCents(cents(regionAfter.total.sales) - cents(regionBefore.total.sales))).toBe("12.64");
  });
});

/** A topic of one partition, of its own. */
async function privateTopic(prefix: string): Promise<string> {
  const topic = `${prefix}-${randomUUID().slice(0, 6)}`;
  const admin = clients.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  return topic;
}

/** A local function running one of test/fixtures/<name>.ts. */
function fixtureFunction(logicalId: string, name: string): LocalFunction {
  return new LocalFunction(
    {
      logicalId,
      codeUri: ".",
      handlerFile: name,
      handlerExport: "handler",
      timeoutSeconds: 10,
      memoryMb: 128,
      environment: {},
      events: {},
      buildProperties: { EntryPoints: [`test/fixtures/${name}.ts`] },
    },
    () => undefined,
  );
}

/** A mapping of `topic` to `functionId` from the beginning, in a consumer group of its own. */
const testMapping = (
  functionId: string,
  topic: string,
  options: Pick<MskMapping, "batchSize" | "batchingWindowMs" | "maxRetryAttempts" | "onFailureQueue">,
): MskMapping => ({
  functionId,
  eventName: "Test",
  clusterArn: localArn("kafka", "cluster/local/x"),
  topics: [topic],
  fromBeginning: true,
  consumerGroupId: `esm-test-${topic}`,
  ...options,
});

describe("the event source mapping emulator", { timeout: 300_000 }, () => {
  it("retries a failing batch, then sends it to the on-failure destination and commits past it", async () => {
    const topic = await privateTopic("esm");
    const producer = clients.kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: "k", value: "v1" },
        { key: "k", value: "v2" },
      ],
    });
    await producer.disconnect();

    const fn = fixtureFunction("FailingFunction", "failing-handler");
    // A queue of its own: the shared dead-letter queue holds other tests' letters.
    const queue = `esm-failures-${randomUUID().slice(0, 8)}`;
    await clients.sqs.send(new CreateQueueCommand({ QueueName: queue }));
    const mapping = testMapping("FailingFunction", topic, {
      batchSize: 10,
      batchingWindowMs: 100,
      maxRetryAttempts: 2,
      onFailureQueue: queue,
    });
    const esm = new KafkaEventSourceMapping(mapping, fn, clients.kafka, clients.sqs, () => undefined);
    await esm.start();
    await eventually(async () => esm.stats.sentToDestination > 0, WAIT_MS, 200);
    await esm.stop();
    await fn.stop();
    // At least once: a rebalance before the commit may deliver the batch again, as on AWS.
    expect(esm.stats.sentToDestination).toBeGreaterThanOrEqual(1);
    expect(esm.stats.failedInvocations).toBeGreaterThanOrEqual(3 * esm.stats.sentToDestination);
    expect(esm.stats.records).toBe(2 * esm.stats.batches);

    const admin = clients.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: mapping.consumerGroupId, topics: [topic] });
    expect(offsets[0]?.partitions[0]?.offset).toBe("2");
    await admin.disconnect();

    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    let found:
      | {
          requestContext: { condition: string; approximateInvokeCount: number };
          KafkaBatchInfo: { batchSize: number; recordsInfo: Record<string, unknown> };
        }
      | undefined;
    for (let i = 0; i < 10 && found === undefined; i++) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      found = Messages.map((m) => JSON.parse(m.Body ?? "{}")).find(
        (body) => body.KafkaBatchInfo?.recordsInfo?.[`${topic}-0`] !== undefined,
      );
    }
    expect(found?.requestContext).toMatchObject({ condition: "RetryAttemptsExhausted", approximateInvokeCount: 3 });
    expect(found?.KafkaBatchInfo).toMatchObject({
      batchSize: 2,
      recordsInfo: { [`${topic}-0`]: { firstRecordOffset: "0", lastRecordOffset: "1" } },
    });
  });

  it.each([
    ["by default (read_uncommitted, Kafka's default), every record once, aborted ones too", undefined],
    ["with readUncommitted: false, every committed record once and no aborted one", false],
  ])("delivers a transactional producer's records %s", async (_, readUncommitted) => {
    const topic = await privateTopic("esm-txn");
    const fn = fixtureFunction("EchoFunction", "echo-handler");
    const delivered: string[] = [];
    const invoke = fn.invoke.bind(fn);
    fn.invoke = async (event: unknown) => {
      const outcome = await invoke(event);
      if (outcome.ok) delivered.push(...(outcome.result as { values: string[] }).values);
      return outcome;
    };
    const mapping = testMapping("EchoFunction", topic, {
      batchSize: 100,
      batchingWindowMs: 50,
      maxRetryAttempts: 0,
      onFailureQueue: undefined,
    });
    const esm = new KafkaEventSourceMapping(
      mapping,
      fn,
      clients.kafka,
      clients.sqs,
      () => undefined,
      readUncommitted === undefined ? {} : { readUncommitted },
    );
    await esm.start();
    // Rounds of small transactions while the mapping reads: every commit and abort leaves a
    // marker the consumer must step over, sometimes in a fetch of its own.
    const producer = clients.kafka.producer({ transactionalId: `esm-test-${topic}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed: string[] = [];
    const all: string[] = [];
    for (let round = 0; round < 20; round++) {
      const transaction = await producer.transaction();
      const values = [0, 1, 2].map((i) => `r${round}-${i}`);
      await transaction.send({ topic, acks: -1, messages: values.map((value) => ({ key: "k", value })) });
      all.push(...values);
      if (round % 4 === 3) await transaction.abort();
      else {
        await transaction.commit();
        committed.push(...values);
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    // A last committed record: the mapping delivers one partition in order, so once it has
    // delivered this one it has delivered (and, had it re-read anything, redelivered) all before it.
    const last = await producer.transaction();
    await last.send({ topic, acks: -1, messages: [{ key: "k", value: "end" }] });
    await last.commit();
    await producer.disconnect();
    await eventually(async () => delivered.includes("end"), WAIT_MS, 100);
    await esm.stop();
    await fn.stop();
    expect(delivered).toEqual([...(readUncommitted === false ? committed : all), "end"]);
  });

  it("with no destination and no limit, retries a failing batch past 10 retries without committing, then delivers it once", async () => {
    const topic = await privateTopic("esm-forever");
    const producer = clients.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: ["body-1", "body-2", "body-3"].map((value) => ({ key: "k", value })) });
    await producer.disconnect();
    const fn = fixtureFunction("EchoFunction", "echo-handler");
    // The function fails while its store is "down" (the real aggregator throws the same way on a
    // DynamoDB outage); the mapping around it is the emulator, reading the real broker.
    let down = true;
    const delivered: string[] = [];
    const invoke = fn.invoke.bind(fn);
    fn.invoke = async (event: unknown) => {
      if (down) return { ok: false, error: { errorType: "Error", errorMessage: "store unreachable" } };
      const outcome = await invoke(event);
      if (outcome.ok) delivered.push(...(outcome.result as { values: string[] }).values);
      return outcome;
    };
    const mapping = testMapping("EchoFunction", topic, {
      batchSize: 10,
      batchingWindowMs: 50,
      maxRetryAttempts: Number.POSITIVE_INFINITY,
      onFailureQueue: undefined,
    });
    const logLines: string[] = [];
    const esm = new KafkaEventSourceMapping(mapping, fn, clients.kafka, clients.sqs, (_, line) => logLines.push(line), {
      backoff: { baseMs: 10, capMs: 50 },
    });
    await esm.start();
    await eventually(async () => esm.stats.failedInvocations >= 15, WAIT_MS, 100);
    const admin = clients.kafka.admin();
    await admin.connect();
    const committed = async () =>
      (await admin.fetchOffsets({ groupId: mapping.consumerGroupId, topics: [topic] }))[0]?.partitions[0]?.offset;
    expect(esm.stats.failedInvocations).toBeGreaterThanOrEqual(15);
    expect(await committed()).toBe("-1"); // nothing committed past the failing batch
    expect(esm.stats).toMatchObject({ sentToDestination: 0, dropped: 0 });
    // Each failure is logged with its offsets, and never with a record's value.
    expect(logLines.some((line) => line.includes(`${topic}-0 offsets 0..2 failed (attempt 12, retrying until it succeeds)`))).toBe(true);
    expect(logLines.join("\n")).not.toContain("body-");

    down = false;
    await eventually(async () => delivered.length >= 3, WAIT_MS, 100);
    await eventually(async () => (await committed()) === "3", WAIT_MS, 100);
    expect(delivered).toEqual(["body-1", "body-2", "body-3"]);
    expect(await committed()).toBe("3");
    await admin.disconnect();
    await esm.stop();
    await fn.stop();
  });

  it("stops promptly while a batch waits out a long retry backoff, and commits nothing of it", async () => {
    const topic = await privateTopic("esm-stop");
    const producer = clients.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: "k", value: "v" }] });
    await producer.disconnect();
    const fn = fixtureFunction("FailingFunction", "failing-handler");
    const mapping = testMapping("FailingFunction", topic, {
      batchSize: 10,
      batchingWindowMs: 50,
      maxRetryAttempts: Number.POSITIVE_INFINITY,
      onFailureQueue: undefined,
    });
    const esm = new KafkaEventSourceMapping(mapping, fn, clients.kafka, clients.sqs, () => undefined, {
      backoff: { baseMs: 60_000, capMs: 60_000 },
    });
    await esm.start();
    await eventually(async () => esm.stats.failedInvocations >= 1, WAIT_MS, 100);
    expect(esm.stats.failedInvocations).toBe(1);
    const started = Date.now();
    await esm.stop();
    const stopMs = Date.now() - started;
    await fn.stop();
    console.log(`stop() during a 60 s backoff took ${stopMs} ms`);
    // Bounded by the backoff itself, not a guess at how fast a loaded machine stops a consumer:
    // a stop that waited the backoff out would take 60 s and retry the batch once more.
    expect(stopMs).toBeLessThan(60_000);
    expect(esm.stats.failedInvocations).toBe(1);
    const admin = clients.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: mapping.consumerGroupId, topics: [topic] });
    await admin.disconnect();
    expect(offsets[0]?.partitions[0]?.offset).toBe("-1");
  });
});
