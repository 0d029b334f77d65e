import { localClients, localStackContext } from "@sales-stream-analytics/local-aws";
import { statementsWith, type TemporaryIdentity, temporaryIdentity } from "@sales-stream-analytics/local-aws/testing";
import type { PrivateQueue } from "./queues.ts";

/**
 * An IAM identity in moto with a function's template policies, its grants on the template's
 * queue moved to a test's private queue (the test points the function at it). drop() deletes it.
 */
export async function identityWithQueue(logicalId: string, queue: PrivateQueue): Promise<TemporaryIdentity> {
  const { iam } = localClients();
  const statements = statementsWith(localStackContext(), logicalId, { [queue.replaces]: queue.arn });
  const identity = await temporaryIdentity(iam, `test-${logicalId}`, statements);
  return {
    ...identity,
    drop: async () => {
      await identity.drop();
      iam.destroy();
    },
  };
}
