import { type AccessKeys, functionCredentials } from "../stack/identities.ts";
import { endpoints, localAws } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";

const noIdentity: AccessKeys = { accessKeyId: "NO-IAM-IDENTITY", secretAccessKey: "none" };

/**
 * A function's environment in the local stack: its template variables, with only the
 * endpoints changed. AWS SDK v3 clients pick the local endpoints from AWS_ENDPOINT_URL_<SERVICE>,
 * so handlers run unchanged; Kafka is the plaintext local broker instead of MSK with IAM.
 */
export function localEnvironment(
  fn: SamFunction,
  credentials: AccessKeys | undefined = functionCredentials(fn.logicalId),
): Record<string, string> {
  return {
    ...fn.environment,
    AWS_REGION: localAws.region,
    AWS_DEFAULT_REGION: localAws.region,
    // The function's own IAM identity (its template policies only; moto enforces them), or keys
    // moto refuses when the function has none (a fixture outside the template).
    AWS_ACCESS_KEY_ID: (credentials ?? noIdentity).accessKeyId,
    AWS_SECRET_ACCESS_KEY: (credentials ?? noIdentity).secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_GLUE: endpoints.moto,
    AWS_ENDPOINT_URL_S3: endpoints.moto,
    AWS_ENDPOINT_URL_SQS: endpoints.moto,
    AWS_ENDPOINT_URL_KAFKA: endpoints.moto,
    KAFKA_BOOTSTRAP_SERVERS: endpoints.kafkaBrokers,
    KAFKA_AUTH: "none",
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
  };
}
