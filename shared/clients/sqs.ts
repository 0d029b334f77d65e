import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { lazy } from "#shared/lambda/lazy";

/**
 * An SQS client, traced. The SDK module itself loads on first use (a dynamic import), so a
 * function that rarely sends (dead letters) does not pay for it at cold start; a failed load is
 * retried on the next call.
 */
export function sqsClient(tracer: Tracer): () => Promise<SQSClient> {
  return lazy(async () => {
    const { SQSClient } = await import("@aws-sdk/client-sqs");
    return tracer.captureAWSv3Client(new SQSClient({}));
  });
}
