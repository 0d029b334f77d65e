import { AppError } from "./app-error.ts";

/** Why one record (a Kafka record, a Firehose record, a Redshift row) cannot be used, whatever is retried. */
export const RecordErrorCode = {
  /** A Kafka record with no value (a tombstone). */
  emptyValue: "EMPTY_VALUE",
  /** A field that decodes but cannot be aggregated (a payment_date no window can hold). */
  outOfRange: "OUT_OF_RANGE",
  /** A timestamp text that is not "2022-08-01 10:15:00.000" or names no existing time. */
  invalidTimestamp: "INVALID_TIMESTAMP",
  /** A UDF argument that is not an even-length hex string. */
  notHex: "NOT_HEX",
  /** A two-argument UDF row whose schema_name is NULL. */
  missingSchemaName: "MISSING_SCHEMA_NAME",
  /** A UDF row that is NULL, not an array, or of another arity than the call's. */
  badRowShape: "BAD_ROW_SHAPE",
} as const;
export type RecordErrorCode = (typeof RecordErrorCode)[keyof typeof RecordErrorCode];

/**
 * A data error: this record's bytes or fields are wrong, and no retry can change that. The one
 * family the consumers set aside (dead-letter, ProcessingFailed, NULL) instead of failing on:
 * see disposition.ts. Subclasses: CodecError (framing, schema, body), DecimalError (amounts).
 * Never retriable.
 */
export class RecordError extends AppError {
  constructor(code: string, message: string, options: { cause?: unknown; details?: unknown; status?: number } = {}) {
    super(message, { status: 422, ...options, code, retriable: false });
  }
}
