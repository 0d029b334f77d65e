import { describe, expect, it, vi } from "vitest";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { currentVersionFirst } from "#shared/avro/current-version";
import { asLocalRegistryError, CodecError, CodecErrorCode, RegistryUnavailableError } from "#shared/avro/errors";
import type { SchemaSource } from "#shared/avro/registry";
import { disposition } from "#shared/errors/disposition";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";

const currentId = "c7b01d13-6e34-4727-973f-5ff513af50fd";
const olderId = "6b28df78-8080-4e9f-9adf-4713d8812a72";
const sale: Sale = {
  payment_id: 1,
  customer_id: 2,
  amount: "10.99",
  payment_date: Date.UTC(2022, 7, 1),
  city: null,
  district: null,
  country: "Chile",
  channel: "web",
};
const { channel: _channel, ...olderSale } = sale;

/**
 * An error as the Glue registry's own bundle throws it: that bundle has its own copy of each
 * error class, so these are of no class this bundle knows, only their code and message carry over.
 */
function foreignError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  class ForeignError extends Error {}
  return Object.assign(new ForeignError(message, { cause: new Error("from the SDK") }), { code, ...extra });
}

describe("currentVersionFirst", () => {
  it("answers the deployment's version from the bundle, never loading the registry", async () => {
    const others = vi.fn(async (): Promise<SchemaSource> => {
      throw new Error("the registry bundle must not load");
    });
    const decoder = new GlueAvroDecoder<Sale>(
      currentVersionFirst({ id: currentId, schema: currentSalesSchema }, others),
      currentSalesSchema,
    );
    const frames = [
      new GlueAvroEncoder<Sale>(currentSalesSchema, currentId).encode(sale),
      new GlueAvroEncoder<Sale>(currentSalesSchema, currentId, "zlib").encode(sale),
    ];
    await decoder.load(frames);
    expect(frames.map((frame) => decoder.decode(frame))).toEqual([sale, sale]);
    expect(others).not.toHaveBeenCalled();
  });

  it("asks the registry for any other version, and reads it into the current schema", async () => {
    const asked: string[] = [];
    const registry: SchemaSource = {
      getSchemaVersion: async (id) => {
        asked.push(id);
        return { id, definition: JSON.stringify(salesSchemaVersions[0]), dataFormat: "AVRO", versionNumber: 1 };
      },
    };
    const decoder = new GlueAvroDecoder<Sale>(
      currentVersionFirst({ id: currentId, schema: currentSalesSchema }, async () => registry),
      currentSalesSchema,
    );
    const frame = new GlueAvroEncoder<typeof olderSale>(salesSchemaVersions[0], olderId).encode(olderSale);
    await decoder.load([frame]);
    expect(decoder.decode(frame)).toEqual({ ...sale, channel: "store" });
    expect(asked).toEqual([olderId]);
  });

  it("keeps the error policy for other versions: the registry bundle's unknown version is a data error, its outage retriable", async () => {
    const failing = (error: Error) =>
      currentVersionFirst({ id: currentId, schema: currentSalesSchema }, async () => ({ getSchemaVersion: () => Promise.reject(error) }));
    const unknown = failing(
      foreignError(CodecErrorCode.unknownSchemaVersion, `schema version ${olderId} is not in the registry (asked 3 times)`),
    );
    const down = failing(
      foreignError("SCHEMA_REGISTRY_UNAVAILABLE", `GetSchemaVersion ${olderId} failed after 5 attempts: ThrottlingException`),
    );
    const unknownError = await unknown.getSchemaVersion(olderId).catch((error: unknown) => error);
    expect(unknownError).toBeInstanceOf(CodecError);
    expect(disposition(unknownError)).toMatchObject({
      action: "dead-letter",
      code: "UNKNOWN_SCHEMA_VERSION",
      message: `schema version ${olderId} is not in the registry (asked 3 times)`,
    });
    const downError = await down.getSchemaVersion(olderId).catch((error: unknown) => error);
    expect(downError).toBeInstanceOf(RegistryUnavailableError);
    expect(disposition(downError)).toMatchObject({
      action: "retry",
      error: { message: `GetSchemaVersion ${olderId} failed after 5 attempts: ThrottlingException` },
    });
    // A bug stays a bug: it fails the batch loudly, not as bad data.
    const bug = new TypeError("x is undefined");
    await expect(failing(bug).getSchemaVersion(olderId)).rejects.toBe(bug);
  });

  it("fails the lookup, not the container, when the registry bundle cannot be loaded", async () => {
    const missing = Object.assign(new Error("Cannot find module './glue-registry.js'"), { code: "MODULE_NOT_FOUND" });
    const source = currentVersionFirst({ id: currentId, schema: currentSalesSchema }, () => Promise.reject(missing));
    await expect(source.getSchemaVersion(olderId)).rejects.toBe(missing);
    expect(disposition(missing).action).toBe("rethrow");
    await expect(source.getSchemaVersion(currentId)).resolves.toMatchObject({ id: currentId });
  });
});

describe("asLocalRegistryError", () => {
  it("keeps this bundle's errors and anything that is not an Error as they are", () => {
    const own = new RegistryUnavailableError("down", undefined);
    expect(asLocalRegistryError(own)).toBe(own);
    expect(asLocalRegistryError("text")).toBe("text");
  });

  it("gives a foreign codec error this bundle's class with its code, message, details and cause", () => {
    const foreign = foreignError(CodecErrorCode.incompatibleSchema, "cannot be read", { details: { paths: ["a"] } });
    const local = asLocalRegistryError(foreign);
    expect(local).toBeInstanceOf(CodecError);
    expect(local).toMatchObject({
      code: "INCOMPATIBLE_SCHEMA",
      message: "cannot be read",
      details: { paths: ["a"] },
      cause: foreign.cause,
    });
  });
});
