import { localAws, localStackContext, physicalName, resolveValue, type StackContext } from "@sales-stream-analytics/local-aws";
import { generatedName, resourceEnabled } from "@sales-stream-analytics/local-aws/testing";
import { afterAll, describe, expect, it } from "vitest";

// Every physical name template.yaml derives, evaluated by the local stack's own resolver for stack
// names CloudFormation accepts (the shortest, mixed case, hyphens, 128 characters, prefixes S3
// reserves) and checked against each service's documented naming rule. Names the template leaves
// to CloudFormation are evaluated too, with the resolver's copy of CloudFormation's pattern.
const template = localStackContext().template;

/** CreateStack: 1-128 letters, digits and hyphens, starting with a letter (CloudFormation API reference, CreateStack, StackName). */
const stackNamePattern = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

const stackNames = [
  "a",
  "SalesAnalytics-Prod",
  "sales-analytics",
  "xn--sales", // S3 refuses bucket names starting with xn-- or sthree-
  "sthree-lake",
  "Ends-With-Hyphen-",
  "two--hyphens",
  `S${"alesAnalytics-Prod-".repeat(7)}`.slice(0, 128),
  `a${"9".repeat(127)}`,
];

/** Parameter sets that create every optional resource one way or the other. */
const parameterSets: Record<string, Record<string, string>> = {
  defaults: {},
  "every option": {
    DashboardAuth: "jwt",
    CreateVpcEndpoints: "true",
    RouteTableIds: "rtb-1",
    AlarmEmail: "ops@example.com",
    IngestReservedConcurrency: "100",
    LakeDatabaseName: "sales_prod",
  },
};

interface NameRule {
  /** Where the rule is written down. */
  readonly source: string;
  /** What is wrong with `name`, one line per broken rule; empty when the service takes it. */
  readonly problems: (name: string) => string[];
}

function lengthAndPattern(min: number, max: number, pattern: RegExp) {
  return (name: string) => [
    ...(name.length < min || name.length > max ? [`${name.length} characters, not ${min}-${max}`] : []),
    ...(pattern.test(name) ? [] : [`does not match ${pattern}`]),
  ];
}

const rules = {
  s3Bucket: {
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    problems: (name: string) => [
      ...lengthAndPattern(3, 63, /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/)(name),
      ...(name.includes("..") ? ["two adjacent periods"] : []),
      ...(/^\d+\.\d+\.\d+\.\d+$/.test(name) ? ["formatted as an IP address"] : []),
      ...["xn--", "sthree-", "amzn-s3-demo-"].filter((prefix) => name.startsWith(prefix)).map((prefix) => `starts with ${prefix}`),
      ...["-s3alias", "--ol-s3", ".mrap", "--x-s3"].filter((suffix) => name.endsWith(suffix)).map((suffix) => `ends with ${suffix}`),
    ],
  },
  mskCluster: {
    source: "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-msk-serverlesscluster.html",
    problems: lengthAndPattern(1, 64, /^[A-Za-z0-9-]+$/),
  },
  firehoseStream: {
    source: "https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html",
    problems: lengthAndPattern(1, 64, /^[a-zA-Z0-9_.-]+$/),
  },
  sqsQueue: {
    source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    problems: lengthAndPattern(1, 80, /^[A-Za-z0-9_-]+$/),
  },
  dynamodbTable: {
    source: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html",
    problems: lengthAndPattern(3, 255, /^[A-Za-z0-9_.-]+$/),
  },
  glueRegistryOrSchema: {
    source: "https://docs.aws.amazon.com/glue/latest/webapi/API_CreateRegistry.html",
    problems: lengthAndPattern(1, 255, /^[a-zA-Z0-9-_$#.]+$/),
  },
  // Glue takes more, but Athena (and the Glue catalog's readers after it) want lowercase letters,
  // digits and underscores; a name starting with a digit or underscore needs quoting in every query.
  athenaName: {
    source: "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html",
    problems: lengthAndPattern(1, 255, /^[a-z][a-z0-9_]*$/),
  },
  logGroup: {
    source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    problems: lengthAndPattern(1, 512, /^[.\-_/#A-Za-z0-9]+$/),
  },
  alarm: {
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    problems: lengthAndPattern(1, 255, /^[\x20-\x7e]+$/),
  },
  httpApi: {
    source: "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html",
    problems: lengthAndPattern(1, 128, /^.+$/),
  },
  snsTopic: {
    source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    problems: lengthAndPattern(1, 256, /^[A-Za-z0-9_-]+$/),
  },
  snsDisplayName: {
    source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    problems: lengthAndPattern(1, 100, /^[^\n]+$/),
  },
  lambdaFunction: {
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    problems: lengthAndPattern(1, 64, /^[a-zA-Z0-9_-]+$/),
  },
  kafkaConsumerGroup: {
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_AmazonManagedKafkaEventSourceConfig.html",
    problems: lengthAndPattern(1, 200, /^[a-zA-Z0-9\-/*:_+=.@]+$/),
  },
  iamRole: {
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
    problems: lengthAndPattern(1, 64, /^[\w+=,.@-]+$/),
  },
} satisfies Record<string, NameRule>;

interface DerivedName {
  readonly path: string;
  readonly name: string;
  readonly rule: NameRule;
}

const resolved = (ctx: StackContext, value: unknown, path: string) => String(resolveValue(ctx, value, path));

/** The physical names of the resources `ctx` creates, each with the rule of the service that takes it. */
function derivedNames(ctx: StackContext): DerivedName[] {
  const names: DerivedName[] = [];
  const add = (path: string, name: string, rule: NameRule) => names.push({ path, name, rule });
  for (const [id, resource] of Object.entries(ctx.template.Resources)) {
    if (!resourceEnabled(ctx, id)) continue;
    const props = resource.Properties ?? {};
    const at = `Resources.${id}`;
    switch (resource.Type) {
      case "AWS::S3::Bucket":
        add(at, physicalName(ctx, id), rules.s3Bucket);
        break;
      case "AWS::MSK::ServerlessCluster":
        add(at, physicalName(ctx, id), rules.mskCluster);
        break;
      case "AWS::KinesisFirehose::DeliveryStream":
        add(at, physicalName(ctx, id), rules.firehoseStream);
        break;
      case "AWS::SQS::Queue":
        add(at, physicalName(ctx, id), rules.sqsQueue);
        break;
      case "AWS::DynamoDB::Table":
        add(at, physicalName(ctx, id), rules.dynamodbTable);
        break;
      case "AWS::Glue::Registry":
      case "AWS::Glue::Schema":
        add(at, physicalName(ctx, id), rules.glueRegistryOrSchema);
        break;
      case "AWS::Glue::Database":
      case "AWS::Glue::Table":
        add(at, physicalName(ctx, id), rules.athenaName);
        break;
      case "AWS::Logs::LogGroup":
        add(at, resolved(ctx, props.LogGroupName, at), rules.logGroup);
        break;
      case "AWS::CloudWatch::Alarm":
        add(at, props.AlarmName === undefined ? generatedName(ctx, id, resource.Type) : resolved(ctx, props.AlarmName, at), rules.alarm);
        break;
      case "AWS::ApiGatewayV2::Api":
        add(at, resolved(ctx, props.Name, at), rules.httpApi);
        break;
      case "AWS::SNS::Topic":
        add(at, props.TopicName === undefined ? generatedName(ctx, id, resource.Type) : resolved(ctx, props.TopicName, at), rules.snsTopic);
        if (props.DisplayName !== undefined) add(`${at}.DisplayName`, resolved(ctx, props.DisplayName, at), rules.snsDisplayName);
        break;
      case "AWS::IAM::Role":
        add(at, generatedName(ctx, id, resource.Type), rules.iamRole);
        break;
      case "AWS::Serverless::Function": {
        add(at, physicalName(ctx, id), rules.lambdaFunction);
        // SAM adds the function's role as <LogicalId>Role, named by CloudFormation.
        add(`${at}Role`, generatedName(ctx, `${id}Role`, "AWS::IAM::Role"), rules.iamRole);
        for (const [event, spec] of Object.entries(
          (props.Events ?? {}) as Record<string, { Type: string; Properties: Record<string, unknown> }>,
        )) {
          if (spec.Type === "MSK" && spec.Properties.ConsumerGroupId !== undefined) {
            add(`${at}.Events.${event}.ConsumerGroupId`, resolved(ctx, spec.Properties.ConsumerGroupId, at), rules.kafkaConsumerGroup);
          }
        }
        break;
      }
    }
  }
  return names;
}

/** Paths in the raw template whose value is built from AWS::StackName or AWS::StackId. */
function stackDerivedPaths(value: unknown, path: string): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => stackDerivedPaths(item, `${path}[${index}]`));
  if (value === null || typeof value !== "object") return [];
  const entries = Object.entries(value);
  const text = JSON.stringify(value);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && first[0].startsWith("Fn::") && /AWS::Stack(Name|Id)/.test(text)) return [path];
  if (entries.length === 1 && first?.[0] === "Ref" && /^AWS::Stack(Name|Id)$/.test(String(first[1]))) return [path];
  return entries.flatMap(([key, item]) => stackDerivedPaths(item, `${path}.${key}`));
}

/**
 * Every place the template builds a value from the stack's name or id, and what checks it: a name
 * rule above, or why it is no name of its own. A new one fails the test until it is listed here.
 */
const stackDerived: Record<string, string> = {
  "Resources.AggregateFunction.Properties.Policies[0].Statement[2].Resource": "the ARN of the consumer group ConsumerGroupId names",
  "Resources.AggregateFunction.Properties.Events.SalesTopic.Properties.ConsumerGroupId": "kafkaConsumerGroup",
  "Resources.LakeDatabase.Properties.DatabaseInput.Name": "athenaName",
  "Resources.DashboardApi.Properties.Name": "httpApi",
  "Resources.HttpApiAccessLogs.Properties.LogGroupName": "logGroup",
  "Resources.IdempotencyTable.Properties.TableName": "dynamodbTable",
  "Resources.KafkaCluster.Properties.ClusterName": "mskCluster",
  "Resources.AggregatesTable.Properties.TableName": "dynamodbTable",
  "Resources.LakeBucket.Properties.BucketName": "s3Bucket",
  "Resources.SchemaRegistry.Properties.Name": "glueRegistryOrSchema",
  "Resources.AggregateOffsetLagAlarm.Properties.AlarmName": "alarm",
  "Resources.AggregateWatermarkStalledAlarm.Properties.AlarmName": "alarm",
  "Resources.AggregateOffsetLagAlarm.Properties.Metrics[1].MetricStat.Metric.Dimensions[1].Value":
    "the consumer group ConsumerGroupId names (a metric dimension, not a name of its own)",
  "Resources.AggregateWatermarkStalledAlarm.Properties.Metrics[1].MetricStat.Metric.Dimensions[1].Value":
    "the consumer group ConsumerGroupId names (a metric dimension, not a name of its own)",
  "Resources.DeadLetterQueueDepthAlarm.Properties.AlarmName": "alarm",
  "Resources.DeadLetterQueueAgeAlarm.Properties.AlarmName": "alarm",
  "Outputs.SchemaRegistryName.Value": "the name of SchemaRegistry, checked there",
};

const matrix: string[][] = [];

describe("template.yaml on AWS: every physical name it derives, for any stack name CloudFormation accepts", () => {
  it("has a valid stack name in every row of the matrix", () => {
    for (const stackName of stackNames) expect(stackName, stackName).toMatch(stackNamePattern);
    expect(Math.max(...stackNames.map((name) => name.length))).toBe(128);
    expect(Math.min(...stackNames.map((name) => name.length))).toBe(1);
  });

  it("knows every value the template builds from the stack's name or id, and checks each name among them", () => {
    const found = [...stackDerivedPaths(template.Resources, "Resources"), ...stackDerivedPaths(template.Outputs ?? {}, "Outputs")].map(
      (path) => path.replace(/\.Fn::Sub(\[\d+\])?$/, ""),
    );
    expect(found.sort()).toEqual(Object.keys(stackDerived).sort());
    const everyOption = { ...localStackContext(), parameterOverrides: parameterSets["every option"] };
    const checked = derivedNames(everyOption).map((name) => name.path);
    for (const [path, check] of Object.entries(stackDerived)) {
      if (check in rules) expect(checked, path).toContain(path.split(".Properties")[0]);
    }
  });

  describe.each(Object.entries(parameterSets))("with %s", (_, parameterOverrides) => {
    it.each(stackNames)("stack %s: every name meets its service's rule", (stackName) => {
      const ctx: StackContext = { template, stackName, region: localAws.region, accountId: localAws.accountId, parameterOverrides };
      const names = derivedNames(ctx);
      expect(names.length).toBeGreaterThan(20);
      const broken = names.flatMap(({ path, name, rule }) =>
        rule.problems(name).map((problem) => `${path} = "${name}": ${problem} (${rule.source})`),
      );
      expect(broken).toEqual([]);
      if (Object.keys(parameterOverrides).length === 0) {
        const of = (id: string) => names.find((name) => name.path === `Resources.${id}`)?.name ?? "-";
        matrix.push([
          stackName,
          of("LakeBucket"),
          of("KafkaCluster"),
          of("LakeDatabase"),
          of("SalesDeliveryStream"),
          of("DeadLetterQueue"),
        ]);
      }
    });
  });

  it("leaves names of resources that users type readable: a LakeDatabaseName given is the Glue database's name", () => {
    const ctx: StackContext = {
      template,
      stackName: "SalesAnalytics-Prod",
      region: localAws.region,
      accountId: localAws.accountId,
      parameterOverrides: { LakeDatabaseName: "sales_prod" },
    };
    expect(physicalName(ctx, "LakeDatabase")).toBe("sales_prod");
    expect(physicalName({ ...ctx, parameterOverrides: {} }, "LakeDatabase")).toMatch(
      /^sales_lake_[0-9a-f]{8}(_[0-9a-f]{4}){3}_[0-9a-f]{12}$/,
    );
  });
});

afterAll(() => {
  if (matrix.length === 0) return;
  console.log(
    [
      "stack name (length) -> lake bucket | MSK cluster | Glue database | delivery stream | dead-letter queue",
      ...matrix.map(([stack, ...names]) => `${stack} (${stack?.length}) -> ${names.join(" | ")}`),
    ].join("\n"),
  );
});
