import { describe, expect, it } from "vitest";
import { consumedUnits, s3Operation, signedService } from "../../runtime/metering-proxy.ts";
import { HTTP_API_METERING_BYTES, UsageMeter } from "../../runtime/usage.ts";

describe("UsageMeter", () => {
  it("bills each invocation rounded up to the ms, and INIT once per cold start", () => {
    const meter = new UsageMeter();
    meter.recordInvocation({ functionId: "F", memoryMb: 512, ok: true, eventBytes: 7, durationMs: 10.2, initMs: 120.01 });
    meter.recordInvocation({ functionId: "F", memoryMb: 512, ok: false, eventBytes: 5, durationMs: 3 });
    expect(meter.snapshot().functions.F).toEqual({
      memoryMb: 512,
      invocations: 2,
      failed: 1,
      coldStarts: 1,
      billedMs: 14,
      initBilledMs: 121,
      eventBytes: 12,
      logBytes: 0,
    });
  });

  it("refuses a duration that is not a finite non-negative number", () => {
    const meter = new UsageMeter();
    expect(() => meter.recordInvocation({ functionId: "F", memoryMb: 128, ok: true, eventBytes: 0, durationMs: Number.NaN })).toThrow(
      /durationMs/,
    );
    expect(() => meter.recordInvocation({ functionId: "F", memoryMb: 128, ok: true, eventBytes: 0, durationMs: 1, initMs: -1 })).toThrow(
      /initMs/,
    );
  });

  it("meters HTTP API requests in 512 KB increments", () => {
    const meter = new UsageMeter();
    meter.recordApiRequest("POST /sales", 10);
    meter.recordApiRequest("POST /sales", HTTP_API_METERING_BYTES + 1);
    expect(meter.snapshot().routes["POST /sales"]).toEqual({
      requests: 2,
      meteredRequests: 3,
      maxRequestBytes: HTTP_API_METERING_BYTES + 1,
    });
  });

  it("adds DynamoDB units by table and counts refused requests against the table they named", () => {
    const meter = new UsageMeter();
    meter.recordDynamoDb({ operation: "TransactWriteItems", status: 200, tables: [{ table: "a", readUnits: 0, writeUnits: 4 }] });
    meter.recordDynamoDb({ operation: "GetItem", status: 200, tables: [{ table: "a", readUnits: 0.5, writeUnits: 0 }] });
    meter.recordDynamoDb({ operation: "PutItem", status: 400, table: "a", tables: [] });
    expect(meter.snapshot().tables.a).toEqual({ requests: 2, readUnits: 0.5, writeUnits: 4, refused: 1 });
    expect(meter.snapshot().services.dynamodb).toEqual({ TransactWriteItems: 1, GetItem: 1, PutItem: 1 });
  });

  it("counts S3 requests by bucket and log bytes by function (UTF-8, with the newline)", () => {
    const meter = new UsageMeter();
    meter.recordServiceCall({ service: "s3", operation: "PutObject", bucket: "lake", status: 200, requestBytes: 5 });
    meter.recordServiceCall({ service: "sqs", operation: "SendMessage", status: 200, requestBytes: 5 });
    meter.recordLogLine("F", "é");
    const snapshot = meter.snapshot();
    expect(snapshot.buckets).toEqual({ lake: { PutObject: 1 } });
    expect(snapshot.services.sqs).toEqual({ SendMessage: 1 });
    expect(snapshot.functions.F?.logBytes).toBe(3);
  });

  it("hands out copies: a snapshot does not change as the meter counts on", () => {
    const meter = new UsageMeter();
    meter.recordApiRequest("GET /x", 0);
    const before = meter.snapshot();
    meter.recordApiRequest("GET /x", 0);
    expect(before.routes["GET /x"]?.requests).toBe(1);
  });
});

describe("what the proxies read", () => {
  it("takes units from a single ConsumedCapacity or a batch's list, read or write by operation", () => {
    expect(consumedUnits("PutItem", {}, { TableName: "t", CapacityUnits: 2 })).toEqual([{ table: "t", readUnits: 0, writeUnits: 2 }]);
    expect(
      consumedUnits("BatchGetItem", {}, [
        { TableName: "a", CapacityUnits: 1.5 },
        { TableName: "b", CapacityUnits: 0.5 },
      ]),
    ).toEqual([
      { table: "a", readUnits: 1.5, writeUnits: 0 },
      { table: "b", readUnits: 0.5, writeUnits: 0 },
    ]);
    expect(consumedUnits("ExecuteStatement", { Statement: "select * from t" }, { TableName: "t", CapacityUnits: 1 })).toEqual([
      { table: "t", readUnits: 1, writeUnits: 0 },
    ]);
    expect(consumedUnits("PutItem", {}, undefined)).toEqual([]);
  });

  it("names S3 operations as S3 pricing groups them, from a path-style URL", () => {
    expect(s3Operation("PUT", "/lake/year=2026/x.parquet")).toEqual({ operation: "PutObject", bucket: "lake" });
    expect(s3Operation("GET", "/lake?list-type=2")).toEqual({ operation: "ListObjects", bucket: "lake" });
    expect(s3Operation("GET", "/lake/k")).toEqual({ operation: "GetObject", bucket: "lake" });
  });

  it("reads the service from a SigV4 header or a presigned URL", () => {
    const header = "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x";
    expect(signedService(header, "/")).toBe("sqs");
    expect(signedService(undefined, "/b/k?X-Amz-Credential=AKID%2F20261207%2Fus-east-1%2Fs3%2Faws4_request")).toBe("s3");
    expect(signedService(undefined, "/")).toBe("unsigned");
  });
});
