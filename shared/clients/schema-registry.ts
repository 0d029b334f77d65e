import type { Tracer } from "@aws-lambda-powertools/tracer";
import { GlueClient } from "@aws-sdk/client-glue";
import { GlueSchemaRegistry } from "#shared/avro/registry";

/**
 * The Glue Schema Registry, traced. The decoding functions load it only for a schema version other
 * than their deployment's (functions/<fn>/glue-registry.ts, a bundle of its own), once per
 * container. The SDK makes one attempt per call: GlueSchemaRegistry retries with its own backoff
 * and turns what still fails into RegistryUnavailableError. Constructing it does no I/O and cannot fail.
 */
export function glueSchemaRegistry(tracer: Tracer): GlueSchemaRegistry {
  return new GlueSchemaRegistry(tracer.captureAWSv3Client(new GlueClient({ maxAttempts: 1 })));
}
