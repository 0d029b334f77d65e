import { GetBootstrapBrokersCommand, KafkaClient } from "@aws-sdk/client-kafka";
import { ConfigError } from "../config/env.ts";
import { lazy } from "../lambda/lazy.ts";
import type { BrokerLookup } from "./client.ts";

/**
 * The IAM bootstrap servers of an MSK cluster, looked up once with GetBootstrapBrokers and cached
 * while it works (a failure is asked again on the next connect). CloudFormation exposes only an
 * MSK Serverless cluster's ARN, so Custom::KafkaTopics looks them up at deploy time and answers
 * them to the stack; functions get them in their environment and never load this module. The
 * lookup rejects with ConfigError when the cluster has no IAM bootstrap string, or with the
 * SDK's error when the MSK API cannot be reached.
 */
export function mskBootstrapBrokers(clusterArn: string, region: string): BrokerLookup {
  // The dual-stack host (kafka-api.<region>.api.aws): the one the MSK API's current VPC endpoint
  // service (aws.api.<region>.kafka-api) serves; the MSK guide says to reach it with the SDK's
  // dual-stack setting. Through a NAT gateway it is an ordinary public endpoint.
  const client = new KafkaClient({ region, useDualstackEndpoint: true });
  return lazy(async () => {
    const response = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
    const brokers = response.BootstrapBrokerStringSaslIam?.split(",") ?? [];
    if (brokers.length === 0) throw new ConfigError(`cluster ${clusterArn} has no IAM bootstrap brokers`);
    return brokers;
  });
}
