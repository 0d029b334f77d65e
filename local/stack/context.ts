import { join } from "node:path";
import type { StackContext } from "../template/intrinsics.ts";
import { loadSamConfig, loadTemplate } from "../template/template.ts";
import { localQueueUrl } from "./clients.ts";
import { localAws, paths } from "./settings.ts";

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
