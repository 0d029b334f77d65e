import { InvariantError } from "../../errors/internal-errors.ts";

/**
 * The error a stand-in throws when code the bundle was built never to reach is reached after all:
 * `what` names the export, so the message says which signer path would need the real package.
 */
export function unreached(pkg: string, what: string): InvariantError {
  return new InvariantError(
    `${pkg} (${what}) is replaced by a stand-in in this bundle (template.yaml, Alias): aws-msk-iam-sasl-signer-js needs it only for a debug identity log, a profile, a role or generateAuthToken's default chain, which the product does not use; sign with mskIamTokens (shared/kafka/msk-iam.ts)`,
  );
}
