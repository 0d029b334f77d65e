import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler, type IngestHandlerDeps, productionDeps } from "#functions/ingest/wiring";
import type { HttpResponse } from "#shared/http/responses";
import type { OutgoingRecord, ProduceOutcome } from "#shared/kafka/producer";
import { memoryLedger } from "#test/support/fakes/ledger";
import { captureLogs, EVENT_SCHEMA_VERSIONS, eventFile, instruments, lambdaContext } from "#test/support/lambda";

// The producer, the scanner and the ledger store are tested on their own (test/unit/kafka,
// test/integration/kafka); here they are fakes whose outcome each test chooses, so the handler's
// wiring and its mapping of every outcome is what is tested.
const kafka = {
  sends: [] as { records: readonly OutgoingRecord[]; deadline: number }[],
  scans: [] as unknown[],
  outcome: (() => ({ status: "not-written", error: new Error("not set") })) as (records: readonly OutgoingRecord[]) => ProduceOutcome,
};
const producer = {
  async send(records: readonly OutgoingRecord[], deadline: number): Promise<ProduceOutcome> {
    kafka.sends.push({ records, deadline });
    return kafka.outcome(records);
  },
};
const scanner = {
  async scan(query: unknown) {
    kafka.scans.push(query);
    return { found: [], duplicates: 0 };
  },
};

const v2Id = Object.keys(EVENT_SCHEMA_VERSIONS)[1] as string;

/** The function's settings as its defaults give them (functions/ingest/config.ts), Retry-After 7 s. */
const settings = {
  topic: "sales",
  schemaVersionId: v2Id,
  compression: "none" as const,
  idempotencyTable: "idempotency",
  idempotencyTtlSeconds: 3600,
  limits: { maxRecords: 500, maxBodyBytes: 1_048_576 },
  retryAfterSeconds: 7,
  kafka: { brokers: ["127.0.0.1:1"], auth: "none" as const, region: "us-east-1", clientId: "sales-ingest" },
  recoveryGroupPrefix: "sales-ingest-recovery",
  recoverySkewMs: 30_000,
};

let ledger: ReturnType<typeof memoryLedger>;
let logs: ReturnType<typeof captureLogs>;

/** The handler as a new container makes it. */
function coldHandler() {
  const { logger, tracer } = instruments("ingest");
  const deps: IngestHandlerDeps = {
    logger,
    tracer,
    producer: () => producer,
    scanner: () => scanner,
    // Each test's own ledger, read when a request comes.
    ledger: {
      claim: (...args) => ledger.claim(...args),
      complete: (...args) => ledger.complete(...args),
      forget: (...args) => ledger.forget(...args),
      release: (...args) => ledger.release(...args),
    },
    settings,
  };
  return createHandler(deps);
}
const handler = coldHandler();

beforeEach(() => {
  kafka.sends.length = 0;
  kafka.scans.length = 0;
  ledger = memoryLedger();
  kafka.outcome = (records) => ({
    status: "written",
    records: records.map((_, index) => ({ index, partition: index % 2, offset: String(100 + index) })),
  });
  logs = captureLogs();
  return () => logs.stop();
});

function post(change: (event: APIGatewayProxyEventV2) => void = () => undefined): APIGatewayProxyEventV2 {
  const event = eventFile<APIGatewayProxyEventV2>("api-post-sales-batch.json");
  event.headers = { ...event.headers };
  delete event.headers["idempotency-key"];
  change(event);
  return event;
}
const body = (response: HttpResponse) =>
  JSON.parse(response.body) as { accepted: number; correlationId: string; error: { code: string; message: string; invalid?: unknown[] } };

describe("ingest handler (POST /sales)", () => {
  it("creates one producer and one scanner per container, reused by its requests", () => {
    const deps = productionDeps(settings);
    expect(deps.producer()).toBe(deps.producer());
    expect(deps.scanner()).toBe(deps.scanner());
    expect(deps.settings.retryAfterSeconds).toBe(7);
  });

  it("refuses, at cold start, settings that name no Kafka broker", () => {
    expect(() => productionDeps({ ...settings, kafka: { ...settings.kafka, brokers: [] } })).toThrow(/set KAFKA_BOOTSTRAP_SERVERS/);
  });

  it("answers 202 with every record's place, and gives Kafka the correlation id and what is left of the invocation", async () => {
    const context = lambdaContext(20_000);
    const before = Date.now();
    const response = await handler(
      post((e) => (e.headers["x-correlation-id"] = "till-7/42")),
      context,
    );
    expect(response.statusCode).toBe(202);
    expect(response.headers["x-correlation-id"]).toBe("till-7/42");
    expect(body(response)).toMatchObject({ accepted: 4, correlationId: "till-7/42" });
    const [send] = kafka.sends;
    expect(send?.records).toHaveLength(4);
    expect(send?.records.map((r) => r.key)).toEqual(["Japan", "France", "India", "United States"]);
    expect(send?.records[0]?.headers).toMatchObject({ "correlation-id": "till-7/42", "ingest-record-index": "0" });
    // 20 s left, less the 3 s kept back to record and send the answer; the lease is the invocation's end.
    expect(send?.deadline).toBeGreaterThanOrEqual(before + 17_000 - 50);
    expect(send?.deadline).toBeLessThanOrEqual(Date.now() + 17_000);
  });

  it("frames every record with the schema version the deployment names (Glue wire format: 3, 0, the version id), asking no registry", async () => {
    const response = await coldHandler()(post(), lambdaContext());
    expect(response.statusCode).toBe(202);
    const id = Buffer.from(v2Id.replaceAll("-", ""), "hex");
    for (const record of kafka.sends[0]?.records ?? []) {
      expect([...record.value.subarray(0, 2)]).toEqual([3, 0]);
      expect(record.value.subarray(2, 18).equals(id)).toBe(true);
    }
  });

  it("uses the API request id as correlation id when the client sends none", async () => {
    const response = await handler(post(), lambdaContext());
    expect(body(response).correlationId).toBe("Cx1bAjEoIAMEV3w=");
  });

  it.each([
    ["x-correlation-id", "has a space"],
    ["x-correlation-id", "x".repeat(257)],
    ["idempotency-key", "line\nbreak"],
    ["idempotency-key", ""],
  ])("refuses %s %j with 400 before anything is stored or produced", async (header, value) => {
    const response = await handler(
      post((e) => (e.headers[header] = value)),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(body(response).error).toMatchObject({ code: "INVALID_HEADER", message: expect.stringContaining(header) });
    expect(response.body).not.toContain(value || "\u0000");
    expect(ledger.entries.size).toBe(0);
    expect(kafka.sends).toEqual([]);
  });

  it("answers 400 listing every invalid record, producing nothing", async () => {
    const response = await handler(
      { ...eventFile<APIGatewayProxyEventV2>("api-post-sales-invalid.json"), headers: { "content-type": "application/json" } },
      lambdaContext(),
    );
    expect(response.statusCode).toBe(400);
    expect(body(response).error.code).toBe("INVALID_RECORDS");
    expect(body(response).error.invalid?.length).toBeGreaterThan(0);
    expect(kafka.sends).toEqual([]);
  });

  it("answers 503 with Retry-After when Kafka took nothing (a throttled or unreachable broker)", async () => {
    kafka.outcome = () => ({ status: "not-written", error: Object.assign(new Error("quota"), { type: "THROTTLING_QUOTA_EXCEEDED" }) });
    const response = await handler(post(), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("7");
    expect(body(response).error.code).toBe("KAFKA_UNAVAILABLE");
  });

  it("answers 504 when a produce request got no answer, and a same-key retry recovers (scans) and answers 202", async () => {
    kafka.outcome = (records) => ({
      status: "unknown",
      partitions: records.map(() => 1),
      error: new Error("producing: no answer before the deadline"),
    });
    const keyed = () => post((e) => (e.headers["idempotency-key"] = "key-504"));
    const first = await handler(keyed(), lambdaContext(5_000));
    expect(first.statusCode).toBe(504);
    expect(body(first).error.code).toBe("KAFKA_OUTCOME_UNKNOWN");
    expect(first.headers["retry-after"]).toBe("7");
    kafka.outcome = (records) => ({
      status: "written",
      records: records.map((_, index) => ({ index, partition: 1, offset: String(index) })),
    });
    const again = await handler(keyed(), lambdaContext());
    expect(again.statusCode).toBe(202);
    expect(kafka.scans).toHaveLength(1);
    expect(kafka.sends).toHaveLength(2);
  });

  it("answers 409 with Retry-After while another attempt with the key is in progress", async () => {
    let release: () => void = () => undefined;
    kafka.outcome = () => ({ status: "not-written", error: new Error("x") });
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inner = ledger.forget.bind(ledger);
    ledger.forget = async (...args) => {
      await hold;
      return inner(...args);
    };
    const keyed = () => post((e) => (e.headers["idempotency-key"] = "key-409"));
    const first = handler(keyed(), lambdaContext(10_000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = await handler(keyed(), lambdaContext());
    expect(busy.statusCode).toBe(409);
    expect(Number(busy.headers["retry-after"])).toBeGreaterThan(0);
    release();
    expect((await first).statusCode).toBe(503);
  });

  it("answers a same-key retry with the first 202 and 422 when the key comes back with another body", async () => {
    const keyed = () => post((e) => (e.headers["idempotency-key"] = "key-202"));
    const first = await handler(keyed(), lambdaContext());
    const second = await handler(keyed(), lambdaContext());
    expect(second.statusCode).toBe(202);
    expect(second.body).toBe(first.body);
    expect(kafka.sends).toHaveLength(1);
    const reused = await handler(
      post((e) => {
        e.headers["idempotency-key"] = "key-202";
        e.body = (e.body ?? "").replace("1.99", "9.99");
      }),
      lambdaContext(),
    );
    expect(reused.statusCode).toBe(422);
    expect(body(reused).error.code).toBe("IDEMPOTENCY_KEY_REUSED");
  });

  it("logs the count and correlation id of what it accepted, never a record's content", async () => {
    const event = post((e) => (e.headers["x-correlation-id"] = "privacy-check"));
    await handler(event, lambdaContext());
    const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.message === "sales accepted")).toMatchObject({ records: 4, correlationId: "privacy-check" });
    const sale = JSON.parse(event.body ?? "[]")[0] as Record<string, unknown>;
    const joined = logs.lines.join("\n");
    for (const value of [sale.customer_id, sale.city, sale.amount]) expect(joined).not.toContain(String(value));
    expect(joined).not.toMatch(/customer_id|payment_id/);
  });
});
