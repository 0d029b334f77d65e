import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { localStackContext, type StackContext, samFunctions } from "@sales-stream-analytics/local-aws";

/**
 * What an operator's tool (`npm run redrive`, `npm run rebuild`) needs of a stack: a function's
 * template environment as the stack resolves it, and the stack's outputs. `--local` resolves the
 * template against the local stack; `--stack <name>` against a deployed stack's own parameters,
 * id and region (names built from the stack id, as the lake bucket's, need them); neither: the
 * template's defaults.
 */
export interface StackEnvironment {
  /** The named function's environment variables. Throws when the template has no such function. */
  environment(logicalId: string): Readonly<Record<string, string>>;
  /** The deployed stack's outputs (empty for the local stack). */
  readonly outputs: Readonly<Record<string, string | undefined>>;
  readonly context: StackContext;
}

/** Resolves a deployed stack (`stackName`) or the local one. Throws when CloudFormation has no such stack. */
export async function stackEnvironment(stackName: string | undefined): Promise<StackEnvironment> {
  const ctx = localStackContext();
  let context = ctx;
  let outputs: Record<string, string | undefined> = {};
  if (stackName !== undefined) {
    const cloudformation = new CloudFormationClient({});
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks[0];
    if (stack === undefined) throw new Error(`CloudFormation has no stack ${stackName}`);
    outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? "", o.OutputValue]));
    const parameters = Object.fromEntries((stack.Parameters ?? []).map((p) => [p.ParameterKey ?? "", p.ParameterValue ?? ""]));
    context = {
      ...ctx,
      stackName,
      parameterOverrides: parameters,
      ...(stack.StackId !== undefined && { stackId: stack.StackId, region: stack.StackId.split(":")[3] ?? ctx.region }),
    };
  }
  return {
    context,
    outputs,
    environment(logicalId) {
      const fn = samFunctions(context).find((candidate) => candidate.logicalId === logicalId);
      if (fn === undefined) throw new Error(`template.yaml has no ${logicalId}`);
      return fn.environment;
    },
  };
}
