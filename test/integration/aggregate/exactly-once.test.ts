import { randomUUID } from "node:crypto";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type LocalFunction, localClients } from "@sales-stream-analytics/local-aws";
import type { TemporaryIdentity } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Sale } from "#shared/sales/schema";
import {
  createPrivateAggregatesTable,
  type EventRecordInput,
  kafkaEvent,
  localFunction,
  salesEncoders,
  tableFigures,
} from "#test/support/aggregates";
import { identityWithQueue } from "#test/support/identities";
import { createPrivateQueue, type PrivateQueue } from "#test/support/queues";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
let table: { name: string; drop: () => Promise<void> };
let deadLetters: PrivateQueue;
let identity: TemporaryIdentity;
let fn: LocalFunction;
let encode: Awaited<ReturnType<typeof salesEncoders>>;
const logs: string[] = [];
const T0 = Date.UTC(2022, 7, 1, 10, 0);

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb);
  encode = await salesEncoders();
  // A table and a dead-letter queue of its own: the template's are shared with other files.
  deadLetters = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  // The template's grants, moved from its queue to this one (moto enforces them).
  identity = await identityWithQueue("AggregateFunction", deadLetters);
  fn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name, DEAD_LETTER_QUEUE_URL: deadLetters.url }, logs, identity);
});
afterAll(async () => {
  await fn.stop();
  await table.drop();
  await deadLetters.drop();
  await identity.drop();
});

async function invoke(event: object) {
  const outcome = await fn.invoke(event);
  if (!outcome.ok) throw new Error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  return outcome.result as { records: number; applied: number; late: number; duplicates: number; poison: number };
}

/** 300 sales over two hours on three partitions, in event-time order within each. */
function stream(seed: number): { sales: Sale[]; records: EventRecordInput[] } {
  const sales = sampleSales(300, { seed, startMs: T0, meanGapMs: 24_000 });
  const offsets = [0, 0, 0];
  const records = sales.map((sale, i) => {
    const partition = i % 3;
    const offset = (offsets[partition] ?? 0) + 1;
    offsets[partition] = offset;
    return { partition, offset: offset + 999, value: encode(sale, i), key: sale.country };
  });
  return { sales, records };
}

describe("the aggregate function on DynamoDB Local", () => {
  it("leaves every item unchanged when a batch comes three times or in overlapping, shifted batches", async () => {
    const topic = `t-${randomUUID().slice(0, 6)}`;
    const { records } = stream(1);
    const first = await invoke(kafkaEvent(topic, records));
    expect(first).toMatchObject({ records: 300, applied: 300, late: 0, poison: 0 });
    const reference = await tableFigures(clients.dynamodb, table.name);
    expect(Object.keys(reference).length).toBeGreaterThan(10);

    for (let i = 0; i < 2; i++) expect(await invoke(kafkaEvent(topic, records))).toMatchObject({ applied: 0, duplicates: 300 });
    for (const [from, to] of [
      [0, 120],
      [60, 200],
      [150, 300],
      [10, 290],
    ] as const) {
      await invoke(kafkaEvent(topic, records.slice(from, to)));
    }
    expect(await tableFigures(clients.dynamodb, table.name)).toEqual(reference);
  });

  it("adds v1 and v2 (zlib) records together, to the cent, per country, region and overall", async () => {
    const topic = `t-${randomUUID().slice(0, 6)}`;
    const other = await createPrivateAggregatesTable(clients.dynamodb);
    const local = localFunction("AggregateFunction", { AGGREGATES_TABLE: other.name });
    try {
      const dimes = Array.from(
        { length: 30 },
        (_, i): Sale => ({
          payment_id: i,
          customer_id: 1,
          amount: i % 2 === 0 ? "0.10" : "0.20",
          payment_date: Date.UTC(2031, 0, 1, 0, 0, i),
          city: null,
          district: null,
          country: i % 3 === 0 ? "France" : "Atlantis",
          channel: "web",
        }),
      );
      const outcome = await local.invoke(
        kafkaEvent(
          topic,
          dimes.map((sale, i) => ({ partition: 0, offset: i, value: encode(sale, i) })),
        ),
      );
      expect(outcome.ok).toBe(true);
      const figures = await tableFigures(clients.dynamodb, other.name);
      const minute = figures["1m@2031-01-01T00:00:00.000Z"] ?? {};
      expect(minute["all#all"]).toBe("30/450/10/20/0"); // 15 x 0.10 + 15 x 0.20 = 4.50, exactly
      expect(minute["country#France"]).toBe("10/150/10/20/0");
      expect(minute["region#Europe"]).toBe("10/150/10/20/0");
      expect(minute["region#Unassigned"]).toBe("20/300/10/20/0");
    } finally {
      await local.stop();
      await other.drop();
    }
  });

  it("counts a record that comes after its window closed as late there, and applies it where it is on time", async () => {
    const topic = `t-${randomUUID().slice(0, 6)}`;
    const base: Sale = {
      payment_id: 1,
      customer_id: 1,
      amount: "1.00",
      payment_date: 0,
      city: null,
      district: null,
      country: "Chile",
      channel: "store",
    };
    const at = (minute: number) => Date.UTC(2030, 5, 1, 12, minute);
    const sales = [at(0), at(40), at(1)].map((payment_date, i) => ({ ...base, payment_id: i, payment_date }));
    const result = await invoke(
      kafkaEvent(
        topic,
        sales.map((sale, i) => ({ partition: 0, offset: i, value: encode(sale, i) })),
      ),
    );
    expect(result).toMatchObject({ applied: 3, late: 3 });
    const figures = await tableFigures(clients.dynamodb, table.name);
    expect(figures["1m@2030-06-01T12:01:00.000Z"]?.["country#Chile"]).toBe("0/0/undefined/undefined/1");
    expect(figures["1h@2030-06-01T12:00:00.000Z"]?.["country#Chile"]).toBe("3/300/100/100/0");
  });

  it("sends undecodable records to the dead-letter queue with where and why, and counts the rest", async () => {
    const topic = `t-${randomUUID().slice(0, 6)}`;
    const good = sampleSales(4, { seed: 5, startMs: Date.UTC(2029, 0, 1) });
    const records: EventRecordInput[] = good.map((sale, i) => ({ partition: 2, offset: i * 2, value: encode(sale, i) }));
    records.push(
      { partition: 2, offset: 1, value: Buffer.from("this is plainly not avro") },
      { partition: 2, offset: 3, value: Buffer.concat([encode(good[0] as Sale, 1).subarray(0, 18), Buffer.from([1])]) },
    );
    records.sort((a, b) => a.offset - b.offset);
    const result = await invoke(kafkaEvent(topic, records));
    expect(result).toMatchObject({ records: 6, applied: 4, poison: 2 });

    const QueueUrl = deadLetters.url;
    const letters: { topic: string; partition: number; offset: number; value: string; reason: { code: string } }[] = [];
    for (let i = 0; i < 10 && letters.length < 2; i++) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      // The queue is the stack's: other tests' messages (not all JSON) may be there too.
      const bodies = Messages.flatMap((m) => {
        try {
          return [JSON.parse(m.Body ?? "")];
        } catch {
          return [];
        }
      });
      letters.push(...bodies.filter((l) => l.topic === topic));
    }
    expect(letters.map((l) => [l.partition, l.offset, l.reason.code]).sort()).toEqual([
      [2, 1, "BAD_HEADER_VERSION"],
      [2, 3, "CORRUPT_BODY"],
    ]);
    expect(Buffer.from(letters.find((l) => l.offset === 1)?.value ?? "", "base64").toString()).toBe("this is plainly not avro");

    // Redelivered, the poison is not dead-lettered twice and the good records not counted twice:
    // every record at or below the watermark's offset, poison included, is a duplicate.
    expect(await invoke(kafkaEvent(topic, records))).toMatchObject({ applied: 0, poison: 0, duplicates: 6 });
  });

  it("logs batch counts and correlation ids, never record bodies or customer ids", async () => {
    // Only the lines of this test's own invocation are checked, whatever ran before.
    const from = logs.length;
    const topic = `t-${randomUUID().slice(0, 6)}`;
    const secret = { customer_id: 987_654_321, city: "Privacyville", district: "Hush District", country: "Privacyland" };
    const sales = sampleSales(3, { seed: 9, startMs: T0 }).map((sale) => ({ ...sale, ...secret }));
    const result = await invoke(
      kafkaEvent(
        topic,
        sales.map((sale, i) => ({ partition: 0, offset: i, value: encode(sale, i) })),
      ),
    );
    expect(result).toMatchObject({ records: 3, applied: 3 });
    const mine = () => logs.slice(from);
    // The function's log reaches this process after its answer (the worker's stdout stream): wait for the line itself.
    await vi.waitFor(() => expect(mine().join("\n")).toContain("batch aggregated"), { timeout: 60_000, interval: 100 });
    const joined = mine().join("\n");
    expect(joined).toContain("test-batch");
    expect(joined).not.toMatch(/customer_id|payment_id|987654321|Privacyville|Hush District|Privacyland/);
  });

  it("keeps a slice bounded when sales come with ever new country names", async () => {
    const capped = await createPrivateAggregatesTable(clients.dynamodb);
    const bounded = localFunction(
      "AggregateFunction",
      { AGGREGATES_TABLE: capped.name, WINDOWS: "1h", MAX_COUNTRIES_PER_WINDOW: "10" },
      logs,
    );
    try {
      // 400 sales in one hour, each from a country nobody has heard of, 0.01 to 4.00.
      const sales = sampleSales(400, { seed: 4, startMs: T0, meanGapMs: 5_000 }).map((sale, i) => ({
        ...sale,
        country: `Invented ${randomUUID()}`,
        amount: ((i + 1) / 100).toFixed(2),
      }));
      const outcome = await bounded.invoke(
        kafkaEvent(
          `t-${randomUUID().slice(0, 6)}`,
          sales.map((sale, i) => ({ partition: 0, offset: i, value: encode(sale, i), key: sale.country })),
        ),
      );
      expect(outcome.ok).toBe(true);
      const [item, ...others] = Object.values(await tableFigures(clients.dynamodb, capped.name));
      expect(others).toHaveLength(0);
      const countries = Object.keys(item ?? {}).filter((key) => key.startsWith("country#"));
      expect(countries).toHaveLength(11);
      // 0.01 + ... + 4.00 = 802.00, all of it under "Unassigned" and in the total; 390 sales folded.
      expect(item?.["all#all"]).toBe("400/80200/1/400/0"); // cents
      expect(item?.["region#Unassigned"]).toBe("400/80200/1/400/0");
      expect(item?.["country#(other countries)"]?.split("/")[0]).toBe("390");
    } finally {
      await bounded.stop();
      await capped.drop();
    }
  });
});
