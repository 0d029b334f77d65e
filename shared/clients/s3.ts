import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { S3Client } from "@aws-sdk/client-s3";
import { lazy } from "#shared/lambda/lazy";

/**
 * An S3 client, traced. The SDK module itself loads on first use (a dynamic import), so a
 * function that rarely writes (dead letters too large for SQS) does not pay for it at cold start;
 * a failed load is retried on the next call.
 */
export function s3Client(tracer: Tracer): () => Promise<S3Client> {
  return lazy(async () => {
    const { S3Client } = await import("@aws-sdk/client-s3");
    return tracer.captureAWSv3Client(new S3Client({}));
  });
}
