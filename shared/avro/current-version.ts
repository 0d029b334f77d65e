import type { Schema } from "./avsc.ts";
import { asLocalRegistryError } from "./errors.ts";
import type { SchemaSource, SchemaVersion } from "./registry.ts";
import { keyToUuid, uuidToKey } from "./wire-format.ts";

/** The schema version a deployment writes with: its registered id and the bundled definition it was registered from. */
export interface CurrentVersion {
  readonly id: string;
  readonly schema: Schema;
}

/**
 * A SchemaSource that answers the deployment's current version from the bundle and asks
 * `others` only for other ids. The id comes with the deployment (the template passes the id of the
 * very SchemaVersion resource `npm run gen` writes from the bundled schema's file, and a version's
 * definition never changes), so a stream of current records needs no registry and `others` (the
 * Glue client, a bundle of its own) is not even loaded. Other ids keep `others`' contract, its
 * errors as this bundle's classes (asLocalRegistryError): CodecError(UNKNOWN_SCHEMA_VERSION) when
 * not registered, RegistryUnavailableError when it cannot tell; a failure to load `others` rejects
 * with its own error (a bug: the batch fails).
 */
export function currentVersionFirst(current: CurrentVersion, others: () => Promise<SchemaSource>): SchemaSource {
  // Frames carry the id as 16 bytes; keyToUuid spells them as the codec asks for them.
  const id = keyToUuid(uuidToKey(current.id));
  const version: SchemaVersion = { id, definition: JSON.stringify(current.schema), dataFormat: "AVRO", versionNumber: undefined };
  const answer = Promise.resolve(version);
  return {
    getSchemaVersion: async (asked) => {
      if (asked === id) return answer;
      const source = await others();
      return source.getSchemaVersion(asked).catch((error: unknown) => {
        throw asLocalRegistryError(error);
      });
    },
  };
}
