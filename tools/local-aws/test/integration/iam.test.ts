import { readFileSync } from "node:fs";
import { CreateSchemaCommand, GetSchemaVersionCommand, GlueClient } from "@aws-sdk/client-glue";
import { GetUserPolicyCommand } from "@aws-sdk/client-iam";
import { ListQueuesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateAggregatesTable, localFunction } from "../../../../test/support/aggregates.ts";
import { createPrivateQueue, type PrivateQueue } from "../../../../test/support/queues.ts";
import { localClients, localQueueUrl } from "../../stack/clients.ts";
import { localStackContext } from "../../stack/context.ts";
import { type AccessKeys, denyEverything, functionCredentials, functionUserName, temporaryIdentity } from "../../stack/identities.ts";
import { endpoints, localAws } from "../../stack/settings.ts";
import { samFunctions } from "../../template/functions.ts";
import { functionPolicyStatements, motoEnforceable, type PolicyStatement } from "../../template/iam.ts";
import { physicalName } from "../../template/intrinsics.ts";

/**
 * IAM is exercised locally: each function signs with keys of its own moto IAM user, which holds
 * only its template policies, and moto refuses what they do not grant (Glue by action; S3 and SQS
 * by action and resource). So a missing or too narrow grant fails here, not on the first deploy.
 */
const ctx = localStackContext();
const clients = localClients();
const templateQueue = physicalName(ctx, "DeadLetterQueue");
let otherQueue: PrivateQueue;

beforeAll(async () => {
  otherQueue = await createPrivateQueue(clients.sqs, "DeadLetterQueue");
});
afterAll(async () => {
  await otherQueue.drop();
  for (const client of [clients.dynamodb, clients.sqs, clients.s3, clients.glue, clients.iam]) client.destroy();
});

const sqsAs = (keys: AccessKeys) => new SQSClient({ region: localAws.region, endpoint: endpoints.moto, credentials: keys, maxAttempts: 1 });
const glueAs = (keys: AccessKeys) =>
  new GlueClient({ region: localAws.region, endpoint: endpoints.moto, credentials: keys, maxAttempts: 1 });

/**
 * How moto answered a call: "ok", or the HTTP status of its refusal. moto refuses in XML
 * (AccessDenied, InvalidClientTokenId), which the JSON-protocol SDK clients surface as a
 * deserialization error carrying the status.
 */
async function outcome(call: Promise<unknown>): Promise<"ok" | number | string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status ?? (error as Error).name;
  }
}

/** A copy of the template with the statements of `logicalId` that grant `action` removed. */
function templateWithout(logicalId: string, action: string) {
  const copy = structuredClone(ctx.template);
  const policies = copy.Resources[logicalId]?.Properties?.Policies as { Statement?: { Action: string | string[] }[] }[];
  for (const policy of policies) {
    if (policy.Statement === undefined) continue;
    policy.Statement = policy.Statement.filter((statement) => ![statement.Action].flat().includes(action));
  }
  return { ...ctx, template: copy };
}

describe("IAM on the local stack", () => {
  it("gives every function a moto IAM user holding exactly its template policies", async () => {
    for (const fn of samFunctions(ctx)) {
      expect(functionCredentials(fn.logicalId), fn.logicalId).toBeDefined();
      const { PolicyDocument } = await clients.iam.send(
        new GetUserPolicyCommand({ UserName: functionUserName(fn.logicalId), PolicyName: "template-policies" }),
      );
      const document = JSON.parse(decodeURIComponent(PolicyDocument ?? "{}")) as { Statement: PolicyStatement[] };
      const statements = motoEnforceable(functionPolicyStatements(ctx, fn.logicalId));
      expect(document.Statement, fn.logicalId).toEqual(statements.length > 0 ? statements : [denyEverything]);
    }
  });

  it("refuses requests signed with keys moto does not know", async () => {
    const stranger = sqsAs({ accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: "nope" });
    expect(await outcome(stranger.send(new ListQueuesCommand({})))).toBe(403);
    stranger.destroy();
  });

  it("lets a function do what its policy grants and nothing else: SQS by queue, Glue by action", async () => {
    const aggregator = functionCredentials("AggregateFunction") as AccessKeys;
    const sqs = sqsAs(aggregator);
    expect(await outcome(sqs.send(new SendMessageCommand({ QueueUrl: localQueueUrl(templateQueue), MessageBody: "granted" })))).toBe("ok");
    expect(await outcome(sqs.send(new SendMessageCommand({ QueueUrl: otherQueue.url, MessageBody: "not granted" })))).toBe(403);
    expect(await outcome(sqs.send(new ListQueuesCommand({})))).toBe(403);
    sqs.destroy();

    const glue = glueAs(aggregator);
    // Granted: the version is simply not there (400), not refused (403).
    expect(await outcome(glue.send(new GetSchemaVersionCommand({ SchemaVersionId: "00000000-0000-4000-8000-000000000000" })))).toBe(400);
    expect(
      await outcome(glue.send(new CreateSchemaCommand({ SchemaName: "not-granted", DataFormat: "AVRO", SchemaDefinition: '"string"' }))),
    ).toBe(403);
    glue.destroy();

    // The query function has no Glue or SQS grant at all.
    const query = glueAs(functionCredentials("QueryFunction") as AccessKeys);
    expect(await outcome(query.send(new GetSchemaVersionCommand({ SchemaVersionId: "00000000-0000-4000-8000-000000000000" })))).toBe(403);
    query.destroy();
  });

  it("refuses GetSchemaVersion granted only on the registry and schema ARNs, as AWS does (it authorizes that call on '*')", async () => {
    const registry = `arn:aws:glue:${localAws.region}:${localAws.accountId}:registry/${physicalName(ctx, "SchemaRegistry")}`;
    const scoped = await temporaryIdentity(clients.iam, "test-scoped-glue", [
      { Effect: "Allow", Action: ["glue:GetSchemaVersion"], Resource: [registry, `${registry.replace(":registry/", ":schema/")}/*`] },
    ]);
    const glue = glueAs(scoped);
    try {
      expect(await outcome(glue.send(new GetSchemaVersionCommand({ SchemaVersionId: "00000000-0000-4000-8000-000000000000" })))).toBe(403);
    } finally {
      glue.destroy();
      await scoped.drop();
    }
  });

  it("fails the aggregator's batch when the template lacks its dead-letter grant, and passes it with the template's", async () => {
    const event = JSON.parse(readFileSync("events/msk-sales-batch.json", "utf8"));
    const narrowed = motoEnforceable(
      functionPolicyStatements(templateWithout("AggregateFunction", "sqs:SendMessage"), "AggregateFunction"),
    );
    expect(narrowed.some((statement) => statement.Action.includes("sqs:SendMessage"))).toBe(false);
    const identity = await temporaryIdentity(clients.iam, "test-no-dead-letters", narrowed);
    const tables = [await createPrivateAggregatesTable(clients.dynamodb), await createPrivateAggregatesTable(clients.dynamodb)];
    const logs: string[] = [];
    const refused = localFunction("AggregateFunction", { AGGREGATES_TABLE: tables[0]?.name ?? "" }, logs, identity);
    const granted = localFunction("AggregateFunction", { AGGREGATES_TABLE: tables[1]?.name ?? "" });
    try {
      // The poison record cannot be dead-lettered: the batch fails (the mapping would retry it).
      const withoutGrant = await refused.invoke(event);
      expect(withoutGrant.ok).toBe(false);
      // The same bundle under the function's own template identity dead-letters it and succeeds.
      const withGrant = await granted.invoke(event);
      expect(withGrant.ok && withGrant.result).toMatchObject({ records: 9, applied: 8, poison: 1 });
    } finally {
      await Promise.all([refused.stop(), granted.stop()]);
      await identity.drop();
      for (const table of tables) await table?.drop();
    }
  });
});
