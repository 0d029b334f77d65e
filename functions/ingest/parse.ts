import { HttpError } from "#shared/http/errors";
import { parseJsonKeepingNumbers } from "#shared/json/exact-numbers";

/**
 * What X-Correlation-Id and Idempotency-Key may hold (docs/openapi.yaml): 1 to 256 visible ASCII
 * characters. Both travel into Kafka headers, DynamoDB keys and every log line downstream, so
 * control characters, spaces and unbounded lengths stop here.
 */
export const HEADER_TOKEN = /^[\x21-\x7e]{1,256}$/;
/** The request headers the ingest contract limits, lower-case as API Gateway passes them. */
export const LIMITED_HEADERS = ["x-correlation-id", "idempotency-key"] as const;

/**
 * Checks the limited headers that are present. Throws HttpError 400 (INVALID_HEADER) naming the
 * header and the rule; the value itself is never echoed.
 */
export function checkHeaders(headers: Readonly<Record<string, string | undefined>> | undefined): void {
  for (const name of LIMITED_HEADERS) {
    const value = headers?.[name];
    if (value !== undefined && !HEADER_TOKEN.test(value)) {
      throw new HttpError(400, "INVALID_HEADER", `${name} must be 1 to 256 visible ASCII characters (no spaces or control characters)`, {
        details: { header: name, length: value.length },
      });
    }
  }
}

/** Limits a POST /sales request must respect. */
export interface RequestLimits {
  readonly maxRecords: number;
  readonly maxBodyBytes: number;
}

/** The parts of the HTTP request the ingest core looks at. */
export interface IngestRequest {
  readonly body: string | undefined;
  readonly isBase64Encoded: boolean;
  readonly contentType: string | undefined;
}

/**
 * JSON.parse, except that every `amount` that is a JSON number comes back as its source text
 * ("12.30", not 12.3), so money never passes through a binary float. Throws HttpError 400 with
 * the parser's position.
 */
export function parseSalesJson(text: string): unknown {
  try {
    return parseJsonKeepingNumbers(text, ["amount"]);
  } catch (error) {
    throw new HttpError(400, "MALFORMED_JSON", `body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Checks content type and size and returns the posted records (one object or an array).
 * Throws HttpError: 415 not JSON, 413 too large or too many records, 400 empty or malformed.
 */
export function readRecords(request: IngestRequest, limits: RequestLimits): unknown[] {
  const mediaType = request.contentType?.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    throw new HttpError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `content-type must be application/json, got ${mediaType === undefined ? "none" : `"${mediaType}"`}`,
    );
  }
  const raw = request.body ?? "";
  const bytes = request.isBase64Encoded ? Buffer.byteLength(raw, "base64") : Buffer.byteLength(raw, "utf8");
  if (bytes > limits.maxBodyBytes) {
    throw new HttpError(413, "PAYLOAD_TOO_LARGE", `body is ${bytes} bytes; the limit is ${limits.maxBodyBytes}`);
  }
  const text = request.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  if (text.trim() === "") throw new HttpError(400, "EMPTY_BODY", "body is empty; send one sale object or an array of them");
  const parsed = parseSalesJson(text);
  const records = Array.isArray(parsed) ? parsed : [parsed];
  if (records.length === 0) throw new HttpError(400, "EMPTY_BATCH", "the array holds no sales");
  if (records.length > limits.maxRecords) {
    throw new HttpError(413, "TOO_MANY_RECORDS", `${records.length} records in one request; the limit is ${limits.maxRecords}`);
  }
  return records;
}
