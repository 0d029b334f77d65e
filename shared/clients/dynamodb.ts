import type { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { lazy } from "#shared/lambda/lazy";

/**
 * A DynamoDB client, traced, made on first use and reused while the container is warm.
 * `maxAttempts` is the SDK's (throttling retries included); constructing it does no I/O and cannot fail.
 */
export function dynamoDbClient(tracer: Tracer, options: { readonly maxAttempts?: number } = {}): () => DynamoDBClient {
  return lazy(() =>
    tracer.captureAWSv3Client(new DynamoDBClient(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts })),
  );
}
