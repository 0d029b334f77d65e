import { execFile } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand } from "@aws-sdk/client-cloudformation";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DeleteRegistryCommand, RegisterSchemaVersionCommand } from "@aws-sdk/client-glue";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import {
  endpoints,
  type LocalFunction,
  localAws,
  localClients,
  localStackContext,
  physicalName,
  samFunctions,
} from "@sales-stream-analytics/local-aws";
import {
  adminCredentialProvider,
  adminCredentials,
  type DynamoDbStreamEventSourceMapping,
  type TemporaryIdentity,
} from "@sales-stream-analytics/local-aws/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregate } from "#functions/aggregate/aggregate";
import { describeSummary, redrive } from "#functions/aggregate/redrive";
import { aggregationSettingsSpec } from "#functions/aggregate/settings";
import { addPartial, type Metrics } from "#shared/aggregates/metrics";
import { redriveCountKey, watermarkKey } from "#shared/aggregates/table";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { loadConfig } from "#shared/config/env";
import { centsOf, formatCents } from "#shared/money/cents";
import { currentSalesSchema, type Sale } from "#shared/sales/schema";
import {
  createPrivateAggregatesTable,
  type EventRecordInput,
  kafkaEvent,
  localFunction,
  salesEncoders,
  tableFigures,
} from "#test/support/aggregates";
import { identityWithQueue } from "#test/support/identities";
import { createPrivateQueue, type PrivateQueue } from "#test/support/queues";
import { expectedFromSlices, rollupFigures } from "#test/support/rollups";
import { listKeys } from "#test/support/s3";
import { createSalesRegistry } from "#test/support/schemas";
import { startStreamMapping } from "#test/support/streams";
import { sampleSales } from "#tools/sales/generator";

/**
 * The redrive on the real stack: the built aggregate function dead-letters records written with
 * a schema version that is not registered yet (SQS in moto, DynamoDB Local), the version is
 * registered (moto Glue, same id), and the redrive counts each of them once, in the slices and in
 * the region and overall rollups RollupFunction recomputes from the table's stream.
 */
const clients = localClients();
const env = samFunctions(localStackContext()).find((fn) => fn.logicalId === "AggregateFunction")?.environment ?? {};
const settings = loadConfig(aggregationSettingsSpec, env);
const topic = `redrive-${randomUUID().slice(0, 6)}`;
const bucket = physicalName(localStackContext(), "LakeBucket");
const registryName = `redrive-test-${randomUUID().slice(0, 8)}`;
/** A v3 of the sales schema a producer wrote with before anyone registered it: v2 plus an optional coupon. */
const v3 = {
  ...(currentSalesSchema as { fields: object[] }),
  fields: [...(currentSalesSchema as { fields: object[] }).fields, { name: "coupon", type: ["null", "string"], default: null }],
} as unknown as typeof currentSalesSchema;
// Yesterday morning: recent enough that no window's slice has expired (1m slices live 2 days).
const DAY = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000;
const sales = sampleSales(30, { seed: 18, startMs: DAY + 9 * 3_600_000, meanGapMs: 60_000 });
const isV3 = (i: number) => i % 3 === 2;
let table: { name: string; drop: () => Promise<void> };
let queue: PrivateQueue;
let identity: TemporaryIdentity;
let fn: LocalFunction;
let rollupFn: LocalFunction;
let rollupQueue: PrivateQueue;
let rollups: DynamoDbStreamEventSourceMapping;
let v3Id: string;
/** The moto seed under which v3 got its id. */
let seed: number;
let records: EventRecordInput[];

async function seedMoto(seed: number): Promise<void> {
  const response = await fetch(`${endpoints.moto}/moto-api/seed?a=${seed}`, { method: "POST" });
  if (!response.ok) throw new Error(`seeding moto failed: HTTP ${response.status}`);
}

/**
 * Registers v3 in a registry of the test's own, right after seeding moto's id generator with
 * `seed`: the same calls after the same seed give the same version id, so the test can learn the
 * id a version will get, forget it, and register it later under that id. Reseeds at random after,
 * so nothing else in moto repeats ids.
 */
async function registerV3(seed: number): Promise<string> {
  await createSalesRegistry(clients.glue, registryName, currentSalesSchema);
  await seedMoto(seed);
  const { SchemaVersionId } = await clients.glue.send(
    new RegisterSchemaVersionCommand({
      SchemaId: { RegistryName: registryName, SchemaName: "sales" },
      SchemaDefinition: JSON.stringify(v3),
    }),
  );
  await seedMoto(randomInt(2 ** 31));
  if (SchemaVersionId === undefined) throw new Error("moto registered no version id");
  return SchemaVersionId;
}

const dropRegistry = () => clients.glue.send(new DeleteRegistryCommand({ RegistryId: { RegistryName: registryName } }));

/** One redrive run as `npm run redrive` makes it: a fresh registry cache. */
const run = () =>
  redrive({
    sqs: clients.sqs,
    s3: clients.s3,
    dynamodb: clients.dynamodb,
    decoder: new GlueAvroDecoder<Sale>(new GlueSchemaRegistry(clients.glue), currentSalesSchema),
    queueUrl: queue.url,
    table: table.name,
    settings,
    waitSeconds: 1,
  });

async function queueDepth(): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

/** What the table would hold had every record decoded the first time: the aggregator's own fold of all 30, partitions added up. */
function expectedFigures(): Record<string, Record<string, string>> {
  const all = records.map((r, i) => ({ topicPartition: `${topic}-${r.partition}`, offset: r.offset, sale: sales[i] as Sale }));
  const windows = new Map<string, Map<string, Metrics>>();
  for (const item of aggregate(all, new Map(), new Map(), settings).items) {
    const id = `${item.window}@${new Date(item.start).toISOString()}`;
    const values = windows.get(id) ?? new Map<string, Metrics>();
    windows.set(id, values);
    for (const [key, metrics] of item.values) addPartial(values, key, metrics);
  }
  return Object.fromEntries(
    [...windows].map(([id, values]) => [
      id,
      Object.fromEntries([...values].map(([key, m]) => [key, `${m.orders}/${m.sales}/${m.min}/${m.max}/${m.late}`])),
    ]),
  );
}

async function counts(partition: number): Promise<{ deadLettered: number; redriven: number }> {
  const tp = `${topic}-${partition}`;
  const [watermark, redriven] = await Promise.all([
    clients.dynamodb.send(new GetItemCommand({ TableName: table.name, Key: watermarkKey(tp), ConsistentRead: true })),
    clients.dynamodb.send(new GetItemCommand({ TableName: table.name, Key: redriveCountKey(tp), ConsistentRead: true })),
  ]);
  return { deadLettered: Number(watermark.Item?.dl?.N ?? 0), redriven: Number(redriven.Item?.rd?.N ?? 0) };
}

beforeAll(async () => {
  table = await createPrivateAggregatesTable(clients.dynamodb);
  queue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  identity = await identityWithQueue("AggregateFunction", queue);
  fn = localFunction("AggregateFunction", { AGGREGATES_TABLE: table.name, DEAD_LETTER_QUEUE_URL: queue.url }, [], identity);
  // The rollups on their real trigger; a queue of their own, so their failures would not mix with the records.
  rollupQueue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
  rollupFn = localFunction("RollupFunction", { AGGREGATES_TABLE: table.name, SALES_TOPIC_PARTITIONS: "2" });
  rollups = await startStreamMapping("RollupFunction", table.name, rollupFn, clients, { overrides: { onFailureQueue: rollupQueue.name } });
  // Learn the id v3 will get, then forget the version: the records carry an id Glue does not know.
  seed = randomInt(2 ** 31);
  v3Id = await registerV3(seed);
  await dropRegistry();
  const encode = await salesEncoders();
  const v3Encoder = new GlueAvroEncoder<object>(v3, v3Id);
  const offsets = [100, 100];
  records = sales.map((sale, i) => {
    const partition = i % 2;
    const offset = (offsets[partition] as number) + 1;
    offsets[partition] = offset;
    // The first v3 record is too large for SQS: its dead letter points at its bytes in S3.
    const v3Sale = i === 2 ? { ...sale, city: "x".repeat(60_000), coupon: null } : { ...sale, coupon: null };
    return { partition, offset, key: sale.country, value: isV3(i) ? v3Encoder.encode(v3Sale) : encode(sale, i) };
  });
});

afterAll(async () => {
  await rollups?.stop();
  await rollupFn?.stop();
  await rollupQueue?.drop();
  await fn?.stop();
  await table?.drop();
  await queue?.drop();
  await identity?.drop();
  await dropRegistry().catch(() => undefined);
  for (const key of await listKeys(clients.s3, bucket, `dead-letters/aggregate/${topic}/`))
    await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
});

// One scenario in three steps on one table and queue: the second and third find the markers the
// first wrote and put messages in its queue, so their order is pinned even under --sequence.shuffle.
describe("npm run redrive", { shuffle: false }, () => {
  it("counts records of a schema version registered after they were dead-lettered exactly once, and a second run applies nothing", async () => {
    const outcome = await fn.invoke(kafkaEvent(topic, records));
    if (!outcome.ok) throw new Error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    expect(outcome.result).toMatchObject({ records: 30, applied: 20, poison: 10 });
    expect(await listKeys(clients.s3, bucket, `dead-letters/aggregate/${topic}/`)).toEqual([`dead-letters/aggregate/${topic}/0/102/value`]);
    const poisonCents = sales.filter((_, i) => isV3(i)).reduce((sum, s) => sum + centsOf(s.amount), 0);
    const allCents = sales.reduce((sum, s) => sum + centsOf(s.amount), 0);
    const day = async () =>
      (await tableFigures(clients.dynamodb, table.name))[`1d@${new Date(DAY).toISOString()}`]?.["all#all"]?.split("/");
    expect((await day())?.slice(0, 2)).toEqual(["20", String(allCents - poisonCents)]);

    // Before the cause is fixed: nothing applied, every record still failing and visible again.
    const early = await run();
    expect(early).toMatchObject({ messages: 10, applied: 0, alreadyApplied: 0, stillFailing: { UNKNOWN_SCHEMA_VERSION: 10 } });
    expect(await queueDepth()).toEqual({ visible: 10, inFlight: 0 });

    expect(await registerV3(seed)).toBe(v3Id);
    const first = await run();
    console.log(describeSummary(first).join("\n"));
    expect(first).toMatchObject({ messages: 10, applied: 10, alreadyApplied: 0, stillFailing: {}, skipped: {}, expiredWindowsSkipped: 0 });
    // Minute windows well behind the partition's watermark were closed: amended, and counted so.
    expect(first.closedWindowsAmended).toBeGreaterThan(0);
    expect(await queueDepth()).toEqual({ visible: 0, inFlight: 0 });
    // Every record once, to the cent: the whole table equals the aggregator's fold of all 30 records.
    const after = await day();
    console.log(
      `1d all#all after the redrive: ${after?.[0]} orders, ${formatCents(BigInt(after?.[1] ?? 0))} (expected 30, ${formatCents(allCents)})`,
    );
    expect(after?.slice(0, 2)).toEqual(["30", String(allCents)]);
    expect(await tableFigures(clients.dynamodb, table.name)).toEqual(expectedFigures());
    // The version bumps reached the rollups: region and overall series hold the redriven records too.
    await rollups.drain();
    const rolledUp = await rollupFigures(clients.dynamodb, table.name);
    expect(rolledUp).toEqual(await expectedFromSlices(clients.dynamodb, table.name));
    expect(rolledUp[`1d@${new Date(DAY).toISOString()}`]?.["all#all"]?.split("/").slice(0, 2)).toEqual(["30", String(allCents)]);
    expect(rollups.stats.sentToDestination).toBe(0);
    for (const partition of [0, 1]) {
      const c = await counts(partition);
      expect(c.deadLettered).toBe(records.filter((r, i) => r.partition === partition && isV3(i)).length);
      expect(c.redriven).toBe(c.deadLettered); // nothing pending
    }

    const second = await run();
    expect(second).toMatchObject({ messages: 0, applied: 0, alreadyApplied: 0 });
    expect(describeSummary(second)[0]).toBe("The dead-letter queue is empty: nothing to redrive.");
    expect(await tableFigures(clients.dynamodb, table.name)).toEqual(expectedFigures());
  });

  it("takes a record whose transaction committed but whose message was not deleted as already applied, and leaves non-records (CLI)", async () => {
    // As a run that crashed between its commit and its DeleteMessage leaves the queue.
    const i = sales.findIndex((_, index) => isV3(index));
    const r = records[i] as EventRecordInput;
    const letter = {
      topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: 1659348900000,
      key: Buffer.from(r.key ?? "").toString("base64"),
      value: r.value.toString("base64"),
      reason: { code: "UNKNOWN_SCHEMA_VERSION", message: `schema version ${v3Id} is not in the registry` },
      source: "aggregate",
    };
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(letter) }));
    const streamFailure = { requestContext: { condition: "RetryAttemptsExhausted" }, DDBStreamBatchInfo: { shardId: "s-1", batchSize: 2 } };
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(streamFailure) }));
    const before = await tableFigures(clients.dynamodb, table.name);

    const { stdout } = await promisify(execFile)(
      "node_modules/.bin/tsx",
      ["tools/redrive.ts", "--local", "--queue-url", queue.url, "--table", table.name],
      { env: process.env, timeout: 110_000 },
    );
    console.log(stdout);
    const summary = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
    expect(summary).toMatchObject({ messages: 2, applied: 0, alreadyApplied: 1, stillFailing: {}, skipped: { "rollup stream batch": 1 } });
    expect(stdout).toContain("Nothing applied (2 messages looked at).");
    expect(stdout).toMatch(/1 rollup stream batch: not a record: .*npm run rollups/);
    expect(await tableFigures(clients.dynamodb, table.name)).toEqual(before);
    expect((await counts(r.partition)).redriven).toBe(records.filter((x, j) => x.partition === r.partition && isV3(j)).length);
    // The stream failure stays, visible again at once for whoever runs the rollups.
    expect(await queueDepth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it("on AWS, takes the queue, the table and the window parameters from the stack's outputs, with the default credentials (moto's CloudFormation)", async () => {
    const cloudformation = new CloudFormationClient({
      region: localAws.region,
      credentials: adminCredentialProvider,
      endpoint: endpoints.moto,
    });
    const stackName = `redrive-${randomUUID().slice(0, 8)}`;
    // A stand-in stack with the template's output and parameter names (moto's queue URLs name AWS's host, so the output is the private queue's).
    await cloudformation.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({
          Parameters: { AllowedLateness: { Type: "String" } },
          Resources: { Handle: { Type: "AWS::CloudFormation::WaitConditionHandle" } },
          Outputs: { DeadLetterQueueUrl: { Value: queue.url }, AggregatesTableName: { Value: table.name } },
        }),
        Parameters: [{ ParameterKey: "AllowedLateness", ParameterValue: "7m" }],
      }),
    );
    try {
      const i = sales.findIndex((_, index) => isV3(index));
      const r = records[i] as EventRecordInput;
      const letter = {
        topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: 1,
        value: r.value.toString("base64"),
        reason: { code: "X", message: "" },
        source: "aggregate",
      };
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(letter) }));
      const keys = adminCredentials();
      const { stdout, stderr } = await promisify(execFile)("node_modules/.bin/tsx", ["tools/redrive.ts", "--stack", stackName], {
        timeout: 110_000,
        env: {
          ...process.env,
          // The SDK's default chain, as on a workstation: keys, region and endpoints from the environment.
          AWS_ACCESS_KEY_ID: keys.accessKeyId,
          AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
          AWS_REGION: localAws.region,
          AWS_ENDPOINT_URL_CLOUDFORMATION: endpoints.moto,
          AWS_ENDPOINT_URL_SQS: endpoints.moto,
          AWS_ENDPOINT_URL_S3: endpoints.moto,
          AWS_ENDPOINT_URL_GLUE: endpoints.moto,
          AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        },
      });
      expect(stderr).toContain(
        `redriving ${queue.url} into ${table.name} (windows ${settings.windows.map((w) => w.name).join(",")}, allowed lateness 420 s)`,
      );
      expect(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")).toMatchObject({
        messages: 2,
        applied: 0,
        alreadyApplied: 1,
        skipped: { "rollup stream batch": 1 },
      });
    } finally {
      await cloudformation.send(new DeleteStackCommand({ StackName: stackName }));
      cloudformation.destroy();
    }
  });
});
