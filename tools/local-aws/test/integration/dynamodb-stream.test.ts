import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createPrivateAggregatesTable, kafkaEvent, localFunction, salesEncoders } from "../../../../test/support/aggregates.ts";
import { createPrivateQueue } from "../../../../test/support/queues.ts";
import { startStreamMapping, templateStreamMapping } from "../../../../test/support/streams.ts";
import { sampleSales } from "../../../sales/generator.ts";
import {
  DynamoDbStreamEventSourceMapping,
  type DynamoDbStreamMapping,
  type Invokable,
  type StreamEventRecord,
} from "../../runtime/dynamodb-stream.ts";
import { type InvokeResult, LocalFunction } from "../../runtime/lambda.ts";
import { LocalRuntime } from "../../runtime/runtime.ts";
import { localClients } from "../../stack/clients.ts";
import { localStackContext } from "../../stack/context.ts";
import { localArn, localAws } from "../../stack/settings.ts";
import { physicalName } from "../../template/intrinsics.ts";

const ctx = localStackContext();
const clients = localClients();
const streamClients = { dynamodb: clients.dynamodb, streams: clients.dynamodbStreams, sqs: clients.sqs };
/** RollupFunction's event as template.yaml declares it: filter, batch size, window, error handling. */
const templateMapping = templateStreamMapping("RollupFunction");

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => {
  clients.dynamodb.destroy();
  clients.dynamodbStreams.destroy();
  clients.sqs.destroy();
});

interface Call {
  readonly keys: string[];
  readonly records: StreamEventRecord[];
  readonly result: InvokeResult;
}

/** test/fixtures/stream-handler.ts in a container of its own, every invocation and its answer recorded. */
function recordedFixture() {
  const fn = new LocalFunction(
    {
      logicalId: "StreamFixture",
      codeUri: ".",
      handlerFile: "stream-handler",
      handlerExport: "handler",
      timeoutSeconds: 10,
      memoryMb: 128,
      environment: {},
      events: {},
      buildProperties: { EntryPoints: ["test/fixtures/stream-handler.ts"] },
    },
    () => undefined,
    { maxConcurrency: 1 },
  );
  const calls: Call[] = [];
  cleanups.push(() => fn.stop());
  return {
    calls,
    async invoke(event: unknown) {
      const records = (event as { Records: StreamEventRecord[] }).Records;
      const result = await fn.invoke(event);
      calls.push({
        keys: records.map((record) => (record.dynamodb.Keys.pk && "S" in record.dynamodb.Keys.pk ? record.dynamodb.Keys.pk.S : "")),
        records,
        result,
      });
      return result;
    },
  };
}

async function privateTable() {
  const table = await createPrivateAggregatesTable(clients.dynamodb);
  cleanups.push(table.drop);
  const put = (pk: string, sk = "slice") =>
    clients.dynamodb.send(new PutItemCommand({ TableName: table.name, Item: { pk: { S: pk }, sk: { S: sk } } }));
  return { name: table.name, put };
}

async function startMapping(overrides: Partial<DynamoDbStreamMapping> & { tableName: string }, fn: Invokable) {
  const esm = await startStreamMapping("RollupFunction", overrides.tableName, fn, clients, { overrides });
  cleanups.push(() => esm.stop());
  return esm;
}

const succeeded = (calls: readonly Call[]) =>
  calls.filter(
    (call) => call.result.ok && ((call.result.result as { batchItemFailures?: unknown[] }).batchItemFailures ?? []).length === 0,
  );

describe("the DynamoDB stream event source mapping", () => {
  it("delivers only slice changes, as Lambda's aws:dynamodb event, in stream order", async () => {
    const table = await privateTable();
    const before = Math.floor(Date.now() / 1000);
    await table.put("1m#2022-08-01T10:15:00.000Z#sales-0");
    await table.put("watermark#sales-0", "watermark");
    await table.put("1m#2022-08-01T10:16:00.000Z#sales-0");
    await clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: { pk: { S: "1m#2022-08-01T10:15:00.000Z#sales-0" }, sk: { S: "slice" } },
        UpdateExpression: "SET v = :v",
        ExpressionAttributeValues: { ":v": { N: "2" } },
      }),
    );
    await clients.dynamodb.send(
      new DeleteItemCommand({ TableName: table.name, Key: { pk: { S: "1m#2022-08-01T10:16:00.000Z#sales-0" }, sk: { S: "slice" } } }),
    );
    await table.put("series#1m", "2022-08-01T10:15:00.000Z");
    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name }, fn);
    await esm.drain();
    const after = Math.ceil(Date.now() / 1000);

    const records = fn.calls.flatMap((call) => call.records);
    expect(records.map((r) => [r.eventName, r.dynamodb.Keys.pk])).toEqual([
      ["INSERT", { S: "1m#2022-08-01T10:15:00.000Z#sales-0" }],
      ["INSERT", { S: "1m#2022-08-01T10:16:00.000Z#sales-0" }],
      ["MODIFY", { S: "1m#2022-08-01T10:15:00.000Z#sales-0" }],
      ["REMOVE", { S: "1m#2022-08-01T10:16:00.000Z#sales-0" }],
    ]);
    expect(esm.stats).toMatchObject({ records: 4, filteredOut: 2, failedInvocations: 0, sentToDestination: 0 });
    expect(esm.streamArn).toMatch(new RegExp(`^${localArn("dynamodb", `table/${table.name}`)}/stream/.+`));
    for (const record of records) {
      expect(Object.keys(record)).toEqual([
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
      ]);
      expect(record).toMatchObject({
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: localAws.region,
        eventSourceARN: esm.streamArn,
      });
      // KEYS_ONLY: no images.
      expect(Object.keys(record.dynamodb)).toEqual([
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
      ]);
      expect(record.dynamodb.Keys.sk).toEqual({ S: "slice" });
      expect(record.dynamodb.StreamViewType).toBe("KEYS_ONLY");
      expect(record.dynamodb.SizeBytes).toBeGreaterThan(0);
      // Epoch seconds (DynamoDB Local rounds them down to the minute).
      expect(Number.isInteger(record.dynamodb.ApproximateCreationDateTime)).toBe(true);
      expect(record.dynamodb.ApproximateCreationDateTime).toBeGreaterThanOrEqual(before - 60);
      expect(record.dynamodb.ApproximateCreationDateTime).toBeLessThanOrEqual(after);
    }
    const sequence = records.map((r) => BigInt(r.dynamodb.SequenceNumber));
    expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(sequence).size).toBe(4);
  });

  it("delivers every slice the aggregator writes and none of its watermarks", async () => {
    const table = await privateTable();
    const aggregator = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name });
    cleanups.push(() => aggregator.stop());
    const encode = await salesEncoders();
    const sales = sampleSales(120, { seed: 11, startMs: Date.now() - 3_600_000, meanGapMs: 20_000 });
    const records = sales.map((sale, i) => ({ partition: i % 3, offset: Math.floor(i / 3), value: encode(sale, i), key: sale.country }));
    const outcome = await aggregator.invoke(kafkaEvent(`t-${randomUUID().slice(0, 6)}`, records));
    expect(outcome.ok).toBe(true);
    const items = (await clients.dynamodb.send(new ScanCommand({ TableName: table.name, ConsistentRead: true }))).Items ?? [];
    const slices = items.filter((item) => item.sk?.S === "slice").map((item) => item.pk?.S);
    const others = items.filter((item) => item.sk?.S !== "slice");
    expect(slices.length).toBeGreaterThan(10);
    expect(others.length).toBeGreaterThan(0); // the partitions' watermarks

    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name }, fn);
    await esm.drain();
    const delivered = fn.calls.flatMap((call) => call.records);
    expect(
      delivered.every(
        (record) =>
          record.eventName === "INSERT" &&
          record.dynamodb.Keys.sk &&
          "S" in record.dynamodb.Keys.sk &&
          record.dynamodb.Keys.sk.S === "slice",
      ),
    ).toBe(true);
    expect(fn.calls.flatMap((call) => call.keys).sort()).toEqual([...slices].sort());
    expect(esm.stats.filteredOut).toBe(others.length);
  });

  it("resumes from the lowest sequence number the function reports in batchItemFailures", async () => {
    const table = await privateTable();
    for (const key of ["ok-1", "partial-2", "ok-3", "partial-4"]) await table.put(key);
    const fn = recordedFixture();
    // Written before the mapping starts: its first read takes all four into one batch.
    const esm = await startMapping({ tableName: table.name }, fn);
    await esm.drain();

    expect(fn.calls.map((call) => call.keys)).toEqual([
      ["ok-1", "partial-2", "ok-3", "partial-4"],
      ["partial-2", "ok-3", "partial-4"],
    ]);
    const first = fn.calls[0]?.result;
    expect(first?.ok && (first.result as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(2);
    expect(esm.stats).toMatchObject({ records: 4, partialFailures: 1, failedInvocations: 0, sentToDestination: 0 });
  });

  it("bisects a failing batch, retries the failing record, then sends its position to the on-failure queue and moves on", async () => {
    const table = await privateTable();
    const queue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
    cleanups.push(queue.drop);
    for (const key of ["ok-1", "poison-2", "ok-3"]) await table.put(key);
    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name, onFailureQueue: queue.name, maxRetryAttempts: 2 }, fn);
    await esm.drain();

    // Halves until the poison record is alone (no retry spent), then 1 + 2 attempts of it alone.
    expect(fn.calls.map((call) => call.keys)).toEqual([
      ["ok-1", "poison-2", "ok-3"],
      ["ok-1", "poison-2"],
      ["ok-1"],
      ["poison-2"],
      ["poison-2"],
      ["poison-2"],
      ["ok-3"],
    ]);
    expect(succeeded(fn.calls).map((call) => call.keys)).toEqual([["ok-1"], ["ok-3"]]);
    expect(esm.stats).toMatchObject({ sentToDestination: 1, failedInvocations: 5 });

    const poison = fn.calls[0]?.records[1]?.dynamodb;
    const message = await receiveOne(queue.url);
    expect(message).toMatchObject({
      requestContext: {
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: fn.calls.filter((call) => call.keys.includes("poison-2")).length,
        functionArn: localArn("lambda", "function:RollupFunction"),
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      DDBStreamBatchInfo: {
        startSequenceNumber: poison?.SequenceNumber,
        endSequenceNumber: poison?.SequenceNumber,
        batchSize: 1,
        streamArn: esm.streamArn,
      },
    });
    const info = (message as { DDBStreamBatchInfo: Record<string, string> }).DDBStreamBatchInfo;
    expect(info.shardId).toMatch(/^shardId-/);
    expect(info.approximateArrivalOfFirstRecord).toBe(
      new Date((poison?.ApproximateCreationDateTime ?? 0) * 1000).toISOString().replace(".000Z", "Z"),
    );
    expect(info.approximateArrivalOfLastRecord).toBe(info.approximateArrivalOfFirstRecord);
  });

  it("without bisection retries the whole batch and sends the whole batch's range to the on-failure queue", async () => {
    const table = await privateTable();
    const queue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
    cleanups.push(queue.drop);
    for (const key of ["ok-1", "poison-2", "ok-3"]) await table.put(key);
    const fn = recordedFixture();
    const esm = await startMapping(
      { tableName: table.name, onFailureQueue: queue.name, maxRetryAttempts: 1, bisectBatchOnFunctionError: false },
      fn,
    );
    await esm.drain();

    expect(fn.calls.map((call) => call.keys)).toEqual([
      ["ok-1", "poison-2", "ok-3"],
      ["ok-1", "poison-2", "ok-3"],
    ]);
    const records = fn.calls[0]?.records ?? [];
    expect(await receiveOne(queue.url)).toMatchObject({
      requestContext: { approximateInvokeCount: 2 },
      DDBStreamBatchInfo: {
        startSequenceNumber: records[0]?.dynamodb.SequenceNumber,
        endSequenceNumber: records[2]?.dynamodb.SequenceNumber,
        batchSize: 3,
      },
    });
  });

  it("cuts batches of BatchSize in stream order and sends the rest when its window has passed", async () => {
    const table = await privateTable();
    for (const key of ["s-1", "s-2", "s-3", "s-4", "s-5"]) await table.put(key);
    await table.put("w-1", "watermark");
    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name, batchSize: 2 }, fn);
    await esm.drain();

    expect(fn.calls.map((call) => call.keys)).toEqual([["s-1", "s-2"], ["s-3", "s-4"], ["s-5"]]);
    expect(esm.stats).toMatchObject({ batches: 3, records: 5, filteredOut: 1 });
  });

  it("drain() waits until every record written before it was delivered", async () => {
    const table = await privateTable();
    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name }, fn);
    const keys = Array.from({ length: 60 }, (_, i) => `slice-${i}`);
    // Written while the mapping polls, in rounds, so they arrive over several reads.
    for (let i = 0; i < keys.length; i += 10) await Promise.all(keys.slice(i, i + 10).map((key) => table.put(key)));
    await esm.drain();

    expect(
      succeeded(fn.calls)
        .flatMap((call) => call.keys)
        .sort(),
    ).toEqual([...keys].sort());
    expect(esm.stats.records).toBe(60);
  });

  it("with a checkpoint file resumes where the last mapping on the stream stopped, as Lambda's mapping does across runs", async () => {
    const table = await privateTable();
    const checkpointFile = join(mkdtempSync(join(tmpdir(), "stream-checkpoint-")), "rollup.json");
    const start = async (fn: Invokable, withCheckpoint: boolean) => {
      const esm = new DynamoDbStreamEventSourceMapping({ ...templateMapping, tableName: table.name }, fn, streamClients, () => undefined, {
        ...(withCheckpoint && { checkpointFile }),
      });
      await esm.start();
      cleanups.push(() => esm.stop());
      return esm;
    };
    const first = recordedFixture();
    const esm = await start(first, true);
    await table.put("one");
    await table.put("watermark#sales-0", "watermark");
    await esm.drain();
    await esm.stop();
    await table.put("two");

    const second = recordedFixture();
    await (await start(second, true)).drain();
    const fresh = recordedFixture();
    await (await start(fresh, false)).drain();

    expect(first.calls.flatMap((call) => call.keys)).toEqual(["one"]);
    expect(second.calls.flatMap((call) => call.keys)).toEqual(["two"]);
    expect(fresh.calls.flatMap((call) => call.keys)).toEqual(["one", "two"]);
  });

  it("with StartingPosition LATEST delivers only what is written after it starts", async () => {
    const table = await privateTable();
    await table.put("before");
    const fn = recordedFixture();
    const esm = await startMapping({ tableName: table.name, startingPosition: "LATEST" }, fn);
    await table.put("after");
    await esm.drain();

    expect(fn.calls.flatMap((call) => call.keys)).toEqual(["after"]);
  });

  it("stop() abandons a batch still being retried and rejects a pending drain()", async () => {
    const table = await privateTable();
    await table.put("poison-1");
    const fn = recordedFixture();
    // Ten retries without bisection wait 30 s and more between them: the drain cannot settle first.
    const esm = await startMapping({ tableName: table.name, maxRetryAttempts: 10, bisectBatchOnFunctionError: false }, fn);
    const drained = esm.drain();
    await esm.stop();
    await expect(drained).rejects.toThrow("stopped before it drained");
    expect(esm.stats.sentToDestination).toBe(0);
  });

  it("refuses to start on a table without a stream, naming it", async () => {
    const fn = recordedFixture();
    const esm = new DynamoDbStreamEventSourceMapping(
      { ...templateMapping, tableName: physicalName(ctx, "IdempotencyTable") },
      fn,
      streamClients,
      () => undefined,
    );
    await expect(esm.start()).rejects.toThrow(`table ${physicalName(ctx, "IdempotencyTable")} has no stream enabled`);
  });

  it("runs in LocalRuntime (npm start) on the table streamTables names", async () => {
    const table = await privateTable();
    const runtime = await LocalRuntime.start({ apiPort: 0, log: () => undefined, streamTables: { RollupFunction: table.name } });
    cleanups.push(() => runtime.stop());
    expect(runtime.streamMappings.map((esm) => [esm.mapping.functionId, esm.mapping.tableName])).toEqual([["RollupFunction", table.name]]);
    expect(runtime.streamMappings[0]?.streamArn).toContain(`table/${table.name}/stream/`);
  });
});

async function receiveOne(queueUrl: string): Promise<unknown> {
  for (let i = 0; i < 10; i++) {
    const { Messages } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    if (Messages !== undefined && Messages.length > 0) {
      expect(Messages).toHaveLength(1);
      return JSON.parse(Messages[0]?.Body ?? "null");
    }
  }
  throw new Error(`no message in ${queueUrl}`);
}
