import { createHash } from "node:crypto";
import type { GlueAvroEncoder } from "#shared/avro/codec";
import { AppError } from "#shared/errors/app-error";
import { InvariantError } from "#shared/errors/internal-errors";
import { HttpError } from "#shared/http/errors";
import { HEADER_CORRELATION_ID, HEADER_RECORD_INDEX, HEADER_REQUEST_ID, HEADER_TRACE } from "#shared/kafka/headers";
import type { Acknowledged, OutgoingRecord, ProduceOutcome } from "#shared/kafka/producer";
import type { ScanQuery, ScanResult } from "#shared/kafka/request-scan";
import type { Sale } from "#shared/sales/schema";
import { type IngestAccepted, packAnswer, unpackAnswer } from "./answer.ts";
import type { Claim, RequestLedger } from "./ledger.ts";
import { type IngestRequest, type RequestLimits, readRecords } from "./parse.ts";
import { validateSales } from "./validate.ts";

export interface IngestDeps {
  /** The encoder of the current schema version (its registered id comes with the deployment). */
  readonly encoder: Pick<GlueAvroEncoder<Sale>, "encode">;
  /** Produces records; `deadline` is epoch ms. */
  readonly produce: (records: readonly OutgoingRecord[], deadline: number) => Promise<ProduceOutcome>;
  /** Finds the records an earlier attempt of a request wrote (read_uncommitted); throws when Kafka cannot answer. */
  readonly scan: (query: ScanQuery) => Promise<ScanResult>;
  readonly ledger: RequestLedger;
  /** A new request id for a request without an Idempotency-Key. */
  readonly newRequestId: () => string;
  /** Reports what the client need not see but an operator should (no record content). */
  readonly warn: (message: string, fields: Record<string, unknown>) => void;
  readonly limits: RequestLimits;
  readonly retryAfterSeconds: number;
  /** How far before the first attempt's start a recovery scan begins: producers' clocks may differ by this much. */
  readonly recoverySkewMs: number;
}

export interface IngestContext {
  readonly correlationId: string;
  readonly traceHeader: string | undefined;
  readonly idempotencyKey: string | undefined;
  /** Epoch ms when the invocation began. */
  readonly now: number;
  /** Epoch ms by which Kafka must have answered (what is left to answer and record the answer comes after). */
  readonly deadline: number;
  /** Epoch ms when the invocation ends: the lease this attempt holds on its Idempotency-Key. */
  readonly leaseUntil: number;
}

export type { IngestAccepted } from "./answer.ts";

/** What a 504 says of each record. */
export type RecordOutcome =
  | { readonly index: number; readonly status: "written"; readonly partition: number; readonly offset: string }
  | { readonly index: number; readonly status: "unknown"; readonly partition: number };

/**
 * Validates posted sales and produces each as a Glue-framed Avro record keyed by country, with
 * headers naming the request and the record's index. There are no Kafka transactions: a record
 * in the topic is counted by every reader, so a record is written only when it is accepted, and
 * once. Answers (resolves) 202 with every record's partition and offset, also when a retry with
 * the same Idempotency-Key finds earlier attempts' records (it scans, then writes only the
 * missing ones) or the key already completed (the stored 202; nothing written).
 * Throws HttpError: 415/413/400 bad request (nothing written); 422 key reused with another body;
 * 409 + Retry-After another attempt with the key is in progress; 503 + Retry-After this attempt
 * wrote nothing (ledger or Kafka unavailable before any record was sent, or refused); 504 +
 * Retry-After a produce request got no definite answer: its records may be in the topic (the
 * body lists each record's status); retry with the same key to settle it. Throws InvariantError
 * (nothing written) when a validated sale does not encode, and any other error (a bug) as is:
 * the handler answers a generic 500.
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

  const key = context.idempotencyKey;
  // The ledger's round trip runs while the records are encoded (CPU): a request pays the longer of the two, not both.
  const claiming = key === undefined ? undefined : claimKey(key, request, context, deps);
  claiming?.catch(() => undefined);
  // Encoding holds the thread: first let the claim's request through the SDK's async steps onto
  // the socket, so DynamoDB answers while the records encode instead of after.
  if (claiming !== undefined) await new Promise((resolve) => setImmediate(resolve));
  let values: Buffer[] | undefined;
  let encoderError: unknown;
  try {
    values = sales.map((sale) => deps.encoder.encode(sale));
  } catch (error) {
    // The validator passed these sales: a schema that refuses one is a bug, not the client's data.
    encoderError = new InvariantError("a validated sale did not encode with the current schema", { cause: error });
  }
  const claim: Claim | undefined = await claiming;
  if (claim?.kind === "completed")
    return unpackAnswer(
      claim.response,
      sales.map((sale) => sale.country),
    );
  const attempt = claim?.kind === "fresh" || claim?.kind === "recover" ? claim : undefined;
  /** Ends this attempt's hold on its key after it wrote nothing: a retry starts afresh, or recovers if an earlier attempt may have written. */
  const wroteNothing = async () => {
    if (key === undefined || attempt === undefined) return;
    await (attempt.kind === "fresh"
      ? deps.ledger.forget(key, attempt.attempt)
      : deps.ledger.release(key, attempt.attempt, Date.now())
    ).catch((error: unknown) => deps.warn("ledger not updated after a 503", { error: String(error) }));
  };

  if (values === undefined) {
    await wroteNothing();
    throw encoderError;
  }
  const encoded = values;
  const requestId = attempt?.requestId ?? deps.newRequestId();
  const outgoing: OutgoingRecord[] = sales.map((sale, index) => ({
    key: sale.country,
    value: encoded[index] as Buffer,
    headers: {
      [HEADER_CORRELATION_ID]: context.correlationId,
      ...(context.traceHeader !== undefined && { [HEADER_TRACE]: context.traceHeader }),
      [HEADER_REQUEST_ID]: requestId,
      [HEADER_RECORD_INDEX]: String(index),
    },
  }));

  const known = new Map<number, Acknowledged>();
  if (attempt?.kind === "recover") {
    let scanned: ScanResult;
    try {
      scanned = await deps.scan({
        requestId,
        sinceMs: attempt.firstStartedAt - deps.recoverySkewMs,
        keys: outgoing.map((record) => record.key),
        deadline: context.deadline,
      });
    } catch (error) {
      await wroteNothing();
      throw unavailable(
        "KAFKA_UNAVAILABLE",
        "Kafka cannot be read to find what an earlier attempt wrote; this attempt wrote nothing",
        deps,
        error,
      );
    }
    for (const record of scanned.found) if (record.index < outgoing.length) known.set(record.index, record);
    if (scanned.duplicates > 0) deps.warn("records of one request found more than once", { requestId, duplicates: scanned.duplicates });
  }

  const missing = outgoing.map((_, index) => index).filter((index) => !known.has(index));
  /** The partition count this attempt's records were partitioned by (none when nothing was produced). */
  let partitions: number | undefined;
  if (missing.length > 0) {
    const outcome = await deps.produce(
      missing.map((index) => outgoing[index] as OutgoingRecord),
      context.deadline,
    );
    switch (outcome.status) {
      case "written":
        partitions = outcome.partitions;
        for (const record of outcome.records) {
          const index = missing[record.index] as number;
          known.set(index, { index, partition: record.partition, offset: record.offset });
        }
        break;
      case "not-written":
        await wroteNothing();
        throw unavailable(
          "KAFKA_UNAVAILABLE",
          known.size > 0
            ? "Kafka could not take the records; this attempt wrote none of them. Retry with the same Idempotency-Key"
            : "Kafka could not take the records; none was written. Retry the whole request",
          deps,
          outcome.error,
        );
      case "unknown": {
        if (key !== undefined && attempt !== undefined)
          await deps.ledger
            .release(key, attempt.attempt, Date.now())
            .catch((error: unknown) => deps.warn("ledger not updated after a 504", { error: String(error) }));
        const outcomes: RecordOutcome[] = outgoing.map((_, index) => {
          const written = known.get(index);
          if (written !== undefined) return { index, status: "written", partition: written.partition, offset: written.offset };
          return { index, status: "unknown", partition: outcome.partitions[missing.indexOf(index)] as number };
        });
        throw new HttpError(
          504,
          "KAFKA_OUTCOME_UNKNOWN",
          key === undefined
            ? "Kafka gave no definite answer; records marked unknown may or may not be written, and without an Idempotency-Key a retry may write them twice"
            : "Kafka gave no definite answer; records marked unknown may or may not be written. Retry with the same Idempotency-Key to settle them",
          {
            details: { records: outcomes },
            headers: { "retry-after": String(deps.retryAfterSeconds) },
            cause: outcome.error,
            retriable: true,
          },
        );
      }
    }
  }

  const accepted: IngestAccepted = {
    accepted: outgoing.length,
    correlationId: context.correlationId,
    records: [...known.values()].sort((a, b) => a.index - b.index),
  };
  if (key !== undefined && attempt !== undefined) {
    // Not stored: a retry recovers instead (it scans, finds every record, writes nothing) and answers the same.
    const stored = await deps.ledger
      .complete(
        key,
        attempt.attempt,
        packAnswer(
          accepted,
          outgoing.map((record) => record.key),
          partitions,
        ),
      )
      .catch((error: unknown) => deps.warn("ledger not updated after a 202", { error: String(error) }));
    if (stored === false) deps.warn("another attempt took the Idempotency-Key over before this one answered", { requestId });
  }
  return accepted;
}

/** Claims the key in the ledger; throws HttpError 503 (ledger down), 422 (another body) or 409 (in progress). */
async function claimKey(key: string, request: IngestRequest, context: IngestContext, deps: IngestDeps): Promise<Claim> {
  const bodyHash = createHash("sha256")
    .update(request.body ?? "", request.isBase64Encoded ? "base64" : "utf8")
    .digest("hex");
  let claim: Claim;
  try {
    claim = await deps.ledger.claim(key, { bodyHash, now: context.now, leaseUntil: context.leaseUntil });
  } catch (error) {
    throw unavailable("LEDGER_UNAVAILABLE", "the request ledger cannot be reached; nothing was produced", deps, error);
  }
  if (claim.kind === "mismatch") throw new HttpError(422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body");
  if (claim.kind === "busy") {
    const seconds = Math.max(1, Math.ceil((claim.leaseUntil - context.now) / 1000));
    throw new HttpError(
      409,
      "IDEMPOTENCY_IN_PROGRESS",
      "a request with this Idempotency-Key is still in progress; retry after Retry-After",
      {
        headers: { "retry-after": String(seconds) },
      },
    );
  }
  return claim;
}

function unavailable(code: string, message: string, deps: IngestDeps, cause: unknown): HttpError {
  return new HttpError(503, code, message, {
    headers: { "retry-after": String(deps.retryAfterSeconds) },
    cause,
    retriable: cause instanceof AppError ? cause.retriable : true,
  });
}
