import type { GlueAvroEncoder } from "#shared/avro/codec";
import { AppError } from "#shared/errors/app-error";
import { HttpError } from "#shared/http/errors";
import { HEADER_CORRELATION_ID, HEADER_TRACE } from "#shared/kafka/headers";
import type { Acknowledged, OutgoingRecord, ProduceOutcome } from "#shared/kafka/producer";
import type { Sale } from "#shared/sales/schema";
import { type IngestRequest, type RequestLimits, readRecords } from "./parse.ts";
import { validateSales } from "./validate.ts";

export interface IngestDeps {
  /** The encoder for the current schema version; resolves the version id once per container. */
  readonly encoder: () => Promise<GlueAvroEncoder<Sale>>;
  readonly produce: (records: readonly OutgoingRecord[]) => Promise<ProduceOutcome>;
  readonly limits: RequestLimits;
  readonly retryAfterSeconds: number;
}

export interface IngestContext {
  readonly correlationId: string;
  readonly traceHeader: string | undefined;
}

export interface IngestAccepted {
  readonly accepted: number;
  readonly correlationId: string;
  readonly records: readonly Acknowledged[];
}

/**
 * Validates posted sales and produces every one of them to Kafka as a Glue-framed Avro record
 * keyed by country, in one Kafka transaction. All or nothing twice over: one invalid record
 * rejects the request (400, every issue listed) and nothing is produced; and a request Kafka
 * does not commit is aborted whole. Throws HttpError 415/413/400 for bad requests, 503 with
 * Retry-After when Kafka or the registry cannot take the records (none written), and 504 in the
 * one case nobody can know: the commit was sent and its answer never came.
 */
export async function ingestSales(request: IngestRequest, context: IngestContext, deps: IngestDeps): Promise<IngestAccepted> {
  const records = readRecords(request, deps.limits);
  const { sales, issues } = validateSales(records);
  if (issues.length > 0) {
    const invalid = new Set(issues.map((issue) => issue.index)).size;
    throw new HttpError(400, "INVALID_RECORDS", `${invalid} of ${records.length} records are invalid; nothing was produced`, {
      details: { invalid: issues },
    });
  }

  let encoder: GlueAvroEncoder<Sale>;
  try {
    encoder = await deps.encoder();
  } catch (error) {
    throw unavailable("SCHEMA_REGISTRY_UNAVAILABLE", "the schema registry cannot be reached; nothing was produced", deps, error);
  }
  const headers = {
    [HEADER_CORRELATION_ID]: context.correlationId,
    ...(context.traceHeader !== undefined && { [HEADER_TRACE]: context.traceHeader }),
  };
  const outgoing = sales.map((sale) => ({ key: sale.country, value: encoder.encode(sale), headers }));

  const outcome = await deps.produce(outgoing);
  switch (outcome.status) {
    case "committed":
      return { accepted: outcome.records.length, correlationId: context.correlationId, records: outcome.records };
    case "aborted":
      throw unavailable(
        "KAFKA_UNAVAILABLE",
        "Kafka could not take the records; none was written, retry the whole request",
        deps,
        outcome.error,
      );
    case "unknown":
      throw new HttpError(
        504,
        "KAFKA_OUTCOME_UNKNOWN",
        "Kafka neither confirmed nor refused the commit in time; the records may or may not be written",
        { cause: outcome.error, retriable: true },
      );
  }
}

function unavailable(code: string, message: string, deps: IngestDeps, cause: unknown): HttpError {
  return new HttpError(503, code, message, {
    headers: { "retry-after": String(deps.retryAfterSeconds) },
    cause,
    retriable: cause instanceof AppError ? cause.retriable : true,
  });
}
