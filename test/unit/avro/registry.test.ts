import type { GlueClient } from "@aws-sdk/client-glue";
import { EntityNotFoundException } from "@aws-sdk/client-glue";
import { describe, expect, it } from "vitest";
import { CodecError, RegistryUnavailableError } from "#shared/avro/errors";
import { GlueSchemaRegistry } from "#shared/avro/registry";

type Reply = (input: Record<string, unknown>) => unknown;

/** A Glue client that answers each command name from a script and records the calls it got. */
function scriptedGlue(script: Record<string, Reply>) {
  const calls: string[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, "");
      calls.push(name);
      const reply = script[name];
      if (reply === undefined) throw new Error(`unexpected ${name}`);
      return reply(command.input);
    },
  };
  return { glue: client as unknown as GlueClient, calls };
}

const throttle = () => Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
const notFound = () => new EntityNotFoundException({ message: "not found", $metadata: {} });
const version = (id: string, status = "AVAILABLE") => ({
  SchemaVersionId: id,
  SchemaDefinition: '"string"',
  DataFormat: "AVRO",
  Status: status,
  VersionNumber: 1,
});
const noSleep = { sleep: async () => undefined };

describe("GlueSchemaRegistry", () => {
  it("retries throttling with backoff and then answers", async () => {
    let failures = 2;
    const { glue, calls } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (failures-- > 0) throw throttle();
        return version(String(input.SchemaVersionId));
      },
    });
    const delays: number[] = [];
    const registry = new GlueSchemaRegistry(glue, { sleep: async (ms) => void delays.push(ms), baseDelayMs: 100 });
    await expect(registry.getSchemaVersion("a")).resolves.toMatchObject({ id: "a", definition: '"string"' });
    expect(calls).toEqual(["GetSchemaVersion", "GetSchemaVersion", "GetSchemaVersion"]);
    expect(delays).toHaveLength(2);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it("gives up with a retriable RegistryUnavailableError after its attempts", async () => {
    const { glue, calls } = scriptedGlue({
      GetSchemaVersion: () => {
        throw throttle();
      },
    });
    const error = await new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 3 }).getSchemaVersion("a").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).retriable).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it("turns EntityNotFound into a permanent UNKNOWN_SCHEMA_VERSION without retrying", async () => {
    const { glue, calls } = scriptedGlue({
      GetSchemaVersion: () => {
        throw notFound();
      },
    });
    await expect(new GlueSchemaRegistry(glue, noSleep).getSchemaVersion("gone")).rejects.toMatchObject({
      code: "UNKNOWN_SCHEMA_VERSION",
      retriable: false,
    });
    expect(calls).toHaveLength(1);
  });

  it("keeps one request in flight per id, however many callers ask at once", async () => {
    const { glue, calls } = scriptedGlue({ GetSchemaVersion: (input) => version(String(input.SchemaVersionId)) });
    const registry = new GlueSchemaRegistry(glue);
    await Promise.all(Array.from({ length: 100 }, () => registry.getSchemaVersion("a")));
    await registry.getSchemaVersion("a");
    expect(calls).toEqual(["GetSchemaVersion"]);
  });

  it("evicts the least recently used version beyond its size and refetches after the TTL", async () => {
    const { glue, calls } = scriptedGlue({ GetSchemaVersion: (input) => version(String(input.SchemaVersionId)) });
    let now = 0;
    const registry = new GlueSchemaRegistry(glue, { cacheSize: 2, ttlMs: 1000, now: () => now });
    await registry.getSchemaVersion("a");
    await registry.getSchemaVersion("b");
    await registry.getSchemaVersion("a"); // a is now most recent
    await registry.getSchemaVersion("c"); // evicts b
    expect(calls).toHaveLength(3);
    await registry.getSchemaVersion("a");
    expect(calls).toHaveLength(3);
    await registry.getSchemaVersion("b");
    expect(calls).toHaveLength(4);
    now = 1001;
    await registry.getSchemaVersion("a");
    expect(calls).toHaveLength(5);
  });

  it("waits out a PENDING registration and fails clearly on FAILURE", async () => {
    let polls = 0;
    const pending = scriptedGlue({
      GetSchemaByDefinition: () => ({ SchemaVersionId: "v", Status: "PENDING" }),
      GetSchemaVersion: () => version("v", ++polls < 3 ? "PENDING" : "AVAILABLE"),
    });
    const ref = { registryName: "r", schemaName: "s", definition: '"string"' };
    await expect(new GlueSchemaRegistry(pending.glue, noSleep).getVersionIdForDefinition(ref)).resolves.toBe("v");
    expect(polls).toBe(3);

    const failed = scriptedGlue({ GetSchemaByDefinition: () => ({ SchemaVersionId: "v", Status: "FAILURE" }) });
    await expect(new GlueSchemaRegistry(failed.glue, noSleep).getVersionIdForDefinition(ref)).rejects.toMatchObject({
      code: "SCHEMA_REGISTRATION_FAILED",
    });
  });

  it("registers a new version, or creates the schema, only when auto-registration is on", async () => {
    const ref = { registryName: "r", schemaName: "s", definition: '"string"' };
    const missingVersion = scriptedGlue({
      GetSchemaByDefinition: () => {
        throw notFound();
      },
      RegisterSchemaVersion: () => ({ SchemaVersionId: "new", Status: "AVAILABLE" }),
    });
    await expect(new GlueSchemaRegistry(missingVersion.glue, noSleep).getVersionIdForDefinition(ref)).rejects.toBeInstanceOf(CodecError);
    await expect(
      new GlueSchemaRegistry(missingVersion.glue, noSleep).getVersionIdForDefinition({ ...ref, autoRegister: true }),
    ).resolves.toBe("new");

    const missingSchema = scriptedGlue({
      GetSchemaByDefinition: () => {
        throw notFound();
      },
      RegisterSchemaVersion: () => {
        throw notFound();
      },
      CreateSchema: () => ({ SchemaVersionId: "first", SchemaVersionStatus: "AVAILABLE" }),
    });
    await expect(
      new GlueSchemaRegistry(missingSchema.glue, noSleep).getVersionIdForDefinition({ ...ref, autoRegister: true }),
    ).resolves.toBe("first");
    expect(missingSchema.calls).toEqual(["GetSchemaByDefinition", "RegisterSchemaVersion", "CreateSchema"]);
  });
});
