import { randomUUID } from "node:crypto";
import { CreateQueueCommand, DeleteQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { localAws, localStackContext, physicalName, resolveValue } from "@sales-stream-analytics/local-aws";

const ctx = localStackContext();

export interface PrivateQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  /** The template queue it stands in for (its ARN), so a function's grants can follow it. */
  readonly replaces: string;
  drop(): Promise<void>;
}

/**
 * A fresh queue configured like the template's queue `logicalId`, so a test owns every message
 * in it. Throws when the template has no such queue or moto refuses the queue.
 */
export async function createPrivateQueue(sqs: SQSClient, logicalId: string): Promise<PrivateQueue> {
  const resource = ctx.template.Resources[logicalId];
  if (resource?.Type !== "AWS::SQS::Queue") throw new Error(`template.yaml has no queue ${logicalId}`);
  const props = resolveValue(ctx, resource.Properties ?? {}, logicalId) as Record<string, unknown>;
  const name = `test-${physicalName(ctx, logicalId)}-${randomUUID().slice(0, 8)}`;
  const attributes: Record<string, string> = {};
  for (const key of ["MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"]) {
    if (props[key] !== undefined) attributes[key] = String(props[key]);
  }
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (QueueUrl === undefined) throw new Error(`moto returned no URL for queue ${name}`);
  const arnOf = (queue: string) => `arn:aws:sqs:${localAws.region}:${localAws.accountId}:${queue}`;
  return {
    name,
    url: QueueUrl,
    arn: arnOf(name),
    replaces: arnOf(physicalName(ctx, logicalId)),
    drop: async () => void (await sqs.send(new DeleteQueueCommand({ QueueUrl }))),
  };
}
