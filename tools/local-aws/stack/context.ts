import { join } from "node:path";
import type { StackContext } from "../template/intrinsics.ts";
import { deployedAttributes } from "../template/provision.ts";
import { loadSamConfig, loadTemplate } from "../template/template.ts";
import { localClients, localQueueUrl } from "./clients.ts";
import { endpoints, localAws, paths } from "./settings.ts";

/** template.yaml resolved as the local stack: samconfig's stack name, moto's account and region. */
export function localStackContext(): StackContext {
  const { stackName } = loadSamConfig(join(paths.projectRoot, "samconfig.toml"));
  return {
    template: loadTemplate(paths.template),
    stackName,
    region: localAws.region,
    accountId: localAws.accountId,
    queueUrl: localQueueUrl,
  };
}

/**
 * Lowercase letters, digits and hyphens, starting with a letter, at most 19 characters: the
 * namespace goes into the stack name and the topic name, short enough that the names generated
 * from them stay readable (every name the template derives fits its service for any stack name:
 * test/unit/deploy/names.test.ts).
 */
const namespacePattern = /^[a-z][a-z0-9-]{0,18}$/;

/**
 * template.yaml resolved as a second, private copy of the local stack: the stack name becomes
 * `<stack>-<namespace>` (every table, queue, bucket, registry, Glue database, delivery stream and
 * consumer group derives from it) and the sales topic (also the Glue schema's name) becomes
 * `<namespace>-<topic>`. Nothing of it names a resource `npm start` serves. Throws naming the
 * namespace when it does not match the pattern above.
 */
export function namespacedStackContext(namespace: string): StackContext {
  if (!namespacePattern.test(namespace)) {
    throw new Error(
      `namespace "${namespace}" must be 1-19 lowercase letters, digits or hyphens, starting with a letter (it goes into the stack and topic names)`,
    );
  }
  const base = localStackContext();
  const topicDefault = String(base.template.Parameters?.SalesTopicName?.Default ?? "sales");
  return {
    ...base,
    stackName: `${base.stackName}-${namespace}`,
    parameterOverrides: { ...base.parameterOverrides, SalesTopicName: `${namespace}-${topicDefault}` },
  };
}

/**
 * `ctx` (the served stack's by default) with what only a deployment knows, read from the running
 * local stack: each Glue schema version's id and the topics resource's brokers (deployedAttributes).
 * Throws naming a schema version the registry does not hold (the stack is not up, or not provisioned).
 */
export async function deployedStackContext(ctx: StackContext = localStackContext()): Promise<StackContext> {
  const { glue } = localClients();
  try {
    return { ...ctx, deployed: await deployedAttributes(ctx, { glue }, endpoints.kafkaBrokers) };
  } finally {
    glue.destroy();
  }
}
