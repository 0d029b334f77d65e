import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { GlueClient } from "@aws-sdk/client-glue";
import { IAMClient } from "@aws-sdk/client-iam";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { Kafka, logLevel } from "kafkajs";
import { adminCredentialProvider } from "./identities.ts";
import { endpoints, localAws } from "./settings.ts";

// moto checks IAM (see identities.ts): its clients sign as the stack's admin. DynamoDB Local checks nothing.
const moto = { region: localAws.region, credentials: adminCredentialProvider, endpoint: endpoints.moto } as const;

/** AWS SDK v3 and kafkajs clients pointed at the local stack, as its admin; the same client classes the functions use. */
export function localClients() {
  return {
    kafka: new Kafka({ clientId: "local-stack", brokers: [endpoints.kafkaBrokers], logLevel: logLevel.NOTHING }),
    dynamodb: new DynamoDBClient({ region: localAws.region, credentials: localAws.credentials, endpoint: endpoints.dynamodb }),
    dynamodbStreams: new DynamoDBStreamsClient({
      region: localAws.region,
      credentials: localAws.credentials,
      endpoint: endpoints.dynamodb,
    }),
    s3: new S3Client({ ...moto, forcePathStyle: true }),
    sqs: new SQSClient(moto),
    glue: new GlueClient(moto),
    iam: new IAMClient(moto),
  };
}

/** The SQS queue URL moto gives a queue of this name. */
export function localQueueUrl(queueName: string): string {
  return `${endpoints.moto}/${localAws.accountId}/${queueName}`;
}
