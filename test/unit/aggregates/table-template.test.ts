import { localStackContext, resolveValue } from "@sales-stream-analytics/local-aws";
import { describe, expect, it } from "vitest";
import { claimPut } from "#functions/ingest/ledger-table";
import { emptySlice } from "#shared/aggregates/slices";
import { COUNTRY_SERIES_INDEX, marshalSlice, seriesQuery, sliceKey, tableChangeOf } from "#shared/aggregates/table";

/**
 * The table modules are the one place in the code with the tables' layout; template.yaml declares
 * the same keys, index, TTL and stream filter for DynamoDB. These tests keep the two in step.
 */
const ctx = localStackContext();
const resources = ctx.template.Resources;

interface TableProperties {
  KeySchema: { AttributeName: string }[];
  GlobalSecondaryIndexes?: { IndexName: string; KeySchema: { AttributeName: string }[]; Projection: { NonKeyAttributes?: string[] } }[];
  TimeToLiveSpecification: { AttributeName: string };
}
const properties = (id: string) => resolveValue(ctx, resources[id]?.Properties ?? {}, id) as unknown as TableProperties;
const T0 = Date.UTC(2022, 7, 1, 10);

describe("the aggregates table's layout and template.yaml", () => {
  const table = properties("AggregatesTable");
  const slice = marshalSlice({ ...emptySlice("1m", T0, T0 + 60_000, "sales-0"), version: 1, expiresAt: 99 });

  it("writes a slice with the table's keys, its index's keys and its TTL attribute", () => {
    for (const { AttributeName } of table.KeySchema) expect(slice[AttributeName]?.S, AttributeName).toBeTypeOf("string");
    const index = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === COUNTRY_SERIES_INDEX);
    for (const { AttributeName } of index?.KeySchema ?? []) expect(slice[AttributeName]?.S, AttributeName).toBeTypeOf("string");
    expect(slice[table.TimeToLiveSpecification.AttributeName]).toEqual({ N: "99" });
  });

  it("asks the country-series index only for attributes it projects", () => {
    const index = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === COUNTRY_SERIES_INDEX);
    const query = seriesQuery("t", { window: "1m", fromStart: T0, toStart: T0 }, "country", "France", "sales-0");
    const asked = (query.ProjectionExpression ?? "")
      .split(",")
      .map((part) => part.trim().split(".")[0] ?? "")
      .map((name) => query.ExpressionAttributeNames?.[name] ?? name);
    expect(asked).toHaveLength(2);
    expect(index?.Projection.NonKeyAttributes).toEqual(expect.arrayContaining(asked));
  });

  it("filters the rollup's stream to what the table module reads as slice changes", () => {
    const events = JSON.stringify(resources.RollupFunction?.Properties?.Events ?? {});
    const pattern = /"Pattern":"((?:[^"\\]|\\.)*)"/.exec(events)?.[1] ?? "";
    const filter = JSON.parse(JSON.parse(`"${pattern}"`)) as { dynamodb: { Keys: Record<string, { S: string[] }> } };
    const keys = sliceKey("1m", T0, "sales-0");
    expect(Object.keys(filter.dynamodb.Keys)).not.toHaveLength(0);
    for (const [name, { S }] of Object.entries(filter.dynamodb.Keys)) expect(S, name).toContain(keys[name]?.S);
    expect(tableChangeOf({ eventName: "MODIFY", sequenceNumber: "1", keys }).kind).toBe("written");
  });
});

describe("the request ledger's layout and template.yaml", () => {
  it("claims a key with the table's key and TTL attributes", () => {
    const table = properties("IdempotencyTable");
    const entry = { requestId: "r", bodyHash: "h", state: "IN_PROGRESS", firstStartedAt: 0, leaseUntil: 1, attempt: "a" } as const;
    const item = claimPut("t", "key", entry, 1_000_000, 60).Item ?? {};
    for (const { AttributeName } of table.KeySchema) expect(item[AttributeName]?.S, AttributeName).toBeTypeOf("string");
    expect(item[table.TimeToLiveSpecification.AttributeName]).toEqual({ N: "1060" });
  });
});
