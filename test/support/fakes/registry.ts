import type avro from "avsc";
import { CodecError, CodecErrorCode } from "#shared/avro/errors";
import type { SchemaSource, SchemaVersion } from "#shared/avro/registry";
import { salesSchemaVersions } from "#shared/sales/schema";

/** Fixed version ids for the sales schema versions in unit tests. */
export const V1_ID = "0d3c4a5e-1f2b-4c6d-8e9f-0a1b2c3d4e5f";
export const V2_ID = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

/**
 * The schema registry port (SchemaSource) in memory: v1 and v2 of the sales schema unless told
 * otherwise; unknown ids fail as Glue's EntityNotFound would. `lookups` counts the calls. `before`
 * runs first on every lookup: a test throws there to play an outage or a bug, or waits to play a slow one.
 */
export class MemorySchemaSource implements SchemaSource {
  readonly versions = new Map<string, SchemaVersion>();
  lookups = 0;
  before: (id: string) => Promise<void> = async () => undefined;

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
    await this.before(id);
    const version = this.versions.get(id);
    if (version === undefined) throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema version ${id} is not in the registry`);
    return version;
  }
}
