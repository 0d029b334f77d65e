import {
  CreateSchemaCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  GlueClient,
  RegisterSchemaVersionCommand,
} from "@aws-sdk/client-glue";
import { describe, expect, it } from "vitest";
import { GlueAvroDecoder } from "#shared/avro/codec";
import { CodecError, RegistryUnavailableError } from "#shared/avro/errors";
import { GlueSchemaRegistry } from "#shared/avro/registry";
import { buildFrame } from "#shared/avro/wire-format";
import { currentSalesSchema } from "#shared/sales/schema";
import { commandNames, scriptedClient } from "#test/support/fakes/aws";
import { glueNotFound as notFound, glueThrottled as throttle } from "#test/support/fakes/glue";

type Reply = (input: Record<string, unknown>) => unknown;
const commands = {
  GetSchemaVersion: GetSchemaVersionCommand,
  GetSchemaByDefinition: GetSchemaByDefinitionCommand,
  RegisterSchemaVersion: RegisterSchemaVersionCommand,
  CreateSchema: CreateSchemaCommand,
} as const;

/** A mocked Glue client answering each scripted command from its reply (a throw is the SDK's rejection); others are refused. */
function scriptedGlue(script: Partial<Record<keyof typeof commands, Reply>>) {
  const { client, mock } = scriptedClient(new GlueClient({}));
  for (const [name, reply] of Object.entries(script)) {
    mock.on(commands[name as keyof typeof commands] as typeof GetSchemaVersionCommand).callsFake(async (input) => reply(input));
  }
  return { glue: client, mock };
}

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
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (failures-- > 0) throw throttle();
        return version(String(input.SchemaVersionId));
      },
    });
    const delays: number[] = [];
    const registry = new GlueSchemaRegistry(glue, { sleep: async (ms) => void delays.push(ms), baseDelayMs: 100 });
    await expect(registry.getSchemaVersion("a")).resolves.toMatchObject({ id: "a", definition: '"string"' });
    expect(commandNames(mock)).toEqual(["GetSchemaVersionCommand", "GetSchemaVersionCommand", "GetSchemaVersionCommand"]);
    expect(delays).toHaveLength(2);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it("gives up with a retriable RegistryUnavailableError after its attempts", async () => {
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: () => {
        throw throttle();
      },
    });
    const error = await new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 3 }).getSchemaVersion("a").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).retriable).toBe(true);
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
  });

  it("believes EntityNotFound only when re-asked notFoundAttempts times over a growing delay", async () => {
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: () => {
        throw notFound();
      },
    });
    const delays: number[] = [];
    const registry = new GlueSchemaRegistry(glue, { sleep: async (ms) => void delays.push(ms), notFoundAttempts: 3, notFoundDelayMs: 250 });
    await expect(registry.getSchemaVersion("gone")).rejects.toMatchObject({ code: "UNKNOWN_SCHEMA_VERSION", retriable: false });
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
    expect(delays).toEqual([250, 500]);
  });

  it("finds a version that was briefly not found", async () => {
    let answers = 0;
    const { glue } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (answers++ < 2) throw notFound();
        return version(String(input.SchemaVersionId));
      },
    });
    await expect(new GlueSchemaRegistry(glue, { ...noSleep, notFoundAttempts: 3 }).getSchemaVersion("a")).resolves.toMatchObject({
      id: "a",
    });
  });

  it("does not believe a not-found from a registry that failed and has not answered since: retry, nothing cached", async () => {
    let state: "down" | "empty" | "restored" = "down";
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (state === "down") throw Object.assign(new Error("connect ECONNREFUSED"), { name: "Error" });
        if (state === "empty" || input.SchemaVersionId === "poison") throw notFound();
        return version(String(input.SchemaVersionId));
      },
    });
    let now = 0;
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 2, now: () => now });
    await expect(registry.getSchemaVersion("good")).rejects.toBeInstanceOf(RegistryUnavailableError);
    state = "empty"; // back, but not yet restored
    now = 10_000;
    const suspect = await registry.getSchemaVersion("good").catch((e: unknown) => e);
    expect(suspect).toBeInstanceOf(RegistryUnavailableError);
    expect((suspect as RegistryUnavailableError).retriable).toBe(true);
    state = "restored";
    const before = mock.commandCalls(GetSchemaVersionCommand).length;
    await expect(registry.getSchemaVersion("good")).resolves.toMatchObject({ id: "good" });
    expect(mock.commandCalls(GetSchemaVersionCommand).length).toBe(before + 1); // the suspect answer was not cached
    // The registry has answered since: a persistently unknown id is now believed (and dead-lettered).
    await expect(registry.getSchemaVersion("poison")).rejects.toMatchObject({ code: "UNKNOWN_SCHEMA_VERSION" });
  });

  it("judges a not-found after the calls racing it: one of them failing makes it a retry", async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { glue } = scriptedGlue({
      GetSchemaVersion: async (input) => {
        if (input.SchemaVersionId === "unknown") throw notFound();
        await slow;
        throw throttle();
      },
    });
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 1 });
    const other = registry.getSchemaVersion("throttled").catch((e: unknown) => e);
    const verdict = registry.getSchemaVersion("unknown").catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    expect(await other).toBeInstanceOf(RegistryUnavailableError);
    expect(await verdict).toBeInstanceOf(RegistryUnavailableError);
  });

  it("believes a not-found again once suspectMs has passed since the last failure", async () => {
    let down = true;
    const { glue } = scriptedGlue({
      GetSchemaVersion: () => {
        if (down) throw throttle();
        throw notFound();
      },
    });
    let now = 0;
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 1, suspectMs: 60_000, now: () => now });
    await expect(registry.getSchemaVersion("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    down = false;
    now = 59_000;
    await expect(registry.getSchemaVersion("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    now = 60_001;
    await expect(registry.getSchemaVersion("a")).rejects.toMatchObject({ code: "UNKNOWN_SCHEMA_VERSION" });
  });

  it("answers a PENDING version as a retry, not as unknown", async () => {
    const { glue } = scriptedGlue({ GetSchemaVersion: (input) => version(String(input.SchemaVersionId), "PENDING") });
    await expect(new GlueSchemaRegistry(glue, noSleep).getSchemaVersion("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  it("caches 'unknown schema version' for its TTL, then asks again and finds a version registered meanwhile", async () => {
    let registered = false;
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (!registered) throw notFound();
        return version(String(input.SchemaVersionId));
      },
    });
    let now = 0;
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, unknownTtlMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i++) await expect(registry.getSchemaVersion("late")).rejects.toMatchObject({ code: "UNKNOWN_SCHEMA_VERSION" });
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3); // one confirmed answer: asked notFoundAttempts (3) times
    registered = true;
    now = 59_999;
    await expect(registry.getSchemaVersion("late")).rejects.toMatchObject({ code: "UNKNOWN_SCHEMA_VERSION" });
    now = 60_001;
    await expect(registry.getSchemaVersion("late")).resolves.toMatchObject({ id: "late" });
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(4);
  });

  it("does not cache an outage: the next call asks the registry again", async () => {
    let down = true;
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: (input) => {
        if (down) throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
        return version(String(input.SchemaVersionId));
      },
    });
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, maxAttempts: 2 });
    await expect(registry.getSchemaVersion("a")).rejects.toBeInstanceOf(RegistryUnavailableError);
    down = false;
    await expect(registry.getSchemaVersion("a")).resolves.toMatchObject({ id: "a" });
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
  });

  it("makes at most maxConcurrentCalls registry calls at once when a batch brings many unseen ids", async () => {
    let inFlight = 0;
    let most = 0;
    const { glue, mock } = scriptedGlue({
      GetSchemaVersion: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight--;
        throw notFound();
      },
    });
    const calls = () => mock.commandCalls(GetSchemaVersionCommand).map((call) => call.args[0].input.SchemaVersionId);
    const registry = new GlueSchemaRegistry(glue, { ...noSleep, maxConcurrentCalls: 3, notFoundAttempts: 1 });
    const decoder = new GlueAvroDecoder(registry, currentSalesSchema);
    const ids = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    const frames = ids.map((id) => buildFrame(Buffer.from([0]), id));
    await decoder.load(frames);
    expect(most).toBe(3);
    expect(new Set(calls())).toEqual(new Set(ids));
    expect(calls()).toHaveLength(40);
    for (const frame of frames) expect(() => decoder.decode(frame)).toThrow(expect.objectContaining({ code: "UNKNOWN_SCHEMA_VERSION" }));
    // The same batch again (a retry): the unknown answers come from the cache, not from Glue.
    await decoder.load(frames);
    expect(calls()).toHaveLength(40);
  });

  it("keeps one request in flight per id, however many callers ask at once", async () => {
    const { glue, mock } = scriptedGlue({ GetSchemaVersion: (input) => version(String(input.SchemaVersionId)) });
    const registry = new GlueSchemaRegistry(glue);
    await Promise.all(Array.from({ length: 100 }, () => registry.getSchemaVersion("a")));
    await registry.getSchemaVersion("a");
    expect(commandNames(mock)).toEqual(["GetSchemaVersionCommand"]);
  });

  it("evicts the least recently used version beyond its size and refetches after the TTL", async () => {
    const { glue, mock } = scriptedGlue({ GetSchemaVersion: (input) => version(String(input.SchemaVersionId)) });
    let now = 0;
    const registry = new GlueSchemaRegistry(glue, { cacheSize: 2, ttlMs: 1000, now: () => now });
    await registry.getSchemaVersion("a");
    await registry.getSchemaVersion("b");
    await registry.getSchemaVersion("a"); // a is now most recent
    await registry.getSchemaVersion("c"); // evicts b
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
    await registry.getSchemaVersion("a");
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
    await registry.getSchemaVersion("b");
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(4);
    now = 1001;
    await registry.getSchemaVersion("a");
    expect(mock.commandCalls(GetSchemaVersionCommand)).toHaveLength(5);
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
    expect(commandNames(missingSchema.mock)).toEqual([
      "GetSchemaByDefinitionCommand",
      "RegisterSchemaVersionCommand",
      "CreateSchemaCommand",
    ]);
  });
});
