import { resolveValue, type StackContext } from "./intrinsics.ts";

/** One IAM policy statement with its intrinsics resolved (Action and Resource always lists). */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string[];
  readonly Resource: string[];
  readonly Condition?: unknown;
}

const asList = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);

/**
 * SAM policy templates the template may use, expanded as SAM does (the subset this project's
 * functions could need; see the SAM policy template list for the full set).
 */
const policyTemplates: Record<string, (ctx: StackContext, args: Record<string, string>) => PolicyStatement[]> = {
  SQSSendMessagePolicy: (ctx, { QueueName }) => [
    { Effect: "Allow", Action: ["sqs:SendMessage*"], Resource: [`arn:aws:sqs:${ctx.region}:${ctx.accountId}:${QueueName}`] },
  ],
  S3ReadPolicy: (_ctx, { BucketName }) => [
    {
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"],
      Resource: [`arn:aws:s3:::${BucketName}`, `arn:aws:s3:::${BucketName}/*`],
    },
  ],
  S3WritePolicy: (_ctx, { BucketName }) => [
    {
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"],
      Resource: [`arn:aws:s3:::${BucketName}`, `arn:aws:s3:::${BucketName}/*`],
    },
  ],
  DynamoDBReadPolicy: (ctx, { TableName }) => [
    {
      Effect: "Allow",
      Action: ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
      Resource: [
        `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${TableName}`,
        `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${TableName}/index/*`,
      ],
    },
  ],
};

function statementOf(raw: unknown, path: string): PolicyStatement {
  const statement = raw as Record<string, unknown>;
  const effect = statement.Effect;
  if (effect !== "Allow" && effect !== "Deny") throw new Error(`${path}.Effect must be Allow or Deny, got ${JSON.stringify(effect)}`);
  if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
    throw new Error(`${path}: NotAction and NotResource are not supported by the local stack's IAM`);
  }
  const action = asList(statement.Action);
  const resource = asList(statement.Resource);
  if (action.length === 0 || resource.length === 0) throw new Error(`${path} needs Action and Resource`);
  return {
    ...(statement.Sid !== undefined && { Sid: String(statement.Sid) }),
    Effect: effect,
    Action: action,
    Resource: resource,
    ...(statement.Condition !== undefined && { Condition: statement.Condition }),
  };
}

/**
 * The statements a function's execution role gets from its `Policies` in template.yaml, with
 * intrinsics resolved: inline policy documents (`- Statement: [...]`) and the SAM policy
 * templates above. Managed policy names or ARNs (strings) are skipped: they grant logs, X-Ray
 * and VPC networking, none of which the local stack serves. Throws naming an unknown policy
 * template or a malformed statement.
 */
export function functionPolicyStatements(ctx: StackContext, logicalId: string): PolicyStatement[] {
  const resource = ctx.template.Resources[logicalId];
  if (resource?.Type !== "AWS::Serverless::Function") throw new Error(`template.yaml has no function ${logicalId}`);
  const path = `Resources.${logicalId}.Properties.Policies`;
  const policies = resolveValue(ctx, resource.Properties?.Policies ?? [], path);
  const list = Array.isArray(policies) ? policies : [policies];
  return list.flatMap((policy, i): PolicyStatement[] => {
    if (typeof policy === "string") return [];
    const entry = policy as Record<string, unknown>;
    if (entry.Statement !== undefined) {
      return asListOfObjects(entry.Statement).map((statement, j) => statementOf(statement, `${path}[${i}].Statement[${j}]`));
    }
    const [name, args] = Object.entries(entry)[0] ?? [];
    const expand = name === undefined ? undefined : policyTemplates[name];
    if (expand === undefined) throw new Error(`${path}[${i}]: policy template ${name ?? "(empty)"} is not known to the local stack`);
    return expand(ctx, Object.fromEntries(Object.entries((args ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])));
  });
}

function asListOfObjects(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/**
 * moto evaluates a request's IAM policy against the request's resource only for S3 and SQS; for
 * every other service it evaluates against "*", so a statement scoped to an ARN never matches
 * there. These actions are authorized against "*" by AWS too (their requests name no resource
 * ARN: a schema version looked up by its id), so a scoped grant fails on AWS as it does in moto.
 */
const authorizedOnAnyResource = new Set(["glue:GetSchemaVersion"]);
const resourceCheckedByMoto = new Set(["s3", "sqs"]);
/**
 * AWS authorizes SQS batch calls with the single call's action (SendMessageBatch needs
 * sqs:SendMessage); moto asks for the batch action's own name, so a grant carries both there.
 */
const motoAliases: Readonly<Record<string, readonly string[]>> = {
  "sqs:SendMessage": ["sqs:SendMessageBatch"],
  "sqs:DeleteMessage": ["sqs:DeleteMessageBatch"],
  "sqs:ChangeMessageVisibility": ["sqs:ChangeMessageVisibilityBatch"],
};

/**
 * The statements as moto can enforce them: S3 and SQS statements as written (moto checks their
 * resources), actions AWS authorizes on "*" as written (so a scoped grant is refused, as on AWS),
 * and every other action with its resource widened to "*" (moto checks the action only); SQS
 * batch actions follow their single action as on AWS. A missing action is refused in every case.
 */
export function motoEnforceable(statements: readonly PolicyStatement[]): PolicyStatement[] {
  return statements.flatMap((written) => {
    const statement = { ...written, Action: written.Action.flatMap((action) => [action, ...(motoAliases[action] ?? [])]) };
    const keep = statement.Action.filter((action) => {
      const service = action.split(":")[0] ?? "";
      return resourceCheckedByMoto.has(service) || authorizedOnAnyResource.has(action);
    });
    const widen = statement.Action.filter((action) => !keep.includes(action));
    const out: PolicyStatement[] = [];
    if (keep.length > 0) out.push({ ...statement, Action: keep });
    // A Deny widened to every resource would refuse more than AWS does: keep Denies as written.
    if (widen.length > 0) out.push({ ...statement, Action: widen, Resource: statement.Effect === "Deny" ? statement.Resource : ["*"] });
    return out;
  });
}
