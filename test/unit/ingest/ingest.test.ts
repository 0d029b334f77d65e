import { describe, expect, it } from "vitest";
import { type IngestDeps, ingestSales } from "#functions/ingest/ingest";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { HttpError } from "#shared/http/errors";
import type { OutgoingRecord, ProduceOutcome } from "#shared/kafka/producer";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";

const encoder = new GlueAvroEncoder<Sale>(currentSalesSchema, "6b28df78-8080-4e9f-9adf-4713d8812a72");
const sale = (id: number) => ({ payment_id: id, customer_id: 7, amount: "4.99", payment_date: "2022-08-01T10:15:00Z", country: "Chile" });
const request = (sales: unknown[]) => ({ body: JSON.stringify(sales), isBase64Encoded: false, contentType: "application/json" });
const context = { correlationId: "c-1", traceHeader: undefined };

/** Ingest with a producer whose outcome the test chooses; records what it was asked to produce. */
function withOutcome(outcome: (records: readonly OutgoingRecord[]) => ProduceOutcome) {
  const produced: OutgoingRecord[][] = [];
  const deps: IngestDeps = {
    encoder: async () => encoder,
    produce: async (records) => {
      produced.push([...records]);
      return outcome(records);
    },
    limits: { maxRecords: 10, maxBodyBytes: 10_000 },
    retryAfterSeconds: 7,
  };
  return { deps, produced };
}

async function failure(run: Promise<unknown>): Promise<HttpError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

describe("ingest: one request, one Kafka transaction", () => {
  it("answers with every record's partition and offset when the transaction commits", async () => {
    const { deps, produced } = withOutcome((records) => ({
      status: "committed",
      records: records.map((_, index) => ({ index, partition: 2, offset: String(40 + index) })),
    }));
    const accepted = await ingestSales(request([sale(1), sale(2)]), context, deps);
    expect(accepted).toEqual({
      accepted: 2,
      correlationId: "c-1",
      records: [
        { index: 0, partition: 2, offset: "40" },
        { index: 1, partition: 2, offset: "41" },
      ],
    });
    expect(produced).toHaveLength(1);
    expect(produced[0]?.map((r) => r.key)).toEqual(["Chile", "Chile"]);
    expect(produced[0]?.[0]?.headers).toMatchObject({ "correlation-id": "c-1" });
  });

  it("answers 503 with Retry-After, and no partial acknowledgement, when the transaction is aborted", async () => {
    const { deps } = withOutcome(() => ({ status: "aborted", error: new Error("broker down") }));
    const error = await failure(ingestSales(request([sale(1), sale(2)]), context, deps));
    expect(error).toMatchObject({ status: 503, code: "KAFKA_UNAVAILABLE", headers: { "retry-after": "7" } });
    expect(error.message).toContain("none was written");
    expect(error.details).toBeUndefined();
  });

  it("answers 504, not 503, when nobody knows whether the commit happened", async () => {
    const { deps } = withOutcome(() => ({ status: "unknown", error: new Error("no answer") }));
    const error = await failure(ingestSales(request([sale(1)]), context, deps));
    expect(error).toMatchObject({ status: 504, code: "KAFKA_OUTCOME_UNKNOWN" });
    expect(error.message).toContain("may or may not be written");
  });

  it("produces nothing when one record is invalid or the registry is down", async () => {
    const invalid = withOutcome(() => ({ status: "committed", records: [] }));
    const bad = await failure(ingestSales(request([sale(1), { ...sale(2), amount: "1.234" }]), context, invalid.deps));
    expect(bad).toMatchObject({ status: 400, code: "INVALID_RECORDS" });
    expect(invalid.produced).toHaveLength(0);

    const down = withOutcome(() => ({ status: "committed", records: [] }));
    const unavailable = await failure(
      ingestSales(request([sale(1)]), context, {
        ...down.deps,
        encoder: () => Promise.reject(new Error("glue down")),
      }),
    );
    expect(unavailable).toMatchObject({ status: 503, code: "SCHEMA_REGISTRY_UNAVAILABLE", headers: { "retry-after": "7" } });
    expect(down.produced).toHaveLength(0);
  });
});
