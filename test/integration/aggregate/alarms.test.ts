import { randomUUID } from "node:crypto";
import { LocalRuntime, resolveValue } from "@sales-stream-analytics/local-aws";
import { type AlarmProperties, type AlarmState, evaluateAlarm, MetricSink } from "@sales-stream-analytics/local-aws/testing";
import { afterEach, describe, expect, it } from "vitest";
import { postSales } from "#test/support/http";

/**
 * The template's aggregate alarms, evaluated over what the local stack publishes while its real
 * Kafka, DynamoDB Local and moto run the pipeline: the functions' embedded metrics, the emulated
 * mapping's OffsetLag (only while it is a member of its group) and the broker's consumer-group lag
 * and records written (MskMetricsEmulator). Time is compressed: three seconds of the sink are one
 * CloudWatch minute, so a quarter hour of alarm evaluation takes 45 s. Not less: a minute with no
 * datapoint breaks the stalled alarm's run of breaching minutes (it then fires late), and the
 * broker's lag is published from three admin requests, which on a loaded machine can outlast a
 * one-second minute; the healthy stack must also apply a sale (two cold starts on a loaded
 * machine) well within WatermarkStallMinutes of sink time, or the alarm rightly fires. Emulated: what the alarms
 * read, and CloudWatch's rules over it. Not emulated: why a mapping stops polling on AWS (its role
 * losing kafka-cluster:ReadData, its ENIs unable to reach the brokers, a PROBLEM state); here the
 * mapping's consumer leaves the group, which is what the broker sees in each of those.
 */
const MINUTE_MS = 3000;
const ALARMS = ["AggregateWatermarkStalledAlarm", "AggregateOffsetLagAlarm"] as const;

let runtime: LocalRuntime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function startStack(env: Record<string, Record<string, string>> = {}) {
  const sink = new MetricSink({ minuteMs: MINUTE_MS });
  runtime = await LocalRuntime.start({
    namespace: `alarm-${randomUUID().slice(0, 6)}`,
    apiPort: 0,
    log: () => undefined,
    metrics: sink,
    env,
  });
  const started = runtime;
  const alarm = (id: string) => resolveValue(started.context, started.context.template.Resources[id]?.Properties, id) as AlarmProperties;
  const now = () => sink.minuteOf(Date.now());
  /** Each alarm's state at the end of every minute from `from` to the last complete one. */
  const states = (from: number) =>
    Object.fromEntries(ALARMS.map((id) => [id, evaluateAlarm(alarm(id), sink, from, now() - 1).map((e) => [e.period, e.state] as const)]));
  return { runtime: started, sink, now, states, alarm };
}

const minutes = (count: number) => new Promise((resolve) => setTimeout(resolve, count * MINUTE_MS));
/**
 * The minute the stalled alarm first went to ALARM in `timelines`, asserted to be within
 * WatermarkStallMinutes (and the minute the failure began in) of `since`. On AWS CloudWatch adds
 * the metrics' delay of about 3 minutes: still within 15.
 */
function stalledWithin(timelines: Record<string, readonly (readonly [number, AlarmState])[]>, since: number, stallMinutes: number): number {
  const timeline = timelines.AggregateWatermarkStalledAlarm ?? [];
  const fired = timeline.find(([, state]) => state === "ALARM")?.[0];
  expect(fired, JSON.stringify(timeline)).toBeDefined();
  expect((fired ?? 0) - since).toBeLessThanOrEqual(stallMinutes + 1);
  expect(stallMinutes + 1 + 3).toBeLessThanOrEqual(15);
  return fired ?? 0;
}
const sale = (id: number) => ({ payment_id: id, customer_id: 7, amount: "12.34", payment_date: Date.now() - 30_000, country: "Kenya" });

function expectAllOk(timelines: Record<string, readonly (readonly [number, AlarmState])[]>): void {
  for (const id of ALARMS) expect(timelines[id]?.filter(([, state]) => state !== "OK") ?? ["no timeline"], id).toEqual([]);
}

async function advancesAfter(sink: MetricSink, from: number, timeoutMinutes: number): Promise<void> {
  for (let waited = 0; waited < timeoutMinutes * 4; waited++) {
    const advanced = sink.datapoints().some((p) => p.name === "WatermarkAdvances" && p.value > 0 && sink.minuteOf(p.timestamp) >= from);
    if (advanced) return;
    await minutes(0.25);
  }
  throw new Error(`no watermark advanced within ${timeoutMinutes} minutes of the sink`);
}

describe("the aggregate alarms on the local stack (three seconds are one CloudWatch minute)", { timeout: 400_000 }, () => {
  it("stay OK on a new stack and a healthy idle one, and fire within 15 minutes of the mapping no longer polling", async () => {
    const { runtime, sink, now, states, alarm } = await startStack();
    const stallMinutes = Number(alarm("AggregateWatermarkStalledAlarm").EvaluationPeriods);
    const start = now();

    // A new stack before its first sale: no group offsets, no lag, nothing written.
    await minutes(stallMinutes + 2);
    expectAllOk(states(start));

    // Sales, applied; then idle: the broker publishes the group's lag, 0.
    const salesAt = now();
    expect((await postSales(runtime.apiUrl, [sale(9_100_001), sale(9_100_002)])).status).toBe(202);
    await advancesAfter(sink, salesAt, 30);
    await minutes(stallMinutes + 2);
    expectAllOk(states(start));
    const groupLag = sink.datapoints().filter((p) => p.name === "SumOffsetLag" && sink.minuteOf(p.timestamp) > salesAt + 2);
    expect(groupLag.length).toBeGreaterThan(0);
    expect(groupLag.every((p) => p.value === 0)).toBe(true);

    // The mapping stops polling (its consumer leaves the group) and a sale waits.
    const [mapping] = runtime.mappings;
    await mapping?.stop();
    const stoppedAt = now();
    expect((await postSales(runtime.apiUrl, [sale(9_100_003)])).status).toBe(202);
    await minutes(stallMinutes + 4);
    const fired = stalledWithin(states(start), stoppedAt, stallMinutes);
    // What the alarm read: the broker's lag, not the mapping's, which stopped with it.
    expect(sink.datapoints().some((p) => p.name === "OffsetLag" && sink.minuteOf(p.timestamp) > stoppedAt + 1)).toBe(false);
    expect(sink.datapoints().some((p) => p.name === "SumOffsetLag" && p.value > 0 && sink.minuteOf(p.timestamp) > stoppedAt)).toBe(true);
    process.stdout.write(
      `mapping stopped at minute ${stoppedAt - start}; stalled alarm ALARM at minute ${fired - start} (${fired - stoppedAt} minutes later)\n`,
    );
  });

  it("fires when the function throws on every batch (its table is gone), from the mapping's own lag", async () => {
    const { runtime, sink, now, states, alarm } = await startStack({ AggregateFunction: { AGGREGATES_TABLE: "no-such-table" } });
    const stallMinutes = Number(alarm("AggregateWatermarkStalledAlarm").EvaluationPeriods);
    const postedAt = now();
    expect((await postSales(runtime.apiUrl, [sale(9_200_001)])).status).toBe(202);
    await minutes(stallMinutes + 4);
    const fired = stalledWithin(states(postedAt), postedAt, stallMinutes);
    // Every batch failed: the mapping retried it, no watermark advanced, the group never committed.
    expect(runtime.mappings[0]?.stats.failedInvocations).toBeGreaterThan(0);
    expect(sink.datapoints().some((p) => p.name === "WatermarkAdvances" && p.value > 0)).toBe(false);
    expect(sink.datapoints().some((p) => p.name === "OffsetLag" && p.value > 0)).toBe(true);
    expect(sink.datapoints().some((p) => p.name === "SumOffsetLag")).toBe(false);
    process.stdout.write(`failing function: stalled alarm ALARM ${fired - postedAt} minutes after the sale was posted\n`);
  });
});
