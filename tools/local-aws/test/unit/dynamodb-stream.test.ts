import type { _Record } from "@aws-sdk/client-dynamodb-streams";
import { describe, expect, it } from "vitest";
import {
  batchOutcome,
  dynamoDbStreamMappings,
  publicStreamArn,
  type StreamEventRecord,
  tableOfStreamArn,
  toStreamEventRecord,
} from "../../runtime/dynamodb-stream.ts";
import { localStackContext } from "../../stack/context.ts";
import { localArn, localAws } from "../../stack/settings.ts";
import { type SamFunction, samFunctions } from "../../template/functions.ts";
import { physicalName, resolveValue } from "../../template/intrinsics.ts";
import { tableInput } from "../../template/provision.ts";

const ddbLocalArn = "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-12-01T16:04:18.496";
const arn = publicStreamArn(ddbLocalArn);

const raw = (overrides: Partial<_Record> = {}): _Record => ({
  eventID: "e-1",
  eventName: "MODIFY",
  eventVersion: "1.1",
  eventSource: "aws:dynamodb",
  awsRegion: "ddblocal",
  dynamodb: {
    ApproximateCreationDateTime: new Date("2026-12-01T16:04:00.000Z"),
    Keys: { pk: { S: "1m#x#sales-0" }, sk: { S: "slice" } },
    NewImage: {
      pk: { S: "1m#x#sales-0" },
      blob: { B: Uint8Array.from([1, 2, 255]) },
      m: { M: { l: { L: [{ N: "1" }, { BS: [Uint8Array.from([0])] }] } } },
    },
    OldImage: { pk: { S: "1m#x#sales-0" }, flags: { SS: ["a"] }, nothing: { NULL: true }, yes: { BOOL: true }, ns: { NS: ["1", "2"] } },
    SequenceNumber: "000000000000000000007",
    SizeBytes: 42,
    StreamViewType: "NEW_AND_OLD_IMAGES",
  },
  ...overrides,
});

const record = (sequence: string): StreamEventRecord =>
  toStreamEventRecord(raw({ dynamodb: { ...raw().dynamodb, SequenceNumber: sequence } }), arn);

describe("the aws:dynamodb event the stream mapping builds", () => {
  it("names the stream in the local stack's region and account", () => {
    expect(arn).toBe(localArn("dynamodb", "table/t/stream/2026-12-01T16:04:18.496"));
    expect(tableOfStreamArn(arn)).toBe("t");
    expect(tableOfStreamArn(localArn("dynamodb", "table/sales-analytics-aggregates/stream/local"))).toBe("sales-analytics-aggregates");
    expect(tableOfStreamArn(localArn("dynamodb", "table/t"))).toBeUndefined();
  });

  it("shapes a Streams API record as Lambda's event record: key order, epoch seconds, base64 binaries", () => {
    const event = toStreamEventRecord(raw(), arn);
    expect(event).toEqual({
      eventID: "e-1",
      eventName: "MODIFY",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: localAws.region,
      dynamodb: {
        ApproximateCreationDateTime: Date.parse("2026-12-01T16:04:00.000Z") / 1000,
        Keys: { pk: { S: "1m#x#sales-0" }, sk: { S: "slice" } },
        NewImage: { pk: { S: "1m#x#sales-0" }, blob: { B: "AQL/" }, m: { M: { l: { L: [{ N: "1" }, { BS: ["AA=="] }] } } } },
        OldImage: { pk: { S: "1m#x#sales-0" }, flags: { SS: ["a"] }, nothing: { NULL: true }, yes: { BOOL: true }, ns: { NS: ["1", "2"] } },
        SequenceNumber: "000000000000000000007",
        SizeBytes: 42,
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
      eventSourceARN: arn,
    });
    expect(Object.keys(event)).toEqual(["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"]);
    expect(Object.keys(event.dynamodb)).toEqual([
      "ApproximateCreationDateTime",
      "Keys",
      "NewImage",
      "OldImage",
      "SequenceNumber",
      "SizeBytes",
      "StreamViewType",
    ]);
    // JSON as the function receives it: a number, not a date string.
    expect(JSON.parse(JSON.stringify(event)).dynamodb.ApproximateCreationDateTime).toBe(1796141040);
  });

  it("leaves images out when the stream view has none, and keeps TTL deletions' userIdentity", () => {
    const { NewImage: _n, OldImage: _o, ...keysOnly } = raw().dynamodb ?? {};
    const event = toStreamEventRecord(
      raw({
        eventName: "REMOVE",
        dynamodb: { ...keysOnly, StreamViewType: "KEYS_ONLY" },
        userIdentity: { Type: "Service", PrincipalId: "dynamodb.amazonaws.com" },
      }),
      arn,
    );
    expect(Object.keys(event.dynamodb)).toEqual(["ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"]);
    expect(event.userIdentity).toEqual({ type: "Service", principalId: "dynamodb.amazonaws.com" });
  });

  it("refuses a record without the fields Lambda always sends", () => {
    expect(() => toStreamEventRecord(raw({ eventName: undefined }), arn)).toThrow("stream record e-1 lacks eventID, eventName");
    expect(() => toStreamEventRecord(raw({ dynamodb: { Keys: {} } }), arn)).toThrow("dynamodb.SequenceNumber");
  });
});

describe("how the stream mapping reads a function's answer", () => {
  const batch = ["7", "9", "12"].map(record);
  const ok = (result: unknown) => ({ ok: true as const, result });

  it("resumes from the lowest reported sequence number, compared as numbers", () => {
    // "12" < "9" as text; as sequence numbers 9 comes first.
    expect(batchOutcome(ok({ batchItemFailures: [{ itemIdentifier: "12" }, { itemIdentifier: "9" }] }), batch, true)).toEqual({
      kind: "partial",
      index: 1,
    });
    expect(batchOutcome(ok({ batchItemFailures: [{ itemIdentifier: "7" }] }), batch, true)).toEqual({ kind: "partial", index: 0 });
  });

  it("takes no answer, no list or an empty list as success", () => {
    for (const result of [undefined, null, {}, { batchItemFailures: [] }, { batchItemFailures: null }, "done"]) {
      expect(batchOutcome(ok(result), batch, true)).toEqual({ kind: "success" });
    }
  });

  it("fails the whole batch on an identifier that is empty, missing or not in the batch", () => {
    for (const failures of [[{ itemIdentifier: "" }], [{ itemIdentifier: null }], [{ id: "7" }], [{ itemIdentifier: "8" }], [null], "7"]) {
      expect(batchOutcome(ok({ batchItemFailures: failures }), batch, true)).toMatchObject({ kind: "failure", functionError: false });
    }
  });

  it("ignores batchItemFailures unless the mapping has ReportBatchItemFailures", () => {
    expect(batchOutcome(ok({ batchItemFailures: [{ itemIdentifier: "9" }] }), batch, false)).toEqual({ kind: "success" });
  });

  it("fails the whole batch on a function error", () => {
    const outcome = batchOutcome({ ok: false, error: { errorType: "Error", errorMessage: "boom" } }, batch, true);
    expect(outcome).toEqual({ kind: "failure", reason: "Error: boom", functionError: true });
  });
});

describe("the template's DynamoDB stream events", () => {
  const ctx = localStackContext();

  it("gives RollupFunction the aggregates table's stream with its template settings", () => {
    const [mapping, ...others] = dynamoDbStreamMappings(samFunctions(ctx));
    expect(others).toEqual([]);
    expect(mapping).toMatchObject({
      functionId: "RollupFunction",
      eventName: "SliceChanges",
      tableName: physicalName(ctx, "AggregatesTable"),
      startingPosition: "TRIM_HORIZON",
      batchSize: 1000,
      batchingWindowMs: 0,
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: true,
      maxRetryAttempts: 10,
      onFailureQueue: physicalName(ctx, "DeadLetterQueue"),
    });
    expect(mapping?.filters).toEqual([{ dynamodb: { Keys: { sk: { S: ["slice"] } } } }]);
  });

  it("creates the aggregates table with the template's stream (CloudFormation names the view type only)", () => {
    const props = resolveValue(ctx, ctx.template.Resources.AggregatesTable?.Properties, "AggregatesTable") as Record<string, unknown>;
    expect(tableInput("t", props).StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: "KEYS_ONLY" });
    const { StreamSpecification: _, ...noStream } = props;
    expect(tableInput("t", noStream).StreamSpecification).toBeUndefined();
  });

  const fn = (properties: Record<string, unknown>): SamFunction => ({
    logicalId: "Fn",
    codeUri: ".",
    handlerFile: "handler",
    handlerExport: "handler",
    timeoutSeconds: 3,
    memoryMb: 128,
    environment: {},
    buildProperties: {},
    events: {
      Changes: {
        Type: "DynamoDB",
        Properties: { Stream: localArn("dynamodb", "table/t/stream/local"), StartingPosition: "LATEST", ...properties },
      },
    },
  });

  it("takes Lambda's defaults where the template says nothing, and skips disabled events", () => {
    expect(dynamoDbStreamMappings([fn({})])[0]).toMatchObject({
      batchSize: 100,
      batchingWindowMs: 0,
      filters: [],
      reportBatchItemFailures: false,
      bisectBatchOnFunctionError: false,
      maxRetryAttempts: 10,
      onFailureQueue: undefined,
    });
    expect(dynamoDbStreamMappings([fn({ Enabled: false })])).toEqual([]);
  });

  it("refuses at start-up what it cannot emulate, naming the event", () => {
    const where = "Resources.Fn.Properties.Events.Changes.Properties";
    expect(() => dynamoDbStreamMappings([fn({ Stream: localArn("kinesis", "stream/s") })])).toThrow(
      `${where}.Stream: not a DynamoDB table stream ARN`,
    );
    expect(() => dynamoDbStreamMappings([fn({ StartingPosition: "AT_TIMESTAMP" })])).toThrow(
      `${where}.StartingPosition must be TRIM_HORIZON or LATEST`,
    );
    expect(() => dynamoDbStreamMappings([fn({ TumblingWindowInSeconds: 60 })])).toThrow(
      `${where}.TumblingWindowInSeconds is not supported`,
    );
    expect(() =>
      dynamoDbStreamMappings([fn({ FilterCriteria: { Filters: [{ Pattern: '{"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"s"}]}}}}' }] } })]),
    ).toThrow(`${where}.FilterCriteria.Filters[0].Pattern.dynamodb.Keys.sk.S[0]: the "prefix" rule is not supported`);
    // Lambda filters DynamoDB records on their "dynamodb" key only.
    expect(() => dynamoDbStreamMappings([fn({ FilterCriteria: { Filters: [{ Pattern: '{"eventName":["INSERT"]}' }] } })])).toThrow(
      `${where}.FilterCriteria.Filters[0].Pattern: DynamoDB event filters may only name "dynamodb", not "eventName"`,
    );
  });
});
