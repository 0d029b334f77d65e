import { avro, type Schema, type Type } from "./avsc.ts";
import { logicalTypes } from "./decimal.ts";
import { CodecError, CodecErrorCode } from "./errors.ts";
import type { SchemaSource } from "./registry.ts";
import { buildFrame, type Compression, HEADER_LENGTH, inflateBody, keyToUuid, schemaKeyOf, uuidToKey } from "./wire-format.ts";

/** Parses an Avro schema with the product's logical types (exact decimals). Throws avsc's error on a bad schema. */
export function parseSchema(schema: Schema | string): Type {
  const parsed = typeof schema === "string" ? (JSON.parse(schema) as Schema) : schema;
  return avro.Type.forSchema(parsed, { logicalTypes, wrapUnions: "auto" });
}

/** How to read bodies written with one writer schema version, or why they cannot be read. */
type Reader = { readonly read: (body: Buffer) => unknown } | { readonly error: CodecError };

/**
 * Decodes Glue Schema Registry frames into the current reader schema. Writer schemas are
 * fetched by the UUID in each frame (through `load`), and a resolver is built once per
 * writer version, never per record. `decode` itself is synchronous and allocation-light:
 * call `load` for a batch first, then `decode` each record.
 */
export class GlueAvroDecoder<T> {
  readonly readerType: Type;
  readonly #readerCanonical: string;
  readonly #source: SchemaSource;
  readonly #readers = new Map<string, Reader>();
  /** Readers kept (a frame with a random UUID must not grow this without bound). */
  static readonly maxReaders = 1000;
  #lastKey = "";
  #lastReader: Reader | undefined;

  constructor(source: SchemaSource, readerSchema: Schema) {
    this.#source = source;
    this.readerType = parseSchema(readerSchema);
    this.#readerCanonical = JSON.stringify(this.readerType.schema());
  }

  /**
   * Fetches the writer schema of every frame not seen before. A version that cannot resolve to
   * the reader is remembered as that record's error; one the source does not know is asked
   * again on the next load (the registry caches that answer for a while, and a version
   * registered since is then found). A registry outage throws RegistryUnavailableError
   * (retriable) so the batch is retried rather than dead-lettered; it is thrown only once every
   * lookup of the batch has ended, so none goes on calling the registry after the batch failed
   * (a straggler meeting a half-restored registry would cache a wrong "unknown").
   */
  async load(frames: Iterable<Uint8Array>): Promise<void> {
    const missing = new Set<string>();
    for (const frame of frames) {
      let key: string;
      try {
        key = schemaKeyOf(asBuffer(frame));
      } catch {
        continue; // decode() reports the bad header for that record
      }
      const reader = this.#readers.get(key);
      if (reader === undefined || ("error" in reader && reader.error.code === CodecErrorCode.unknownSchemaVersion)) missing.add(key);
    }
    const outcomes = await Promise.allSettled([...missing].map((key) => this.#loadVersion(key)));
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failure !== undefined) throw failure.reason;
  }

  async #loadVersion(key: string): Promise<void> {
    const id = keyToUuid(key);
    try {
      const version = await this.#source.getSchemaVersion(id);
      if (version.dataFormat !== "AVRO") {
        throw new CodecError(CodecErrorCode.incompatibleSchema, `schema version ${id} is ${version.dataFormat}, not AVRO`);
      }
      this.#remember(key, this.#readerFor(id, version.definition));
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.#remember(key, { error });
    }
  }

  #remember(key: string, reader: Reader): void {
    this.#readers.set(key, reader);
    if (this.#readers.size > GlueAvroDecoder.maxReaders) {
      // Drop the oldest unknown-version entries first: they are the ones a hostile stream creates.
      for (const [old, value] of this.#readers) {
        if ("error" in value || this.#readers.size > GlueAvroDecoder.maxReaders * 2) this.#readers.delete(old);
        if (this.#readers.size <= GlueAvroDecoder.maxReaders) break;
      }
      this.#lastKey = "";
      this.#lastReader = undefined;
    }
  }

  #readerFor(id: string, definition: string): Reader {
    let writer: Type;
    try {
      writer = parseSchema(definition);
    } catch (cause) {
      return { error: new CodecError(CodecErrorCode.incompatibleSchema, `schema version ${id} is not a valid Avro schema`, { cause }) };
    }
    const readerType = this.readerType;
    if (JSON.stringify(writer.schema()) === this.#readerCanonical) {
      return { read: (body) => readerType.fromBuffer(body) };
    }
    try {
      const resolver = readerType.createResolver(writer);
      return { read: (body) => readerType.fromBuffer(body, resolver) };
    } catch (cause) {
      return {
        error: new CodecError(
          CodecErrorCode.incompatibleSchema,
          `schema version ${id} cannot be read as ${readerType.name ?? "the reader schema"}: ${(cause as Error).message}`,
          {
            cause,
          },
        ),
      };
    }
  }

  /**
   * Decodes a raw Avro body (no Glue frame) written with `writer`, into the reader schema. Throws
   * CodecError (INCOMPATIBLE_SCHEMA, CORRUPT_BODY). Resolvers are cached per writer version id.
   */
  decodeUnframed(body: Buffer, writer: { readonly id: string; readonly definition: string }): T {
    const key = `unframed:${writer.id}`;
    let reader = this.#readers.get(key);
    if (reader === undefined) {
      reader = this.#readerFor(writer.id, writer.definition);
      this.#readers.set(key, reader);
    }
    if ("error" in reader) throw reader.error;
    try {
      return reader.read(body) as T;
    } catch (cause) {
      if (cause instanceof CodecError) throw cause;
      throw new CodecError(CodecErrorCode.corruptBody, `Avro body does not decode: ${(cause as Error).message}`, { cause });
    }
  }

  /** Decodes one frame whose schema was loaded. Throws CodecError only; UNKNOWN_SCHEMA_VERSION if `load` never saw it. */
  decode(bytes: Uint8Array): T {
    const frame = asBuffer(bytes);
    const key = schemaKeyOf(frame);
    let reader = this.#lastReader;
    if (key !== this.#lastKey || reader === undefined) {
      reader = this.#readers.get(key);
      if (reader === undefined) {
        throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema version ${keyToUuid(key)} was not loaded`);
      }
      this.#lastKey = key;
      this.#lastReader = reader;
    }
    if ("error" in reader) throw reader.error;
    const raw = frame.subarray(HEADER_LENGTH);
    const body = frame[1] === 0 ? raw : inflateBody(raw);
    try {
      return reader.read(body) as T;
    } catch (cause) {
      if (cause instanceof CodecError) throw cause;
      throw new CodecError(CodecErrorCode.corruptBody, `Avro body does not decode: ${(cause as Error).message}`, { cause });
    }
  }
}

/**
 * Encodes values of one registered writer schema version into Glue frames. Throws CodecError
 * (INVALID_VALUE) naming the first field that does not fit the schema.
 */
export class GlueAvroEncoder<T> {
  readonly writerType: Type;
  readonly schemaVersionId: string;
  readonly #compression: Compression;

  constructor(writerSchema: Schema | string, schemaVersionId: string, compression: Compression = "none") {
    this.writerType = parseSchema(writerSchema);
    this.schemaVersionId = keyToUuid(uuidToKey(schemaVersionId));
    this.#compression = compression;
  }

  encode(value: T): Buffer {
    let body: Buffer;
    try {
      body = this.writerType.toBuffer(value);
    } catch (cause) {
      if (cause instanceof CodecError) throw cause;
      const paths: string[] = [];
      this.writerType.isValid(value, { errorHook: (path) => paths.push(path.join(".")) });
      const where = paths.length > 0 ? ` at ${paths.join(", ")}` : "";
      throw new CodecError(CodecErrorCode.invalidValue, `value does not fit the writer schema${where}`, { cause, details: { paths } });
    }
    return buildFrame(body, this.schemaVersionId, this.#compression);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
