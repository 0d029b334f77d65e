import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoad } from "#local/load/run-load";
import { KafkaEventSourceMapping } from "#local/runtime/kafka-esm";
import { LocalRuntime } from "#local/runtime/runtime";
import { localClients } from "#local/stack/clients";
import { stopProcess } from "#local/stack/processes";
import { componentNamed, startComponent } from "#local/stack/stack";
import { request } from "#test/support/http";
import { apiFigures, eventually, lakeFigures, ordersOf, tally, type WindowFigure } from "#test/support/pipeline";

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
  runtime = await LocalRuntime.start({ namespace: `e2e-${randomUUID().slice(0, 6)}`, apiPort: 0, log: (_, line) => logs.push(line) });
}, 120_000);
afterAll(async () => {
  await runtime.stop();
});

/** Runs a load for countries of its own (so nothing else touches its figures) with event times in the last minutes. */
async function load(label: string, during?: () => Promise<void>, seconds = SECONDS) {
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

/** Waits until aggregates and lake hold the acknowledged sales, then reports and returns all three views. */
async function settle(result: Awaited<ReturnType<typeof load>>, timeoutMs = 90_000) {
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
  // would be a rejected request's records showing up (each request is one Kafka transaction, so
  // a rejected one is aborted whole and its records never reach a read_committed consumer).
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

describe("end to end on the local stack", { timeout: 300_000 }, () => {
  it("agrees window by window, to the cent: query API, DuckDB on the lake, the generator's tally", async () => {
    const result = await load("agree");
    expect(result.rejected).toHaveLength(0);
    const { expected, api, lake, figures } = await settle(result);
    expect(api).toEqual(expected);
    expect(lake).toEqual(expected);
    expect(figures).toMatchObject({ duplicated: 0, lost: 0 });
  });

  it("counts every acknowledged record once and no rejected one when the broker is SIGKILLed mid-load and restarted", async () => {
    // Three times the usual load, so that requests are posted again once the broker is back.
    const result = await load(
      "kafka",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await stopProcess("kafka", { signal: "SIGKILL" });
        await new Promise((resolve) => setTimeout(resolve, 2500));
        await startComponent(componentNamed("kafka"));
      },
      3 * SECONDS,
    );
    // The kill rejected some requests, and every request got a definite answer.
    expect(result.accepted.length).toBeGreaterThan(0);
    expect(result.rejected.length).toBeGreaterThan(0);
    if (result.unknown.length > 0) console.log(logs.filter((line) => /"level":"(ERROR|WARN)"/.test(line)).join("\n"));
    expect(result.unknown).toHaveLength(0);
    // Every acknowledged record counted and landed once, every rejected one absent: window by
    // window, the aggregates and the lake equal the tally of the 202s alone.
    const { expected, api, lake, figures } = await settle(result, 150_000);
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
    const { expected, api, figures } = await settle(result, 150_000);
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
