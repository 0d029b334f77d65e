import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { parse, type Tags } from "yaml";

/** A CloudFormation/SAM template after the YAML short forms (!Ref, !Sub...) became long forms. */
export interface Template {
  readonly Parameters?: Record<string, TemplateParameter>;
  readonly Conditions?: Record<string, unknown>;
  readonly Globals?: { readonly Function?: Record<string, unknown> };
  readonly Metadata?: Record<string, unknown>;
  readonly Resources: Record<string, TemplateResource>;
  readonly Outputs?: Record<string, unknown>;
}

export interface TemplateParameter {
  readonly Type: string;
  readonly Default?: string | number;
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
  readonly DependsOn?: string | string[];
}

const functionNames = [
  "Base64",
  "Cidr",
  "FindInMap",
  "GetAZs",
  "ImportValue",
  "Join",
  "Select",
  "Split",
  "Sub",
  "If",
  "Equals",
  "Not",
  "And",
  "Or",
  // Rules-only functions: parsed so the template loads, never resolved locally.
  "Contains",
  "EachMemberEquals",
  "EachMemberIn",
  "RefAll",
  "ValueOf",
  "ValueOfAll",
] as const;

// Each short form becomes the long form CloudFormation documents ({"Fn::Sub": ...}).
const cfnTags: Tags = [
  { tag: "!Ref", resolve: (value: string) => ({ Ref: value }) },
  { tag: "!Condition", resolve: (value: string) => ({ Condition: value }) },
  {
    tag: "!GetAtt",
    resolve: (value: string) => {
      const dot = value.indexOf(".");
      return { "Fn::GetAtt": [value.slice(0, dot), value.slice(dot + 1)] };
    },
  },
  { tag: "!GetAtt", collection: "seq", resolve: (value) => ({ "Fn::GetAtt": value.toJSON() }) },
  ...functionNames.flatMap((name) => [
    { tag: `!${name}`, resolve: (value: string) => ({ [`Fn::${name}`]: value }) },
    { tag: `!${name}`, collection: "seq" as const, resolve: (value: { toJSON(): unknown }) => ({ [`Fn::${name}`]: value.toJSON() }) },
    { tag: `!${name}`, collection: "map" as const, resolve: (value: { toJSON(): unknown }) => ({ [`Fn::${name}`]: value.toJSON() }) },
  ]),
];

/** Parses a template file. Throws with the YAML error (line and column) when it is malformed. */
export function loadTemplate(path: string): Template {
  const parsed = parse(readFileSync(path, "utf8"), { customTags: cfnTags, maxAliasCount: -1 }) as Template | null;
  if (parsed === null || typeof parsed !== "object" || typeof parsed.Resources !== "object") {
    throw new Error(`${path}: not a CloudFormation template (no Resources section)`);
  }
  return parsed;
}

/** Reads `stack_name` and `region` of the default deploy environment from samconfig.toml. */
export function loadSamConfig(path: string): { stackName: string; region?: string } {
  const config = parseToml(readFileSync(path, "utf8")) as {
    default?: { deploy?: { parameters?: { stack_name?: string; region?: string } }; global?: { parameters?: { stack_name?: string } } };
  };
  const deploy = config.default?.deploy?.parameters;
  const stackName = deploy?.stack_name ?? config.default?.global?.parameters?.stack_name;
  if (stackName === undefined) throw new Error(`${path}: [default.deploy.parameters] has no stack_name`);
  return { stackName, ...(deploy?.region !== undefined && { region: deploy.region }) };
}
