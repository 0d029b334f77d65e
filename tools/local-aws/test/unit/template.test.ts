import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { salesSchemaVersions } from "../../../../shared/sales/schema.ts";
import { localStackContext } from "../../stack/context.ts";
import { paths } from "../../stack/settings.ts";
import { generatedName, physicalName, resolveValue, type StackContext, stackOutput } from "../../template/intrinsics.ts";
import { declaredTopics } from "../../template/provision.ts";
import { loadTemplate, type Template } from "../../template/template.ts";

function context(template: Template, overrides: Record<string, string> = {}): StackContext {
  return { template, stackName: "demo", region: "eu-west-1", accountId: "111122223333", parameterOverrides: overrides };
}

const tiny: Template = {
  Parameters: { Topic: { Type: "String", Default: "sales" }, Subnets: { Type: "List<AWS::EC2::Subnet::Id>" } },
  Conditions: { IsProd: { "Fn::Equals": [{ Ref: "Topic" }, "prod"] } },
  Resources: {
    Table: { Type: "AWS::DynamoDB::Table", Properties: { TableName: { "Fn::Sub": "${AWS::StackName}-aggregates" } } },
    Bucket: { Type: "AWS::S3::Bucket" },
    Registry: { Type: "AWS::Glue::Registry", Properties: { Name: "reg" } },
    Schema: { Type: "AWS::Glue::Schema", Properties: { Name: { Ref: "Topic" }, Registry: { Arn: { "Fn::GetAtt": ["Registry", "Arn"] } } } },
  },
};

describe("intrinsic functions resolved as the local stack", () => {
  it("gives tables their declared name and buckets CloudFormation's lower-case generated name", () => {
    const ctx = context(tiny);
    expect(physicalName(ctx, "Table")).toBe("demo-aggregates");
    expect(physicalName(ctx, "Bucket")).toMatch(/^demo-bucket-[a-z0-9]{12}$/);
  });

  it("generates names as CloudFormation does: stack-logicalId-suffix, cut to the service's limit, the same on every start", () => {
    const long = { ...context(tiny), stackName: `Sales${"-Analytics".repeat(12)}`.slice(0, 128) };
    const queue = generatedName(long, "DeadLetterQueue", "AWS::SQS::Queue");
    expect(queue).toHaveLength(80);
    expect(queue).toMatch(/^Sales-Analytics-.*-[A-Z0-9]{12}$/);
    expect(generatedName(long, "DeadLetterQueue", "AWS::SQS::Queue")).toBe(queue);
    expect(generatedName({ ...long, stackName: `${long.stackName.slice(0, 127)}x` }, "DeadLetterQueue", "AWS::SQS::Queue")).not.toBe(queue);
    expect(generatedName(long, "Fn", "AWS::Serverless::Function").length).toBeLessThanOrEqual(64);
    expect(generatedName(long, "LakeBucket", "AWS::S3::Bucket")).toMatch(/^[a-z0-9-]{63}$/);
  });

  it("answers the template's outputs as the local stack names them, and refuses one it cannot give", () => {
    const withOutputs: Template = {
      ...tiny,
      Outputs: { TableName: { Value: { Ref: "Table" } }, Prod: { Condition: "IsProd", Value: "p" } },
    };
    expect(stackOutput(context(withOutputs), "TableName")).toBe("demo-aggregates");
    expect(() => stackOutput(context(withOutputs), "Prod")).toThrow("output Prod exists only when the condition IsProd holds");
    expect(stackOutput(context(withOutputs, { Topic: "prod" }), "Prod")).toBe("p");
    expect(() => stackOutput(context(withOutputs), "Nope")).toThrow('no output "Nope"; it has TableName, Prod');
  });

  it("resolves AWS::StackId to a stack ARN whose UUID is the stack's own", () => {
    const id = String(resolveValue(context(tiny), { Ref: "AWS::StackId" }, "x"));
    expect(id).toMatch(
      /^arn:aws:cloudformation:eu-west-1:111122223333:stack\/demo\/[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(resolveValue({ ...context(tiny), stackName: "other" }, { Ref: "AWS::StackId" }, "x")).not.toBe(id);
    expect(resolveValue({ ...context(tiny), stackId: "arn:given" }, { Ref: "AWS::StackId" }, "x")).toBe("arn:given");
  });

  it("resolves Ref, GetAtt, Sub with variables and nested attributes, Join and If", () => {
    const ctx = context(tiny);
    const value = resolveValue(
      ctx,
      {
        a: { Ref: "Topic" },
        b: { "Fn::GetAtt": ["Table", "Arn"] },
        c: { "Fn::Sub": ["${Name}/${Table.Arn}/${!Literal}", { Name: { Ref: "AWS::Region" } }] },
        d: { "Fn::Join": ["-", [{ Ref: "Topic" }, "x"]] },
        e: { "Fn::If": ["IsProd", "yes", "no"] },
        f: { Ref: "Schema" },
        g: { Ref: "Subnets" },
      },
      "test",
    );
    expect(value).toEqual({
      a: "sales",
      b: "arn:aws:dynamodb:eu-west-1:111122223333:table/demo-aggregates",
      c: "eu-west-1/arn:aws:dynamodb:eu-west-1:111122223333:table/demo-aggregates/${Literal}",
      d: "sales-x",
      e: "no",
      f: "arn:aws:glue:eu-west-1:111122223333:schema/reg/sales",
      g: ["local-Subnets"],
    });
  });

  it("takes parameter overrides over defaults", () => {
    expect(resolveValue(context(tiny, { Topic: "prod" }), { "Fn::If": ["IsProd", "yes", "no"] }, "x")).toBe("yes");
  });

  it("names the path of a reference to nothing", () => {
    expect(() => resolveValue(context(tiny), { nested: [{ Ref: "Nope" }] }, "Resources.X")).toThrow(
      /Resources\.X\.nested\[0\]\.Ref: no resource or parameter named "Nope"/,
    );
  });
});

describe("template.yaml", () => {
  const ctx = localStackContext();

  it("parses the CloudFormation short forms into long forms", () => {
    const template = loadTemplate(paths.template);
    expect(template.Resources.SalesSchema?.Properties?.Registry).toEqual({ Arn: { "Fn::GetAtt": ["SchemaRegistry", "Arn"] } });
  });

  it("declares the sales topic with its partitions and its record cap", () => {
    expect(declaredTopics(ctx)).toEqual([
      { name: "sales", partitions: 6, config: { "max.message.bytes": "983040", "compression.type": "uncompressed" } },
    ]);
  });

  it("registers every schemas/sales-v*.json version, in order, and nothing else", () => {
    const definitions = Object.entries(ctx.template.Resources)
      .filter(([, r]) => r.Type === "AWS::Glue::Schema" || r.Type === "AWS::Glue::SchemaVersion")
      .map(([id, r]) => JSON.parse(String(resolveValue(ctx, r.Properties?.SchemaDefinition, id))));
    const onDisk = readdirSync(join(paths.projectRoot, "schemas"))
      .filter((file) => /^sales-v\d+\.json$/.test(file))
      .sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]))
      .map((file) => JSON.parse(readFileSync(join(paths.projectRoot, "schemas", file), "utf8")));
    expect(onDisk.length).toBeGreaterThanOrEqual(2);
    expect(definitions).toEqual(onDisk);
    expect(onDisk).toEqual([...salesSchemaVersions]);
  });
});
