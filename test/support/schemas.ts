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
