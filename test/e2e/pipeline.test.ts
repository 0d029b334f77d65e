import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients } from "@sales-stream-analytics/local-aws";
import {
  componentNamed,
  freezeProcess,
  KafkaEventSourceMapping,
  runningPid,
  startComponent,
  stopProcess,
} from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSchema } from "#shared/avro/codec";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { request } from "#test/support/http";
import { apiFigures, eventually, lakeFigures, ordersOf, tally, type WindowFigure } from "#test/support/pipeline";
import { readTopic } from "#test/support/topic";
import { runLoad } from "#tools/load/run-load";

/**
 * The whole pipeline on the real local stack, as users and operators see it: load through the
 * API, then the aggregates (query API), a DuckDB recount of the Parquet lake and the load
 * generator's own tally must agree window by window, to the cent, also through faults.
 * E2E_RATE and E2E_SECONDS scale the load (CI runs a short one).
 */
const RATE = Number(process.env.E2E_RATE ?? 150);
const SECONDS = Number(process.env.E2E_SECONDS ?? 6);
const clients = localClients();
let runtime: LocalRuntime;
const logs: string[] = [];

beforeAll(async () => {
  runtime = await LocalRuntime.start({
    namespace: `e2e-${randomUUID().slice(0, 6)}`,
    apiPort: 0,
    log: (_, line) => {
      logs.push(line);
      // The teardown's steps as they happen: a hook that times out prints nothing after it.
      if (line.startsWith("stop")) console.log(line);
    },
  });
}, 120_000);
// After a broker kill the teardown can be slow (consumer groups that empty only when their
// members' sessions time out; containers left behind after 10 s); the runtime logs each step.
afterAll(async () => {
  const kafkaPid = runningPid("kafka");
  if (kafkaPid !== undefined) process.kill(kafkaPid, "SIGCONT");
  await runtime.stop();
}, 300_000);

/** Runs a load for countries of its own (so nothing else touches its figures) with event times in the last minutes. */
async function load(label: string, during?: () => Promise<void>, seconds = SECONDS, retry?: { retryForMs: number }) {
  const run = randomUUID().slice(0, 6);
  const countries = ["A", "B", "C"].map((suffix) => `E2E ${label} ${run} ${suffix}`);
  const total = RATE * seconds;
  const start = Math.floor((Date.now() - 4 * 60_000) / 60_000) * 60_000;
  const loading = runLoad({
    url: runtime.apiUrl,
    rate: RATE,
    durationSeconds: seconds,
    batchSize: 15,
    concurrency: 4,
    ...(retry !== undefined && { retry }),
    generator: {
      seed: run.charCodeAt(0),
      startMs: start,
      meanGapMs: (3 * 60_000) / total,
      countries,
      unknownCountryShare: 0,
      firstPaymentId: 90_000_000 + Math.floor(Math.random() * 1e6) * 100,
    },
  });
  if (during !== undefined) await during();
  const result = await loading;
  return { ...result, countries, from: start, to: start + 5 * 60_000 };
}

/**
 * Waits until aggregates and lake hold the acknowledged sales (each up to `timeoutMs`: generous, a
 * loaded machine catching up after a fault is slow, not wrong), then reports and returns all three views.
 */
async function settle(result: Awaited<ReturnType<typeof load>>, timeoutMs = 240_000) {
  const expected = tally(result.accepted);
  const firehose = runtime.firehoses[0];
  let api = new Map<string, WindowFigure>();
  await eventually(async () => {
    api = await apiFigures(runtime.apiUrl, result.countries, result.from, result.to);
    return ordersOf(api) >= result.accepted.length;
  }, timeoutMs);
  let lake = { figures: new Map<string, WindowFigure>(), duplicates: 0 };
  await eventually(async () => {
    await firehose?.flush();
    lake = await lakeFigures(clients.s3, firehose?.stream.bucket ?? "", result.countries);
    return ordersOf(lake.figures) >= result.accepted.length;
  }, timeoutMs);
  // Per window: acknowledged sales missing from the aggregates are lost; anything beyond them
  // would be a refused or retried request's records counted (again): a 503 writes nothing, and a
  // same-key retry after a 504 writes only what the first attempt did not.
  let lost = 0;
  let extra = 0;
  for (const [id, want] of expected) lost += Math.max(0, want.orders - (api.get(id)?.orders ?? 0));
  for (const [id, got] of api) extra += Math.max(0, got.orders - (expected.get(id)?.orders ?? 0));
  const figures = {
    sent: result.summary.records,
    acknowledged: result.accepted.length,
    rejected: result.rejected.length,
    unknown: result.unknown.length,
    counted: ordersOf(api),
    landed: ordersOf(lake.figures),
    duplicated: lake.duplicates,
    lost,
    rejectedButWritten: extra,
    statuses: result.summary.statuses,
  };
  console.log(`figures: ${JSON.stringify(figures)}`);
  return { expected, api, lake: lake.figures, figures };
}

describe("end to end on the local stack", { timeout: 900_000 }, () => {
  it("agrees window by window, to the cent: query API, DuckDB on the lake, the generator's tally", async () => {
    const result = await load("agree");
    expect(result.rejected).toHaveLength(0);
    const { expected, api, lake, figures } = await settle(result);
    expect(api).toEqual(expected);
    expect(lake).toEqual(expected);
    expect(figures).toMatchObject({ duplicated: 0, lost: 0 });
  });

  it("holds each accepted sale once in the topic (read_uncommitted), and counts it once, when the broker is frozen and killed under load", async () => {
    // Clients as the contract asks: an Idempotency-Key per request, the same key again after a
    // 409, 503, 504 or a lost answer, until a 202. The broker is frozen past the function's Kafka
    // deadline (22 s of its 25 s: 504s, records sent and no answer; their retries recover),
    // SIGKILLed and restarted (503s), and frozen again past kafkajs' request timeout.
    // Each freeze is timed from when every thread of the broker is stopped (freezeProcess), not
    // from the SIGSTOP, which takes effect only when the broker next runs on a loaded machine.
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const resume = () => {
      const pid = runningPid("kafka");
      if (pid !== undefined) process.kill(pid, "SIGCONT");
    };
    const result = await load(
      "faults",
      async () => {
        try {
          await pause(1500);
          await freezeProcess("kafka");
          await pause(24_000);
          resume();
          await pause(2000);
          await stopProcess("kafka", { signal: "SIGKILL" });
          await pause(2500);
          await startComponent(componentNamed("kafka"));
          await pause(2000);
          await freezeProcess("kafka");
          await pause(10_000);
        } finally {
          resume();
        }
      },
      5 * SECONDS,
      { retryForMs: 180_000 },
    );
    const acceptedIds = result.accepted.map((sale) => sale.payment_id);
    // The topic as a read_uncommitted reader sees it: this test's records only (its countries are its own).
    const salesType = parseSchema(currentSalesSchema);
    const countries = new Set(result.countries);
    const inTopic = await readTopic(
      clients.kafka,
      runtime.salesTopic,
      (message) => countries.has(message.key?.toString() ?? ""),
      (got) => got.length > acceptedIds.length,
      30_000,
      true,
    );
    // Glue frame: version, compression (none locally), 16-byte schema version id, then the Avro body.
    const topicIds = inTopic.map((record) => (salesType.fromBuffer((record.message.value as Buffer).subarray(18)) as Sale).payment_id);
    const { expected, api, lake, figures } = await settle(result, 300_000);
    const statuses = result.summary.statuses;
    console.log(
      `faults: ${JSON.stringify({
        recordsInTopic: topicIds.length,
        distinctInTopic: new Set(topicIds).size,
        accepted: acceptedIds.length,
        requests: result.summary.requests,
        retries: result.summary.retries,
        "503": statuses["503"] ?? 0,
        "504": statuses["504"] ?? 0,
        "409": statuses["409"] ?? 0,
        noAnswer: statuses["0"] ?? 0,
        aggregated: figures.counted,
        inLake: figures.landed,
      })}`,
    );
    // Every request ended in a 202, and the faults did bite (some attempts were refused or unanswered).
    expect(result.unknown).toHaveLength(0);
    expect(result.rejected).toHaveLength(0);
    expect(result.summary.retries).toBeGreaterThan(0);
    // Each accepted sale once in the topic, nothing else.
    expect(topicIds.length).toBe(acceptedIds.length);
    expect([...topicIds].sort((a, b) => a - b)).toEqual([...acceptedIds].sort((a, b) => a - b));
    // The aggregates (read_uncommitted mapping) and the lake (read_uncommitted Firehose) equal the tally, to the cent.
    expect(api).toEqual(expected);
    expect(lake).toEqual(expected);
    expect(figures).toMatchObject({ duplicated: 0, lost: 0, rejectedButWritten: 0 });
  });

  it("counts every acknowledged record once when DynamoDB Local is killed and restarted under the aggregator", async () => {
    const result = await load("dynamodb", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await stopProcess("dynamodb", { signal: "SIGKILL" });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await startComponent(componentNamed("dynamodb"));
    });
    expect(result.rejected).toHaveLength(0);
    const { expected, api, figures } = await settle(result, 300_000);
    expect(api).toEqual(expected);
    expect(figures).toMatchObject({ duplicated: 0, lost: 0 });
  });

  it("leaves every aggregate unchanged when the whole topic is replayed into a fresh consumer group", async () => {
    const result = await load("replay");
    const { api: before } = await settle(result);
    const mapping = runtime.mappings.find((m) => m.mapping.functionId === "AggregateFunction")?.mapping;
    if (mapping === undefined) throw new Error("no MSK event on AggregateFunction");
    const replay = new KafkaEventSourceMapping(
      { ...mapping, consumerGroupId: `replay-${randomUUID()}` },
      runtime.fn("AggregateFunction"),
      clients.kafka,
      clients.sqs,
      () => undefined,
    );
    // Replayed all once the fresh group has committed, on every partition, as far as the live
    // mapping has (offsets, not record counts: transaction markers take offsets too).
    const admin = clients.kafka.admin();
    await admin.connect();
    const committed = async (groupId: string) =>
      new Map(
        ((await admin.fetchOffsets({ groupId, topics: [runtime.salesTopic] }))[0]?.partitions ?? []).map((p) => [
          p.partition,
          BigInt(p.offset),
        ]),
      );
    const live = await committed(mapping.consumerGroupId);
    await replay.start();
    const caughtUp = await eventually(async () => {
      const replayed = await committed(replay.mapping.consumerGroupId);
      return [...live].every(([partition, offset]) => (replayed.get(partition) ?? -1n) >= offset);
    }, 120_000);
    await replay.stop();
    await admin.disconnect();
    console.log(`replayed ${replay.stats.records} records in ${replay.stats.batches} batches`);
    expect(caughtUp).toBe(true);
    expect(replay.stats.records).toBeGreaterThanOrEqual(result.accepted.length);
    expect(await apiFigures(runtime.apiUrl, result.countries, result.from, result.to)).toEqual(before);
  });

  it("logs each consumer batch with its correlation ids, and never a record body or customer id", async () => {
    // Sales of its own (tests may run in any order), followed by their correlation id to the aggregator's log.
    const correlationId = `e2e-logs-${randomUUID()}`;
    const sale = { payment_id: 97_000_000, customer_id: 4242, amount: "3.25", payment_date: Date.now() - 60_000, country: "Chile" };
    const posted = await request(`${runtime.apiUrl}/sales`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-correlation-id": correlationId },
      body: JSON.stringify([sale]),
    });
    expect(posted.status).toBe(202);
    expect(
      await eventually(async () => logs.some((line) => line.includes("batch aggregated") && line.includes(correlationId)), 60_000),
    ).toBe(true);
    const consumerLines = logs.filter((line) => line.includes('"service":"aggregate"') && line.includes("batch aggregated"));
    expect(consumerLines.length).toBeGreaterThan(0);
    expect(consumerLines.every((line) => line.includes("correlationIds"))).toBe(true);
    expect(logs.join("\n")).not.toMatch(/"customer_id"|"amount":"\d/);
  });
});
