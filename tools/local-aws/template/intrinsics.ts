import { createHash } from "node:crypto";
import type { Template, TemplateResource } from "./template.ts";

/**
 * Resolves CloudFormation intrinsic functions the way a deployed stack would, with the
 * local stack standing in for AWS: parameters take their defaults, resources get the
 * physical names and ARNs CloudFormation would give them, pseudo parameters are the
 * local account and region. An intrinsic it cannot resolve is an error naming its path.
 */
export interface StackContext {
  readonly template: Template;
  readonly stackName: string;
  /** AWS::StackId; by default one made from the account, region and stack name (localStackId). */
  readonly stackId?: string;
  readonly region: string;
  readonly accountId: string;
  /** Values that override parameter defaults. */
  readonly parameterOverrides?: Readonly<Record<string, string>>;
  /** How a local resource is reached, when its Ref differs from its name (an SQS queue URL). */
  readonly queueUrl?: (queueName: string) => string;
  /**
   * Attributes only a deployment knows, by "LogicalId.Attribute": a Glue schema version's id, a
   * custom resource's answer (deployedAttributes of ./provision.ts reads them from the local stack).
   */
  readonly deployed?: Readonly<Record<string, string>>;
}

/**
 * The local name a resource gets: its declared name property, or the name CloudFormation generates
 * for a resource without one (generatedName). Throws naming the resource when it is not in the template.
 */
export function physicalName(ctx: StackContext, logicalId: string): string {
  const resource = resourceOf(ctx, logicalId, logicalId);
  const nameProperty = namePropertyByType[resource.Type];
  const declared = nameProperty
    ?.split(".")
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], resource.Properties);
  if (declared !== undefined) return String(resolveValue(ctx, declared, `Resources.${logicalId}.Properties.${nameProperty}`));
  return generatedName(ctx, logicalId, resource.Type);
}

const namePropertyByType: Readonly<Record<string, string>> = {
  "AWS::DynamoDB::Table": "TableName",
  "AWS::S3::Bucket": "BucketName",
  "AWS::SQS::Queue": "QueueName",
  "AWS::Glue::Registry": "Name",
  "AWS::Glue::Schema": "Name",
  "AWS::Glue::Database": "DatabaseInput.Name",
  "AWS::Glue::Table": "TableInput.Name",
  "AWS::MSK::ServerlessCluster": "ClusterName",
  "AWS::Serverless::Function": "FunctionName",
  "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
};

/**
 * The longest name each service takes, for the names CloudFormation generates (a type not listed
 * takes 255). S3 also wants them lowercase. Sources: the services' API references (S3 bucket naming
 * rules, SQS CreateQueue, Firehose CreateDeliveryStream, Lambda CreateFunction, IAM CreateRole).
 */
const generatedNameLimits: Readonly<Record<string, number>> = {
  "AWS::S3::Bucket": 63,
  "AWS::SQS::Queue": 80,
  "AWS::KinesisFirehose::DeliveryStream": 64,
  "AWS::Serverless::Function": 64,
  "AWS::Lambda::Function": 64,
  "AWS::IAM::Role": 64,
  "AWS::SNS::Topic": 256,
};

/**
 * The name CloudFormation gives a resource whose name property is left out, after its documented
 * pattern (`<stack name>-<logical id>-<random suffix>`, the "Name type" page of the template
 * reference): the stack name and logical id cut short so the whole fits the service's limit, the
 * suffix kept, all lowercase for S3. The suffix is 12 upper-case letters and digits derived from the
 * stack id and logical id, so a local stack keeps its names across restarts. Never throws.
 */
export function generatedName(ctx: StackContext, logicalId: string, type: string): string {
  const limit = generatedNameLimits[type] ?? 255;
  const suffix = BigInt(
    `0x${createHash("sha256")
      .update(`${stackIdOf(ctx)}/${logicalId}`)
      .digest("hex")
      .slice(0, 16)}`,
  )
    .toString(36)
    .toUpperCase()
    .padStart(12, "0")
    .slice(-12);
  const name = `${`${ctx.stackName}-${logicalId}`.slice(0, limit - suffix.length - 1)}-${suffix}`;
  return type === "AWS::S3::Bucket" ? name.toLowerCase() : name;
}

/**
 * AWS::StackId as the local stack has it: the ctx's own, or an ARN of CloudFormation's shape
 * (`arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`) whose UUID is derived from
 * the account, region and stack name, so one local stack keeps one id and a namespace gets its own.
 */
export function stackIdOf(ctx: Pick<StackContext, "stackId" | "stackName" | "region" | "accountId">): string {
  if (ctx.stackId !== undefined) return ctx.stackId;
  const hex = createHash("sha1").update(`${ctx.accountId}:${ctx.region}:${ctx.stackName}`).digest("hex");
  // A name-based UUID (version 5 layout: RFC 9562, section 5.5).
  const uuid = [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `5${hex.slice(13, 16)}`,
    ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16) + hex.slice(18, 20),
    hex.slice(20, 32),
  ].join("-");
  return `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/${uuid}`;
}

function resourceOf(ctx: StackContext, logicalId: string, path: string): TemplateResource {
  const resource = ctx.template.Resources[logicalId];
  if (resource === undefined) throw new Error(`${path}: no resource or parameter named "${logicalId}"`);
  return resource;
}

/** Attributes a deployment gives: [resource type (a prefix), attribute or "*"]. */
const deployTimeAttributes: readonly (readonly [string, string])[] = [
  ["AWS::Glue::SchemaVersion", "VersionId"],
  ["AWS::Glue::Schema", "InitialSchemaVersionId"],
  ["Custom::", "*"],
];

function arn(ctx: StackContext, service: string, resource: string, regional = true): string {
  return `arn:aws:${service}:${regional ? ctx.region : ""}:${ctx.accountId}:${resource}`;
}

function resourceArn(ctx: StackContext, logicalId: string, path: string): string {
  const resource = resourceOf(ctx, logicalId, path);
  const name = physicalName(ctx, logicalId);
  switch (resource.Type) {
    case "AWS::DynamoDB::Table":
      return arn(ctx, "dynamodb", `table/${name}`);
    case "AWS::S3::Bucket":
      return `arn:aws:s3:::${name}`;
    case "AWS::SQS::Queue":
      return arn(ctx, "sqs", name);
    case "AWS::Glue::Registry":
      return arn(ctx, "glue", `registry/${name}`);
    case "AWS::Glue::Schema": {
      const registry = registryNameOfSchema(ctx, logicalId);
      return arn(ctx, "glue", `schema/${registry}/${name}`);
    }
    case "AWS::MSK::ServerlessCluster":
      return arn(ctx, "kafka", `cluster/${name}/00000000-0000-0000-0000-000000000000-s1`);
    case "AWS::Serverless::Function":
      return arn(ctx, "lambda", `function:${name}`);
    case "AWS::KinesisFirehose::DeliveryStream":
      return arn(ctx, "firehose", `deliverystream/${name}`);
    default:
      return arn(ctx, "local", `${resource.Type}/${name}`);
  }
}

/** The registry name a Glue schema resource points at (Registry: {Name} or {Arn}). */
export function registryNameOfSchema(ctx: StackContext, schemaLogicalId: string): string {
  const registry = resourceOf(ctx, schemaLogicalId, schemaLogicalId).Properties?.Registry as Record<string, unknown> | undefined;
  const path = `Resources.${schemaLogicalId}.Properties.Registry`;
  if (registry?.Name !== undefined) return String(resolveValue(ctx, registry.Name, `${path}.Name`));
  if (registry?.Arn !== undefined)
    return (
      String(resolveValue(ctx, registry.Arn, `${path}.Arn`))
        .split("/")
        .pop() ?? ""
    );
  throw new Error(`${path}: needs Name or Arn`);
}

function ref(ctx: StackContext, name: string, path: string): unknown {
  switch (name) {
    case "AWS::Region":
      return ctx.region;
    case "AWS::AccountId":
      return ctx.accountId;
    case "AWS::StackName":
      return ctx.stackName;
    case "AWS::StackId":
      return stackIdOf(ctx);
    case "AWS::Partition":
      return "aws";
    case "AWS::URLSuffix":
      return "amazonaws.com";
    case "AWS::NoValue":
      return undefined;
  }
  const parameter = ctx.template.Parameters?.[name];
  if (parameter !== undefined) return parameterValue(ctx, name, parameter.Type, parameter.Default);
  const resource = resourceOf(ctx, name, path);
  switch (resource.Type) {
    case "AWS::SQS::Queue":
      return ctx.queueUrl?.(physicalName(ctx, name)) ?? physicalName(ctx, name);
    case "AWS::Glue::Registry":
    case "AWS::Glue::Schema":
    case "AWS::MSK::ServerlessCluster":
      return resourceArn(ctx, name, path);
    default:
      return physicalName(ctx, name);
  }
}

function parameterValue(ctx: StackContext, name: string, type: string, fallback: string | number | undefined): unknown {
  const raw = ctx.parameterOverrides?.[name] ?? (fallback === undefined ? undefined : String(fallback));
  if (type.startsWith("List<") || type === "CommaDelimitedList") {
    // Network parameters (subnets, security groups) have no local meaning; a placeholder keeps Refs resolvable.
    return raw === undefined ? [`local-${name}`] : raw.split(",").map((part) => part.trim());
  }
  return raw ?? `local-${name}`;
}

function getAtt(ctx: StackContext, args: unknown, path: string): unknown {
  if (!Array.isArray(args) || args.length !== 2) throw new Error(`${path}: Fn::GetAtt takes [LogicalId, Attribute]`);
  const [logicalId, attribute] = args.map(String) as [string, string];
  const resource = resourceOf(ctx, logicalId, path);
  const deployed = ctx.deployed?.[`${logicalId}.${attribute}`];
  if (deployed !== undefined) return deployed;
  if (attribute === "Arn") return resourceArn(ctx, logicalId, path);
  // Known once the resource exists (a registered version's id, a custom resource's answer). Read
  // without a deployment (a template check, a bundle build) the value says what it stands for,
  // and a function's config refuses it if it ever runs with it.
  if (deployTimeAttributes.some(([type, name]) => resource.Type.startsWith(type) && (name === "*" || name === attribute)))
    return `<deployed ${logicalId}.${attribute}>`;
  if (resource.Type === "AWS::SQS::Queue" && attribute === "QueueName") return physicalName(ctx, logicalId);
  if (resource.Type === "AWS::SQS::Queue" && attribute === "QueueUrl") return ref(ctx, logicalId, path);
  // A stream's label is its creation time, unknown until the table exists: "local" stands in for
  // it. The stream mapping emulator reads only the table name and asks DynamoDB Local for the
  // table's current stream (tools/local-aws/runtime/dynamodb-stream.ts).
  if (resource.Type === "AWS::DynamoDB::Table" && attribute === "StreamArn") return `${resourceArn(ctx, logicalId, path)}/stream/local`;
  throw new Error(`${path}: Fn::GetAtt ${logicalId}.${attribute} has no local value`);
}

function sub(ctx: StackContext, args: unknown, path: string): string {
  const [text, variables] = Array.isArray(args) ? (args as [unknown, Record<string, unknown>?]) : [args, undefined];
  if (typeof text !== "string") throw new Error(`${path}: Fn::Sub needs a string`);
  return text.replace(/\$\{(!?)([^}]+)\}/g, (whole, literal: string, name: string) => {
    if (literal === "!") return `\${${name}}`;
    if (variables?.[name] !== undefined) return String(resolveValue(ctx, variables[name], `${path}.${name}`));
    const dot = name.indexOf(".");
    if (dot > 0 && !name.startsWith("AWS::")) return String(getAtt(ctx, [name.slice(0, dot), name.slice(dot + 1)], path));
    const value = ref(ctx, name, path);
    if (value === undefined) throw new Error(`${path}: ${whole} resolves to nothing`);
    return Array.isArray(value) ? value.join(",") : String(value);
  });
}

function condition(ctx: StackContext, name: string, path: string): boolean {
  const definition = ctx.template.Conditions?.[name];
  if (definition === undefined) throw new Error(`${path}: no condition named "${name}"`);
  return Boolean(resolveValue(ctx, definition, `Conditions.${name}`));
}

/** Whether a resource exists in the local stack (its Condition, if any, holds). */
export function resourceEnabled(ctx: StackContext, logicalId: string): boolean {
  const name = ctx.template.Resources[logicalId]?.Condition;
  return name === undefined || condition(ctx, name, `Resources.${logicalId}.Condition`);
}

/** Resolves every intrinsic inside `value`. `path` names the place for error messages. */
export function resolveValue(ctx: StackContext, value: unknown, path: string): unknown {
  if (Array.isArray(value)) {
    return value.map((item, index) => resolveValue(ctx, item, `${path}[${index}]`)).filter((item) => item !== undefined);
  }
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined) {
    const [key, arg] = first;
    const at = `${path}.${key}`;
    switch (key) {
      case "Ref":
        return ref(ctx, String(arg), at);
      case "Condition":
        return condition(ctx, String(arg), at);
      case "Fn::GetAtt":
        return getAtt(ctx, arg, at);
      case "Fn::Sub":
        return sub(ctx, arg, at);
      case "Fn::Base64":
        return Buffer.from(String(resolveValue(ctx, arg, at)), "utf8").toString("base64");
      case "Fn::Join": {
        const [separator, parts] = arg as [string, unknown];
        return (resolveValue(ctx, parts, at) as unknown[]).join(separator);
      }
      case "Fn::Select": {
        const [index, list] = arg as [unknown, unknown];
        return (resolveValue(ctx, list, at) as unknown[])[Number(resolveValue(ctx, index, at))];
      }
      case "Fn::Split": {
        const [separator, text] = arg as [string, unknown];
        return String(resolveValue(ctx, text, at)).split(separator);
      }
      case "Fn::Equals": {
        const [left, right] = arg as [unknown, unknown];
        return String(resolveValue(ctx, left, at)) === String(resolveValue(ctx, right, at));
      }
      case "Fn::Not":
        return !resolveValue(ctx, (arg as unknown[])[0], at);
      case "Fn::And":
        return (arg as unknown[]).every((item) => resolveValue(ctx, item, at));
      case "Fn::Or":
        return (arg as unknown[]).some((item) => resolveValue(ctx, item, at));
      case "Fn::If": {
        const [name, whenTrue, whenFalse] = arg as [string, unknown, unknown];
        return resolveValue(ctx, condition(ctx, name, at) ? whenTrue : whenFalse, at);
      }
      default:
        if (key.startsWith("Fn::")) throw new Error(`${at}: ${key} is not supported by the local stack`);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const result = resolveValue(ctx, item, `${path}.${key}`);
    if (result !== undefined) resolved[key] = result;
  }
  return resolved;
}

/**
 * The value of the template's output `key` as the local stack resolves it (what `aws cloudformation
 * describe-stacks` shows for a deployed stack). Throws naming the key when the template has no such
 * output, when its Condition does not hold, or when its value has no local meaning.
 */
export function stackOutput(ctx: StackContext, key: string): string {
  const output = ctx.template.Outputs?.[key] as { Value?: unknown; Condition?: string } | undefined;
  if (output === undefined) {
    throw new Error(`template.yaml has no output "${key}"; it has ${Object.keys(ctx.template.Outputs ?? {}).join(", ")}`);
  }
  if (output.Condition !== undefined && !condition(ctx, output.Condition, `Outputs.${key}.Condition`)) {
    throw new Error(`output ${key} exists only when the condition ${output.Condition} holds`);
  }
  const value = resolveValue(ctx, output.Value, `Outputs.${key}.Value`);
  return Array.isArray(value) ? value.join(",") : String(value);
}
