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
 * keyed by country. All or nothing on validation: one invalid record rejects the request (400,
 * every issue listed) and nothing is produced. Throws HttpError 415/413/400 for bad requests and
 * 503 (with Retry-After and the acknowledged records) when Kafka or the registry cannot take them.
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
    throw unavailable(
      "SCHEMA_REGISTRY_UNAVAILABLE",
      "the schema registry cannot be reached; nothing was produced",
      [],
      sales.length,
      deps,
      error,
    );
  }
  const headers = {
    [HEADER_CORRELATION_ID]: context.correlationId,
    ...(context.traceHeader !== undefined && { [HEADER_TRACE]: context.traceHeader }),
  };
  const outgoing = sales.map((sale) => ({ key: sale.country, value: encoder.encode(sale), headers }));

  const outcome = await deps.produce(outgoing);
  if (outcome.failed.length > 0) {
    throw unavailable(
      "KAFKA_UNAVAILABLE",
      `Kafka acknowledged ${outcome.acknowledged.length} of ${sales.length} records; retry only those listed in notAcknowledged`,
      outcome.acknowledged,
      sales.length,
      deps,
      outcome.error,
      outcome.failed,
    );
  }
  return { accepted: outcome.acknowledged.length, correlationId: context.correlationId, records: outcome.acknowledged };
}

function unavailable(
  code: string,
  message: string,
  acknowledged: readonly Acknowledged[],
  total: number,
  deps: IngestDeps,
  cause: unknown,
  failed: readonly number[] = Array.from({ length: total }, (_, i) => i),
): HttpError {
  return new HttpError(503, code, message, {
    details: { acknowledged, notAcknowledged: failed },
    headers: { "retry-after": String(deps.retryAfterSeconds) },
    cause,
    retriable: cause instanceof AppError ? cause.retriable : true,
  });
}
