import type { DynamoDBStreamEvent } from "aws-lambda";
import { beforeEach, describe, expect, it } from "vitest";
import type { RollupStore, WindowRef } from "#functions/rollup/rollup";
import { createHandler, productionDeps } from "#functions/rollup/wiring";
import { RecordError, RecordErrorCode } from "#shared/errors/record-error";
import { captureLogs, eventFile, instruments, lambdaContext } from "#test/support/lambda";

// The store is a fake here (it has a test of its own): what is tested is the wiring from the
// stream event to the core and from its result to Lambda's partial-batch answer.
let reads: WindowRef[] = [];
let readGroups: number[] = [];
let failing: string | undefined;
let failure: () => unknown = () => new RecordError(RecordErrorCode.outOfRange, "a slice no window can hold");
const store = {
  slices: async (refs) => {
    readGroups.push(refs.length);
    reads.push(...refs);
    if (refs.some((ref) => ref.window === failing)) throw failure();
    return refs.map((ref) => ({
      slices: [{ end: ref.start + 60_000, version: 1n, values: new Map(), expiresAt: undefined }],
      partitions: 12,
    }));
  },
  put: async () => "written",
} satisfies RollupStore;

const handler = createHandler({ ...instruments("rollup"), store, partitions: 12, concurrency: 8 });
let logs: ReturnType<typeof captureLogs>;

beforeEach(() => {
  reads = [];
  readGroups = [];
  failing = undefined;
  failure = () => new RecordError(RecordErrorCode.outOfRange, "a slice no window can hold");
  logs = captureLogs();
  return () => logs.stop();
});

describe("the rollup handler", () => {
  it("builds its production deps from the function's settings without touching DynamoDB", () => {
    const deps = productionDeps({ table: "unit-aggregates", partitions: 12, concurrency: 4 });
    expect(deps).toMatchObject({ partitions: 12, concurrency: 4, store: { counts: { reads: 0, writes: 0 } } });
  });

  it("rolls up each window instance of the sample event once, reading as many windows at once as the partition count allows", async () => {
    const answer = await handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext());
    expect(answer).toEqual({ batchItemFailures: [] });
    // 12 partitions: 8 windows' slices fill a BatchGetItem, so the sample's 3 windows are one read.
    expect(readGroups).toEqual([3]);
    expect(reads.map((r) => `${r.window} ${new Date(r.start).toISOString()} ${r.topic}`).sort()).toEqual([
      "1d 2022-08-01T00:00:00.000Z sales",
      "1h 2022-08-01T10:00:00.000Z sales",
      "1m 2022-08-01T10:15:00.000Z sales",
    ]);
    const line = JSON.parse(logs.lines.find((l) => l.includes("slice changes rolled up")) ?? "{}");
    expect(line).toMatchObject({ records: 5, skipped: 1, windows: 3, written: 3, failedWindows: 0 });
  });

  it("answers the first record of a read that failed on a data error as the batch item failure, and logs the windows without keys", async () => {
    failing = "1h";
    const answer = await handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext());
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "100000000000000000001" }] });
    const errors = logs.lines.filter((l) => l.includes("window rollup failed")).map((l) => JSON.parse(l));
    expect(errors).toHaveLength(3);
    expect(errors).toContainEqual(
      expect.objectContaining({ level: "ERROR", window: "1h", start: "2022-08-01T10:00:00.000Z", disposition: "dead-letter" }),
    );
    expect(logs.lines.join("\n")).not.toContain("sales-0");
  });

  it("fails the invocation (no partial answer) when a read fails for a reason no data explains: a bug or DynamoDB past its retries", async () => {
    failing = "1h";
    const bug = new TypeError("Cannot read properties of undefined (reading 'N')");
    failure = () => bug;
    await expect(handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext())).rejects.toBe(bug);
    const errors = logs.lines.filter((l) => l.includes("window rollup failed")).map((l) => JSON.parse(l));
    expect(errors).toContainEqual(expect.objectContaining({ level: "ERROR", window: "1h", disposition: "rethrow" }));
    const throttled = Object.assign(new Error("Throughput exceeds the current capacity"), {
      name: "ProvisionedThroughputExceededException",
    });
    failure = () => throttled;
    await expect(handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext())).rejects.toBe(throttled);
  });
});
