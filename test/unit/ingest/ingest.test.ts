import { describe, expect, it } from "vitest";
import { type IngestContext, type IngestDeps, ingestSales } from "#functions/ingest/ingest";
import type { LedgerEntry } from "#functions/ingest/ledger";
import { GlueAvroEncoder } from "#shared/avro/codec";
import { CodecError, CodecErrorCode } from "#shared/avro/errors";
import { InvariantError } from "#shared/errors/internal-errors";
import { HttpError } from "#shared/http/errors";
import { HEADER_RECORD_INDEX, HEADER_REQUEST_ID } from "#shared/kafka/headers";
import { partitionOfKey } from "#shared/kafka/partitioner";
import type { Acknowledged, OutgoingRecord, ProduceOutcome } from "#shared/kafka/producer";
import type { ScanQuery } from "#shared/kafka/request-scan";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import { memoryLedger } from "#test/support/fakes/ledger";

const encoder = new GlueAvroEncoder<Sale>(currentSalesSchema, "6b28df78-8080-4e9f-9adf-4713d8812a72");
const sale = (id: number, country = "Chile") => ({
  payment_id: id,
  customer_id: 7,
  amount: "4.99",
  payment_date: "2022-08-01T10:15:00Z",
  country,
});
const request = (sales: unknown[]) => ({ body: JSON.stringify(sales), isBase64Encoded: false, contentType: "application/json" });
const NOW = 1_700_000_000_000;
const context = (key?: string, now = NOW): IngestContext => ({
  correlationId: "c-1",
  traceHeader: undefined,
  idempotencyKey: key,
  now,
  deadline: now + 17_000,
  leaseUntil: now + 20_000,
});

/** A topic in memory: produce appends (or does what the test stages), scan reads it as read_uncommitted does. */
function world() {
  const log: { partition: number; offset: string; headers: OutgoingRecord["headers"] }[] = [];
  const produced: OutgoingRecord[][] = [];
  const scans: ScanQuery[] = [];
  const warnings: string[] = [];
  const append = (records: readonly OutgoingRecord[]): Acknowledged[] =>
    records.map((record, index) => {
      const partition = record.key === "Chile" ? 0 : 1;
      const offset = String(log.filter((r) => r.partition === partition).length);
      log.push({ partition, offset, headers: record.headers });
      return { index, partition, offset };
    });
  let stage: (records: readonly OutgoingRecord[]) => ProduceOutcome = (records) => ({ status: "written", records: append(records) });
  const ledger = memoryLedger();
  const deps: IngestDeps = {
    encoder,
    produce: async (records) => {
      produced.push([...records]);
      return stage(records);
    },
    scan: async (query) => {
      scans.push(query);
      const found = log
        .filter((r) => String(r.headers?.[HEADER_REQUEST_ID]) === query.requestId)
        .map((r) => ({ index: Number(r.headers?.[HEADER_RECORD_INDEX]), partition: r.partition, offset: r.offset }));
      return { found, duplicates: 0 };
    },
    ledger,
    newRequestId: () => "fresh-id",
    warn: (message) => warnings.push(message),
    limits: { maxRecords: 10, maxBodyBytes: 10_000 },
    retryAfterSeconds: 7,
    recoverySkewMs: 30_000,
  };
  return {
    deps,
    log,
    produced,
    scans,
    warnings,
    ledger,
    append,
    stage: (next: typeof stage) => {
      stage = next;
    },
  };
}

async function failure(run: Promise<unknown>): Promise<HttpError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

describe("ingest: written = accepted", () => {
  it("answers 202 with every record's partition and offset, each record naming its request and index", async () => {
    const w = world();
    const accepted = await ingestSales(request([sale(1), sale(2, "France")]), context(), w.deps);
    expect(accepted).toEqual({
      accepted: 2,
      correlationId: "c-1",
      records: [
        { index: 0, partition: 0, offset: "0" },
        { index: 1, partition: 1, offset: "0" },
      ],
    });
    expect(w.produced[0]?.map((r) => r.key)).toEqual(["Chile", "France"]);
    expect(w.produced[0]?.[1]?.headers).toMatchObject({
      "correlation-id": "c-1",
      [HEADER_REQUEST_ID]: "fresh-id",
      [HEADER_RECORD_INDEX]: "1",
    });
  });

  it("answers 503 with Retry-After when nothing was written, and a same-key retry starts afresh (no scan)", async () => {
    const w = world();
    w.stage(() => ({ status: "not-written", error: new Error("broker down") }));
    const error = await failure(ingestSales(request([sale(1)]), context("k"), w.deps));
    expect(error).toMatchObject({ status: 503, code: "KAFKA_UNAVAILABLE", headers: { "retry-after": "7" } });
    expect(error.message).toContain("none was written");
    expect(w.ledger.entries.has("k")).toBe(false);
    w.stage((records) => ({ status: "written", records: w.append(records) }));
    await ingestSales(request([sale(1)]), context("k"), w.deps);
    expect(w.scans).toEqual([]);
    expect(w.log).toHaveLength(1);
  });

  it("answers 504 listing each record as unknown, and without a key says a retry may write twice", async () => {
    const w = world();
    w.stage((records) => ({ status: "unknown", partitions: records.map(() => 3), error: new Error("no answer") }));
    const error = await failure(ingestSales(request([sale(1), sale(2)]), context(), w.deps));
    expect(error).toMatchObject({ status: 504, code: "KAFKA_OUTCOME_UNKNOWN", headers: { "retry-after": "7" } });
    expect(error.details).toEqual({
      records: [
        { index: 0, status: "unknown", partition: 3 },
        { index: 1, status: "unknown", partition: 3 },
      ],
    });
    expect(error.message).toContain("may write them twice");
  });

  it("after a 504 that wrote some records, a same-key retry scans from the first attempt's start less the skew and writes only the rest", async () => {
    const w = world();
    // The first attempt writes records 0 and 2, and gets no answer.
    w.stage((records) => {
      w.append(records.filter((_, i) => i !== 1));
      return { status: "unknown", partitions: records.map(() => 0), error: new Error("cut") };
    });
    const body = [sale(1), sale(2), sale(3, "France")];
    expect((await failure(ingestSales(request(body), context("k"), w.deps))).status).toBe(504);
    expect(w.ledger.entries.get("k")?.state).toBe("UNKNOWN");

    w.stage((records) => ({ status: "written", records: w.append(records) }));
    const retry = await ingestSales(request(body), context("k", NOW + 5000), w.deps);
    expect(w.scans).toEqual([
      { requestId: "r1", sinceMs: NOW - 30_000, keys: ["Chile", "Chile", "France"], deadline: NOW + 5000 + 17_000 },
    ]);
    expect(w.produced[1]?.map((r) => r.headers?.[HEADER_RECORD_INDEX])).toEqual(["1"]);
    expect(retry.records).toEqual([
      { index: 0, partition: 0, offset: "0" },
      { index: 1, partition: 0, offset: "1" },
      { index: 2, partition: 1, offset: "0" },
    ]);
    expect(w.log).toHaveLength(3);
    // Completed: the stored 202 comes back and nothing more is written.
    expect(await ingestSales(request(body), context("k", NOW + 9000), w.deps)).toEqual(retry);
    expect(w.produced).toHaveLength(2);
  });

  it("a recovery whose own produce gets no answer answers 504 naming the records it found as written", async () => {
    const w = world();
    w.stage((records) => {
      w.append(records.slice(0, 1));
      return { status: "unknown", partitions: records.map(() => 0), error: new Error("cut") };
    });
    const body = [sale(1), sale(2, "France")];
    await failure(ingestSales(request(body), context("k"), w.deps));
    w.stage((records) => ({ status: "unknown", partitions: records.map(() => 1), error: new Error("cut again") }));
    const again = await failure(ingestSales(request(body), context("k", NOW + 1000), w.deps));
    expect(again.status).toBe(504);
    expect(again.details).toEqual({
      records: [
        { index: 0, status: "written", partition: 0, offset: "0" },
        { index: 1, status: "unknown", partition: 1 },
      ],
    });
    expect(w.ledger.entries.get("k")?.state).toBe("UNKNOWN");
  });

  it("a recovery that finds every record writes nothing and answers 202", async () => {
    const w = world();
    w.stage((records) => {
      w.append(records);
      return { status: "unknown", partitions: records.map(() => 0), error: new Error("cut") };
    });
    await failure(ingestSales(request([sale(1), sale(2)]), context("k"), w.deps));
    const retry = await ingestSales(request([sale(1), sale(2)]), context("k", NOW + 1000), w.deps);
    expect(retry.accepted).toBe(2);
    expect(w.produced).toHaveLength(1);
  });

  it("a recovery whose scan or produce fails answers 503 and leaves the key to recover again", async () => {
    const w = world();
    const body = [sale(1), sale(2)];
    w.stage((records) => {
      w.append(records.slice(0, 1));
      return { status: "unknown", partitions: records.map(() => 0), error: new Error("cut") };
    });
    await failure(ingestSales(request(body), context("k"), w.deps));
    const scanDown = await failure(
      ingestSales(request(body), context("k", NOW + 1000), { ...w.deps, scan: () => Promise.reject(new Error("down")) }),
    );
    expect(scanDown).toMatchObject({ status: 503, code: "KAFKA_UNAVAILABLE" });
    expect(w.ledger.entries.get("k")?.state).toBe("UNKNOWN");
    w.stage(() => ({ status: "not-written", error: new Error("down") }));
    const produceDown = await failure(ingestSales(request(body), context("k", NOW + 2000), w.deps));
    expect(produceDown.message).toContain("this attempt wrote none");
    expect(w.ledger.entries.get("k")?.state).toBe("UNKNOWN");
    w.stage((records) => ({ status: "written", records: w.append(records) }));
    expect((await ingestSales(request(body), context("k", NOW + 3000), w.deps)).accepted).toBe(2);
    expect(w.log).toHaveLength(2);
  });

  it("answers 409 with Retry-After while another attempt holds the key, and 422 for another body", async () => {
    const w = world();
    w.ledger.entries.set("k", {
      requestId: "r0",
      bodyHash: "elsewhere",
      state: "IN_PROGRESS",
      firstStartedAt: NOW,
      leaseUntil: NOW + 12_500,
      attempt: "a0",
    });
    expect(await failure(ingestSales(request([sale(1)]), context("k"), w.deps))).toMatchObject({
      status: 422,
      code: "IDEMPOTENCY_KEY_REUSED",
    });
    const { createHash } = await import("node:crypto");
    const bodyHash = createHash("sha256")
      .update(request([sale(1)]).body)
      .digest("hex");
    w.ledger.entries.set("k", { ...(w.ledger.entries.get("k") as LedgerEntry), bodyHash });
    expect(await failure(ingestSales(request([sale(1)]), context("k"), w.deps))).toMatchObject({
      status: 409,
      code: "IDEMPOTENCY_IN_PROGRESS",
      headers: { "retry-after": "13" },
    });
    // The lease ran out (a container killed mid-request): the next attempt recovers.
    await ingestSales(request([sale(1)]), context("k", NOW + 13_000), w.deps);
    expect(w.scans).toHaveLength(1);
  });

  it("answers 503 when the ledger is down, and writes nothing", async () => {
    const w = world();
    w.ledger.down = true;
    expect(await failure(ingestSales(request([sale(1)]), context("k"), w.deps))).toMatchObject({ status: 503, code: "LEDGER_UNAVAILABLE" });
    expect(w.produced).toHaveLength(0);
  });

  it("produces nothing when one record is invalid, and frees nothing it did not claim", async () => {
    const w = world();
    const bad = await failure(ingestSales(request([sale(1), { ...sale(2), amount: "1.234" }]), context("k"), w.deps));
    expect(bad).toMatchObject({ status: 400, code: "INVALID_RECORDS" });
    expect(w.produced).toHaveLength(0);
    expect(w.ledger.entries.size).toBe(0);
  });

  it("throws an InvariantError when a validated sale does not encode (validator and schema disagree: a bug), and frees the key", async () => {
    const w = world();
    const refusing = {
      encode: () => {
        throw new CodecError(CodecErrorCode.invalidValue, "amount: not a decimal");
      },
    } as unknown as GlueAvroEncoder<Sale>;
    const run = ingestSales(request([sale(1)]), context("k"), { ...w.deps, encoder: refusing });
    await expect(run).rejects.toBeInstanceOf(InvariantError);
    await expect(run).rejects.toMatchObject({ code: "INVARIANT_VIOLATED", retriable: false, expose: false });
    expect(w.produced).toHaveLength(0);
    expect(w.ledger.entries.size).toBe(0);
  });

  it("keeps a completed request's 202 as offset runs, and a same-key retry gets the same 202 back", async () => {
    const w = world();
    // A producer that partitions as Kafka's default partitioner over 6 partitions, and says so.
    let next = 0;
    w.stage((records) => ({
      status: "written",
      partitions: 6,
      records: records.map((record, index) => ({ index, partition: partitionOfKey(record.key, 6), offset: String(100 + next++) })),
    }));
    const body = Array.from({ length: 10 }, (_, i) => sale(i + 1, i % 2 === 0 ? "Chile" : "Japan"));
    const deps = { ...w.deps, limits: { maxRecords: 10, maxBodyBytes: 100_000 } };
    const accepted = await ingestSales(request(body), context("k"), deps);
    const kept = w.ledger.entries.get("k")?.response ?? "";
    expect(kept.length).toBeLessThan(JSON.stringify(accepted).length / 2);
    expect(await ingestSales(request(body), context("k", NOW + 1000), deps)).toEqual(accepted);
    expect(w.produced).toHaveLength(1);
  });

  it("answers 202 even when the ledger cannot store it, and warns", async () => {
    const w = world();
    const accepted = await ingestSales(request([sale(1)]), context("k"), {
      ...w.deps,
      ledger: { ...w.ledger, claim: w.ledger.claim, complete: () => Promise.reject(new Error("down")) },
    });
    expect(accepted.accepted).toBe(1);
    expect(w.warnings).toEqual(["ledger not updated after a 202"]);
  });
});
