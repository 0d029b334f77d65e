import type { Tracer } from "@aws-lambda-powertools/tracer";
import { GlueClient } from "@aws-sdk/client-glue";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { lazy } from "#shared/lambda/lazy";

/**
 * The Glue Schema Registry, traced, made on first use and reused while the container is warm.
 * The SDK makes one attempt per call: GlueSchemaRegistry retries with its own backoff and turns
 * what still fails into RegistryUnavailableError. Constructing it does no I/O and cannot fail.
 */
export function schemaRegistry(tracer: Tracer): () => GlueSchemaRegistry {
  return lazy(() => new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 }))));
}
