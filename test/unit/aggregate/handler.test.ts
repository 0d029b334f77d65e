import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from "@aws-sdk/client-sqs";
import type { MSKEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { DeadLetter } from "#functions/aggregate/dead-letters";
import { type AggregateDeps, createHandler, productionDeps } from "#functions/aggregate/wiring";
import { type SliceItem, type SliceRef, sliceId, type Watermark } from "#shared/aggregates/slices";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { currentVersionFirst } from "#shared/avro/current-version";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { schemaKeyOf, uuidToKey } from "#shared/avro/wire-format";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { parseWindows } from "#shared/windows/windows";
import { glueRegistry } from "#test/support/fakes/glue";
import { captureLogs, EVENT_SCHEMA_VERSIONS, eventFile, instruments, lambdaContext } from "#test/support/lambda";

// The aggregation core runs for real on the sample batch; the table is an in-memory store and
// Glue a fake (both have tests of their own), so what is tested is the handler's wiring: what
// is logged and measured, where dead letters go, and that every failure reaches Lambda.
const [v1Id, v2Id] = Object.keys(EVENT_SCHEMA_VERSIONS) as [string, string];
const glue = glueRegistry({ [v1Id]: salesSchemaVersions[0], [v2Id]: salesSchemaVersions[1] });

/** The function's settings as its defaults give them (functions/aggregate/config.ts). */
const settings = {
  table: "unit-aggregates",
  schemaVersionId: v2Id,
  deadLetterQueueUrl: "http://127.0.0.1:1/123456789012/dead-letters",
  deadLetterBucket: "unit-lake",
  deadLetterPrefix: "dead-letters/aggregate/",
  windows: parseWindows("1m,10m/5m,1h,1d,all"),
  ttlSeconds: new Map([["1m", 172_800]]),
  allowedLatenessMs: 600_000,
  maxCountriesPerWindow: 500,
  maxConflictRetries: 10,
};

function memoryStore(trouble: { failWrites?: Error } = {}) {
  const slices = new Map<string, SliceItem>();
  const watermarks = new Map<string, Watermark>();
  return {
    counts: { writes: 0, reads: 0, conflicts: 0, largestItemBytes: 0 },
    async readSlices(refs: readonly SliceRef[]) {
      const ids = refs.map((r) => sliceId(r.window, r.start, r.topicPartition));
      return new Map(ids.flatMap((id) => (slices.has(id) ? [[id, slices.get(id) as SliceItem]] : [])));
    },
    async writeSlice(item: SliceItem): Promise<"written" | "conflict"> {
      if (trouble.failWrites !== undefined) throw trouble.failWrites;
      this.counts.writes++;
      slices.set(sliceId(item.window, item.start, item.topicPartition), { ...item, version: item.version + 1 });
      return "written";
    },
    async readWatermarks(topicPartitions: readonly string[]) {
      return new Map(topicPartitions.flatMap((tp) => (watermarks.has(tp) ? [[tp, watermarks.get(tp) as Watermark]] : [])));
    },
    async writeWatermark(topicPartition: string, watermark: Watermark) {
      this.counts.writes++;
      watermarks.set(topicPartition, watermark);
    },
  };
}

let letters: DeadLetter[] = [];
function deps(over: Partial<AggregateDeps["batch"]> = {}): AggregateDeps {
  const production = productionDeps(settings);
  return {
    ...instruments("aggregate"),
    batch: {
      ...production.batch,
      // As production: v2 (the deployment's version) from the bundle, the others from the fake Glue.
      decoder: new GlueAvroDecoder<Sale>(
        currentVersionFirst({ id: v2Id, schema: currentSalesSchema }, async () => new GlueSchemaRegistry(glue.client)),
        currentSalesSchema,
      ),
      store: memoryStore(),
      deadLetter: async (sent) => {
        letters.push(...sent);
        return sent.length;
      },
      ...over,
    },
  };
}

const sample = () => eventFile<MSKEvent>("msk-sales-batch.json");
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  letters = [];
  glue.state.down = false;
  glue.mock.resetHistory();
  logs = captureLogs();
  return () => logs.stop();
});

const letter = (offset: number): DeadLetter => ({
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
  it("aggregates the sample batch with the configured settings, dead-letters its poison record, and returns the summary", async () => {
    const handler = createHandler(deps());
    const result = await handler(sample(), lambdaContext());
    expect(result).toMatchObject({ records: 9, applied: 8, poison: 1 });
    expect(letters).toEqual([expect.objectContaining({ topic: "sales", source: "aggregate", reason: expect.any(Object) })]);
    expect(productionDeps(settings).batch).toMatchObject({
      settings: { maxCountriesPerWindow: 500, allowedLatenessMs: 600_000 },
      maxConflictRetries: 10,
    });
  });

  it("logs counts and the batch's correlation ids, never a record, and emits the counts as metrics", async () => {
    const store = memoryStore();
    await createHandler(deps({ store }))(sample(), lambdaContext());
    const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const info = lines.find((line) => line.message === "batch aggregated");
    expect(info).toMatchObject({ records: 9, applied: 8, poison: 1, correlationIds: expect.arrayContaining([expect.any(String)]) });
    const metrics = lines.find((line) => line._aws !== undefined) as Record<string, unknown> | undefined;
    expect(metrics).toMatchObject({ RecordsIn: 9, RecordsApplied: 8, PoisonRecords: 1, DynamoDBWrites: store.counts.writes });
    expect(store.counts.writes).toBeGreaterThan(0);
    const values = Object.values(sample().records).flatMap((records) => records.map((r) => r.value));
    for (const value of values) expect(logs.lines.join("\n")).not.toContain(value);
  });

  it("fails the invocation when dead letters are refused, so the batch is retried and no record is lost", async () => {
    const handler = createHandler(deps({ deadLetter: async () => Promise.reject(new Error("SQS refused 1 dead letters")) }));
    await expect(handler(sample(), lambdaContext())).rejects.toThrow(/SQS refused 1 dead letters/);
    expect(logs.lines.some((line) => line.includes("batch aggregated"))).toBe(false);
  });

  it("fails the invocation when the registry is down or DynamoDB throttles past its retries", async () => {
    glue.state.down = true;
    await expect(createHandler(deps())(sample(), lambdaContext())).rejects.toMatchObject({ code: "SCHEMA_REGISTRY_UNAVAILABLE" });
    glue.state.down = false;
    const throttled = Object.assign(new Error("Throughput exceeds the current capacity"), {
      name: "ProvisionedThroughputExceededException",
    });
    await expect(createHandler(deps({ store: memoryStore({ failWrites: throttled }) }))(sample(), lambdaContext())).rejects.toBe(throttled);
  }, 20_000);

  it("aggregates a batch of the deployment's schema version while the registry is down", async () => {
    glue.state.down = true;
    const event = sample();
    const current = uuidToKey(v2Id);
    const records = Object.fromEntries(
      Object.entries(event.records).map(([tp, list]) => [tp, list.filter((r) => schemaKeyOf(Buffer.from(r.value, "base64")) === current)]),
    );
    const count = Object.values(records).flat().length;
    expect(count).toBeGreaterThan(1);
    await expect(createHandler(deps())({ ...event, records }, lambdaContext())).resolves.toMatchObject({ records: count, applied: count });
    expect(glue.mock.calls()).toHaveLength(0);
  });
});

// The production dead-letter path: the SDK clients are real, their send is answered in-process
// (productionDeps makes its own clients, so every instance is mocked).
describe("aggregate handler's dead letters (production deps)", () => {
  const sqs = mockClient(SQSClient);
  const s3 = mockClient(S3Client);
  afterAll(() => {
    sqs.restore();
    s3.restore();
  });
  beforeEach(() => {
    sqs.reset();
    s3.reset();
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id })),
      Failed: [],
    }));
    s3.on(PutObjectCommand).resolves({});
  });
  const sent = () => sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);

  it("sends dead letters to the configured queue, ten per request", async () => {
    await productionDeps(settings).batch.deadLetter(Array.from({ length: 12 }, (_, i) => letter(i)));
    expect(sent()).toHaveLength(2);
    expect(sent()[0]).toMatchObject({ QueueUrl: "http://127.0.0.1:1/123456789012/dead-letters" });
  });

  it("stores a value too large for SQS in the configured bucket under the dead-letter prefix", async () => {
    await productionDeps(settings).batch.deadLetter([{ ...letter(3), value: Buffer.alloc(300_000).toString("base64") }]);
    expect(s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input)).toMatchObject([
      { Bucket: "unit-lake", Key: "dead-letters/aggregate/sales/0/3/value" },
    ]);
    expect(sent()).toMatchObject([{ Entries: [{ MessageBody: expect.stringContaining('"valueRef"') }] }]);
  });

  it("rejects when SQS refuses dead letters", async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: [],
      Failed: (input.Entries ?? []).map((e) => ({ Id: e.Id, Code: "KMS.ThrottlingException", SenderFault: false })),
    }));
    await expect(productionDeps(settings).batch.deadLetter([letter(7)])).rejects.toThrow(/SQS refused 1 dead letters/);
  });
});
