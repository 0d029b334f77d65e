import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, isScalar, isSeq, type Node, parseDocument } from "yaml";
import { paths } from "../../stack/settings.ts";
import { loadTemplate } from "../../template/template.ts";

/**
 * An independent reading of CloudFormation's short forms, as the AWS CLI's yamlhelper does it:
 * any `!Name` becomes `{"Fn::Name": value}`, except `!Ref` and `!Condition`, and `!GetAtt a.b`
 * splits at its first dot. It walks the `yaml` package's node tree, so it shares no code with the
 * loader under test: the two must agree on every value of template.yaml.
 */
function longForms(node: Node | null): unknown {
  const value = isMap(node)
    ? Object.fromEntries(node.items.map((pair) => [String(isScalar(pair.key) ? pair.key.value : pair.key), longForms(pair.value as Node)]))
    : isSeq(node)
      ? node.items.map((item) => longForms(item as Node))
      : isScalar(node)
        ? node.value
        : null;
  const tag = node?.tag;
  if (tag === undefined || !tag.startsWith("!")) return value;
  const name = tag.slice(1);
  if (name === "Ref" || name === "Condition") return { [name]: value };
  if (name === "GetAtt" && typeof value === "string") {
    const dot = value.indexOf(".");
    return { "Fn::GetAtt": [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

const readTemplateText = (text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "template-yaml-")), "template.yaml");
  writeFileSync(file, text);
  return loadTemplate(file);
};

describe("reading a template's CloudFormation YAML tags", () => {
  it("reads template.yaml exactly as an independent reading of the short forms does", () => {
    const text = readFileSync(paths.template, "utf8");
    const independent = longForms(parseDocument(text).contents);
    expect(loadTemplate(paths.template)).toEqual(independent);
  });

  it("turns every short form, scalar, list and map, into its long form", () => {
    const template = readTemplateText(`
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
  Either: !Or [!Condition IsProd, !Condition NotProd]
Resources:
  Thing:
    Type: AWS::X::Y
    Properties:
      Arn: !GetAtt Queue.Arn
      Nested: !GetAtt Stack.Outputs.Name
      Listed: !GetAtt [Queue, Arn]
      Name: !Sub "\${AWS::StackName}-thing"
      WithVars: !Sub
        - "\${Name}-x"
        - Name: !Ref Other
      Joined: !Join [",", [a, b]]
      First: !Select [0, !Split [",", "a,b"]]
      Picked: !If [IsProd, !FindInMap [Map, !Ref Stage, Key], !Base64 text]
      Imported: !ImportValue shared-name
      Zones: !GetAZs ""
      Block: !Cidr [10.0.0.0/16, 4, 8]
`);
    expect(template.Conditions).toEqual({
      IsProd: { "Fn::Equals": [{ Ref: "Stage" }, "prod"] },
      NotProd: { "Fn::Not": [{ Condition: "IsProd" }] },
      Either: { "Fn::Or": [{ Condition: "IsProd" }, { Condition: "NotProd" }] },
    });
    expect(template.Resources.Thing?.Properties).toEqual({
      Arn: { "Fn::GetAtt": ["Queue", "Arn"] },
      Nested: { "Fn::GetAtt": ["Stack", "Outputs.Name"] },
      Listed: { "Fn::GetAtt": ["Queue", "Arn"] },
      Name: { "Fn::Sub": "${AWS::StackName}-thing" },
      WithVars: { "Fn::Sub": ["${Name}-x", { Name: { Ref: "Other" } }] },
      Joined: { "Fn::Join": [",", ["a", "b"]] },
      First: { "Fn::Select": [0, { "Fn::Split": [",", "a,b"] }] },
      Picked: { "Fn::If": ["IsProd", { "Fn::FindInMap": ["Map", { Ref: "Stage" }, "Key"] }, { "Fn::Base64": "text" }] },
      Imported: { "Fn::ImportValue": "shared-name" },
      Zones: { "Fn::GetAZs": "" },
      Block: { "Fn::Cidr": ["10.0.0.0/16", 4, 8] },
    });
  });

  it("refuses a file without Resources, and malformed YAML with its position", () => {
    expect(() => readTemplateText("Parameters: {}\n")).toThrow("not a CloudFormation template (no Resources section)");
    expect(() => readTemplateText("Resources:\n  A: [unclosed\n")).toThrow(/template\.yaml: .*\(\d+:\d+\)/s);
  });
});
