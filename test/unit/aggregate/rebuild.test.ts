import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import {
  BatchGetItemCommand,
  DynamoDBClient,
  QueryCommand,
  TransactGetItemsCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import type { AggregationSettings } from "#functions/aggregate/aggregate";
import { createRebuildStore } from "#functions/aggregate/dynamodb-store";
import { athenaEngine, describeRebuild, firstLakeDate } from "#functions/aggregate/rebuild";
import { RebuildError, type RebuildStore, runRebuild } from "#functions/aggregate/rebuild-core";
import { grainOf, groupRecord, groupsSql } from "#functions/aggregate/rebuild-sql";
import type { Metrics } from "#shared/aggregates/metrics";
import { emptySlice, type SliceItem } from "#shared/aggregates/slices";
import { marshalSlice, watermarkKey } from "#shared/aggregates/table";
import { parseWindows } from "#shared/windows/windows";

const H = 3_600_000;
const T0 = Date.parse("2022-08-01T00:00:00Z");
const [hour, hopping, day, allTime] = parseWindows("1h,10m/5m,1d,all") as [
  ReturnType<typeof parseWindows>[number],
  ReturnType<typeof parseWindows>[number],
  ReturnType<typeof parseWindows>[number],
  ReturnType<typeof parseWindows>[number],
];
const settings: AggregationSettings = {
  windows: [hour],
  allowedLatenessMs: 600_000,
  ttlSeconds: new Map(),
  maxCountriesPerWindow: 500,
  now: () => T0 + 100 * H,
};
const tables = { raw: "sales", once: "sales_once" };
const m = (orders: number, cents: number, late = 0): Metrics => ({
  orders: BigInt(orders),
  sales: BigInt(cents),
  min: orders === 0 ? undefined : BigInt(cents),
  max: orders === 0 ? undefined : BigInt(cents),
  late: BigInt(late),
});

describe("the rebuild's SQL", () => {
  it("groups by the longest step that divides every window boundary", () => {
    expect([hour, hopping, day].map(grainOf)).toEqual([H, 300_000, 24 * H]);
  });

  it("reads the view up to each partition's cut, the watermark block-wise from the range's start to the latest sale, by grain", () => {
    const sql = groupsSql(
      {
        spec: hour,
        from: T0,
        to: T0 + 2 * H,
        latenessMs: 600_000,
        cuts: new Map([[0, 41]]),
        latestEventTime: T0 + 50 * H,
        blockSize: 1000,
      },
      tables,
    );
    expect(sql).toContain("(VALUES (0, BIGINT '41'))");
    expect(sql).toContain("s.dt BETWEEN '2022-08-01' AND '2022-08-03'");
    expect(sql).toContain("PARTITION BY kafka_partition, kafka_offset / 1000");
    expect(sql).toContain("(wm - 600000) - ((((wm - 600000) % 3600000) + 3600000) % 3600000)");
    const restate = groupsSql(
      { spec: hour, from: T0, to: T0 + H, latenessMs: undefined, cuts: new Map([[0, 1]]), latestEventTime: T0, blockSize: 1 },
      tables,
    );
    expect(restate).toContain("CAST(NULL AS bigint) AS cutoff");
    expect(restate).not.toContain("OVER");
    expect(() =>
      groupsSql({ spec: hour, from: T0, to: T0 + H, latenessMs: 1, cuts: new Map(), latestEventTime: T0, blockSize: 1 }, tables),
    ).toThrow(/at least one partition/);
  });

  it("reads the all-time window from the lake's first date to the latest sale's, every sale whatever its lateness", () => {
    const read = { spec: allTime, to: Number.POSITIVE_INFINITY, latenessMs: 600_000, cuts: new Map([[0, 9]]), blockSize: 1 };
    const sql = groupsSql({ ...read, from: T0, latestEventTime: T0 + 50 * H }, tables);
    expect(sql).toContain("s.dt BETWEEN '2022-08-01' AND '2022-08-03'");
    expect(sql).toContain("CAST(NULL AS bigint) AS cutoff");
    expect(sql).not.toContain("payment_date >=");
    // Without the lake's first date (from 0), every date since 1970.
    expect(groupsSql({ ...read, from: 0, latestEventTime: T0 }, tables)).toContain("s.dt BETWEEN '1970-01-01' AND '2022-08-01'");
  });

  it("turns a row into a record that stands for its sales, with the watermark that decides its lateness", () => {
    const record = groupRecord([2, "France", T0, T0 + H, 3, "10.30", "0.10", "9.00", 77], "sales", 600_000);
    expect(record).toEqual({
      topicPartition: "sales-2",
      offset: 77,
      sale: { country: "France", payment_date: T0, amount: "10.30" },
      watermark: T0 + H + 600_000,
      group: { orders: 3, min: "0.10", max: "9.00" },
    });
    expect(groupRecord([2, "France", T0, null, 3, "10.30", "0.10", "9.00", 77], "sales", undefined).watermark).toBe(
      Number.NEGATIVE_INFINITY,
    );
    expect(() => groupRecord([2, null, T0, null, 3, "1.00", "1.00", "1.00", 1], "sales", undefined)).toThrow(/not a group of sales/);
  });
});

/** A store over slices in memory, as the DynamoDB one answers. */
function memoryStore(slices: SliceItem[], offsets: Record<string, number>, conflicts = 0): RebuildStore & { slices: SliceItem[] } {
  let refuse = conflicts;
  const store = {
    slices,
    async progress() {
      return new Map(Object.entries(offsets).map(([tp, offset]) => [tp, { offset, eventTime: T0 + 50 * H }]));
    },
    async starts(window: string) {
      return new Set(store.slices.filter((s) => s.window === window).map((s) => s.start));
    },
    async instance(window: string, start: number) {
      return store.slices.filter((s) => s.window === window && s.start === start);
    },
    async replace(next: readonly SliceItem[]) {
      if (refuse-- > 0) return "conflict" as const;
      for (const slice of next) {
        store.slices = store.slices.filter(
          (s) => !(s.window === slice.window && s.start === slice.start && s.topicPartition === slice.topicPartition),
        );
        store.slices.push({ ...slice, version: slice.version + 1 });
      }
      return "replaced" as const;
    },
  };
  return store;
}

const live = (start: number, tp: string, offset: number, values: Record<string, Metrics>): SliceItem => ({
  ...emptySlice("1h", start, start + H, tp),
  version: 3,
  offset,
  values: new Map(Object.entries(values)),
});

describe("runRebuild", () => {
  const counts = [[5, 5]];
  const lake = (groups: unknown[][]) => ({
    sql: [] as string[],
    async rows(sql: string) {
      this.sql.push(sql);
      return sql.startsWith("SELECT (SELECT count(*)") ? counts : groups;
    },
  });
  const ports = (engine: ReturnType<typeof lake>, store: RebuildStore) => ({
    lake: engine,
    tables,
    store,
    settings,
    topic: "sales",
    partitions: 2,
    pollMs: 10,
    lakeWaitMs: 50,
    wait: async () => undefined,
  });
  const request = { from: T0, to: T0 + 2 * H, restate: true, windows: [hour], reason: "restated" };

  it("replaces an instance whose figures changed, at the cut, revised; leaves equal ones alone; reports old and new figures", async () => {
    const store = memoryStore(
      [
        live(T0, "sales-0", 4, { "country#France": m(1, 100, 1), "region#Europe": m(1, 100, 1), "all#all": m(1, 100, 1) }),
        live(T0 + H, "sales-0", 9, { "country#France": m(1, 500), "region#Europe": m(1, 500), "all#all": m(1, 500) }),
      ],
      { "sales-0": 12 },
    );
    const engine = lake([
      [0, "France", T0, null, 2, "3.00", "1.00", "2.00", 4],
      [0, "France", T0 + H, null, 1, "5.00", "5.00", "5.00", 9],
    ]);
    const summary = await runRebuild(request, ports(engine, store));
    expect([summary.rebuilt, summary.unchanged, summary.deferred]).toEqual([1, 1, []]);
    expect([summary.salesRead, summary.duplicatesDropped, summary.groups]).toEqual([5, 0, 2]);
    const first = store.slices.find((s) => s.start === T0);
    expect(first).toMatchObject({ offset: 12, version: 4, revised: { reason: "restated" } });
    expect(first?.values.get("all#all")).toEqual({ orders: 2n, sales: 300n, min: 100n, max: 200n, late: 0n });
    expect(summary.changes.find((c) => c.value === "all#all")).toMatchObject({ before: m(1, 100, 1), after: { orders: 2n, sales: 300n } });
    expect(describeRebuild(summary, 2).join("\n")).toMatch(
      /rebuilt: 1, unchanged: 1[\s\S]*all#all: 1 orders 1.00 \(late 1\) -> 2 orders 3.00 \(late 0\)/,
    );
  });

  it("defers an instance the live path applied past the cut, or that holds more sales than the lake, and says so", async () => {
    const store = memoryStore([live(T0, "sales-0", 20, { "all#all": m(1, 100) }), live(T0 + H, "sales-1", 3, { "all#all": m(4, 400) })], {
      "sales-0": 12,
      "sales-1": 5,
    });
    const engine = lake([[1, "Japan", T0 + H, null, 2, "2.00", "1.00", "1.00", 3]]);
    const summary = await runRebuild(request, ports(engine, store));
    expect(summary.deferred.map((d) => [d.start, d.reason])).toEqual([
      [T0, "live"],
      [T0 + H, "lake"],
    ]);
    expect(summary.rounds).toBeGreaterThan(1);
    const lines = describeRebuild(summary, 0).join("\n");
    expect(lines).toContain("deferred: 1h 2022-08-01T00:00:00.000Z (live sales arrived in it after the rebuild began; run again)");
    expect(lines).toContain("deferred: 1h 2022-08-01T01:00:00.000Z (the lake holds fewer of its sales than the live path counted");
  });

  it("reads again and retries when a live write lands between its read and its transaction", async () => {
    const store = memoryStore([], { "sales-0": 1 }, 2);
    const summary = await runRebuild(request, ports(lake([[0, "India", T0, null, 1, "1.00", "1.00", "1.00", 1]]), store));
    expect(summary.rebuilt).toBe(1);
    expect(store.slices).toHaveLength(1);
  });

  it("reads the all-time window from the lake's first date, and not at all from an empty lake", async () => {
    const all = { ...request, windows: [allTime] };
    const engine = lake([[0, "India", 0, null, 2, "3.00", "1.00", "2.00", 4]]);
    const summary = await runRebuild(all, { ...ports(engine, memoryStore([], { "sales-0": 4 })), firstLakeDate: async () => T0 - 24 * H });
    expect(engine.sql.find((sql) => sql.includes("GROUP BY"))).toContain("s.dt BETWEEN '2022-07-31' AND '2022-08-03'");
    expect([summary.rebuilt, summary.groups]).toEqual([1, 1]);
    const empty = lake([[0, "India", 0, null, 2, "3.00", "1.00", "2.00", 4]]);
    const none = await runRebuild(all, { ...ports(empty, memoryStore([], { "sales-0": 4 })), firstLakeDate: async () => undefined });
    expect(empty.sql.filter((sql) => sql.includes("GROUP BY"))).toEqual([]);
    expect([none.rebuilt, none.unchanged, none.groups]).toEqual([0, 1, 0]);
  });

  it("refuses more partitions than one transaction holds", async () => {
    await expect(runRebuild(request, { ...ports(lake([]), memoryStore([], {})), partitions: 101 })).rejects.toBeInstanceOf(RebuildError);
  });
});

describe("the rebuild's AWS adapters", () => {
  it("runs a statement on Athena, waits for it, pages its rows without the header, and names a failure", async () => {
    const client = new AthenaClient({ region: "eu-west-1" });
    const athena = mockClient(client);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: "q1" });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: "RUNNING" } } })
      .resolves({ QueryExecution: { Status: { State: "SUCCEEDED" } } });
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({ ResultSet: { Rows: [{ Data: [{ VarCharValue: "n" }] }, { Data: [{ VarCharValue: "1" }, {}] }] }, NextToken: "t" })
      .resolves({ ResultSet: { Rows: [{ Data: [{ VarCharValue: "2" }, { VarCharValue: "x" }] }] } });
    const engine = athenaEngine(client, {
      database: "lake",
      workGroup: "primary",
      outputLocation: "s3://b/r/",
      wait: async () => undefined,
    });
    expect(await engine.rows("SELECT 1")).toEqual([
      ["1", null],
      ["2", "x"],
    ]);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toMatchObject({
      QueryExecutionContext: { Database: "lake" },
      WorkGroup: "primary",
      ResultConfiguration: { OutputLocation: "s3://b/r/" },
    });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: "FAILED", StateChangeReason: "timeout" } } });
    await expect(engine.rows("SELECT 1")).rejects.toThrow(/q1 FAILED: timeout/);
  });

  it("pages an Athena answer of more than 1,000 rows, 1,000 a call, the header skipped once", async () => {
    const client = new AthenaClient({ region: "eu-west-1" });
    const athena = mockClient(client);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: "q2" });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: "SUCCEEDED" } } });
    const row = (i: number) => ({ Data: [{ VarCharValue: String(i) }] });
    const pages: Omit<GetQueryResultsCommandOutput, "$metadata">[] = [
      // The header, then rows 0..998; then rows 999..1998; then 1999..2499 (a row that reads like the header too).
      { ResultSet: { Rows: [{ Data: [{ VarCharValue: "n" }] }, ...Array.from({ length: 999 }, (_, i) => row(i))] }, NextToken: "p2" },
      { ResultSet: { Rows: Array.from({ length: 1000 }, (_, i) => row(999 + i)) }, NextToken: "p3" },
      { ResultSet: { Rows: [...Array.from({ length: 500 }, (_, i) => row(1999 + i)), { Data: [{ VarCharValue: "n" }] }] } },
    ];
    let results = athena.on(GetQueryResultsCommand);
    for (const page of pages) results = results.resolvesOnce(page);
    const rows = await athenaEngine(client, { database: "lake", workGroup: "primary", wait: async () => undefined }).rows("SELECT n");
    expect(rows).toHaveLength(2500);
    expect(rows.slice(0, 2499).map((r) => Number(r[0]))).toEqual(Array.from({ length: 2499 }, (_, i) => i));
    expect(rows[2499]).toEqual(["n"]);
    const calls = athena.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input);
    expect(calls).toEqual([
      { QueryExecutionId: "q2", NextToken: undefined, MaxResults: 1000 },
      { QueryExecutionId: "q2", NextToken: "p2", MaxResults: 1000 },
      { QueryExecutionId: "q2", NextToken: "p3", MaxResults: 1000 },
    ]);
  });

  it("finds the lake's first date with one S3 listing of the table's dt= folders, past names that are no date", async () => {
    const glueClient = new GlueClient({ region: "eu-west-1" });
    const s3Client = new S3Client({ region: "eu-west-1" });
    const glue = mockClient(glueClient);
    const s3 = mockClient(s3Client);
    glue.on(GetTableCommand).resolves({
      Table: { Name: "sales", Parameters: { "storage.location.template": "s3://lake-bucket/sales/dt=${dt}/" } },
    });
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ CommonPrefixes: [{ Prefix: "sales/dt=2021-03-01/" }], IsTruncated: true, NextContinuationToken: "x" })
      .resolves({});
    const first = firstLakeDate({ glue: glueClient, s3: s3Client }, { database: "lake", table: "sales" });
    expect(await first()).toBe(Date.parse("2021-03-01T00:00:00Z"));
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
      { Bucket: "lake-bucket", Prefix: "sales/dt=", Delimiter: "/", ContinuationToken: undefined, MaxKeys: 1 },
    ]);
    expect(glue.commandCalls(GetTableCommand)[0]?.args[0].input).toEqual({ DatabaseName: "lake", Name: "sales" });

    s3.reset();
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ CommonPrefixes: [{ Prefix: "sales/dt=0-not-a-date/" }], IsTruncated: true, NextContinuationToken: "t2" })
      .resolvesOnce({ CommonPrefixes: [{ Prefix: "sales/dt=2020-12-31/" }] });
    expect(await first()).toBe(Date.parse("2020-12-31T00:00:00Z"));
    expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input.ContinuationToken).toBe("t2");

    s3.reset();
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
    expect(await first()).toBeUndefined();

    glue.on(GetTableCommand).resolves({ Table: { Name: "sales", Parameters: {} } });
    await expect(first()).rejects.toThrow(/lake\.sales has no storage\.location\.template/);
  });

  it("reads progress and snapshots, and replaces a window instance in one conditional transaction", async () => {
    const client = new DynamoDBClient({ region: "eu-west-1" });
    const db = mockClient(client);
    db.on(BatchGetItemCommand).resolves({
      Responses: { t: [{ ...watermarkKey("sales-0"), tp: { S: "sales-0" }, wm: { N: "5" }, off: { N: "9" } }] },
    });
    const slice = live(T0, "sales-0", 9, { "all#all": m(1, 100) });
    db.on(TransactGetItemsCommand).resolves({ Responses: [{ Item: marshalSlice(slice) }, {}] });
    db.on(QueryCommand)
      .resolvesOnce({ Items: [{ ws: { N: String(T0) } }], LastEvaluatedKey: { pk: { S: "x" } } })
      .resolves({ Items: [{ ws: { N: String(T0 + H) } }] });
    expect(await createRebuildStore(client, "t").starts("1h", ["sales-0"], T0, T0 + H)).toEqual(new Set([T0, T0 + H]));
    db.on(TransactWriteItemsCommand)
      .resolvesOnce({})
      .rejects(new TransactionCanceledException({ message: "no", $metadata: {} }));
    const store = createRebuildStore(client, "t");
    expect(await store.progress(["sales-0"])).toEqual(new Map([["sales-0", { offset: 9, eventTime: 5 }]]));
    expect((await store.instance("1h", T0, ["sales-0", "sales-1"])).map((s) => s.offset)).toEqual([9]);
    expect(await store.replace([slice])).toBe("replaced");
    const puts = db.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(puts[0]?.Put).toMatchObject({ ConditionExpression: "ver = :read", ExpressionAttributeValues: { ":read": { N: "3" } } });
    expect(await store.replace([slice])).toBe("conflict");
    const huge = { ...slice, values: new Map(Array.from({ length: 16_000 }, (_, i) => [`country#${"x".repeat(300)}${i}`, m(1, 1)])) };
    await expect(store.replace([huge])).rejects.toThrow(/one transaction holds 4 MB/);
  });
});
