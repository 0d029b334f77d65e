import { describe, expect, it } from "vitest";
import { localStackContext } from "../../stack/context.ts";
import { emulatedResourceTypes, skippedReport, skippedResources, unemulatedTypes } from "../../template/emulation.ts";
import type { StackContext } from "../../template/intrinsics.ts";
import type { Template } from "../../template/template.ts";

const tiny: Template = {
  Parameters: { Mode: { Type: "String", Default: "iam" } },
  Conditions: { Jwt: { "Fn::Equals": [{ Ref: "Mode" }, "jwt"] } },
  Resources: {
    Table: { Type: "AWS::DynamoDB::Table" },
    LagAlarm: { Type: "AWS::CloudWatch::Alarm" },
    DepthAlarm: { Type: "AWS::CloudWatch::Alarm" },
    Key: { Type: "AWS::KMS::Key" },
    JwtApi: { Type: "AWS::ApiGatewayV2::Api", Condition: "Jwt" },
  },
};
const context = (overrides: Record<string, string> = {}): StackContext => ({
  template: tiny,
  stackName: "demo",
  region: "eu-west-1",
  accountId: "111122223333",
  parameterOverrides: overrides,
});

describe("the resources the local stack skips", () => {
  it("groups the template's resources of types it does not emulate by type, whatever their conditions", () => {
    expect(unemulatedTypes(tiny)).toEqual([
      { type: "AWS::ApiGatewayV2::Api", resources: ["JwtApi"] },
      { type: "AWS::CloudWatch::Alarm", resources: ["LagAlarm", "DepthAlarm"] },
      { type: "AWS::KMS::Key", resources: ["Key"] },
    ]);
  });

  it("at start names only the resources the stack's parameters create", () => {
    expect(skippedResources(context()).map((group) => group.type)).toEqual(["AWS::CloudWatch::Alarm", "AWS::KMS::Key"]);
    expect(skippedResources(context({ Mode: "jwt" })).map((group) => group.type)).toContain("AWS::ApiGatewayV2::Api");
  });

  it("reports them in one headline and a line per type, and says nothing when nothing is skipped", () => {
    const lines = skippedReport(skippedResources(context()));
    expect(lines[0]).toBe("not emulated, skipped: 3 resources of 2 types (docs/local-stack.md#what-it-does-not-emulate)");
    expect(lines.slice(1).map((line) => line.replace(/ +/g, " "))).toEqual([
      " - AWS::CloudWatch::Alarm LagAlarm, DepthAlarm",
      " - AWS::KMS::Key Key",
    ]);
    expect(skippedReport([])).toEqual([]);
  });

  it("lists as emulated only types template.yaml has, and skips the template's alarms", () => {
    const template = localStackContext().template;
    const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
    expect(Object.keys(emulatedResourceTypes).filter((type) => !types.has(type))).toEqual([]);
    expect(
      skippedResources(localStackContext()).find((group) => group.type === "AWS::CloudWatch::Alarm")?.resources.length,
    ).toBeGreaterThan(0);
  });
});
