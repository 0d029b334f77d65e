import { resourceEnabled, type StackContext } from "./intrinsics.ts";
import type { Template } from "./template.ts";

/**
 * The template resource types the local stack stands in for, and with what. Every other type of
 * template.yaml is skipped at start, and named there and in docs/local-stack.md (a unit test
 * holds the page to this list). A type joins this list in the commit that emulates it.
 */
export const emulatedResourceTypes: Readonly<Record<string, string>> = {
  "AWS::Serverless::Function": "the Lambda runtime (worker threads running the bundle), with its MSK, DynamoDB and HttpApi events",
  "AWS::Serverless::HttpApi": "the HTTP API emulator on loopback (its routes; no authorizer, no throttling)",
  "AWS::DynamoDB::Table": "DynamoDB Local (keys, indexes, TTL, stream)",
  "AWS::S3::Bucket": "moto",
  "AWS::SQS::Queue": "moto",
  "AWS::Glue::Registry": "moto",
  "AWS::Glue::Schema": "moto",
  "AWS::Glue::SchemaVersion": "moto",
  "AWS::Glue::Database": "moto",
  "AWS::Glue::Table": "moto",
  "AWS::KinesisFirehose::DeliveryStream": "the Firehose emulator",
  "AWS::MSK::ServerlessCluster": "the Kafka broker",
  "Custom::KafkaTopics": "the topics, created at start with the custom resource's own code",
};

/** Template resources of one type the local stack does not emulate. */
export interface UnemulatedType {
  readonly type: string;
  /** Logical ids, in template order. */
  readonly resources: readonly string[];
}

/** Resources of `template` whose type is not in emulatedResourceTypes, grouped by type (sorted), whatever their conditions. Never throws. */
export function unemulatedTypes(template: Template, enabled: (logicalId: string) => boolean = () => true): UnemulatedType[] {
  const byType = new Map<string, string[]>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type in emulatedResourceTypes || !enabled(id)) continue;
    byType.set(resource.Type, [...(byType.get(resource.Type) ?? []), id]);
  }
  return [...byType].sort(([a], [b]) => a.localeCompare(b)).map(([type, resources]) => ({ type, resources }));
}

/** The resources the stack as resolved (its parameters and conditions) skips at start, by type. Throws on a malformed condition. */
export function skippedResources(ctx: StackContext): UnemulatedType[] {
  return unemulatedTypes(ctx.template, (id) => resourceEnabled(ctx, id));
}

/** The start-up lines that name what the stack skips (none when it skips nothing). Never throws. */
export function skippedReport(skipped: readonly UnemulatedType[]): string[] {
  if (skipped.length === 0) return [];
  const count = skipped.reduce((sum, group) => sum + group.resources.length, 0);
  return [
    `not emulated, skipped: ${count} resources of ${skipped.length} types (docs/local-stack.md#what-it-does-not-emulate)`,
    ...skipped.map(({ type, resources }) => `  - ${type.padEnd(26)} ${resources.join(", ")}`),
  ];
}
