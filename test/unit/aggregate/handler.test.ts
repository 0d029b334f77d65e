import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { MSKEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { BatchDeps, BatchSummary, KafkaEventRecord } from "#functions/aggregate/process-batch";
import { RegistryUnavailableError } from "#shared/avro/errors";
import { captureLogs, eventFile, lambdaContext } from "#test/support/lambda";

// The aggregation core and its DynamoDB store have tests of their own; here they are fakes, so
// what is tested is the handler's wiring: which deps the core gets, what is logged and measured,
// and that every failure reaches Lambda (which retries the batch).
const core = vi.hoisted(() => ({
  calls: [] as { records: Record<string, KafkaEventRecord[]>; deps: BatchDeps }[],
  run: undefined as unknown as (records: Record<string, KafkaEventRecord[]>, deps: BatchDeps) => Promise<BatchSummary>,
  tables: [] as string[],
}));
vi.mock("#functions/aggregate/process-batch", () => ({
  processBatch: (records: Record<string, KafkaEventRecord[]>, deps: BatchDeps) => {
    core.calls.push({ records, deps });
    return core.run(records, deps);
  },
}));
vi.mock("#functions/aggregate/store", () => ({
  AggregateStore: class {
    readonly counts = { writes: 0, reads: 0, conflicts: 0, largestItemBytes: 0 };
    constructor(_client: unknown, table: string) {
      core.tables.push(table);
    }
  },
}));

const summary = (over: Partial<BatchSummary> = {}): BatchSummary =>
  ({
    records: 9,
    applied: 8,
    late: 0,
    duplicates: 0,
    folded: 0,
    poison: 1,
    itemsWritten: 4,
    conflicts: 0,
    partitions: 2,
    advanced: 2,
    ...over,
  }) satisfies BatchSummary;
const sqs: { sent: unknown[]; refuse: boolean } = { sent: [], refuse: false };
const s3: { put: { Bucket: string; Key: string }[] } = { put: [] };
type Handler = (event: MSKEvent, context: ReturnType<typeof lambdaContext>) => Promise<BatchSummary>;
let handler: Handler;
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  vi.spyOn(SQSClient.prototype, "send").mockImplementation((async (command: { input: { QueueUrl: string; Entries: { Id: string }[] } }) => {
    sqs.sent.push(command.input);
    return sqs.refuse
      ? { Successful: [], Failed: command.input.Entries.map((e) => ({ Id: e.Id, Code: "KMS.ThrottlingException", SenderFault: false })) }
      : { Successful: command.input.Entries.map((e) => ({ Id: e.Id })), Failed: [] };
  }) as never);
  vi.spyOn(S3Client.prototype, "send").mockImplementation((async (command: { input: { Bucket: string; Key: string } }) => {
    s3.put.push(command.input);
    return {};
  }) as never);
  vi.stubEnv("AGGREGATES_TABLE", "unit-aggregates");
  vi.stubEnv("DEAD_LETTER_BUCKET", "unit-lake");
  vi.stubEnv("DEAD_LETTER_QUEUE_URL", "http://127.0.0.1:1/123456789012/dead-letters");
  vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", "Unit");
  ({ handler } = (await import("#functions/aggregate/handler")) as unknown as { handler: Handler });
});
afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});
beforeEach(() => {
  core.calls.length = 0;
  core.run = async () => summary();
  sqs.sent.length = 0;
  sqs.refuse = false;
  s3.put.length = 0;
  logs = captureLogs();
  return () => logs.stop();
});

const letter = (offset: number) => ({
  topic: "sales",
  partition: 0,
  offset,
  timestamp: 0,
  key: undefined,
  value: "AAAA",
  reason: { code: "BAD_HEADER_VERSION", message: "header version byte is 0" },
  source: "aggregate",
});

describe("aggregate handler (MSK event source mapping)", () => {
  it("hands the batch's records to the core with the configured table and settings, and returns its summary", async () => {
    const event = eventFile<MSKEvent>("msk-sales-batch.json");
    const result = await handler(event, lambdaContext());
    expect(result).toEqual(summary());
    expect(core.tables).toEqual(["unit-aggregates"]);
    const [call] = core.calls;
    expect(Object.keys(call?.records ?? {})).toEqual(Object.keys(event.records));
    expect(call?.deps.settings.windows.map((w) => w.name)).toEqual(["1m", "10m/5m", "1h", "1d", "all"]);
    expect(call?.deps.settings.maxCountriesPerWindow).toBe(500);
    expect(call?.deps.maxConflictRetries).toBe(10);
  });

  it("logs counts and the batch's correlation ids, never a record, and emits the counts as metrics", async () => {
    await handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext());
    const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const info = lines.find((line) => line.message === "batch aggregated");
    expect(info).toMatchObject({ records: 9, applied: 8, poison: 1, correlationIds: expect.arrayContaining([expect.any(String)]) });
    const metrics = lines.find((line) => line._aws !== undefined) as Record<string, unknown> | undefined;
    expect(metrics).toMatchObject({
      RecordsIn: 9,
      RecordsApplied: 8,
      PoisonRecords: 1,
      DynamoDBWrites: 0,
      SliceWriteConflicts: 0,
      WatermarkAdvances: 2,
    });
    const values = Object.values(eventFile<MSKEvent>("msk-sales-batch.json").records).flatMap((records) => records.map((r) => r.value));
    for (const value of values) expect(logs.lines.join("\n")).not.toContain(value);
  });

  it("sends the core's dead letters to the configured queue, ten per request", async () => {
    core.run = async (_records, deps) => {
      await deps.deadLetter(Array.from({ length: 12 }, (_, i) => letter(i)));
      return summary({ poison: 12 });
    };
    await handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext());
    expect(sqs.sent).toHaveLength(2);
    expect(sqs.sent[0]).toMatchObject({ QueueUrl: "http://127.0.0.1:1/123456789012/dead-letters" });
  });

  it("stores a value too large for SQS in the configured bucket under the dead-letter prefix", async () => {
    core.run = async (_records, deps) => {
      await deps.deadLetter([{ ...letter(3), value: Buffer.alloc(300_000).toString("base64") }]);
      return summary();
    };
    await handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext());
    expect(s3.put).toMatchObject([{ Bucket: "unit-lake", Key: "dead-letters/aggregate/sales/0/3/value" }]);
    expect(sqs.sent).toMatchObject([{ Entries: [{ MessageBody: expect.stringContaining('"valueRef"') }] }]);
  });

  it("fails the invocation when SQS refuses dead letters, so the batch is retried and no record is lost", async () => {
    sqs.refuse = true;
    core.run = async (_records, deps) => {
      await deps.deadLetter([letter(7)]);
      return summary();
    };
    await expect(handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext())).rejects.toThrow(/SQS refused 1 dead letters/);
    expect(logs.lines.some((line) => line.includes("batch aggregated"))).toBe(false);
  });

  it("fails the invocation when the registry is down or DynamoDB throttles past its retries", async () => {
    core.run = async () => Promise.reject(new RegistryUnavailableError("GetSchemaVersion failed after 5 attempts", undefined));
    await expect(handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext())).rejects.toMatchObject({
      code: "SCHEMA_REGISTRY_UNAVAILABLE",
    });
    const throttled = Object.assign(new Error("Throughput exceeds the current capacity"), {
      name: "ProvisionedThroughputExceededException",
    });
    core.run = async () => Promise.reject(throttled);
    await expect(handler(eventFile<MSKEvent>("msk-sales-batch.json"), lambdaContext())).rejects.toBe(throttled);
  });
});
