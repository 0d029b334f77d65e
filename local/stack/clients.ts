import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GlueClient } from "@aws-sdk/client-glue";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { Kafka, logLevel } from "kafkajs";
import { endpoints, localAws } from "./settings.ts";

const common = { region: localAws.region, credentials: localAws.credentials } as const;

/** AWS SDK v3 and kafkajs clients pointed at the local stack; the same client classes the functions use. */
export function localClients() {
  return {
    kafka: new Kafka({ clientId: "local-stack", brokers: [endpoints.kafkaBrokers], logLevel: logLevel.NOTHING }),
    dynamodb: new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }),
    s3: new S3Client({ ...common, endpoint: endpoints.moto, forcePathStyle: true }),
    sqs: new SQSClient({ ...common, endpoint: endpoints.moto }),
    glue: new GlueClient({ ...common, endpoint: endpoints.moto }),
  };
}

/** The SQS queue URL moto gives a queue of this name. */
export function localQueueUrl(queueName: string): string {
  return `${endpoints.moto}/${localAws.accountId}/${queueName}`;
}
