import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { generateAuthTokenFromCredentialsProvider } from "aws-msk-iam-sasl-signer-js";

/**
 * Signs MSK IAM tokens (SASL/OAUTHBEARER, valid up to 15 min) for `region` with the SDK's default
 * credentials chain, the one the function's SDK clients already use: on Lambda the execution
 * role's keys in the environment. The signer's own `generateAuthToken` makes a new chain per token
 * through `@aws-sdk/credential-providers`; this entry takes ours, so the Kafka functions' bundles
 * replace that package and the STS client the signer requires at its top with stand-ins
 * (template.yaml's `Alias`, ./msk-signer/). The returned function rejects when no credentials can
 * be found.
 */
export function mskIamTokens(region: string): () => Promise<string> {
  const credentials = defaultProvider();
  return async () => (await generateAuthTokenFromCredentialsProvider({ region, awsCredentialsProvider: credentials })).token;
}
