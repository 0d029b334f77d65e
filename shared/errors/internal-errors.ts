import { AppError } from "./app-error.ts";

/**
 * Something the code relies on did not hold (an answer nobody asked for, an empty group that
 * cannot be empty): a bug or a broken dependency contract. Not retriable: it fails loudly.
 */
export class InvariantError extends AppError {
  constructor(message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { code: "INVARIANT_VIOLATED", retriable: false, ...options });
  }
}

/** Codes of DependencyError: which kind of dependency failure it is. */
export const DependencyErrorCode = {
  /** A DynamoDB request kept being left unprocessed or throttled. */
  dynamodbUnprocessed: "DYNAMODB_UNPROCESSED",
  /** Conditional writes kept losing to other writers of the same items. */
  writeConflict: "WRITE_CONFLICT",
  /** SQS refused messages of a batch. */
  sqsRefused: "SQS_REFUSED",
  /** A peer (CloudFormation's ResponseURL, a Kafka cluster) did not answer or refused. */
  unreachable: "DEPENDENCY_UNREACHABLE",
} as const;
export type DependencyErrorCode = (typeof DependencyErrorCode)[keyof typeof DependencyErrorCode];

/** A dependency (DynamoDB, SQS, Kafka, CloudFormation) failed or refused for now: retriable, the same call may pass later. */
export class DependencyError extends AppError {
  constructor(code: DependencyErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { code, retriable: true, status: 503, ...options });
  }
}
