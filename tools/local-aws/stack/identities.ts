import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  type IAMClient,
  ListAccessKeysCommand,
  NoSuchEntityException,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { functionPolicyStatements, motoEnforceable, type PolicyStatement } from "../template/iam.ts";
import type { StackContext } from "../template/intrinsics.ts";
import { endpoints, localArn, localAws, paths } from "./settings.ts";

/**
 * IAM in the local stack. moto enforces IAM once told to (POST /moto-api/reset-auth): every
 * request must then be SigV4-signed by a key of an IAM user moto knows, and the user's policies
 * must allow the action. Provisioning creates one user per function of template.yaml holding
 * only that function's template policies (as moto can check them, see motoEnforceable), and an
 * admin user for the stack's own set-up and the tests. The keys are kept in .local/run so every
 * process of the checkout (runtime, tests, npm run invoke) signs with the same ones.
 * DynamoDB Local and Kafka check no credentials at all.
 */
export interface AccessKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

interface IdentityFile {
  readonly admin: AccessKeys;
  readonly functions: Readonly<Record<string, AccessKeys>>;
  /** The query engine's read-only identity (Trino), once provisioned. */
  readonly lakeReader?: AccessKeys;
}

const identityFile = join(paths.run, "identities.json");
/** The developer's keys for their own tools (aws CLI, SDK scripts) against moto, as shell exports. */
export const developerEnvFile = join(paths.run, "aws.env");
const adminUser = "local-stack-admin";
const policyName = "template-policies";
/** Fresh keys come from this seed of moto's generator, so a re-provisioned moto hands out the same keys. */
const keySeed = 12_2026;

export const functionUserName = (logicalId: string) => `lambda-${logicalId}`;
const lakeReaderUser = "local-lake-reader";

/**
 * What a lake reader is allowed, as an Athena user's policy grants it
 * (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html): read the
 * Glue catalog (databases, tables, partitions) and the objects under it, nothing else. Locally the
 * buckets are every bucket of the stack (the served lake and each namespace's private one, whose
 * names nobody knows when Trino starts); on AWS an analyst's role names the lake bucket and database.
 */
export const lakeReaderStatements: readonly PolicyStatement[] = [
  {
    Effect: "Allow",
    Action: [
      "glue:GetDatabase",
      "glue:GetDatabases",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
    ],
    Resource: [localArn("glue", "catalog"), localArn("glue", "database/*"), localArn("glue", "table/*/*")],
  },
  { Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: ["arn:aws:s3:::*"] },
  { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::*/*"] },
];

let cache: { mtimeMs: number; value: IdentityFile } | undefined;

/** The identities of the running stack, or undefined before the first provisioning. */
function readIdentities(): IdentityFile | undefined {
  if (!existsSync(identityFile)) return undefined;
  const { mtimeMs } = statSync(identityFile);
  if (cache?.mtimeMs !== mtimeMs) cache = { mtimeMs, value: JSON.parse(readFileSync(identityFile, "utf8")) as IdentityFile };
  return cache.value;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(paths.run, { recursive: true });
  const staging = `${file}.${randomUUID()}`;
  writeFileSync(staging, text, { mode: 0o600 });
  renameSync(staging, file);
}

function writeIdentities(value: IdentityFile): void {
  writeAtomically(identityFile, JSON.stringify(value, null, 2));
  // The developer works as the stack's admin: on their own loopback stack they may do anything
  // (the functions keep their narrow identities). `. .local/run/aws.env` before `aws --endpoint-url`.
  writeAtomically(
    developerEnvFile,
    [
      "# Keys of the local stack's admin in moto (rewritten at every start); source this file before aws --endpoint-url ...",
      `export AWS_ACCESS_KEY_ID=${value.admin.accessKeyId}`,
      `export AWS_SECRET_ACCESS_KEY=${value.admin.secretAccessKey}`,
      `export AWS_DEFAULT_REGION=${localAws.region}`,
      "unset AWS_SESSION_TOKEN AWS_PROFILE",
      "",
    ].join("\n"),
  );
}

/**
 * The admin keys (every action on every resource), for the stack's set-up, its emulators and the
 * tests. Before moto is provisioned, placeholder keys (moto does not check them until then).
 */
export function adminCredentials(): AccessKeys {
  return readIdentities()?.admin ?? localAws.credentials;
}

/**
 * An AWS SDK credentials provider with the admin keys, re-read on every request, so clients built
 * before a re-provisioning (moto restarted: new users) sign with the current keys.
 */
export const adminCredentialProvider = async () => ({
  ...adminCredentials(),
  // Already due: the SDK asks again on its next request instead of caching the keys forever.
  expiration: new Date(Date.now() + 1000),
});

/** The keys of the lake's reader (Trino's identity), or undefined before the stack was provisioned. */
export function lakeReaderCredentials(): AccessKeys | undefined {
  return readIdentities()?.lakeReader;
}

/** The keys of a function's own identity (its template policies only), or undefined when it has none. */
export function functionCredentials(logicalId: string): AccessKeys | undefined {
  return readIdentities()?.functions[logicalId];
}

async function seedMoto(seed: number): Promise<void> {
  const response = await fetch(`${endpoints.moto}/moto-api/seed?a=${seed}`, { method: "POST" });
  if (!response.ok) throw new Error(`seeding moto's ids failed: HTTP ${response.status}`);
}

/** Makes moto check every request's signature and policies from now on. Throws when moto refuses. */
async function enforceIam(): Promise<void> {
  const response = await fetch(`${endpoints.moto}/moto-api/reset-auth`, { method: "POST", body: "0" });
  if (!response.ok) throw new Error(`turning on moto's IAM enforcement failed: HTTP ${response.status} ${await response.text()}`);
}

/**
 * The policy of a function granted nothing (the dashboard's, which calls no AWS API): denying
 * everything has the effect of no policy, and moto refuses a document without statements.
 */
export const denyEverything: PolicyStatement = { Effect: "Deny", Action: ["*"], Resource: ["*"] };

const policyDocument = (statements: readonly PolicyStatement[]) =>
  JSON.stringify({ Version: "2012-10-17", Statement: statements.length > 0 ? statements : [denyEverything] });

/** Whether moto still holds this user with this key (it forgets everything on a restart). */
async function keyIsLive(iam: IAMClient, userName: string, keys: AccessKeys | undefined): Promise<boolean> {
  if (keys === undefined) return false;
  try {
    const { AccessKeyMetadata = [] } = await iam.send(new ListAccessKeysCommand({ UserName: userName }));
    return AccessKeyMetadata.some((key) => key.AccessKeyId === keys.accessKeyId);
  } catch (error) {
    if (error instanceof NoSuchEntityException) return false;
    throw error;
  }
}

/** Creates (or empties) a user, gives it exactly `statements` and one fresh access key. */
async function createUser(iam: IAMClient, userName: string, statements: readonly PolicyStatement[]): Promise<AccessKeys> {
  try {
    await iam.send(new CreateUserCommand({ UserName: userName, Path: "/" }));
  } catch (error) {
    if ((error as Error).name !== "EntityAlreadyExistsException" && (error as Error).name !== "EntityAlreadyExists") throw error;
    const { AccessKeyMetadata = [] } = await iam.send(new ListAccessKeysCommand({ UserName: userName }));
    for (const key of AccessKeyMetadata) await iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: key.AccessKeyId }));
  }
  await iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: policyDocument(statements) }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  if (AccessKey?.AccessKeyId === undefined || AccessKey.SecretAccessKey === undefined)
    throw new Error(`moto returned no access key for ${userName}`);
  return { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
}

/**
 * Gives the stack an admin user and turns IAM enforcement on, runs `whileOnlyAdmin` (the stack's
 * resources are provisioned there: nothing but the admin may call moto meanwhile, so a function
 * container that outlived a moto restart is refused rather than told its schema versions do not
 * exist), then gives every function of the template its own moto IAM user with its template
 * policies. Users that moto still knows are kept (their policies rewritten from the current
 * template). Keys come from moto's generator seeded apart from everything else, so a restarted
 * moto hands out the same ones. Throws naming the function whose policies cannot be resolved, or
 * moto's error. Last, the lake's reader (lakeReaderStatements), the identity Trino queries with.
 */
export async function provisionIdentities(
  ctx: StackContext,
  iam: IAMClient,
  functionIds: readonly string[],
  whileOnlyAdmin: () => Promise<void> = async () => undefined,
): Promise<{ created: string[]; existing: string[] }> {
  const report = { created: [] as string[], existing: [] as string[] };
  const policies = new Map(functionIds.map((id) => [id, motoEnforceable(functionPolicyStatements(ctx, id))]));
  const known = readIdentities();
  const adminLive = await keyIsLive(iam, adminUser, known?.admin);
  // A fresh moto (a cold start or a restart): seed its generator so the keys come out as last time.
  if (!adminLive) await seedMoto(keySeed);
  const admin =
    adminLive && known !== undefined
      ? known.admin
      : await createUser(iam, adminUser, [{ Effect: "Allow", Action: ["*"], Resource: ["*"] }]);
  if (!adminLive) writeIdentities({ admin, functions: known?.functions ?? {} });
  await enforceIam();
  await whileOnlyAdmin();
  if (!adminLive) await seedMoto(keySeed + 1);
  // One user after another, in the same order every time: the seeded generator hands each the same keys.
  const userFor = async (userName: string, statements: readonly PolicyStatement[], keys: AccessKeys | undefined) => {
    if (adminLive && keys !== undefined && (await keyIsLive(iam, userName, keys))) {
      await iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: policyDocument(statements) }));
      report.existing.push(`iam user ${userName}`);
      return keys;
    }
    report.created.push(`iam user ${userName}`);
    return createUser(iam, userName, statements);
  };
  const functions: Record<string, AccessKeys> = {};
  for (const [id, statements] of policies) functions[id] = await userFor(functionUserName(id), statements, known?.functions[id]);
  const lakeReader = await userFor(lakeReaderUser, motoEnforceable(lakeReaderStatements), known?.lakeReader);
  writeIdentities({ admin, functions, lakeReader });
  return report;
}

/** A throwaway identity made with the admin keys; drop() deletes it. */
export interface TemporaryIdentity extends AccessKeys {
  readonly userName: string;
  drop(): Promise<void>;
}

/**
 * An identity holding a function's template policies with some ARNs swapped (a test's private
 * queue for the template's), or `statements` given outright. Throws on moto's errors.
 */
export async function temporaryIdentity(iam: IAMClient, label: string, statements: readonly PolicyStatement[]): Promise<TemporaryIdentity> {
  const userName = `${label}-${randomUUID().slice(0, 8)}`;
  const keys = await createUser(iam, userName, statements);
  return {
    ...keys,
    userName,
    drop: async () => {
      await iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: keys.accessKeyId }));
      await iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName }));
      await iam.send(new DeleteUserCommand({ UserName: userName }));
    },
  };
}

/** A function's enforceable template statements with every occurrence of `from` ARNs replaced by `to`. */
export function statementsWith(ctx: StackContext, logicalId: string, replace: Readonly<Record<string, string>>): PolicyStatement[] {
  return motoEnforceable(functionPolicyStatements(ctx, logicalId)).map((statement) => ({
    ...statement,
    Resource: statement.Resource.map((resource) => replace[resource] ?? resource),
  }));
}
