import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { yamlParse } from "yaml-cfn";

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

/**
 * Parses a template file, the YAML short forms (!Ref, !Sub, !GetAtt a.b ...) turned into the long
 * forms CloudFormation documents by yaml-cfn (a port of the AWS CLI's own reader). Throws naming
 * the file with the YAML error's line and column when it is malformed, or when it has no Resources.
 */
export function loadTemplate(path: string): Template {
  let parsed: Template | null;
  try {
    parsed = yamlParse(readFileSync(path, "utf8")) as Template | null;
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
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
