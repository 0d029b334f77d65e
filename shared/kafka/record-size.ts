/**
 * The largest record the sales topic may hold, so that Lambda can always deliver it.
 *
 * The aggregate mapping retries a failing batch forever (no on-failure destination), so a record
 * that Lambda cannot put in one invocation would block its partition for good. Lambda delivers a
 * batch in one synchronous invocation of at most 6 MB; the smallest batch is one record, inside the
 * aws:kafka event JSON. The topic's `max.message.bytes` bounds the record batch as stored (a record
 * is smaller than the batch that holds it), and the topic's `compression.type: uncompressed` makes
 * the broker store batches uncompressed and check that bound again after decompressing, so a
 * compressed batch cannot carry a record that inflates past it.
 *
 * Worst-case JSON bytes per stored byte of a record, by where the byte sits:
 * - value and key: base64, 4 characters per 3 bytes (x 4/3, plus at most 4 of padding);
 * - header value: an array of decimal numbers, up to 4 characters per byte ("255,");
 * - header name: a JSON string, where a control byte is escaped as \u00XX: 6 characters per byte;
 * - a header's own framing: `{"":[]},` (8 characters) for at least 2 bytes on the wire (x 4).
 * So a record of B bytes is at most 6 B characters of JSON, whatever the producer put in it.
 * Around it, the event's fixed part: field names and punctuation (~250 B), the cluster ARN, the
 * bootstrap servers (MSK Serverless: one endpoint; provisioned: one per broker, ~80 B each), the
 * topic name (up to 249 B) twice (`topic` and the `<topic>-<partition>` key) and three numbers of up
 * to 20 digits: well under EVENT_ENVELOPE_BYTES.
 *
 *   (6,000,000 - 16,384) / 6 = 997,269 bytes  =>  max.message.bytes 983,040 (960 KiB)
 *
 * 6 MB is read as 6,000,000 (Lambda's quota page says "6 MB"; the MiB reading would allow more).
 */
export const LAMBDA_INVOCATION_PAYLOAD_BYTES = 6_000_000;

/** Budget for the aws:kafka event around one record (see above). */
export const EVENT_ENVELOPE_BYTES = 16 * 1024;

/** JSON characters per stored record byte in the worst case (a header name of control bytes). */
export const WORST_JSON_BYTES_PER_RECORD_BYTE = 6;

/** The bound on the topic's `max.message.bytes` that keeps every record deliverable. */
export const MAX_DELIVERABLE_RECORD_BYTES = Math.floor(
  (LAMBDA_INVOCATION_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) / WORST_JSON_BYTES_PER_RECORD_BYTE,
);

/**
 * JSON bytes the aws:kafka event of one record takes, at most, for a record batch of
 * `storedBytes` (its key, value and headers included). Pure arithmetic; never throws.
 */
export function worstCaseEventBytes(storedBytes: number): number {
  return EVENT_ENVELOPE_BYTES + WORST_JSON_BYTES_PER_RECORD_BYTE * storedBytes;
}
