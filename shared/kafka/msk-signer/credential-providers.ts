import { unreached } from "./unreached.ts";

// Stands in for @aws-sdk/credential-providers in the Kafka functions' bundles (template.yaml, Alias).
// The MSK signer requires it at its top for generateAuthToken's default chain and its profile and
// role entries; shared/kafka/msk-iam.ts calls the entry that takes a credentials provider instead.
// Loading this file costs nothing; using it throws.

/** Throws: the signer's profile entry is not part of this bundle. */
export function fromIni(): never {
  throw unreached("@aws-sdk/credential-providers", "fromIni");
}

/** Throws: the signer's role entry is not part of this bundle. */
export function fromTemporaryCredentials(): never {
  throw unreached("@aws-sdk/credential-providers", "fromTemporaryCredentials");
}

/** Throws: the signer's generateAuthToken is not part of this bundle. */
export function fromNodeProviderChain(): never {
  throw unreached("@aws-sdk/credential-providers", "fromNodeProviderChain");
}
