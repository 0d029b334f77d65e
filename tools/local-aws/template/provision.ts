import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  AlreadyExistsException,
  CreateDatabaseCommand,
  CreateTableCommand as CreateGlueTableCommand,
  CreateRegistryCommand,
  CreateSchemaCommand,
  type DatabaseInput,
  DeleteDatabaseCommand,
  DeleteTableCommand as DeleteGlueTableCommand,
  DeleteRegistryCommand,
  DeleteSchemaCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  type GlueClient,
  RegisterSchemaVersionCommand,
  type TableInput,
} from "@aws-sdk/client-glue";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { CreateQueueCommand, DeleteQueueCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Admin } from "kafkajs";
import { ensureTopics, parseTopicSpecs, type TopicSpec } from "../product.ts";
import { physicalName, registryNameOfSchema, resolveValue, resourceEnabled, type StackContext } from "./intrinsics.ts";

export interface ProvisionClients {
  readonly kafkaAdmin: Admin;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly glue: GlueClient;
  /** Makes the next generated ids deterministic (moto's seed), so every fresh stack has the same schema version ids. */
  readonly seedIds?: () => Promise<void>;
}

/** What provisioning did, resource by resource, for the start-up summary. */
export interface ProvisionReport {
  readonly created: string[];
  readonly existing: string[];
}

export type KafkaTopicSpec = TopicSpec;

/**
 * The topics the template's Custom::KafkaTopics resources declare (what KafkaTopicsFunction
 * creates on AWS). Throws naming the resource and entry when one is malformed.
 */
export function declaredTopics(ctx: StackContext): KafkaTopicSpec[] {
  return resourcesOfType(ctx, "Custom::KafkaTopics").flatMap(([id, props]) =>
    parseTopicSpecs(props.Topics, `Resources.${id}.Properties.Topics`),
  );
}

function resourcesOfType(ctx: StackContext, type: string): [string, Record<string, unknown>][] {
  return Object.entries(ctx.template.Resources)
    .filter(([id, resource]) => resource.Type === type && resourceEnabled(ctx, id))
    .map(([id, resource]) => [id, resolveValue(ctx, resource.Properties ?? {}, `Resources.${id}.Properties`) as Record<string, unknown>]);
}

async function createdOrExisting(
  report: ProvisionReport,
  label: string,
  create: () => Promise<unknown>,
  exists: (error: unknown) => boolean,
) {
  try {
    await create();
    report.created.push(label);
  } catch (error) {
    if (!exists(error)) throw new Error(`creating ${label} failed: ${(error as Error).message}`, { cause: error });
    report.existing.push(label);
  }
}

/**
 * Creates every Kafka topic, DynamoDB table, S3 bucket, SQS queue, Glue registry, schema
 * and schema version the template declares, skipping those that already exist.
 * Throws naming the resource that could not be created.
 */
export async function provision(ctx: StackContext, clients: ProvisionClients): Promise<ProvisionReport> {
  const report: ProvisionReport = { created: [], existing: [] };

  // The same reconciliation as the custom resource on AWS: create, add partitions, or refuse to shrink.
  const topics = await ensureTopics(declaredTopics(ctx), { admin: clients.kafkaAdmin });
  for (const topic of topics.created) report.created.push(`topic ${topic.name}`);
  for (const topic of topics.grown) report.created.push(`topic ${topic.name} partitions ${topic.from} -> ${topic.to}`);
  for (const topic of topics.unchanged) report.existing.push(`topic ${topic.name}`);

  for (const [id, props] of resourcesOfType(ctx, "AWS::DynamoDB::Table")) {
    const name = physicalName(ctx, id);
    await createdOrExisting(
      report,
      `table ${name}`,
      () => clients.dynamodb.send(new CreateTableCommand(tableInput(name, props))),
      (error) => error instanceof ResourceInUseException,
    );
    // A table kept from an earlier run (--keep-data) may predate its StreamSpecification.
    const stream = tableInput(name, props).StreamSpecification;
    if (stream !== undefined && report.existing.includes(`table ${name}`)) {
      const current = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
      if (current.Table?.StreamSpecification?.StreamEnabled !== true) {
        await clients.dynamodb.send(new UpdateTableCommand({ TableName: name, StreamSpecification: stream }));
      }
    }
    const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled === true && ttl.AttributeName !== undefined) {
      const current = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name }));
      if (current.TimeToLiveDescription?.TimeToLiveStatus !== "ENABLED") {
        await clients.dynamodb.send(
          new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }),
        );
      }
    }
  }

  for (const [id] of resourcesOfType(ctx, "AWS::S3::Bucket")) {
    const name = physicalName(ctx, id);
    // In us-east-1 CreateBucket succeeds on a bucket we own, so ask first to report truthfully.
    const exists = await clients.s3.send(new HeadBucketCommand({ Bucket: name })).then(
      () => true,
      () => false,
    );
    if (exists) report.existing.push(`bucket ${name}`);
    else
      await createdOrExisting(
        report,
        `bucket ${name}`,
        () => clients.s3.send(new CreateBucketCommand({ Bucket: name })),
        () => false,
      );
  }

  for (const [id, props] of resourcesOfType(ctx, "AWS::SQS::Queue")) {
    const name = physicalName(ctx, id);
    const attributes: Record<string, string> = {};
    for (const key of ["MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"]) {
      if (props[key] !== undefined) attributes[key] = String(props[key]);
    }
    const exists = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
      () => true,
      () => false,
    );
    if (exists) report.existing.push(`queue ${name}`);
    else
      await createdOrExisting(
        report,
        `queue ${name}`,
        () => clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })),
        () => false,
      );
  }

  await clients.seedIds?.();
  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::Registry")) {
    const name = physicalName(ctx, id);
    await createdOrExisting(
      report,
      `registry ${name}`,
      () => clients.glue.send(new CreateRegistryCommand({ RegistryName: name, Description: props.Description as string | undefined })),
      (error) => error instanceof AlreadyExistsException,
    );
  }

  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::Schema")) {
    const name = physicalName(ctx, id);
    const registry = registryNameOfSchema(ctx, id);
    await createdOrExisting(
      report,
      `schema ${registry}/${name}`,
      () =>
        clients.glue.send(
          new CreateSchemaCommand({
            RegistryId: { RegistryName: registry },
            SchemaName: name,
            DataFormat: props.DataFormat as "AVRO",
            Compatibility: props.Compatibility as "BACKWARD",
            Description: props.Description as string | undefined,
            SchemaDefinition: props.SchemaDefinition as string,
          }),
        ),
      (error) => error instanceof AlreadyExistsException,
    );
  }

  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::SchemaVersion")) {
    const schema = props.Schema as { SchemaArn?: string; RegistryName?: string; SchemaName?: string };
    const [registryName, schemaName] =
      schema.SchemaArn !== undefined ? schema.SchemaArn.split("/").slice(-2) : [schema.RegistryName, schema.SchemaName];
    const schemaId = { RegistryName: registryName, SchemaName: schemaName };
    const definition = props.SchemaDefinition as string;
    const registered = await clients.glue.send(new GetSchemaByDefinitionCommand({ SchemaId: schemaId, SchemaDefinition: definition })).then(
      () => true,
      () => false,
    );
    if (registered) report.existing.push(`schema version ${id}`);
    else
      await createdOrExisting(
        report,
        `schema version ${id}`,
        () => clients.glue.send(new RegisterSchemaVersionCommand({ SchemaId: schemaId, SchemaDefinition: definition })),
        () => false,
      );
  }

  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::Database")) {
    const name = physicalName(ctx, id);
    await createdOrExisting(
      report,
      `glue database ${name}`,
      () => clients.glue.send(new CreateDatabaseCommand({ DatabaseInput: props.DatabaseInput as DatabaseInput })),
      (error) => error instanceof AlreadyExistsException,
    );
  }
  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::Table")) {
    const name = physicalName(ctx, id);
    await createdOrExisting(
      report,
      `glue table ${props.DatabaseName}.${name}`,
      () =>
        clients.glue.send(
          new CreateGlueTableCommand({ DatabaseName: props.DatabaseName as string, TableInput: props.TableInput as TableInput }),
        ),
      (error) => error instanceof AlreadyExistsException,
    );
  }

  return report;
}

/**
 * The attributes of `ctx`'s resources that only a deployment knows, by "LogicalId.Attribute", as
 * CloudFormation would give them after provision(): each Glue schema version's id
 * (`SalesSchemaV2.VersionId`, `SalesSchema.InitialSchemaVersionId`, read back from the registry)
 * and each Custom::KafkaTopics resource's `BootstrapBrokers` (the local broker, as the topics
 * function would answer it). Throws naming a schema version the registry does not hold.
 */
export async function deployedAttributes(
  ctx: StackContext,
  clients: Pick<ProvisionClients, "glue">,
  kafkaBrokers: string,
): Promise<Record<string, string>> {
  const attributes: Record<string, string> = {};
  for (const [id] of resourcesOfType(ctx, "AWS::Glue::Schema")) {
    const schemaId = { RegistryName: registryNameOfSchema(ctx, id), SchemaName: physicalName(ctx, id) };
    const first = await clients.glue.send(new GetSchemaVersionCommand({ SchemaId: schemaId, SchemaVersionNumber: { VersionNumber: 1 } }));
    if (first.SchemaVersionId === undefined) throw new Error(`schema ${schemaId.RegistryName}/${schemaId.SchemaName} has no version 1`);
    attributes[`${id}.InitialSchemaVersionId`] = first.SchemaVersionId;
  }
  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::SchemaVersion")) {
    const schema = props.Schema as { SchemaArn?: string; RegistryName?: string; SchemaName?: string };
    const [registryName, schemaName] =
      schema.SchemaArn !== undefined ? schema.SchemaArn.split("/").slice(-2) : [schema.RegistryName, schema.SchemaName];
    const found = await clients.glue.send(
      new GetSchemaByDefinitionCommand({
        SchemaId: { RegistryName: registryName, SchemaName: schemaName },
        SchemaDefinition: props.SchemaDefinition as string,
      }),
    );
    if (found.SchemaVersionId === undefined) throw new Error(`schema version ${id} is not registered in ${registryName}/${schemaName}`);
    attributes[`${id}.VersionId`] = found.SchemaVersionId;
  }
  for (const [id] of resourcesOfType(ctx, "Custom::KafkaTopics")) attributes[`${id}.BootstrapBrokers`] = kafkaBrokers;
  return attributes;
}

/**
 * Deletes every Kafka topic, DynamoDB table, S3 bucket (with every object version in it), SQS
 * queue, Glue table, database, schema and registry the template declares under `ctx`'s names: the
 * undoing of provision() for a private copy of the stack (a namespaced runtime). Resources already
 * gone are skipped. Resolves with what it deleted; throws naming every resource it could not
 * delete, after trying them all.
 */
export async function unprovision(ctx: StackContext, clients: Omit<ProvisionClients, "seedIds">): Promise<string[]> {
  const deleted: string[] = [];
  const failures: string[] = [];
  const attempt = async (label: string, remove: () => Promise<unknown>, gone: (error: unknown) => boolean) => {
    try {
      await remove();
      deleted.push(label);
    } catch (error) {
      if (!gone(error)) failures.push(`deleting ${label} failed: ${(error as Error).message}`);
    }
  };
  const notFound = (error: unknown) =>
    /NotFound|NoSuch|does not exist|UNKNOWN_TOPIC/i.test(`${(error as Error).name} ${(error as Error).message}`);

  const listed = new Set(await clients.kafkaAdmin.listTopics());
  const topics = declaredTopics(ctx)
    .map((topic) => topic.name)
    .filter((name) => listed.has(name));
  if (topics.length > 0)
    await attempt(`topics ${topics.join(", ")}`, () => clients.kafkaAdmin.deleteTopics({ topics, timeout: 30_000 }), notFound);

  for (const [id] of resourcesOfType(ctx, "AWS::DynamoDB::Table")) {
    const name = physicalName(ctx, id);
    await attempt(`table ${name}`, () => clients.dynamodb.send(new DeleteTableCommand({ TableName: name })), notFound);
  }

  for (const [id] of resourcesOfType(ctx, "AWS::S3::Bucket")) {
    const name = physicalName(ctx, id);
    await attempt(
      `bucket ${name}`,
      async () => {
        // A bucket must be empty to go: every version and delete marker, a page (1,000) at a time.
        for (;;) {
          const page = await clients.s3.send(new ListObjectVersionsCommand({ Bucket: name }));
          const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
          if (objects.length === 0) break;
          await clients.s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
        }
        await clients.s3.send(new DeleteBucketCommand({ Bucket: name }));
      },
      notFound,
    );
  }

  for (const [id] of resourcesOfType(ctx, "AWS::SQS::Queue")) {
    const name = physicalName(ctx, id);
    await attempt(
      `queue ${name}`,
      async () => {
        const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
        await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }));
      },
      notFound,
    );
  }

  for (const [id, props] of resourcesOfType(ctx, "AWS::Glue::Table")) {
    const name = physicalName(ctx, id);
    await attempt(
      `glue table ${props.DatabaseName}.${name}`,
      () => clients.glue.send(new DeleteGlueTableCommand({ DatabaseName: props.DatabaseName as string, Name: name })),
      notFound,
    );
  }
  for (const [id] of resourcesOfType(ctx, "AWS::Glue::Database")) {
    const name = physicalName(ctx, id);
    await attempt(`glue database ${name}`, () => clients.glue.send(new DeleteDatabaseCommand({ Name: name })), notFound);
  }
  for (const [id] of resourcesOfType(ctx, "AWS::Glue::Schema")) {
    const name = physicalName(ctx, id);
    const registry = registryNameOfSchema(ctx, id);
    await attempt(
      `schema ${registry}/${name}`,
      () => clients.glue.send(new DeleteSchemaCommand({ SchemaId: { RegistryName: registry, SchemaName: name } })),
      notFound,
    );
  }
  for (const [id] of resourcesOfType(ctx, "AWS::Glue::Registry")) {
    const name = physicalName(ctx, id);
    await attempt(`registry ${name}`, () => clients.glue.send(new DeleteRegistryCommand({ RegistryId: { RegistryName: name } })), notFound);
  }
  if (failures.length > 0) throw new Error(failures.join("; "));
  return deleted;
}

/**
 * CreateTable input for a table resource of the template, under another name if wanted (tests):
 * keys, indexes and, when the template declares a StreamSpecification, its stream (CloudFormation
 * names only the view type; the API also wants StreamEnabled). Never throws.
 */
export function tableInput(name: string, props: Record<string, unknown>): CreateTableCommandInput {
  const gsis = props.GlobalSecondaryIndexes as CreateTableCommandInput["GlobalSecondaryIndexes"];
  const streamView = (props.StreamSpecification as { StreamViewType?: string } | undefined)?.StreamViewType;
  return {
    TableName: name,
    AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput["AttributeDefinitions"],
    KeySchema: props.KeySchema as CreateTableCommandInput["KeySchema"],
    BillingMode: "PAY_PER_REQUEST",
    ...(gsis !== undefined && {
      GlobalSecondaryIndexes: gsis.map((gsi) => ({ IndexName: gsi.IndexName, KeySchema: gsi.KeySchema, Projection: gsi.Projection })),
    }),
    ...(streamView !== undefined && {
      StreamSpecification: {
        StreamEnabled: true,
        StreamViewType: streamView as NonNullable<CreateTableCommandInput["StreamSpecification"]>["StreamViewType"],
      },
    }),
  };
}
