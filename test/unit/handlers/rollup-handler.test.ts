import type { DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { RollupStore, WindowRef } from "#functions/rollup/rollup";
import { captureLogs, eventFile, lambdaContext } from "#test/support/lambda";

// The store is a fake here (it has a test of its own): what is tested is the wiring from the
// stream event to the core and from its result to Lambda's partial-batch answer.
const state = vi.hoisted(() => ({ store: undefined as unknown, tables: [] as string[], partitions: [] as number[] }));
vi.mock("#functions/rollup/store", () => ({
  dynamoRollupStore: (_client: unknown, table: string, partitions: number) => {
    state.tables.push(table);
    state.partitions.push(partitions);
    return state.store;
  },
}));

let reads: WindowRef[] = [];
let readGroups: number[] = [];
let failing: string | undefined;
state.store = {
  slices: async (refs) => {
    readGroups.push(refs.length);
    reads.push(...refs);
    if (refs.some((ref) => ref.window === failing)) throw new Error("throttled");
    return refs.map((ref) => ({
      slices: [{ end: ref.start + 60_000, version: 1n, values: new Map(), expiresAt: undefined }],
      partitions: 12,
    }));
  },
  put: async () => "written",
} satisfies RollupStore;

type Handler = (
  event: DynamoDBStreamEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
let handler: Handler;
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  vi.stubEnv("AGGREGATES_TABLE", "unit-aggregates");
  vi.stubEnv("SALES_TOPIC_PARTITIONS", "12");
  ({ handler } = (await import("#functions/rollup/handler")) as unknown as { handler: Handler });
});
afterAll(() => vi.unstubAllEnvs());
beforeEach(() => {
  reads = [];
  readGroups = [];
  failing = undefined;
  logs = captureLogs();
  return () => logs.stop();
});

describe("the rollup handler", () => {
  it("rolls up each window instance of the sample event once, on the configured table and partition count", async () => {
    const answer = await handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext());
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(state.tables).toEqual(["unit-aggregates"]);
    expect(state.partitions).toEqual([12]);
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

  it("answers the first record of a failed read's windows as the batch item failure, and logs the windows without keys", async () => {
    failing = "1h";
    const answer = await handler(eventFile<DynamoDBStreamEvent>("ddb-stream-slice-changes.json"), lambdaContext());
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "100000000000000000001" }] });
    const errors = logs.lines.filter((l) => l.includes("window rollup failed")).map((l) => JSON.parse(l));
    expect(errors).toHaveLength(3);
    expect(errors).toContainEqual(expect.objectContaining({ level: "ERROR", window: "1h", start: "2022-08-01T10:00:00.000Z" }));
    expect(logs.lines.join("\n")).not.toContain("sales-0");
  });
});
