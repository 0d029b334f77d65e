import { randomUUID } from "node:crypto";
import { type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { deployedStackContext, LocalFunction, samFunctions } from "@sales-stream-analytics/local-aws";
import type { AccessKeys } from "@sales-stream-analytics/local-aws/testing";
import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { unmarshalSlice } from "#shared/aggregates/table";

export {
  createPrivateAggregatesTable,
  type EventRecordInput,
  kafkaEvent,
  keyedRecords,
  salesEncoders,
} from "#tools/pipeline/aggregates";

// As deployed: the environment holds what only the provisioned stack knows (the schema version id
// the decoders read from their bundle), as the local runtime gives it.
const ctx = await deployedStackContext();

/**
 * Every window of a table as comparable plain data, every partition's slice added up as the query
 * API does: window id -> value -> "orders/sales/min/max/late".
 */
export async function tableFigures(dynamodb: DynamoDBClient, table: string): Promise<Record<string, Record<string, string>>> {
  const windows = new Map<string, Map<string, Metrics>>();
  let startKey: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    for (const attributes of page.Items ?? []) {
      if (attributes.sk?.S !== "slice") continue;
      const item = unmarshalSlice(attributes);
      const id = `${item.window}@${new Date(item.start).toISOString()}`;
      const values = windows.get(id) ?? new Map<string, Metrics>();
      windows.set(id, values);
      for (const [key, metrics] of item.values) addPartial(values, key, metrics);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  const figures: Record<string, Record<string, string>> = {};
  for (const [id, values] of windows)
    figures[id] = Object.fromEntries([...values].map(([key, m]) => [key, `${m.orders}/${m.sales}/${m.min}/${m.max}/${m.late}`]));
  return figures;
}

/** A template function running locally with some environment overridden (a private table), under its own or the given identity. */
export function localFunction(
  logicalId: string,
  extraEnv: Record<string, string>,
  logs: string[] = [],
  credentials?: AccessKeys,
): LocalFunction {
  const fn = samFunctions(ctx).find((candidate) => candidate.logicalId === logicalId);
  if (fn === undefined) throw new Error(`no function ${logicalId}`);
  return new LocalFunction(fn, (_, line) => logs.push(line), {
    extraEnv,
    maxConcurrency: 1,
    ...(credentials !== undefined && { credentials }),
  });
}

/** An HTTP API payload 2.0 GET event for the query function. */
export function getEvent(path: string, query: Record<string, string>, pathParameters: Record<string, string>) {
  return {
    version: "2.0",
    routeKey: `GET ${path.replace(/\/[^/]+\/[^/]+$/, "")}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {},
    queryStringParameters: query,
    pathParameters,
    requestContext: {
      requestId: randomUUID(),
      http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      routeKey: "",
      stage: "$default",
    },
    isBase64Encoded: false,
  };
}
