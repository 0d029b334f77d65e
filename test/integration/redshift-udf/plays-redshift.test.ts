import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients } from "@sales-stream-analytics/local-aws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redshiftTimestamp } from "#functions/redshift-udf/udf";
import type { Sale } from "#shared/sales/schema";
import { salesEncoders } from "#test/support/aggregates";
import { request } from "#test/support/http";
import { readTopic } from "#test/support/topic";
import { sampleSales } from "#tools/sales/generator";

const clients = localClients();
let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await LocalRuntime.start({
    namespace: `udf-${randomUUID().slice(0, 6)}`,
    apiPort: 0,
    eventSources: false,
    log: () => undefined,
  });
});
afterAll(async () => {
  await runtime.stop();
});

describe("f_sales_avro_to_json as Redshift calls it, on records from the real topic", () => {
  it("decodes ingest-path, v1 and zlib records field by field, with NULLs and bad rows in the same batches", async () => {
    const correlationId = `udf-${randomUUID()}`;
    const posted = sampleSales(240, { seed: 77, startMs: Date.UTC(2022, 7, 3) });
    for (let i = 0; i < posted.length; i += 120) {
      const response = await request(`${runtime.apiUrl}/sales`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-correlation-id": correlationId },
        body: JSON.stringify(posted.slice(i, i + 120)),
      });
      expect(response.status).toBe(202);
    }
    // Another producer writes the older v1 schema and zlib frames to the same topic.
    const encode = await salesEncoders("zlib", {
      registryName: runtime.resourceName("SchemaRegistry"),
      schemaName: runtime.resourceName("SalesSchema"),
    });
    const others = sampleSales(60, { seed: 78, startMs: Date.UTC(2022, 7, 4), firstPaymentId: 700_000 });
    const producer = clients.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: runtime.salesTopic,
      messages: others.map((sale, i) => ({ key: sale.country, value: encode(sale, i), headers: { "correlation-id": correlationId } })),
    });
    await producer.disconnect();

    const landed = await readTopic(
      clients.kafka,
      runtime.salesTopic,
      (m) => String(m.headers?.["correlation-id"]) === correlationId,
      (read) => read.length >= posted.length + others.length,
    );
    expect(landed).toHaveLength(300);
    const expected = new Map<number, Sale>();
    for (const sale of posted) expected.set(sale.payment_id, sale);
    others.forEach((sale, i) => {
      expected.set(sale.payment_id, i % 2 === 0 ? { ...sale, channel: "store" } : sale);
    });

    // Redshift's rows: TO_HEX(kafka_value), with NULLs and garbage mixed in, sent in batches.
    const rows: (string | null)[][] = landed.map((r) => [(r.message.value as Buffer).toString("hex")]);
    rows.splice(10, 0, [null], ["not-hex"], ["03000000"]);
    const fn = runtime.fn("RedshiftUdfFunction");
    const results: (string | null)[] = [];
    for (let i = 0; i < rows.length; i += 64) {
      const batch = rows.slice(i, i + 64);
      const outcome = await fn.invoke({ request_id: randomUUID(), query_id: 1, num_records: batch.length, arguments: batch });
      expect(outcome.ok).toBe(true);
      const response = (outcome.ok ? outcome.result : undefined) as { success: boolean; num_records: number; results: (string | null)[] };
      expect(response).toMatchObject({ success: true, num_records: batch.length });
      results.push(...response.results);
    }
    expect(results.slice(10, 13)).toEqual([null, null, null]);
    const decoded = [...results.slice(0, 10), ...results.slice(13)].map((json) => JSON.parse(json as string));
    expect(decoded).toHaveLength(300);
    for (const row of decoded) {
      const sale = expected.get(row.payment_id);
      expect(sale, `payment ${row.payment_id}`).toBeDefined();
      expect(row).toEqual({ ...sale, payment_date: redshiftTimestamp((sale as Sale).payment_date) });
    }
  });
});
