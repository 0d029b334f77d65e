/** Kafka header names every produced sale carries, so consumers can log and trace across the hop. */
export const HEADER_CORRELATION_ID = "correlation-id";
export const HEADER_TRACE = "x-amzn-trace-id";
/**
 * The ingest request a record belongs to (an id the request ledger keeps per Idempotency-Key, or
 * a fresh one for a request without a key) and the record's index in that request's body: a
 * retry finds what an earlier attempt wrote by these. They name no customer data.
 */
export const HEADER_REQUEST_ID = "ingest-request-id";
export const HEADER_RECORD_INDEX = "ingest-record-index";

/** Headers of an aws:kafka event record: a list of {name: [byte, ...]}. */
type EventHeaders = readonly Record<string, readonly number[]>[] | undefined;

/** The value of one header of an event record, or undefined. */
export function headerValue(headers: EventHeaders, name: string): string | undefined {
  for (const header of headers ?? []) {
    const bytes = header[name];
    if (bytes !== undefined) return Buffer.from(bytes).toString("utf8");
  }
  return undefined;
}

/** The distinct correlation ids of a batch's records (at most `limit`), for its log lines. */
export function correlationIdsOf(records: readonly { headers?: EventHeaders }[], limit = 20): string[] {
  const ids = new Set<string>();
  for (const record of records) {
    const id = headerValue(record.headers, HEADER_CORRELATION_ID);
    if (id !== undefined) ids.add(id);
    if (ids.size >= limit) break;
  }
  return [...ids];
}
