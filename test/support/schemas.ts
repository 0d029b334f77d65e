import type avro from "avsc";
import type { GlueAvroDecoder } from "#shared/avro/codec";
import { CodecError, CodecErrorCode } from "#shared/avro/errors";
import type { SchemaSource, SchemaVersion } from "#shared/avro/registry";
import { salesSchemaVersions } from "#shared/sales/schema";

/** Fixed version ids for the sales schema versions in unit tests. */
export const V1_ID = "0d3c4a5e-1f2b-4c6d-8e9f-0a1b2c3d4e5f";
export const V2_ID = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

/** An in-memory schema source that counts lookups; unknown ids fail as Glue's EntityNotFound would. */
export class MemorySchemaSource implements SchemaSource {
  readonly versions = new Map<string, SchemaVersion>();
  lookups = 0;

  constructor(
    entries: Record<string, avro.Schema | string> = {
      [V1_ID]: salesSchemaVersions[0] as avro.Schema,
      [V2_ID]: salesSchemaVersions[1] as avro.Schema,
    },
  ) {
    for (const [id, schema] of Object.entries(entries)) {
      this.versions.set(id, {
        id,
        definition: typeof schema === "string" ? schema : JSON.stringify(schema),
        dataFormat: "AVRO",
        versionNumber: undefined,
      });
    }
  }

  async getSchemaVersion(id: string): Promise<SchemaVersion> {
    this.lookups++;
    const version = this.versions.get(id);
    if (version === undefined) throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema version ${id} is not in the registry`);
    return version;
  }
}

/** One record of a batch decoded by decodeAll: its value, or its own error. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CodecError };

/** Loads and decodes a batch as the functions do (load once, decode each); every record gets a value or its own CodecError. */
export async function decodeAll<T>(decoder: GlueAvroDecoder<T>, frames: readonly Uint8Array[]): Promise<Decoded<T>[]> {
  await decoder.load(frames);
  return frames.map((frame) => {
    try {
      return { ok: true, value: decoder.decode(frame) };
    } catch (error) {
      if (error instanceof CodecError) return { ok: false, error };
      throw error;
    }
  });
}
