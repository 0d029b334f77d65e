import { AppError } from "./app-error.ts";
import { RecordError } from "./record-error.ts";

/**
 * What a consumer does with an error thrown while handling one record:
 * - `dead-letter`: a data error (RecordError): set the record aside with `code` and `message`
 *   (the aggregator's dead-letter queue, Firehose's ProcessingFailed, the UDF's NULL) and go on;
 * - `retry`: a retriable infrastructure error (an AppError with `retriable`): throw it, so the
 *   whole batch is retried and no good record is set aside;
 * - `rethrow`: anything else (a TypeError, a config or invariant error): a bug, throw it and fail
 *   the batch loudly rather than hide it as bad data.
 */
export type Disposition =
  | { readonly action: "dead-letter"; readonly code: string; readonly message: string; readonly error: RecordError }
  | { readonly action: "retry"; readonly error: AppError }
  | { readonly action: "rethrow"; readonly error: unknown };

/** The product's one error policy for per-record handling (see Disposition). Never throws. */
export function disposition(error: unknown): Disposition {
  if (error instanceof RecordError) return { action: "dead-letter", code: error.code, message: error.message, error };
  if (error instanceof AppError && error.retriable) return { action: "retry", error };
  return { action: "rethrow", error };
}

/** The data error of `error`, for a caller that sets records aside; throws `error` itself for `retry` and `rethrow`. */
export function deadLetterOrThrow(error: unknown): Extract<Disposition, { action: "dead-letter" }> {
  const outcome = disposition(error);
  if (outcome.action !== "dead-letter") throw outcome.error;
  return outcome;
}
