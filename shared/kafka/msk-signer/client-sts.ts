import { unreached } from "./unreached.ts";

// Stands in for @aws-sdk/client-sts in the Kafka functions' bundles (template.yaml, Alias). The MSK
// signer requires it at its top only to log the caller's identity when asked to (`awsDebugCreds`),
// which shared/kafka/msk-iam.ts never does. Loading this file costs nothing; using it throws.

/** Throws: the signer's debug identity log is not part of this bundle. */
export class STSClient {
  constructor() {
    throw unreached("@aws-sdk/client-sts", "STSClient");
  }
}

/** Throws: the signer's debug identity log is not part of this bundle. */
export class GetCallerIdentityCommand {
  constructor() {
    throw unreached("@aws-sdk/client-sts", "GetCallerIdentityCommand");
  }
}
