import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localStackContext } from "#local/stack/context";
import { paths } from "#local/stack/settings";
import { resolveValue } from "#local/template/intrinsics";

// What AWS would refuse or a reviewer would flag in template.yaml, checked on the template itself
// (resolved as the local stack resolves it) rather than by deploying.
const ctx = localStackContext();
const resources = ctx.template.Resources;

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
}

function functionIds(): string[] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::Serverless::Function")
    .map(([id]) => id);
}

function statementsOf(functionId: string): Statement[] {
  const policies = resolveValue(ctx, resources[functionId]?.Properties?.Policies ?? [], functionId) as { Statement?: Statement[] }[];
  return policies.flatMap((policy) => policy.Statement ?? []);
}

function grants(statement: Statement, action: string): boolean {
  return statement.Effect === "Allow" && [statement.Action].flat().includes(action);
}

function handlerSource(functionId: string): string {
  const entry = (resources[functionId]?.Metadata?.BuildProperties as { EntryPoints?: string[] } | undefined)?.EntryPoints?.[0];
  if (entry === undefined) throw new Error(`${functionId} has no EntryPoints`);
  return readFileSync(join(paths.projectRoot, entry), "utf8");
}

describe("template.yaml on AWS: schema registry access", () => {
  const registryUsers = functionIds().filter((id) => handlerSource(id).includes("GlueSchemaRegistry"));

  it("finds the functions that talk to the schema registry", () => {
    expect(registryUsers.length).toBeGreaterThanOrEqual(3);
  });

  it.each(registryUsers)("%s may call GetSchemaVersion on any resource (a lookup by SchemaVersionId names no ARN)", (id) => {
    const getSchemaVersion = statementsOf(id).filter((statement) => grants(statement, "glue:GetSchemaVersion"));
    expect(getSchemaVersion.map((statement) => [statement.Resource].flat())).toContainEqual(["*"]);
  });
});

function dependsOn(id: string): string[] {
  return [resources[id]?.DependsOn ?? []].flat();
}

describe("template.yaml on AWS: Firehose reads the cluster", () => {
  const streams = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::KinesisFirehose::DeliveryStream");
  const clusterPolicies = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::MSK::ClusterPolicy");

  it.each(streams.map(([id]) => id))("%s may create its VPC connection (cluster policy, created before the stream)", (id) => {
    const source = resolveValue(ctx, resources[id]?.Properties?.MSKSourceConfiguration, id) as {
      MSKClusterARN: string;
      AuthenticationConfiguration: { Connectivity: string };
      ReadFromTimestamp?: string;
    };
    expect(source.AuthenticationConfiguration.Connectivity).toBe("PRIVATE");
    const allowing = clusterPolicies.filter(([policyId, policy]) => {
      const props = resolveValue(ctx, policy.Properties, policyId) as {
        ClusterArn: string;
        Policy: { Statement: (Statement & { Principal?: { Service?: string | string[] } })[] };
      };
      return (
        props.ClusterArn === source.MSKClusterARN &&
        props.Policy.Statement.some(
          (statement) =>
            grants(statement, "kafka:CreateVpcConnection") && [statement.Principal?.Service].flat().includes("firehose.amazonaws.com"),
        )
      );
    });
    expect(allowing.length).toBe(1);
    expect(dependsOn(id)).toContain(allowing[0]?.[0]);
  });

  it.each(streams.map(([id]) => id))("%s starts at the topic's earliest record (ReadFromTimestamp at the epoch)", (id) => {
    const source = resolveValue(ctx, resources[id]?.Properties?.MSKSourceConfiguration, id) as { ReadFromTimestamp?: string };
    expect(Date.parse(source.ReadFromTimestamp ?? "")).toBe(0);
  });
});

describe("template.yaml on AWS: the topics exist before their readers", () => {
  const topicResources = Object.entries(resources).filter(([, resource]) => resource.Type === "Custom::KafkaTopics");
  const declared = new Set(
    topicResources.flatMap(([id, resource]) =>
      (resolveValue(ctx, resource.Properties?.Topics, id) as { Name: string }[]).map((topic) => topic.Name),
    ),
  );
  const mskReaders = functionIds().flatMap((id) =>
    Object.values((resources[id]?.Properties?.Events ?? {}) as Record<string, { Type: string; Properties: { Topics: unknown } }>)
      .filter((event) => event.Type === "MSK")
      .map((event) => ({ id, topics: resolveValue(ctx, event.Properties.Topics, id) as string[] })),
  );
  const streamReaders = Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::KinesisFirehose::DeliveryStream")
    .map(([id, resource]) => ({
      id,
      topics: [(resolveValue(ctx, resource.Properties?.MSKSourceConfiguration, id) as { TopicName: string }).TopicName],
    }));

  it("has one topics resource, served by a function of the template", () => {
    expect(topicResources).toHaveLength(1);
    const serviceToken = topicResources[0]?.[1].Properties?.ServiceToken as { "Fn::GetAtt"?: [string, string] };
    expect(resources[serviceToken["Fn::GetAtt"]?.[0] ?? ""]?.Type).toBe("AWS::Serverless::Function");
  });

  it.each([...mskReaders, ...streamReaders].map((reader) => [reader.id, reader.topics] as const))(
    "%s reads declared topics and is created after them",
    (id, topics) => {
      for (const topic of topics) expect(declared).toContain(topic);
      expect(dependsOn(id)).toContain(topicResources[0]?.[0]);
    },
  );
});
