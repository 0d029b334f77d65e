import { CreateRegistryCommand, CreateSchemaCommand, type GlueClient } from "@aws-sdk/client-glue";
import type { GlueAvroDecoder } from "#shared/avro/codec";
import { CodecError } from "#shared/avro/errors";

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

/** Creates a registry of a test's own holding the schema "sales" with `definition` as its first version (BACKWARD). Throws Glue's errors. */
export async function createSalesRegistry(glue: Pick<GlueClient, "send">, registryName: string, definition: unknown): Promise<void> {
  await glue.send(new CreateRegistryCommand({ RegistryName: registryName }));
  await glue.send(
    new CreateSchemaCommand({
      RegistryId: { RegistryName: registryName },
      SchemaName: "sales",
      DataFormat: "AVRO",
      Compatibility: "BACKWARD",
      SchemaDefinition: JSON.stringify(definition),
    }),
  );
}
