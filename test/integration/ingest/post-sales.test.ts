import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { LocalRuntime, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { request } from "#test/support/http";
import { decodeAll } from "#test/support/schemas";
import { readTopic, topicEndOffset } from "#test/support/topic";

const clients = localClients();
let runtime: LocalRuntime;
const logs: string[] = [];

beforeAll(async () => {
  runtime = await LocalRuntime.start({ namespace: `ingest-${randomUUID().slice(0, 6)}`, apiPort: 0, log: (_, line) => logs.push(line) });
});
afterAll(async () => {
  await runtime.stop();
  clients.glue.destroy();
});

function post(body: string, headers: Record<string, string> = {}) {
  return request(`${runtime.apiUrl}/sales`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

const eventBody = (file: string) => JSON.parse(readFileSync(`events/${file}`, "utf8")).body as string;

async function producedWith(correlationId: string, count: number) {
  const records = await readTopic(
    clients.kafka,
    runtime.salesTopic,
    (message) => String(message.headers?.["correlation-id"]) === correlationId,
    (read) => read.length >= count,
  );
  const decoder = new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema);
  const decoded = await decodeAll(
    decoder,
    records.map((r) => r.message.value as Buffer),
  );
  return records.map((r, i) => ({ partition: r.partition, offset: r.offset, key: String(r.message.key), sale: decoded[i] }));
}

describe("POST /sales through the local HTTP API", () => {
  it("acknowledges a batch with one partition/offset per record, keyed by country, amounts exact", async () => {
    const correlationId = `test-${randomUUID()}`;
    const response = await post(eventBody("api-post-sales-batch.json"), { "x-correlation-id": correlationId });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { accepted: number; records: { index: number; partition: number; offset: string }[] };
    expect(body.accepted).toBe(4);
    expect(body.records.map((r) => r.index)).toEqual([0, 1, 2, 3]);

    const produced = await producedWith(correlationId, 4);
    expect(produced).toHaveLength(4);
    const byPlace = new Map(produced.map((p) => [`${p.partition}/${p.offset}`, p]));
    const expected = [
      { country: "Japan", amount: "1.99", payment_date: Date.parse("2022-08-01T10:15:00Z"), channel: "store" },
      { country: "France", amount: "0.99", payment_date: 1659349000000, channel: "web" },
      { country: "India", amount: "10.10", payment_date: Date.parse("2022-08-01T10:15:30Z"), channel: "store" },
      { country: "United States", amount: "4.99", payment_date: Date.parse("2022-08-01T10:16:00Z"), channel: "kiosk" },
    ];
    body.records.forEach((ack) => {
      const found = byPlace.get(`${ack.partition}/${ack.offset}`);
      expect(found, `record ${ack.index} at ${ack.partition}/${ack.offset}`).toBeDefined();
      expect(found?.key).toBe(expected[ack.index]?.country);
      expect(found?.sale).toMatchObject({ ok: true, value: expected[ack.index] });
    });
  });

  it("keeps a JSON-number amount exact to the cent (0.10 + 0.20 never becomes 0.30000000000000004)", async () => {
    const correlationId = `test-${randomUUID()}`;
    const sales = [0.1, 0.2, 12345678.9].map((amount, i) => ({
      payment_id: 900 + i,
      customer_id: 1,
      amount,
      payment_date: 1659312000000,
      country: "Peru",
    }));
    const response = await post(JSON.stringify(sales).replace("12345678.9", "12345678.90"), { "x-correlation-id": correlationId });
    expect(response.status).toBe(202);
    const produced = await producedWith(correlationId, 3);
    expect(produced.map((p) => (p.sale?.ok ? p.sale.value.amount : "?")).sort()).toEqual(["0.10", "0.20", "12345678.90"]);
  });

  it("rejects invalid records with every index and field path, and produces nothing of the request", async () => {
    const before = await topicEndOffset(clients.kafka, runtime.salesTopic);
    const response = await post(eventBody("api-post-sales-invalid.json"));
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as {
      error: { code: string; message: string; invalid: { index: number; path: string; message: string }[] };
    };
    expect(error.code).toBe("INVALID_RECORDS");
    expect(error.message).toMatch(/2 of 3 records are invalid; nothing was produced/);
    const where = error.invalid.map((issue) => `${issue.index}:${issue.path}`);
    expect(where).toEqual(expect.arrayContaining(["1:payment_id", "1:amount", "1:payment_date", "1:country", "2:ammount"]));
    expect(where.some((w) => w.startsWith("0:"))).toBe(false);
    expect(error.invalid.find((i) => i.path === "amount")?.message).toMatch(/at most 2 places/);
    expect(await topicEndOffset(clients.kafka, runtime.salesTopic)).toBe(before);
  });

  it("gives the parser's position for malformed JSON", async () => {
    const response = await post('[{"payment_id": 1,}]');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "MALFORMED_JSON",
      message: expect.stringMatching(/position \d+/),
    });
  });

  it("answers 413 past 500 records or 1 MB, 415 for another content type, 404 and 405 as API Gateway", async () => {
    const many = JSON.stringify(
      Array.from({ length: 501 }, (_, i) => ({ payment_id: i + 1, customer_id: 1, amount: "1.00", payment_date: 0, country: "Chile" })),
    );
    expect((await post(many)).status).toBe(413);
    expect((await post(`[${" ".repeat(1_100_000)}]`)).status).toBe(413);
    const wrongType = await request(`${runtime.apiUrl}/sales`, { method: "POST", headers: { "content-type": "text/csv" }, body: "a,b" });
    expect(wrongType.status).toBe(415);
    expect((await request(`${runtime.apiUrl}/nope`)).status).toBe(404);
    const wrongMethod = await request(`${runtime.apiUrl}/sales`, { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });

  it("returns the first response to a retry with the same Idempotency-Key and produces nothing twice", async () => {
    const key = randomUUID();
    const body = JSON.stringify([{ payment_id: 777, customer_id: 2, amount: "3.50", payment_date: 1659312000000, country: "Kenya" }]);
    const first = await post(body, { "idempotency-key": key });
    expect(first.status).toBe(202);
    const firstBody = await first.text();
    const afterFirst = await topicEndOffset(clients.kafka, runtime.salesTopic);
    const second = await post(body, { "idempotency-key": key });
    expect(second.status).toBe(202);
    expect(await second.text()).toBe(firstBody);
    expect(await topicEndOffset(clients.kafka, runtime.salesTopic)).toBe(afterFirst);
    const reused = await post(body.replace("3.50", "9.99"), { "idempotency-key": key });
    expect(reused.status).toBe(422);
  });

  it("logs counts and ids, never record bodies or customer ids", async () => {
    // Only the lines of this test's own request are checked, whatever ran before.
    const from = logs.length;
    const correlationId = `privacy-${randomUUID()}`;
    const sale = {
      payment_id: 4_242_424,
      customer_id: 987_654_321,
      amount: "13.37",
      payment_date: 1659312000000,
      city: "Privacyville",
      district: "Hush District",
      country: "Kenya",
    };
    expect((await post(JSON.stringify([sale]), { "x-correlation-id": correlationId })).status).toBe(202);
    const accepted = () => logs.slice(from).some((line) => line.includes("sales accepted") && line.includes(correlationId));
    // The function's log reaches this process after its answer (the worker's stdout stream): wait for the line itself.
    await vi.waitFor(() => expect(accepted()).toBe(true), { timeout: 60_000, interval: 100 });
    const joined = logs.slice(from).join("\n");
    expect(joined).not.toMatch(/customer_id|"amount"|987654321|4242424|Privacyville|Hush District|13\.37/);
  });
});
