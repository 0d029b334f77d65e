import { describe, expect, it } from "vitest";
import { localStackContext } from "../../stack/context.ts";
import { samFunctions } from "../../template/functions.ts";
import { functionPolicyStatements, motoEnforceable } from "../../template/iam.ts";
import type { StackContext } from "../../template/intrinsics.ts";
import type { Template } from "../../template/template.ts";

const withPolicies = (policies: unknown): StackContext => ({
  template: {
    Resources: {
      Queue: { Type: "AWS::SQS::Queue", Properties: { QueueName: "letters" } },
      Fn: { Type: "AWS::Serverless::Function", Properties: { Policies: policies } },
    },
  } as Template,
  stackName: "demo",
  region: "eu-west-1",
  accountId: "111122223333",
});

describe("a function's template policies, as the local stack's IAM", () => {
  it("resolves inline statements and SAM policy templates, skips managed policy names", () => {
    const ctx = withPolicies([
      "AWSLambdaBasicExecutionRole",
      { Statement: [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: { "Fn::GetAtt": ["Queue", "Arn"] } }] },
      { SQSSendMessagePolicy: { QueueName: "other" } },
    ]);
    expect(functionPolicyStatements(ctx, "Fn")).toEqual([
      { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: ["arn:aws:sqs:eu-west-1:111122223333:letters"] },
      { Effect: "Allow", Action: ["sqs:SendMessage*"], Resource: ["arn:aws:sqs:eu-west-1:111122223333:other"] },
    ]);
  });

  it("names an unknown policy template and a statement without resources", () => {
    expect(() => functionPolicyStatements(withPolicies([{ LambdaInvokePolicy: { FunctionName: "x" } }]), "Fn")).toThrow(
      /Policies\[0\]: policy template LambdaInvokePolicy is not known/,
    );
    expect(() => functionPolicyStatements(withPolicies([{ Statement: [{ Effect: "Allow", Action: "s3:GetObject" }] }]), "Fn")).toThrow(
      /Policies\[0\]\.Statement\[0\] needs Action and Resource/,
    );
  });

  it("keeps SQS and S3 resources and GetSchemaVersion's, widens other Glue actions to *, and lets SQS batches follow their action", () => {
    const registry = "arn:aws:glue:eu-west-1:111122223333:registry/r";
    expect(
      motoEnforceable([
        { Effect: "Allow", Action: ["glue:GetSchemaByDefinition", "glue:GetSchemaVersion"], Resource: [registry] },
        { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: ["arn:aws:sqs:eu-west-1:111122223333:q"] },
        { Effect: "Deny", Action: ["glue:DeleteSchema"], Resource: [registry] },
      ]),
    ).toEqual([
      { Effect: "Allow", Action: ["glue:GetSchemaVersion"], Resource: [registry] },
      { Effect: "Allow", Action: ["glue:GetSchemaByDefinition"], Resource: ["*"] },
      { Effect: "Allow", Action: ["sqs:SendMessage", "sqs:SendMessageBatch"], Resource: ["arn:aws:sqs:eu-west-1:111122223333:q"] },
      { Effect: "Deny", Action: ["glue:DeleteSchema"], Resource: [registry] },
    ]);
  });

  it("resolves every function of template.yaml to plain ARNs or *", () => {
    const ctx = localStackContext();
    for (const fn of samFunctions(ctx)) {
      for (const statement of functionPolicyStatements(ctx, fn.logicalId)) {
        for (const resource of statement.Resource) expect(resource, fn.logicalId).toMatch(/^(\*|arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d*:.+)$/);
      }
    }
  });
});
