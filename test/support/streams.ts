import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type LogSink, localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import {
  DynamoDbStreamEventSourceMapping,
  type DynamoDbStreamMapping,
  dynamoDbStreamMappings,
  type Invokable,
} from "@sales-stream-analytics/local-aws/testing";

/** The DynamoDB stream event of `functionId` as template.yaml declares it. Throws when the function has none. */
export function templateStreamMapping(functionId: string): DynamoDbStreamMapping {
  const mapping = dynamoDbStreamMappings(samFunctions(localStackContext())).find((candidate) => candidate.functionId === functionId);
  if (mapping === undefined) throw new Error(`template.yaml has no DynamoDB event on ${functionId}`);
  return mapping;
}

/**
 * Starts `functionId`'s template stream mapping on a private table's stream (its stream must be
 * on: createPrivateAggregatesTable's is), invoking `fn` (the template function run with env
 * overrides, or a fixture). `overrides` change any setting (a private on-failure queue name, fewer
 * retries). `await mapping.drain()` waits for everything written so far; `stop()` it when done.
 * Throws as DynamoDbStreamEventSourceMapping.start does.
 */
export async function startStreamMapping(
  functionId: string,
  tableName: string,
  fn: Invokable,
  clients: { readonly dynamodb: DynamoDBClient; readonly dynamodbStreams: DynamoDBStreamsClient; readonly sqs: SQSClient },
  { overrides = {}, log = () => undefined }: { overrides?: Partial<DynamoDbStreamMapping>; log?: LogSink } = {},
): Promise<DynamoDbStreamEventSourceMapping> {
  const mapping = new DynamoDbStreamEventSourceMapping(
    { ...templateStreamMapping(functionId), ...overrides, tableName },
    fn,
    { dynamodb: clients.dynamodb, streams: clients.dynamodbStreams, sqs: clients.sqs },
    log,
  );
  await mapping.start();
  return mapping;
}
