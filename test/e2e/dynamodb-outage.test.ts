import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients } from "@sales-stream-analytics/local-aws";
import { componentNamed, INFINITE_WITH_DESTINATION_RETRIES, startComponent, stopProcess } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { salesEncoders } from "#test/support/aggregates";
import { apiFigures, eventually, lakeFigures, ordersOf, tally, type WindowFigure } from "#test/support/pipeline";
import { sampleSales } from "#tools/sales/generator";

/**
 * Issue 18, item 3: no batch is ever skipped. DynamoDB Local stays down under the aggregator for
 * longer than the 10 retries Lambda would allow a mapping with an on-failure destination, while
 * records reach the sales topic. Once it is back, the template's mapping (no destination, no
 * limit) resumes at the failed batch: every record counts exactly once, to the cent, in the query
 * API and in a DuckDB recount of the lake, and no batch went anywhere else.
 */
const RECORDS = Number(process.env.E2E_OUTAGE_RECORDS ?? 200);
const clients = localClients();
let runtime: LocalRuntime;
const logs: string[] = [];

beforeAll(async () => {
  // A short retry backoff (the retry count stays the template's): many retries in little time.
  runtime = await LocalRuntime.start({ apiPort: 0, log: (_, line) => logs.push(line), mskRetryBackoff: { baseMs: 100, capMs: 1000 } });
}, 120_000);
afterAll(async () => {
  // Whatever happened, DynamoDB Local runs again for the next test file.
  await startComponent(componentNamed("dynamodb"));
  await runtime.stop();
});

/** The highest attempt number the aggregate mapping logged for one batch since line `from`. */
function mostAttemptsOfOneBatch(from: number): number {
  let most = 0;
  for (const line of logs.slice(from)) {
    const match = /\[esm\] batch sales-\d+ offsets \S+ failed \(attempt (\d+)/.exec(line);
    if (match !== null) most = Math.max(most, Number(match[1]));
  }
  return most;
}

describe("a DynamoDB outage longer than 10 of the mapping's retries", { timeout: 600_000 }, () => {
  it("loses nothing and doubles nothing: the mapping waits, then applies every record once", async () => {
    const run = randomUUID().slice(0, 6);
    const countries = ["A", "B", "C", "D"].map((suffix) => `E2E outage ${run} ${suffix}`);
    const start = Math.floor((Date.now() - 4 * 60_000) / 60_000) * 60_000;
    const sales = sampleSales(RECORDS, {
      seed: run.charCodeAt(1),
      startMs: start,
      meanGapMs: (3 * 60_000) / RECORDS,
      countries,
      unknownCountryShare: 0,
      firstPaymentId: 80_000_000 + Math.floor(Math.random() * 1e6) * 100,
    });
    const encode = await salesEncoders();
    const producer = clients.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const aggregate = runtime.mappings.find((m) => m.mapping.functionId === "AggregateFunction");
    if (aggregate === undefined) throw new Error("the runtime has no MSK mapping for AggregateFunction");
    const before = { ...aggregate.stats };
    const fromLine = logs.length;

    await stopProcess("dynamodb", { signal: "SIGKILL" });
    const downAt = Date.now();
    // The records reach the topic while DynamoDB is down, in several batches, keyed by country.
    const sends = 8;
    for (let i = 0; i < sends; i++) {
      const slice = sales.slice((i * RECORDS) / sends, ((i + 1) * RECORDS) / sends);
      await producer.send({
        topic: "sales",
        acks: -1,
        messages: slice.map((sale, j) => ({ key: sale.country, value: encode(sale, i * 1000 + j) })),
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await producer.disconnect();
    // Down until one batch has failed more often than a mapping with a destination would try it.
    const outlasted = await eventually(async () => mostAttemptsOfOneBatch(fromLine) > INFINITE_WITH_DESTINATION_RETRIES + 1, 300_000, 1000);
    const attempts = mostAttemptsOfOneBatch(fromLine);
    if (!outlasted) {
      console.log(`aggregate mapping ${JSON.stringify(aggregate.stats)}; its last lines:`);
      console.log(
        logs
          .slice(fromLine)
          .filter((line) => line.includes("[esm]") || line.includes('"level":"ERROR"'))
          .slice(-8)
          .join("\n"),
      );
    }
    await startComponent(componentNamed("dynamodb"));
    const downtimeSeconds = (Date.now() - downAt) / 1000;
    expect(outlasted).toBe(true);

    const expected = tally(sales);
    let api = new Map<string, WindowFigure>();
    await eventually(
      async () => {
        api = await apiFigures(runtime.apiUrl, countries, start, start + 5 * 60_000);
        return ordersOf(api) >= RECORDS;
      },
      240_000,
      1000,
    );
    const firehose = runtime.firehoses[0];
    let lake: Awaited<ReturnType<typeof lakeFigures>> = { figures: new Map(), duplicates: 0 };
    await eventually(async () => {
      await firehose?.flush();
      lake = await lakeFigures(clients.s3, firehose?.stream.bucket ?? "", countries);
      return ordersOf(lake.figures) >= RECORDS;
    }, 120_000);
    const poison = logs
      .slice(fromLine)
      .filter((line) => line.includes('"batch aggregated"'))
      .reduce((sum, line) => sum + Number(/"poison":(\d+)/.exec(line)?.[1] ?? 0), 0);
    const figures = {
      records: RECORDS,
      downtimeSeconds: Math.round(downtimeSeconds),
      failedInvocations: aggregate.stats.failedInvocations - before.failedInvocations,
      mostAttemptsOfOneBatch: attempts,
      counted: ordersOf(api),
      landed: ordersOf(lake.figures),
      sentToDestination: aggregate.stats.sentToDestination - before.sentToDestination,
      dropped: aggregate.stats.dropped - before.dropped,
      poison,
    };
    console.log(`figures: ${JSON.stringify(figures)}`);

    // Every record counted once, window by window, to the cent: in the aggregates and the lake.
    expect(api).toEqual(expected);
    expect(lake.figures).toEqual(expected);
    expect(lake.duplicates).toBe(0);
    // Nothing skipped, nothing sent aside: no batch to a destination, no record dead-lettered.
    expect(figures).toMatchObject({ sentToDestination: 0, dropped: 0, poison: 0 });
    expect(logs.slice(fromLine).some((line) => /\[esm\].*(dropped|abandoned)/.test(line))).toBe(false);
  });
});
