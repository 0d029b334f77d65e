import { randomUUID } from "node:crypto";
import { endpoints, LocalRuntime, localClients, samFunctions } from "@sales-stream-analytics/local-aws";
import {
  FirehoseEmulator,
  firehoseStreams,
  KafkaApiKey,
  KafkaClusterProxy,
  KafkaEventSourceMapping,
  mskMappings,
} from "@sales-stream-analytics/local-aws/testing";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestContainerBudget, readerBudget } from "#shared/kafka/connection-budget";
import { partitionOfKey } from "#shared/kafka/partitioner";
import { request } from "#test/support/http";
import { eventually } from "#test/support/pipeline";

// Counted by KafkaClusterProxy (tools/local-aws), in front of the real broker: every connection
// it accepts, whatever the client's own code says. The cluster is shown with one broker per
// partition, the worst case on MSK Serverless (each partition led by a different broker).

const PARTITIONS = 6;
const clients = localClients();
let runtime: LocalRuntime;
let ingestProxy: KafkaClusterProxy;
let readersProxy: KafkaClusterProxy;

beforeAll(async () => {
  ingestProxy = await KafkaClusterProxy.start({ upstream: endpoints.kafkaBrokers, brokers: PARTITIONS });
  readersProxy = await KafkaClusterProxy.start({ upstream: endpoints.kafkaBrokers, brokers: PARTITIONS });
  runtime = await LocalRuntime.start({
    namespace: `conns-${randomUUID().slice(0, 6)}`,
    apiPort: 0,
    eventSources: false,
    log: () => undefined,
    env: { IngestFunction: { KAFKA_BOOTSTRAP_SERVERS: ingestProxy.bootstrap } },
  });
});
afterAll(async () => {
  await runtime?.stop();
  await ingestProxy?.stop();
  await readersProxy?.stop();
  clients.s3.destroy();
  clients.sqs.destroy();
});

/** Countries whose keys land on every partition: a request that needs every partition's leader. */
const everyPartition = (() => {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < PARTITIONS; i++) {
    const country = `Country ${i}`;
    if (!byPartition.has(partitionOfKey(country, PARTITIONS))) byPartition.set(partitionOfKey(country, PARTITIONS), country);
  }
  return [...byPartition.values()];
})();

let paymentId = 0;
const body = () =>
  JSON.stringify(
    everyPartition.map((country) => ({ payment_id: ++paymentId, customer_id: 3, amount: "2.99", payment_date: 1659312000000, country })),
  );
const post = (key: string, sales = body()) =>
  request(`${runtime.apiUrl}/sales`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: sales,
  });

/** What the ingest container opened while `work` ran. */
async function during(work: () => Promise<void>) {
  const from = ingestProxy.connections.length;
  await work();
  return ingestProxy.counts({ from });
}

describe("Kafka connections, counted at the broker", () => {
  it("one ingest container stays within its budget: cold, warm, after an idle disconnect, a 504 and its recovery", async () => {
    const budget = ingestContainerBudget(PARTITIONS);
    const figures: Record<string, unknown> = {};

    const cold = await during(async () => expect((await post(randomUUID())).status).toBe(202));
    const warm = await during(async () => {
      for (let i = 0; i < 5; i++) expect((await post(randomUUID())).status).toBe(202);
    });
    const held = ingestProxy.counts().open;
    ingestProxy.closeAll();
    const idle = await during(async () => expect((await post(randomUUID())).status).toBe(202));

    // A produce request sent and its connection lost, on every retry: a 504. Then the same key again.
    const key = randomUUID();
    const sales = body();
    ingestProxy.cutAfter(KafkaApiKey.produce);
    const unknown = await during(async () => expect((await post(key, sales)).status).toBe(504));
    ingestProxy.cutAfter(undefined);
    const recovery = await during(async () => expect((await post(key, sales)).status).toBe(202));
    const afterRecovery = await during(async () => expect((await post(randomUUID())).status).toBe(202));
    Object.assign(figures, { cold, warm, held, idle, unknown, recovery, afterRecovery, budget });
    console.log(`ingest container, ${PARTITIONS} partitions on ${PARTITIONS} brokers: ${JSON.stringify(figures)}`);

    expect(ingestProxy.errors).toEqual([]);
    expect(cold.opened).toBeLessThanOrEqual(budget.coldAttempts);
    expect(held).toBeLessThanOrEqual(budget.held);
    expect(warm.opened).toBe(0);
    expect(idle.opened).toBeLessThanOrEqual(budget.held);
    expect(unknown.opened).toBeLessThanOrEqual(budget.unknownAttempts);
    expect(recovery.opened).toBeLessThanOrEqual(budget.recoveryAttempts);
    expect(recovery.peakOpen).toBeLessThanOrEqual(budget.held + budget.recoveryExtraOpen);
    expect(afterRecovery.opened).toBeLessThanOrEqual(budget.coldAttempts);
    expect(ingestProxy.counts().open).toBeLessThanOrEqual(budget.held);
  });

  it("the aggregate mapping's consumer and the Firehose reader stay within theirs", async () => {
    // A client id each, so that each reader's connections are told apart at the proxy however late
    // they open; each is counted over its whole run, from its start until both are stopped.
    const reader = (clientId: string) => new Kafka({ clientId, brokers: [readersProxy.bootstrap], logLevel: logLevel.NOTHING });
    const mapping = mskMappings(samFunctions(runtime.context)).find((m) => m.functionId === "AggregateFunction");
    const stream = firehoseStreams(runtime.context)[0];
    if (mapping === undefined || stream === undefined) throw new Error("template.yaml has no aggregate mapping or Firehose stream");
    const budget = readerBudget(PARTITIONS);
    const of = (clientId: string) => readersProxy.counts({ clientId: (id) => id === clientId });
    /** Until the reader is connected to the bootstrap and every partition's leader (one broker each): it is fetching. */
    const fetching = async (clientId: string) =>
      expect(await eventually(async () => of(clientId).listeners === PARTITIONS + 1, 60_000, 100), clientId).toBe(true);

    const esm = new KafkaEventSourceMapping(mapping, runtime.fn("AggregateFunction"), reader("esm"), clients.sqs, () => undefined);
    await esm.start();
    await fetching("esm");
    const firehose = new FirehoseEmulator(stream, undefined, reader("firehose"), clients.s3, () => undefined);
    await firehose.start();
    await fetching("firehose");
    await esm.stop();
    await firehose.stop();
    const esmCounts = of("esm");
    const firehoseCounts = of("firehose");
    console.log(`readers, ${PARTITIONS} partitions on ${PARTITIONS} brokers: ${JSON.stringify({ esmCounts, firehoseCounts, budget })}`);

    expect(readersProxy.errors).toEqual([]);
    for (const counts of [esmCounts, firehoseCounts]) {
      expect(counts.opened).toBeLessThanOrEqual(budget.attempts);
      expect(counts.peakOpen).toBeLessThanOrEqual(budget.held);
    }
  });
});
