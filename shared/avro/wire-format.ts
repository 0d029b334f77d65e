import { deflateSync, inflateSync } from "node:zlib";
import { CodecError, CodecErrorCode } from "./errors.ts";

/**
 * The AWS Glue Schema Registry wire format, byte-compatible with the official Java serde:
 *   [0x03 header version][compression: 0x00 none | 0x05 zlib][16-byte schema version UUID][Avro body]
 * Only the body is compressed (a zlib stream, as java.util.zip.Deflater writes it).
 */
export const HEADER_VERSION = 3;
export const Compression = { none: 0, zlib: 5 } as const;
export type Compression = keyof typeof Compression;
export const HEADER_LENGTH = 18;

/** An inflated body larger than this is refused: a sale is well under 1 KB, so more means a zip bomb. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Checks the header and returns the 16 UUID bytes as hex. Throws CodecError on a short or foreign frame. */
export function schemaKeyOf(frame: Buffer): string {
  if (frame.length < HEADER_LENGTH) {
    throw new CodecError(CodecErrorCode.truncatedFrame, `frame is ${frame.length} bytes; a Glue frame has at least ${HEADER_LENGTH}`);
  }
  if (frame[0] !== HEADER_VERSION) {
    throw new CodecError(
      CodecErrorCode.badHeaderVersion,
      `header version byte is ${frame[0]}; expected ${HEADER_VERSION} (Glue Schema Registry)`,
    );
  }
  const compression = frame[1];
  if (compression !== Compression.none && compression !== Compression.zlib) {
    throw new CodecError(CodecErrorCode.unknownCompression, `compression byte is ${compression}; expected 0 (none) or 5 (zlib)`);
  }
  return frame.toString("hex", 2, HEADER_LENGTH);
}

/** Inflates a zlib body with a bound on its output. Throws CodecError (corrupt body) on bad or oversized data. */
export function inflateBody(raw: Buffer): Buffer {
  try {
    return inflateSync(raw, { maxOutputLength: MAX_BODY_BYTES });
  } catch (error) {
    throw new CodecError(CodecErrorCode.corruptBody, `zlib body does not inflate: ${(error as Error).message}`, { cause: error });
  }
}

/** Builds a frame around an Avro body. `schemaVersionId` is a UUID string. Throws CodecError on a malformed UUID. */
export function buildFrame(body: Buffer, schemaVersionId: string, compression: Compression = "none"): Buffer {
  const payload = compression === "zlib" ? deflateSync(body) : body;
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  frame[0] = HEADER_VERSION;
  frame[1] = Compression[compression];
  uuidToBytes(schemaVersionId).copy(frame, 2);
  payload.copy(frame, HEADER_LENGTH);
  return frame;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 16 bytes, most significant first, as Java's UUID getMostSignificantBits/getLeastSignificantBits write them. */
export function uuidToBytes(uuid: string): Buffer {
  if (!uuidPattern.test(uuid)) throw new CodecError(CodecErrorCode.invalidValue, `"${uuid}" is not a UUID`);
  return Buffer.from(uuid.replaceAll("-", ""), "hex");
}

/** The canonical UUID string of a 32-character hex key. */
export function keyToUuid(key: string): string {
  return `${key.slice(0, 8)}-${key.slice(8, 12)}-${key.slice(12, 16)}-${key.slice(16, 20)}-${key.slice(20)}`;
}

/** The hex key of a UUID string (inverse of keyToUuid). */
export function uuidToKey(uuid: string): string {
  return uuid.replaceAll("-", "").toLowerCase();
}
