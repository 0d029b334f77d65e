import { AppError } from "../errors/app-error.ts";
import { RecordError } from "../errors/record-error.ts";

/** Why a Glue-framed Avro record could not be read or written. */
export const CodecErrorCode = {
  truncatedFrame: "TRUNCATED_FRAME",
  badHeaderVersion: "BAD_HEADER_VERSION",
  unknownCompression: "UNKNOWN_COMPRESSION",
  unknownSchemaVersion: "UNKNOWN_SCHEMA_VERSION",
  incompatibleSchema: "INCOMPATIBLE_SCHEMA",
  corruptBody: "CORRUPT_BODY",
  invalidValue: "INVALID_VALUE",
  schemaNotRegistered: "SCHEMA_NOT_REGISTERED",
  registrationFailed: "SCHEMA_REGISTRATION_FAILED",
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

/**
 * A record that will never decode (bad bytes, unknown or incompatible schema): a RecordError, so
 * consumers dead-letter it and do not retry. (Producers meet SCHEMA_NOT_REGISTERED and
 * SCHEMA_REGISTRATION_FAILED: the ingest answers them 500 with that code, not retriable, since
 * no retry helps until an operator registers the schema; no consumer sees those.)
 */
export class CodecError extends RecordError {
  declare readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The schema registry could not be reached or throttled us past our retries: retry the whole batch later. */
export class RegistryUnavailableError extends AppError {
  constructor(message: string, cause: unknown) {
    super(message, { code: "SCHEMA_REGISTRY_UNAVAILABLE", retriable: true, status: 503, cause });
  }
}

const codecCodes: ReadonlySet<unknown> = new Set(Object.values(CodecErrorCode));

/**
 * A registry error thrown by another bundle as this bundle's class. The Glue registry is a bundle
 * of its own (template.yaml EntryPoints) with its own copies of these classes, so `instanceof`
 * (the error policy, shared/errors/disposition.ts) would take its unknown version for a bug and
 * its outage for a non-retriable error. Same code, message and cause; anything else (a bug, a
 * failed import) is returned as it is. Never throws.
 */
export function asLocalRegistryError(error: unknown): unknown {
  if (error instanceof AppError || !(error instanceof Error)) return error;
  const { code, details } = error as Error & { code?: unknown; details?: unknown };
  if (code === "SCHEMA_REGISTRY_UNAVAILABLE") return new RegistryUnavailableError(error.message, error.cause);
  if (codecCodes.has(code)) return new CodecError(code as CodecErrorCode, error.message, { cause: error.cause, details });
  return error;
}
