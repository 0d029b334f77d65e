/**
 * List prices (us-east-1, on-demand, first tier, no free tier) the cost estimate multiplies the
 * measured usage by: the one source of docs/prices.md (`npm run gen` renders it; a unit test fails
 * when the page and this file disagree). Each price names where its figure was read and when.
 * AWS's own pricing pages render their tables in the browser, so the stored copies often hold the
 * rules but not the figures: where a figure comes from another page, `source` names that page and
 * `rules` the AWS page. A price no stored page gave is `null` and stays unpriced in every estimate
 * (never guessed); fill it in here, with its source, when you have read it.
 */

export interface ListPrice {
  readonly service: string;
  readonly item: string;
  /** US dollars per `per` units, as exact decimal text; null: no stored page gave the figure. */
  readonly usd: string | null;
  readonly per: number;
  readonly unit: string;
  /** Where the figure was read. */
  readonly source: string;
  /** The AWS page that states how the item is metered, when the figure came from elsewhere. */
  readonly rules?: string;
  readonly note?: string;
}

/** The day the figures below were read. */
export const PRICES_READ_ON = "2026-12-07";
/** The pricing pages' name of the region whose prices these are. */
export const PRICES_REGION = "US East (N. Virginia)";

const LAMBDA = "https://aws.amazon.com/lambda/pricing/";
const MSK = "https://aws.amazon.com/msk/pricing/";
const FIREHOSE = "https://aws.amazon.com/kinesis/data-firehose/pricing/";
const CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/";
const FLINK = "https://aws.amazon.com/managed-service-apache-flink/pricing/";

export const prices = {
  httpApiRequest: {
    service: "API Gateway",
    item: "HTTP API requests (first 300 million a month; metered in 512 KB increments)",
    usd: "1.00",
    per: 1_000_000,
    unit: "requests",
    source: "https://www.apigatewaycost.com/aws",
    rules: "https://aws.amazon.com/api-gateway/pricing/",
  },
  lambdaRequest: {
    service: "Lambda",
    item: "requests (x86 and Arm alike)",
    usd: "0.20",
    per: 1_000_000,
    unit: "requests",
    source: "http://www.headinthecloud.qualitycloudsystems.com/2020/12/new-for-aws-lambda-1ms-billing.html",
    rules: LAMBDA,
  },
  lambdaArmGbSecond: {
    service: "Lambda",
    item: "duration, Arm (first 7.5 billion GB-s a month; INIT included since 1 August 2025, rounded up to the ms)",
    usd: "0.0000133334",
    per: 1,
    unit: "GB-seconds",
    source: "https://cloudchipr.com/blog/aws-lambda-pricing",
    rules: LAMBDA,
    note: "INIT billing for managed runtimes: https://vuink.com/post/njf-d-dnznmba-d-dpbz/blogs/compute/aws-lambda-standardizes-billing-for-init-phase (an AWS Compute Blog copy)",
  },
  lambdaX86GbSecond: {
    service: "Lambda",
    item: "duration, x86 (first 6 billion GB-s a month)",
    usd: "0.0000166667",
    per: 1,
    unit: "GB-seconds",
    source: "https://cloudchipr.com/blog/aws-lambda-pricing",
    rules: LAMBDA,
  },
  dynamodbWriteUnit: {
    service: "DynamoDB",
    item: "on-demand write request units (after the November 2024 price cut)",
    usd: "0.625",
    per: 1_000_000,
    unit: "write request units",
    source: "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    rules: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  },
  dynamodbReadUnit: {
    service: "DynamoDB",
    item: "on-demand read request units",
    usd: "0.125",
    per: 1_000_000,
    unit: "read request units",
    source: "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    rules: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  },
  dynamodbStreamReadByLambda: {
    service: "DynamoDB Streams",
    item: "GetRecords made by a Lambda trigger",
    usd: "0",
    per: 1,
    unit: "requests",
    source: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CostOptimization_StreamsUsage.html",
    note: "free for Lambda consumers; other readers pay streams read request units after 2.5 million a month",
  },
  s3Put: {
    service: "S3",
    item: "PUT, COPY, POST, LIST requests (Standard)",
    usd: "0.005",
    per: 1_000,
    unit: "requests",
    source: "https://c3x.dev/blog/s3-request-fees-explained",
    rules: "https://aws.amazon.com/s3/pricing/",
  },
  s3Get: {
    service: "S3",
    item: "GET, SELECT and other requests (Standard)",
    usd: "0.0004",
    per: 1_000,
    unit: "requests",
    source: "https://c3x.dev/blog/s3-request-fees-explained",
    rules: "https://aws.amazon.com/s3/pricing/",
  },
  sqsRequest: {
    service: "SQS",
    item: "standard queue requests",
    usd: null,
    per: 1_000_000,
    unit: "requests",
    source: "https://aws.amazon.com/sqs/pricing/",
    note: "not looked up: only the dead-letter path sends, and the measured loads send nothing",
  },
  firehoseMskIngest: {
    service: "Data Firehose",
    item: "ingestion, MSK as source (per GB of the greater of bytes ingested and delivered, no 5 KB rounding)",
    usd: null,
    per: 1,
    unit: "GB",
    source: FIREHOSE,
    note: "the stored pages state the rule but not the us-east-1 figure",
  },
  firehoseFormatConversion: {
    service: "Data Firehose",
    item: "format conversion to Parquet (per GB ingested, 5 KB increments)",
    usd: null,
    per: 1,
    unit: "GB",
    source: FIREHOSE,
    note: "the stored pages state the rule but not the us-east-1 figure",
  },
  firehoseDynamicPartitioningGb: {
    service: "Data Firehose",
    item: "dynamic partitioning, per GB delivered to S3",
    usd: null,
    per: 1,
    unit: "GB",
    source: FIREHOSE,
    note: "the stored pages state the rule (per GB, per object, optional JQ hours) but not the figures",
  },
  firehoseDynamicPartitioningObjects: {
    service: "Data Firehose",
    item: "dynamic partitioning, per 1,000 objects delivered to S3",
    usd: null,
    per: 1_000,
    unit: "objects",
    source: FIREHOSE,
    note: "the stored pages state the rule but not the figure",
  },
  mskClusterHour: {
    service: "MSK Serverless",
    item: "cluster-hours",
    usd: "0.75",
    per: 1,
    unit: "cluster-hours",
    source: "https://gist.github.com/EverettBerry/d24aa940ad43c313803248cea6366682",
    rules: MSK,
    note: "a table of October 2022; the stored AWS page names the dimensions, not the figures",
  },
  mskPartitionHour: {
    service: "MSK Serverless",
    item: "partition-hours",
    usd: "0.0015",
    per: 1,
    unit: "partition-hours",
    source: "https://gist.github.com/EverettBerry/d24aa940ad43c313803248cea6366682",
    rules: MSK,
  },
  mskDataIn: {
    service: "MSK Serverless",
    item: "data in",
    usd: "0.10",
    per: 1,
    unit: "GiB",
    source: "https://gist.github.com/EverettBerry/d24aa940ad43c313803248cea6366682",
    rules: MSK,
  },
  mskDataOut: {
    service: "MSK Serverless",
    item: "data out",
    usd: "0.05",
    per: 1,
    unit: "GiB",
    source: "https://gist.github.com/EverettBerry/d24aa940ad43c313803248cea6366682",
    rules: MSK,
  },
  cloudwatchMetric: {
    service: "CloudWatch",
    item: "custom metrics (first 10,000), per metric-month",
    usd: "0.30",
    per: 1,
    unit: "metric-months",
    source: "https://signoz.io/guides/cloudwatch-pricing",
    rules: CLOUDWATCH,
  },
  cloudwatchAlarmMetric: {
    service: "CloudWatch",
    item: "standard-resolution alarms, per metric an alarm reads (metric math: each metric), per month",
    usd: "0.10",
    per: 1,
    unit: "alarm metric-months",
    source: "https://c3x.dev/resources/aws/aws_cloudwatch_metric_alarm",
    rules: CLOUDWATCH,
  },
  cloudwatchLogsIngestion: {
    service: "CloudWatch",
    item: "logs ingested (standard class)",
    usd: "0.50",
    per: 1,
    unit: "GB",
    source: "https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards.md",
    rules: CLOUDWATCH,
  },
  interfaceEndpointHour: {
    service: "VPC (PrivateLink)",
    item: "interface endpoint-hours, per endpoint per AZ",
    usd: "0.01",
    per: 1,
    unit: "endpoint-AZ-hours",
    source: "https://awsnegotiations.com/privatelink-cost-analysis.html",
    rules: "https://aws.amazon.com/privatelink/pricing/",
  },
  interfaceEndpointData: {
    service: "VPC (PrivateLink)",
    item: "data processed by interface endpoints (first PB a month)",
    usd: "0.01",
    per: 1,
    unit: "GB",
    source: "https://968880.n0h2l.group/privatelink/pricing",
    rules: "https://aws.amazon.com/privatelink/pricing/",
  },
  kmsKey: {
    service: "KMS",
    item: "customer managed key, per month",
    usd: "1",
    per: 1,
    unit: "key-months",
    source: "https://aws.amazon.com/kms/pricing/",
  },
  flinkKpuHour: {
    service: "Managed Service for Apache Flink",
    item: "KPU-hours (1 vCPU, 4 GB; plus one orchestration KPU per application)",
    usd: null,
    per: 1,
    unit: "KPU-hours",
    source: FLINK,
    rules: "https://docs.aws.amazon.com/managed-flink/latest/java/how-pricing.html",
    note: "the stored pages state the KPU, the extra orchestration KPU and per-second billing, not the figure",
  },
} as const satisfies Record<string, ListPrice>;

export type PriceId = keyof typeof prices;

/** Hours in a month as AWS's pricing examples count them. */
export const HOURS_PER_MONTH = 730;

/**
 * Records per second one KPU takes, for the Flink comparison. Not an AWS figure: the stored AWS
 * docs give none (their autoscaling adds KPUs when CPU stays above 75 % for 15 minutes). This is
 * the lower bound a managed-Flink vendor gives for windowed aggregation on a unit of the same
 * size (1 CPU, 4 GiB): 1,000 to 5,000 records/s.
 */
export const FLINK_RECORDS_PER_KPU = {
  recordsPerSecond: 1_000,
  source: "https://www.alibabacloud.com/help/en/realtime-compute-for-apache-flink/latest/billing-unit-and-billable-items",
  aws: "https://docs.aws.amazon.com/kinesisanalytics/latest/java/performance-improving.html",
} as const;
