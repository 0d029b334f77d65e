import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { localStackContext, paths, resolveValue, type StackContext } from "@sales-stream-analytics/local-aws";
import { resourceEnabled } from "@sales-stream-analytics/local-aws/testing";
import { describe, expect, it } from "vitest";
import { awsReaders, ingestContainerBudget, ingestLimits } from "#shared/kafka/connection-budget";
import { LAMBDA_INVOCATION_PAYLOAD_BYTES, MAX_DELIVERABLE_RECORD_BYTES, worstCaseEventBytes } from "#shared/kafka/record-size";
import { currentSalesSchema } from "#shared/sales/schema";

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

/** A function's composition root: its entry point and, beside it, the wiring.ts that builds its deps. */
function handlerSource(functionId: string): string {
  const entry = (resources[functionId]?.Metadata?.BuildProperties as { EntryPoints?: string[] } | undefined)?.EntryPoints?.[0];
  if (entry === undefined) throw new Error(`${functionId} has no EntryPoints`);
  const wiring = join(paths.projectRoot, dirname(entry), "wiring.ts");
  return [readFileSync(join(paths.projectRoot, entry), "utf8"), existsSync(wiring) ? readFileSync(wiring, "utf8") : ""].join("\n");
}

describe("template.yaml on AWS: schema registry access", () => {
  const registryUsers = functionIds().filter((id) =>
    /GlueSchemaRegistry|#shared\/clients\/schema-registry|\.\/glue-registry\.js/.test(handlerSource(id)),
  );
  const bundledVersionUsers = functionIds().filter((id) => handlerSource(id).includes("currentVersionFirst("));

  it("finds the functions that talk to the schema registry", () => {
    expect(registryUsers.length).toBeGreaterThanOrEqual(3);
  });

  it.each(registryUsers)("%s may call GetSchemaVersion on any resource (a lookup by SchemaVersionId names no ARN)", (id) => {
    const getSchemaVersion = statementsOf(id).filter((statement) => grants(statement, "glue:GetSchemaVersion"));
    expect(getSchemaVersion.map((statement) => [statement.Resource].flat())).toContainEqual(["*"]);
  });

  it("finds the functions that decode the deployment's version from their bundle", () => {
    expect(bundledVersionUsers.sort()).toEqual(["AggregateFunction", "FirehoseTransformFunction", "RedshiftUdfFunction"]);
  });

  // A record whose id is SALES_SCHEMA_VERSION_ID is read with the bundled schema as its writer
  // schema: right only while that id names a version registered from the very same definition.
  it.each(["IngestFunction", ...bundledVersionUsers])(
    "%s gets the id of the schema version registered from the bundled current schema",
    (id) => {
      const variables = (resources[id]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      const ref = variables?.SALES_SCHEMA_VERSION_ID as { "Fn::GetAtt"?: [string, string] } | undefined;
      const [resource = "", attribute] = ref?.["Fn::GetAtt"] ?? [];
      const registered = resources[resource];
      expect({ type: registered?.Type, attribute }, `${id}: SALES_SCHEMA_VERSION_ID must be a schema version's id`).toEqual(
        registered?.Type === "AWS::Glue::Schema"
          ? { type: "AWS::Glue::Schema", attribute: "InitialSchemaVersionId" }
          : { type: "AWS::Glue::SchemaVersion", attribute: "VersionId" },
      );
      const definition = registered?.Properties?.SchemaDefinition;
      expect(typeof definition).toBe("string");
      expect(JSON.parse(definition as string)).toEqual(currentSalesSchema);
    },
  );
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

describe("template.yaml on AWS: operations defaults", () => {
  const raw = (id: string) => resources[id] as unknown as Record<string, unknown> & { Properties?: Record<string, unknown> };
  const logGroups = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::Logs::LogGroup");

  it.each(functionIds())("%s logs to its own /aws/lambda/<name> group with a retention", (id) => {
    const group = logGroups.find(([, resource]) => {
      const name = resource.Properties?.LogGroupName as { "Fn::Sub"?: string } | undefined;
      return name?.["Fn::Sub"] === `/aws/lambda/\${${id}}`;
    });
    expect(group, `no log group named /aws/lambda/\${${id}}`).toBeDefined();
    expect(Number(resolveValue(ctx, group?.[1].Properties?.RetentionInDays, id))).toBeGreaterThan(0);
  });

  it("creates the log group of a function invoked during the deployment before invoking it", () => {
    for (const [id, resource] of Object.entries(resources).filter(([, r]) => r.Type.startsWith("Custom::"))) {
      const token = resource.Properties?.ServiceToken as { "Fn::GetAtt": [string, string] };
      expect(dependsOn(id)).toContain(`${token["Fn::GetAtt"][0]}LogGroup`);
    }
  });

  const stateful = Object.entries(resources).filter(([, resource]) =>
    ["AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"].includes(resource.Type),
  );
  it.each(stateful.map(([id]) => id))("%s is retained when the stack is deleted or the resource replaced", (id) => {
    expect(raw(id).DeletionPolicy).toBe("Retain");
    expect(raw(id).UpdateReplacePolicy).toBe("Retain");
  });

  it("traces every function's handler through the one middy chain, which never records a response", () => {
    const chain = readFileSync(join(paths.projectRoot, "shared/lambda/handler.ts"), "utf8");
    expect(chain).toMatch(/captureLambdaHandler\(instruments\.tracer, \{ captureResponse: false \}\)/);
  });

  it.each(functionIds())("%s never records a response in X-Ray of its own", (id) => {
    const source = handlerSource(id);
    expect(source).not.toContain("captureLambdaHandler(");
    expect(source).not.toMatch(/captureMethod\((?![^)]*captureResponse: false)/);
  });

  it("turns response capture off for every function's tracer", () => {
    const globals = resolveValue(ctx, ctx.template.Globals?.Function, "Globals") as { Environment: { Variables: Record<string, string> } };
    expect(globals.Environment.Variables.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe("false");
  });

  it("throttles POST /sales to the Kafka connection budget at the default partitions, and says so in its comment", () => {
    const partitions = Number(resolveValue(ctx, { Ref: "SalesTopicPartitions" }, "partitions"));
    const limits = ingestLimits(partitions);
    const api = resolveValue(ctx, resources.HttpApi?.Properties, "HttpApi") as {
      RouteSettings: Record<string, { ThrottlingBurstLimit: number; ThrottlingRateLimit: number }>;
    };
    const post = api.RouteSettings["POST /sales"];
    expect(post?.ThrottlingRateLimit).toBeLessThanOrEqual(limits.maxRate);
    expect(post?.ThrottlingBurstLimit).toBeGreaterThan(0);
    expect(post?.ThrottlingBurstLimit).toBeLessThanOrEqual(limits.largestColdBurst);
    // The comment quotes the budget's figures: it changes when they do.
    const budget = ingestContainerBudget(partitions);
    const comment = readFileSync("template.yaml", "utf8").split("  HttpApi:")[1]?.split("RouteSettings:")[0] ?? "";
    expect(comment).toContain("shared/kafka/connection-budget.ts");
    for (const figure of [
      `(budget ${budget.coldAttempts})`,
      `(budget ${budget.held})`,
      `(budget ${budget.recoveryAttempts}, at most ${budget.recoveryExtraOpen} at`,
      `budgeted ${awsReaders(partitions)}`,
      `leaves ${limits.ingestConnections} connections, ${limits.maxContainers} containers`,
      `busy at ${limits.maxRate} requests/s`,
      `${limits.largestColdBurst} containers x ${budget.coldAttempts} attempts`,
    ])
      expect(comment.replace(/\s*#\s*/g, " ")).toContain(figure);
  });

  it("writes one JSON access log line per API request, without bodies or query strings", () => {
    const api = resolveValue(ctx, resources.HttpApi?.Properties, "HttpApi") as {
      AccessLogSettings: { DestinationArn: string; Format: string };
    };
    const fields = JSON.parse(api.AccessLogSettings.Format) as Record<string, string>;
    expect(fields).toMatchObject({ requestId: "$context.requestId", status: "$context.status", routeKey: "$context.routeKey" });
    expect(api.AccessLogSettings.Format).not.toMatch(/body|querystring|\$context\.path/i);
  });
});

// checkov (tools/local-aws/test/integration/template-checkov.test.ts) checks some of these; these also cover
// what it does not read (SSE-SQS, the TLS-only policy, the noncurrent versions' expiry).
describe("template.yaml on AWS: data at rest survives mistakes", () => {
  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
  const props = (id: string) => resolveValue(ctx, resources[id]?.Properties ?? {}, id) as Record<string, unknown>;

  it.each(ofType("AWS::DynamoDB::Table").map(([id]) => id))("%s has point-in-time recovery and encryption at rest", (id) => {
    expect(props(id).PointInTimeRecoverySpecification).toMatchObject({ PointInTimeRecoveryEnabled: true });
    expect(props(id).SSESpecification).toMatchObject({ SSEEnabled: true });
  });

  it.each(ofType("AWS::SQS::Queue").map(([id]) => id))("%s is encrypted at rest (SSE-SQS or a KMS key)", (id) => {
    const queue = props(id);
    expect(queue.SqsManagedSseEnabled === true || queue.KmsMasterKeyId !== undefined).toBe(true);
  });

  const buckets = ofType("AWS::S3::Bucket").map(([id]) => id);
  it.each(buckets)("%s keeps overwritten and deleted versions for LakeNoncurrentVersionDays, then expires them", (id) => {
    const bucket = resources[id]?.Properties as Record<string, unknown>;
    expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" });
    const rules = (bucket.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    const expiring = rules.filter((rule) => rule.Status === "Enabled" && rule.NoncurrentVersionExpiration !== undefined);
    expect(expiring).toHaveLength(1);
    expect(expiring[0]?.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: { Ref: "LakeNoncurrentVersionDays" } });
    // Applies to the whole bucket: no prefix or filter narrows it.
    expect(expiring[0]?.Prefix ?? expiring[0]?.Filter).toBeUndefined();
    expect(Number(resolveValue(ctx, { Ref: "LakeNoncurrentVersionDays" }, id))).toBeGreaterThanOrEqual(1);
  });

  it.each(buckets)("%s is encrypted, private and refuses requests without TLS", (id) => {
    const bucket = props(id);
    expect(bucket.BucketEncryption).toBeDefined();
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const policies = ofType("AWS::S3::BucketPolicy").filter(
      ([, policy]) => JSON.stringify(policy.Properties?.Bucket) === JSON.stringify({ Ref: id }),
    );
    expect(policies).toHaveLength(1);
    const statements = (props(policies[0]?.[0] ?? "").PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    const arn = resolveValue(ctx, { "Fn::GetAtt": [id, "Arn"] }, id);
    expect(statements).toContainEqual({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [arn, `${arn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });
});

describe("template.yaml on AWS: a new account deploys it with the defaults", () => {
  // New accounts may start with a Lambda concurrency limit of 10 or 50, and Lambda keeps 100 of it
  // unreserved (Lambda developer guide, "Lambda quotas" and "Configuring reserved concurrency"):
  // with the defaults nothing may reserve or provision concurrency, or ask for provisioned pollers.
  const props = (id: string, over: Record<string, string> = {}) =>
    resolveValue({ ...ctx, parameterOverrides: over }, resources[id]?.Properties ?? {}, id) as Record<string, unknown>;
  const mappings = () =>
    functionIds().flatMap((id) =>
      Object.values((props(id).Events ?? {}) as Record<string, { Type: string; Properties: Record<string, unknown> }>),
    );

  it.each(functionIds())("%s reserves and provisions no concurrency by default", (id) => {
    expect(props(id)).not.toHaveProperty("ReservedConcurrentExecutions");
    expect(props(id)).not.toHaveProperty("ProvisionedConcurrencyConfig");
  });

  it("asks for no provisioned event pollers", () => {
    expect(mappings().length).toBeGreaterThan(0);
    for (const mapping of mappings()) expect(mapping.Properties).not.toHaveProperty("ProvisionedPollerConfig");
  });

  it("reserves ingest concurrency only when IngestReservedConcurrency is set above 0", () => {
    expect(props("IngestFunction", { IngestReservedConcurrency: "0" })).not.toHaveProperty("ReservedConcurrentExecutions");
    expect(props("IngestFunction", { IngestReservedConcurrency: "40" }).ReservedConcurrentExecutions).toBe("40");
    expect(ctx.template.Parameters?.IngestReservedConcurrency?.Default).toBe(0);
  });
});

describe("template.yaml on AWS: a deploy never waits an hour on a custom resource", () => {
  const customResources = Object.entries(resources).filter(([, resource]) => resource.Type.startsWith("Custom::"));
  const endpointIds = Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::EC2::VPCEndpoint")
    .map(([id]) => id);

  it.each(customResources.map(([id]) => id))(
    "%s answers within a ServiceTimeout above its function's Timeout and well below an hour",
    (id) => {
      const props = resources[id]?.Properties ?? {};
      const timeout = Number(props.ServiceTimeout);
      const functionId = (props.ServiceToken as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
      const functionTimeout = Number(resolveValue(ctx, resources[functionId]?.Properties?.Timeout, functionId));
      // ServiceTimeout: 1-3,600 s, default 3,600 (CloudFormation template reference, AWS::CloudFormation::CustomResource).
      expect(timeout).toBeGreaterThan(functionTimeout);
      expect(timeout).toBeLessThanOrEqual(600);
    },
  );

  it.each(customResources.map(([id]) => id))("%s runs only after the VPC endpoints it calls through, when the stack creates them", (id) => {
    const handles = dependsOn(id).filter((dep) => resources[dep]?.Type === "AWS::CloudFormation::WaitConditionHandle");
    expect(handles).toHaveLength(1);
    const handle = resources[handles[0] as string];
    expect(handle?.Condition).toBeUndefined();
    const withEndpoints = { ...ctx, parameterOverrides: { CreateVpcEndpoints: "true" } };
    const referenced = (over: StackContext) =>
      Object.values(resolveValue(over, handle?.Metadata ?? {}, "handle") as Record<string, string[]>).flat();
    expect(referenced(withEndpoints).sort()).toEqual(
      endpointIds.map((endpoint) => resolveValue(withEndpoints, { Ref: endpoint }, endpoint)).sort(),
    );
    expect(referenced(ctx)).toEqual([]);
    // A Ref under !If is what orders the handle after the endpoints; DependsOn would name resources that may not exist.
    expect(JSON.stringify(handle?.Metadata)).toMatch(/"Fn::If":\["CreateVpcEndpoints"/);
    for (const endpoint of endpointIds) expect(JSON.stringify(handle?.Metadata)).toContain(`{"Ref":"${endpoint}"}`);
  });
});

describe("template.yaml on AWS: private subnets reach the APIs they call", () => {
  const endpoints = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::EC2::VPCEndpoint");
  const serviceName = (id: string) => String(resolveValue(ctx, resources[id]?.Properties?.ServiceName, id));
  const service = (id: string) => serviceName(id).split(".").pop();

  it("offers, behind CreateVpcEndpoints, an endpoint for every service the VPC functions and the MSK mapping use", () => {
    expect(endpoints.every(([, resource]) => resource.Condition === "CreateVpcEndpoints")).toBe(true);
    expect(endpoints.map(([id]) => service(id)).sort()).toEqual(["dynamodb", "kafka-api", "lambda", "s3", "sts", "xray"]);
    const gateways = endpoints.filter(([, resource]) => resource.Properties?.VpcEndpointType === "Gateway").map(([id]) => service(id));
    expect(gateways.sort()).toEqual(["dynamodb", "s3"]);
  });

  it("names each endpoint service as AWS documents it for new connections", () => {
    const region = ctx.region;
    // The MSK developer guide ("Use Amazon MSK APIs with Interface VPC Endpoints") lists
    // com.amazonaws.<region>.kafka as no longer supported for new connections; the others are as
    // the PrivateLink guide lists them ("AWS services that integrate with AWS PrivateLink").
    expect(endpoints.map(([id]) => serviceName(id)).sort()).toEqual(
      [
        `aws.api.${region}.kafka-api`,
        `com.amazonaws.${region}.dynamodb`,
        `com.amazonaws.${region}.lambda`,
        `com.amazonaws.${region}.s3`,
        `com.amazonaws.${region}.sts`,
        `com.amazonaws.${region}.xray`,
      ].sort(),
    );
  });
});

describe("template.yaml on AWS: region and overall series come from the rollup, not from a Kafka partition's invocation", () => {
  const table = resources.AggregatesTable?.Properties as Record<string, unknown>;
  const rollup = resources.RollupFunction?.Properties as { Events: Record<string, { Type: string; Properties: Record<string, unknown> }> };

  it("streams the aggregates table's keys to RollupFunction, slices only, resuming a failed window where it failed", () => {
    expect(table.StreamSpecification).toEqual({ StreamViewType: "KEYS_ONLY" });
    const events = Object.values(rollup.Events);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.Type).toBe("DynamoDB");
    expect(event?.Properties.Stream).toEqual({ "Fn::GetAtt": ["AggregatesTable", "StreamArn"] });
    expect(event?.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    const filters = (event?.Properties.FilterCriteria as { Filters: { Pattern: string }[] } | undefined)?.Filters ?? [];
    expect(filters.map((f) => JSON.parse(f.Pattern))).toEqual([{ dynamodb: { Keys: { sk: { S: ["slice"] } } } }]);
    expect(event?.Properties.DestinationConfig).toEqual({
      OnFailure: { Type: "SQS", Destination: { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] } },
    });
  });

  it("lets RollupFunction read slices (one window as one snapshot: GetItem) and put rollups on the table, and nothing more", () => {
    const dynamodb = statementsOf("RollupFunction").filter((s) => [s.Action].flat().some((a) => a.startsWith("dynamodb:")));
    expect(dynamodb).toHaveLength(1);
    expect([dynamodb[0]?.Action].flat().sort()).toEqual(["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"]);
    expect(resolveValue(ctx, resources.RollupFunction?.Properties?.Policies, "RollupFunction")).not.toContain("index");
  });

  it("updates every function that counts the topic's partitions before the topic gains partitions", () => {
    const counting = functionIds().filter((id) =>
      JSON.stringify(resources[id]?.Properties?.Environment ?? {}).includes("SALES_TOPIC_PARTITIONS"),
    );
    expect(counting).toEqual(expect.arrayContaining(["QueryFunction", "RollupFunction"]));
    const dependsOn = [(resources.KafkaTopics as unknown as { DependsOn?: string | string[] }).DependsOn ?? []].flat();
    expect(dependsOn).toEqual(expect.arrayContaining(counting));
  });

  it("allows no more partitions than one BatchGetItem reads (a query's watermarks, a window's slices)", () => {
    const parameter = ctx.template.Parameters?.SalesTopicPartitions as { MaxValue?: number } | undefined;
    expect(parameter?.MaxValue).toBe(100);
  });

  it("has no index left that every partition's slices would write (total-series is gone)", () => {
    const indexes = (table.GlobalSecondaryIndexes as { IndexName: string }[]).map((i) => i.IndexName);
    expect(indexes).toEqual(["country-series"]);
    for (const id of functionIds()) expect(JSON.stringify(resources[id]?.Properties?.Policies ?? [])).not.toContain("total-series");
  });

  it("keeps rollup writes out of the functions Kafka triggers: none of their modules names a rollup's key or attributes", () => {
    const kafkaTriggered = functionIds().filter((fn) => JSON.stringify(resources[fn]?.Properties?.Events ?? {}).includes('"MSK"'));
    expect(kafkaTriggered).toContain("AggregateFunction");
    for (const id of kafkaTriggered) {
      const entry = (resources[id]?.Metadata?.BuildProperties as { EntryPoints?: string[] } | undefined)?.EntryPoints?.[0] ?? "";
      const folder = join(paths.projectRoot, dirname(entry));
      for (const file of readdirSync(folder).filter((f) => f.endsWith(".ts")))
        expect(readFileSync(join(folder, file), "utf8"), `${id}: ${file}`).not.toMatch(/rollupKey|marshalRollup|series#/);
    }
  });
});

describe("template.yaml on AWS: the aggregate mapping never skips a batch, and a waiting partition is noticed", () => {
  const aggregateEvents = Object.values(
    (resources.AggregateFunction?.Properties?.Events ?? {}) as Record<string, { Type: string; Properties: Record<string, unknown> }>,
  ).filter((event) => event.Type === "MSK");
  type AlarmProps = {
    Namespace?: string;
    MetricName?: string;
    Dimensions?: { Name: string; Value: unknown }[];
    Metrics?: {
      Id: string;
      Expression?: string;
      ReturnData?: boolean;
      MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
    }[];
    AlarmActions?: unknown[];
    OKActions?: unknown[];
    Threshold?: unknown;
    ComparisonOperator?: string;
    EvaluationPeriods?: unknown;
  };
  const alarms = Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::CloudWatch::Alarm")
    .map(([id, resource]) => ({ id, props: resource.Properties as AlarmProps }));
  const metricsOf = (alarm: AlarmProps) => [
    ...(alarm.MetricName === undefined ? [] : [{ Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: alarm.Dimensions }]),
    ...(alarm.Metrics ?? []).flatMap((m) => (m.MetricStat === undefined ? [] : [m.MetricStat.Metric])),
  ];
  const watching = (namespace: string, metric: string) =>
    alarms.filter((alarm) => metricsOf(alarm.props).some((m) => m.Namespace === namespace && m.MetricName === metric));
  const parameterDefault = (name: string) => (ctx.template.Parameters?.[name] as { Default?: unknown } | undefined)?.Default;

  it("has one MSK event with no on-failure destination and no retry or age limit (Lambda's default: infinite)", () => {
    expect(aggregateEvents).toHaveLength(1);
    const [event] = aggregateEvents;
    expect(event?.Properties.DestinationConfig).toBeUndefined();
    for (const limit of ["MaximumRetryAttempts", "MaximumRecordAgeInSeconds"]) {
      const value = event?.Properties[limit];
      expect(value === undefined || Number(value) === -1, `${limit} is ${JSON.stringify(value)}`).toBe(true);
    }
    expect(event?.Properties.BisectBatchOnFunctionError).toBeUndefined();
  });

  it("caps the sales topic's records to what one 6 MB invocation delivers, compression included", () => {
    const topics = resolveValue(ctx, resources.KafkaTopics?.Properties?.Topics, "KafkaTopics") as {
      Name: string;
      Config?: Record<string, string>;
    }[];
    const sales = topics.find((topic) => topic.Name === "sales");
    const maxBytes = Number(sales?.Config?.["max.message.bytes"]);
    expect(maxBytes).toBeGreaterThan(256 * 1024); // records larger than an SQS message still pass: the S3 dead-letter path matters
    expect(maxBytes).toBeLessThanOrEqual(MAX_DELIVERABLE_RECORD_BYTES);
    expect(worstCaseEventBytes(maxBytes)).toBeLessThanOrEqual(LAMBDA_INVOCATION_PAYLOAD_BYTES);
    expect(sales?.Config?.["compression.type"]).toBe("uncompressed");
    // The arithmetic the template's comment states.
    expect(MAX_DELIVERABLE_RECORD_BYTES).toBe(997_269);
    const topicsGrant = statementsOf("KafkaTopicsFunction").flatMap((s) => [s.Action].flat());
    expect(topicsGrant).toEqual(
      expect.arrayContaining(["kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:AlterTopicDynamicConfiguration"]),
    );
  });

  it("keeps the rollup mapping's destination (rollups are recomputable with npm run rollups)", () => {
    const rollup = Object.values(
      (resources.RollupFunction?.Properties?.Events ?? {}) as Record<string, { Properties: Record<string, unknown> }>,
    );
    expect(rollup[0]?.Properties.DestinationConfig).toBeDefined();
  });

  it("notifies an encrypted SNS topic, by email only when AlarmEmail is given", () => {
    const topic = resources.AlarmTopic;
    expect(topic?.Type).toBe("AWS::SNS::Topic");
    // CloudWatch cannot use the AWS managed alias/aws/sns: a customer managed key that lets it.
    expect(topic?.Properties?.KmsMasterKeyId).toEqual({ Ref: "AlarmTopicKey" });
    const key = resources.AlarmTopicKey?.Properties as {
      EnableKeyRotation: boolean;
      KeyPolicy: { Statement: (Statement & { Principal: { Service?: string } })[] };
    };
    expect(key.EnableKeyRotation).toBe(true);
    const cloudwatch = key.KeyPolicy.Statement.find((s) => s.Principal.Service === "cloudwatch.amazonaws.com");
    expect([cloudwatch?.Action].flat()).toEqual(expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey*"]));
    expect(parameterDefault("AlarmEmail")).toBe("");
    const subscription = resources.AlarmEmailSubscription;
    expect(subscription).toMatchObject({ Type: "AWS::SNS::Subscription", Condition: "HasAlarmEmail" });
    expect(subscription?.Properties).toMatchObject({ Protocol: "email", Endpoint: { Ref: "AlarmEmail" }, TopicArn: { Ref: "AlarmTopic" } });
    expect(resourceEnabled(ctx, "AlarmEmailSubscription")).toBe(false);
    expect(resourceEnabled({ ...ctx, parameterOverrides: { AlarmEmail: "ops@example.com" } }, "AlarmEmailSubscription")).toBe(true);
  });

  it("has every alarm notify the topic when it fires and when it clears", () => {
    expect(alarms.length).toBeGreaterThanOrEqual(4);
    for (const { id, props } of alarms) {
      expect(props.AlarmActions, id).toEqual([{ Ref: "AlarmTopic" }]);
      expect(props.OKActions, id).toEqual([{ Ref: "AlarmTopic" }]);
    }
  });

  // The broker's view of the aggregate consumer group: it exists whether the mapping polls or not.
  // The group is the one the mapping commits to (its ConsumerGroupId), written the same way.
  const groupDimensions = [
    { Name: "Cluster Name", Value: { "Fn::Select": [1, { "Fn::Split": ["/", { Ref: "KafkaCluster" }] }] } },
    { Name: "Consumer Group", Value: aggregateEvents[0]?.Properties.ConsumerGroupId },
    { Name: "Topic", Value: { Ref: "SalesTopicName" } },
  ];
  const metricOf = (alarm: AlarmProps | undefined, name: string) => alarm?.Metrics?.find((m) => m.MetricStat?.Metric.MetricName === name);

  it("alarms on the aggregate group's lag above a threshold for a number of minutes, the broker's lag or the mapping's", () => {
    const lag = watching("AWS/Kafka", "SumOffsetLag").filter((a) => a.id === "AggregateOffsetLagAlarm");
    expect(lag).toHaveLength(1);
    const props = lag[0]?.props;
    expect(props).toMatchObject({
      Threshold: { Ref: "OffsetLagAlarmThreshold" },
      EvaluationPeriods: { Ref: "OffsetLagAlarmMinutes" },
      DatapointsToAlarm: { Ref: "OffsetLagAlarmMinutes" },
      ComparisonOperator: "GreaterThanThreshold",
    });
    expect(metricOf(props, "SumOffsetLag")?.MetricStat?.Metric.Dimensions).toEqual(groupDimensions);
    expect(metricOf(props, "OffsetLag")?.MetricStat?.Metric.Dimensions).toEqual([
      { Name: "FunctionName", Value: { Ref: "AggregateFunction" } },
    ]);
    expect(Number(parameterDefault("OffsetLagAlarmThreshold"))).toBeGreaterThan(0);
  });

  it("names the consumer group the aggregate mapping joins in its lag alarms, and asks the mapping for its own metrics", () => {
    const [event] = aggregateEvents;
    expect(event?.Properties.ConsumerGroupId).toEqual(groupDimensions[1]?.Value);
    expect(event?.Properties.Topics).toEqual([groupDimensions[2]?.Value]);
    expect(event?.Properties.MetricsConfig).toEqual({ Metrics: ["EventCount", "ErrorCount", "KafkaMetrics"] });
  });

  it("alarms on any dead letter waiting, and on the oldest one aging past a parameter", () => {
    const queue = { Name: "QueueName", Value: { "Fn::GetAtt": ["DeadLetterQueue", "QueueName"] } };
    const depth = watching("AWS/SQS", "ApproximateNumberOfMessagesVisible");
    expect(depth).toHaveLength(1);
    expect(depth[0]?.props).toMatchObject({ Dimensions: [queue], Threshold: 0, ComparisonOperator: "GreaterThanThreshold" });
    const age = watching("AWS/SQS", "ApproximateAgeOfOldestMessage");
    expect(age).toHaveLength(1);
    expect(age[0]?.props).toMatchObject({ Dimensions: [queue], Threshold: { Ref: "DeadLetterAgeAlarmSeconds" } });
  });

  it("alarms when records wait but no partition's watermark advances, also when the mapping cannot poll, within 15 minutes", () => {
    const stalled = watching("SalesStreamAnalytics", "WatermarkAdvances");
    expect(stalled).toHaveLength(1);
    const props = stalled[0]?.props;
    const lag = metricOf(props, "OffsetLag");
    const groupLag = metricOf(props, "SumOffsetLag");
    const written = metricOf(props, "MessagesInPerSec");
    const advances = metricOf(props, "WatermarkAdvances");
    expect(lag?.MetricStat?.Metric.Dimensions).toEqual([{ Name: "FunctionName", Value: { Ref: "AggregateFunction" } }]);
    expect(groupLag?.MetricStat?.Metric.Dimensions).toEqual(groupDimensions);
    expect(written?.MetricStat?.Metric.Dimensions).toEqual([groupDimensions[0], groupDimensions[2]]);
    // Powertools Metrics adds the service name as the `service` dimension.
    expect(advances?.MetricStat?.Metric.Dimensions).toEqual([{ Name: "service", Value: "aggregate" }]);
    const expression = (props?.Metrics?.find((m) => m.ReturnData === true)?.Expression ?? "").replace(/\s+/g, "");
    for (const input of [lag, groupLag, written]) expect(expression).toContain(`FILL(${input?.Id},0)`);
    expect(expression).toContain(`FILL(${advances?.Id},0)==0`);
    expect(props?.EvaluationPeriods).toEqual({ Ref: "WatermarkStallMinutes" });
    // Consecutive minutes, plus the minute it began in and about 3 for the metrics to arrive, stay within 15.
    expect(Number(parameterDefault("WatermarkStallMinutes")) + 1 + 3).toBeLessThanOrEqual(15);
    expect(handlerSource("AggregateFunction")).toContain('"WatermarkAdvances"');
  });

  it("treats missing data as not breaching in every alarm: a new stack before its first sale stays quiet", () => {
    for (const { id, props } of alarms) expect((props as { TreatMissingData?: string }).TreatMissingData, id).toBe("notBreaching");
  });
});

describe("template.yaml on AWS: who may read the dashboard (DashboardAuth)", () => {
  const jwt: StackContext = {
    ...ctx,
    parameterOverrides: {
      DashboardAuth: "jwt",
      DashboardJwtIssuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
      DashboardJwtAudience: "example-client-id",
      DashboardAuthorizeUrl: "https://example.auth.us-east-1.amazoncognito.com/oauth2/authorize",
      DashboardTokenUrl: "https://example.auth.us-east-1.amazoncognito.com/oauth2/token",
    },
  };
  const ofType = (type: string) => Object.keys(resources).filter((id) => resources[id]?.Type === type);
  const dashboardApiResources = Object.keys(resources).filter((id) =>
    JSON.stringify(resources[id]?.Properties ?? {}).includes('"Ref":"DashboardApi"'),
  );
  const routes = (within: StackContext) =>
    ofType("AWS::ApiGatewayV2::Route")
      .filter((id) => resourceEnabled(within, id))
      .map(
        (id) =>
          resolveValue(within, resources[id]?.Properties, id) as { RouteKey: string; AuthorizationType: string; AuthorizerId?: unknown },
      );
  const httpApiRoutes = () =>
    functionIds().flatMap((fn) =>
      Object.values((resources[fn]?.Properties?.Events ?? {}) as Record<string, { Type: string; Properties: Record<string, unknown> }>)
        .filter((event) => event.Type === "HttpApi")
        .map((event) => ({ fn, route: `${event.Properties.Method} ${event.Properties.Path}`, auth: event.Properties.Auth })),
    );

  it("serves the page from the template's HttpApi, under its default IAM authorizer like every route", () => {
    const api = resources.HttpApi?.Properties?.Auth as { DefaultAuthorizer?: string; EnableIamAuthorizer?: boolean };
    expect(api).toMatchObject({ DefaultAuthorizer: "AWS_IAM", EnableIamAuthorizer: true });
    expect(httpApiRoutes()).toEqual(
      expect.arrayContaining([
        { fn: "DashboardFunction", route: "GET /", auth: undefined },
        { fn: "DashboardFunction", route: "GET /dashboard/{asset}", auth: undefined },
      ]),
    );
    // No route opts out of the default: IAM everywhere on ApiUrl, POST /sales included.
    for (const route of httpApiRoutes()) expect(route.auth, route.route).toBeUndefined();
  });

  it("defaults to iam, which creates nothing else: no second API, no JWT authorizer", () => {
    expect((ctx.template.Parameters?.DashboardAuth as { Default?: string } | undefined)?.Default).toBe("iam");
    expect(dashboardApiResources.length).toBeGreaterThanOrEqual(8);
    for (const id of ["DashboardApi", ...dashboardApiResources]) {
      expect(resources[id]?.Condition, id).toBe("DashboardJwt");
      expect(resourceEnabled(ctx, id), id).toBe(false);
    }
    expect(routes(ctx)).toEqual([]);
    expect((ctx.template.Outputs?.DashboardUrl as { Condition?: string } | undefined)?.Condition).toBe("DashboardJwt");
  });

  it("with jwt: the page is public, the read routes need a JWT of the configured issuer and audience, and nothing writes", () => {
    for (const id of ["DashboardApi", ...dashboardApiResources]) expect(resourceEnabled(jwt, id), id).toBe(true);
    const byKey = Object.fromEntries(routes(jwt).map((route) => [route.RouteKey, route]));
    expect(Object.keys(byKey).sort()).toEqual([
      "GET /",
      "GET /dashboard/{asset}",
      "GET /leaderboard/{dimension}",
      "GET /series/{dimension}/{value}",
    ]);
    expect(byKey["GET /"]?.AuthorizationType).toBe("NONE");
    expect(byKey["GET /dashboard/{asset}"]?.AuthorizationType).toBe("NONE");
    for (const key of ["GET /leaderboard/{dimension}", "GET /series/{dimension}/{value}"]) {
      expect(byKey[key]?.AuthorizationType, key).toBe("JWT");
      expect(
        resources[ofType("AWS::ApiGatewayV2::Route").find((id) => resources[id]?.Properties?.RouteKey === key) ?? ""]?.Properties
          ?.AuthorizerId,
      ).toEqual({
        Ref: "DashboardApiAuthorizer",
      });
    }
    const authorizer = resolveValue(jwt, resources.DashboardApiAuthorizer?.Properties, "DashboardApiAuthorizer") as Record<string, unknown>;
    expect(authorizer).toMatchObject({
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example", Audience: ["example-client-id"] },
    });
  });

  it("with jwt: the page and read routes reach the dashboard and query functions only, each allowed for this API alone", () => {
    const integrations = ofType("AWS::ApiGatewayV2::Integration").map((id) => resources[id]?.Properties?.IntegrationUri);
    expect(integrations).toEqual(
      expect.arrayContaining([{ "Fn::GetAtt": ["DashboardFunction", "Arn"] }, { "Fn::GetAtt": ["QueryFunction", "Arn"] }]),
    );
    expect(integrations).toHaveLength(2);
    const permissions = ofType("AWS::Lambda::Permission").filter((id) => resources[id]?.Condition === "DashboardJwt");
    expect(
      permissions.map((id) => resources[id]?.Properties?.FunctionName).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([{ Ref: "DashboardFunction" }, { Ref: "QueryFunction" }]);
    for (const id of permissions) expect(JSON.stringify(resources[id]?.Properties?.SourceArn)).toContain("${DashboardApi}/*/*");
  });

  it("refuses a jwt deployment that does not name its issuer, audience and sign-in endpoints", () => {
    const { Rules } = ctx.template as unknown as { Rules: Record<string, { RuleCondition: unknown; Assertions: { Assert: unknown }[] }> };
    const rule = Rules.DashboardJwtNeedsItsProvider as { RuleCondition: unknown; Assertions: { Assert: unknown }[] };
    expect(rule.RuleCondition).toEqual({ "Fn::Equals": [{ Ref: "DashboardAuth" }, "jwt"] });
    const asserted = JSON.stringify(rule.Assertions.map((a) => a.Assert));
    for (const parameter of ["DashboardJwtIssuer", "DashboardJwtAudience", "DashboardAuthorizeUrl", "DashboardTokenUrl"])
      expect(asserted).toContain(`{"Ref":"${parameter}"}`);
  });

  it("hands the page its sign-in settings and the windows, and no secret", () => {
    const variables = resources.DashboardFunction?.Properties?.Environment as { Variables: Record<string, unknown> };
    expect(Object.keys(variables.Variables).sort()).toEqual([
      "DASHBOARD_AUTH",
      "DASHBOARD_AUTHORIZE_URL",
      "DASHBOARD_CLIENT_ID",
      "DASHBOARD_SCOPES",
      "DASHBOARD_TOKEN_URL",
      "WINDOWS",
    ]);
    expect(resources.DashboardFunction?.Properties?.Policies).toBeUndefined();
  });
});
