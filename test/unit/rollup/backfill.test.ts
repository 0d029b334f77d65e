import { DynamoDBClient, ScanCommand, type ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { backfillRollups } from "#functions/rollup/backfill";
import type { RollupStore, WindowRef } from "#functions/rollup/rollup";
import { sliceKey } from "#shared/aggregates/model";
import { scriptedClient } from "#test/support/fakes/aws";

const T0 = Date.parse("2022-08-01T10:00:00Z");

describe("backfillRollups", () => {
  it("scans slice keys page by page and rolls up each page's windows once", async () => {
    const pages = [
      {
        Items: [sliceKey("1m", T0, "sales-0"), sliceKey("1m", T0, "sales-1"), sliceKey("1h", T0, "sales-0")],
        LastEvaluatedKey: { pk: { S: "x" } },
      },
      { Items: [sliceKey("1m", T0 + 60_000, "sales-2")] },
    ];
    const { client, mock } = scriptedClient(new DynamoDBClient({}));
    mock
      .on(ScanCommand)
      .resolvesOnce(pages[0] as ScanCommandOutput)
      .resolvesOnce(pages[1] as ScanCommandOutput);
    const reads: WindowRef[][] = [];
    const store: RollupStore = {
      slices: async (refs) => {
        reads.push([...refs]);
        return refs.map((ref) => ({
          slices: [{ end: ref.start + 60_000, version: 1n, values: new Map(), expiresAt: undefined }],
          partitions: 3,
        }));
      },
      put: async (rollup) => (rollup.window === "1h" ? "stale" : "written"),
    };
    const progress: number[] = [];
    const summary = await backfillRollups(client, "t", store, { partitions: 3, pageSize: 3, onPage: (s) => progress.push(s.slices) });
    expect(summary).toEqual({ slices: 4, written: 2, stale: 1, failedWindows: 0 });
    expect(progress).toEqual([3, 4]);
    const scans = mock.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(scans).toHaveLength(2);
    expect(scans[0]).toMatchObject({ TableName: "t", FilterExpression: "sk = :slice", ProjectionExpression: "pk, sk", Limit: 3 });
    expect(scans[1]).toMatchObject({ ExclusiveStartKey: { pk: { S: "x" } } });
    // Page one: two windows (1m and 1h) read together (33 windows fit one read at 3 partitions).
    expect(reads.map((group) => group.map((ref) => `${ref.window}/${ref.partitionsSeen}`))).toEqual([["1m/2", "1h/1"], ["1m/3"]]);
  });
});
