import {
  CreateSchemaCommand,
  EntityNotFoundException,
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  type GlueClient,
  RegisterSchemaVersionCommand,
} from "@aws-sdk/client-glue";
import { exponentialDelay, sleep, withRetries } from "../retry/backoff.ts";
import { CodecError, CodecErrorCode, RegistryUnavailableError } from "./errors.ts";

/** A registered schema version as the codec needs it. */
export interface SchemaVersion {
  readonly id: string;
  readonly definition: string;
  readonly dataFormat: string;
  readonly versionNumber: number | undefined;
}

/** Where the codec gets writer schemas; the Glue implementation below, or a fake in unit tests. */
export interface SchemaSource {
  /** Throws CodecError(UNKNOWN_SCHEMA_VERSION) if the id is not registered, RegistryUnavailableError when it cannot tell. */
  getSchemaVersion(id: string): Promise<SchemaVersion>;
}

export interface RegistryOptions {
  /** Cached schema versions (the Java serde's default is 200). */
  readonly cacheSize?: number;
  /** How long a cached version is trusted (the Java serde's default is 24 h). */
  readonly ttlMs?: number;
  /**
   * How long a confirmed "this id is not a usable version" is believed (short: a version
   * registered meanwhile is found after it): a stream of records with unknown ids costs
   * `notFoundAttempts` calls per id and period.
   */
  readonly unknownTtlMs?: number;
  /** Times EntityNotFound for a version id is asked in all before it is believed (the registry may be briefly wrong). */
  readonly notFoundAttempts?: number;
  /** Delay before the first re-ask of a not-found; it doubles for each further one (not jittered: a confirmation must span time). */
  readonly notFoundDelayMs?: number;
  /**
   * After a call failed (registry unreachable, throttled past retries), a not-found is not believed
   * for this long unless a call has succeeded since: a registry coming back may answer from an
   * empty or half-restored state. Such a not-found is a RegistryUnavailableError (retry the batch).
   */
  readonly suspectMs?: number;
  /** Registry calls in flight at once from this container (a batch of many unseen ids queues behind them). */
  readonly maxConcurrentCalls?: number;
  /** Attempts for a throttled or failed call before RegistryUnavailableError. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  /** PENDING registrations are polled this often, this many times (the Java serde: 3 s, 10 times). */
  readonly pendingPollMs?: number;
  readonly pendingPolls?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface DefinitionRef {
  readonly registryName: string;
  readonly schemaName: string;
  readonly definition: string;
  /** Register the definition as a new version (creating the schema if needed) when it is not there yet. */
  readonly autoRegister?: boolean;
  readonly compatibility?: "NONE" | "BACKWARD" | "BACKWARD_ALL" | "FORWARD" | "FORWARD_ALL" | "FULL" | "FULL_ALL";
}

const notFound = (error: unknown) =>
  error instanceof EntityNotFoundException || (error as Error | undefined)?.name === "EntityNotFoundException";
// AccessDenied is not among them: during a deploy or an IAM change it passes, so retry the batch.
const permanentNames = new Set(["InvalidInputException", "ValidationException"]);

type Cached = { readonly expiresAt: number } & ({ readonly value: SchemaVersion } | { readonly unknown: CodecError });

/**
 * Glue Schema Registry access with a bounded LRU + TTL cache, one request in flight per schema
 * version id, at most `maxConcurrentCalls` calls at once, and jittered exponential backoff on
 * throttling and network faults. A container makes one registry call per schema version it meets.
 *
 * "Unknown schema version" dead-letters records, so it is believed only when confirmed: a
 * not-found is asked `notFoundAttempts` times over a backoff, the registry's other calls in
 * progress are waited for, and if any call failed within `suspectMs` with none succeeding since,
 * the answer is RegistryUnavailableError (retry) instead. A confirmed answer is cached for
 * `unknownTtlMs` only.
 */
export class GlueSchemaRegistry implements SchemaSource {
  readonly #glue: GlueClient;
  readonly #cache = new Map<string, Cached>();
  readonly #slots: { free: number; waiting: (() => void)[] };
  readonly #inFlight = new Map<string, Promise<SchemaVersion>>();
  readonly #options: Required<RegistryOptions>;
  /** Registry calls in progress (retries included), which a not-found's verdict waits for. */
  readonly #asking = new Set<Promise<unknown>>();
  /** When a call last failed with no call succeeding since; undefined while the registry answers. */
  #failedAt: number | undefined;
  /** Registry calls made, for tests and metrics. */
  calls = 0;

  constructor(glue: GlueClient, options: RegistryOptions = {}) {
    this.#glue = glue;
    this.#options = {
      cacheSize: 200,
      ttlMs: 24 * 60 * 60 * 1000,
      unknownTtlMs: 30_000,
      notFoundAttempts: 3,
      notFoundDelayMs: 250,
      suspectMs: 5 * 60 * 1000,
      maxConcurrentCalls: 4,
      maxAttempts: 5,
      baseDelayMs: 100,
      pendingPollMs: 3000,
      pendingPolls: 10,
      sleep,
      now: Date.now,
      ...options,
    };
    this.#slots = { free: this.#options.maxConcurrentCalls, waiting: [] };
  }

  getSchemaVersion(id: string): Promise<SchemaVersion> {
    const cached = this.#cache.get(id);
    if (cached !== undefined && cached.expiresAt > this.#options.now()) {
      // Refresh recency: Map iteration order is insertion order, so re-inserting makes it newest.
      this.#cache.delete(id);
      this.#cache.set(id, cached);
      return "value" in cached ? Promise.resolve(cached.value) : Promise.reject(cached.unknown);
    }
    const pending = this.#inFlight.get(id);
    if (pending !== undefined) return pending;
    const request = this.#fetchVersion(id)
      .catch((error: unknown) => {
        if (error instanceof CodecError && error.code === CodecErrorCode.unknownSchemaVersion) {
          this.#remember(id, { unknown: error, expiresAt: this.#options.now() + this.#options.unknownTtlMs });
        }
        throw error;
      })
      .finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, request);
    return request;
  }

  async #fetchVersion(id: string): Promise<SchemaVersion> {
    const what = `GetSchemaVersion ${id}`;
    const send = () => this.#glue.send(new GetSchemaVersionCommand({ SchemaVersionId: id }));
    const { notFoundAttempts, notFoundDelayMs } = this.#options;
    let response = await this.#call(what, send, () => undefined);
    for (let attempt = 1; response === undefined && attempt < notFoundAttempts; attempt++) {
      await this.#options.sleep(exponentialDelay(attempt, { baseMs: notFoundDelayMs }));
      response = await this.#call(what, send, () => undefined);
    }
    if (response === undefined) {
      // Judge the registry only once the calls racing this one have answered: one that finds a
      // version shows the registry is whole, one that fails shows it is not.
      await Promise.allSettled([...this.#asking]);
      const failedAt = this.#failedAt;
      if (failedAt !== undefined && this.#options.now() - failedAt < this.#options.suspectMs) {
        throw new RegistryUnavailableError(
          `${what}: not found ${notFoundAttempts} times, but the registry failed ${this.#options.now() - failedAt} ms ago and has not answered since; not believed`,
          undefined,
        );
      }
      throw new CodecError(
        CodecErrorCode.unknownSchemaVersion,
        `schema version ${id} is not in the registry (asked ${notFoundAttempts} times)`,
      );
    }
    if (response.SchemaDefinition === undefined || response.SchemaVersionId === undefined) {
      throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema version ${id} has no definition`);
    }
    if (response.Status === "PENDING") {
      // Being registered right now: it becomes AVAILABLE within seconds, so retry the batch.
      throw new RegistryUnavailableError(`schema version ${id} is PENDING (being registered)`, undefined);
    }
    if (response.Status !== undefined && response.Status !== "AVAILABLE") {
      throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema version ${id} is ${response.Status}, not AVAILABLE`);
    }
    const value: SchemaVersion = {
      id: response.SchemaVersionId,
      definition: response.SchemaDefinition,
      dataFormat: response.DataFormat ?? "AVRO",
      versionNumber: response.VersionNumber,
    };
    this.#remember(id, { value, expiresAt: this.#options.now() + this.#options.ttlMs });
    return value;
  }

  #remember(id: string, entry: Cached): void {
    this.#cache.set(id, entry);
    while (this.#cache.size > this.#options.cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  /**
   * The latest version of a schema by name, for values that carry no frame (cached `latestTtlMs`,
   * default 5 min, so a new version is picked up soon). Throws CodecError(UNKNOWN_SCHEMA_VERSION)
   * when the schema does not exist, RegistryUnavailableError when the registry cannot tell.
   */
  async getLatestVersion(registryName: string, schemaName: string, latestTtlMs = 300_000): Promise<SchemaVersion> {
    const key = `latest:${registryName}/${schemaName}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined && "value" in cached && cached.expiresAt > this.#options.now()) return cached.value;
    const response = await this.#call(
      `GetSchemaVersion latest ${registryName}/${schemaName}`,
      () =>
        this.#glue.send(
          new GetSchemaVersionCommand({
            SchemaId: { RegistryName: registryName, SchemaName: schemaName },
            SchemaVersionNumber: { LatestVersion: true },
          }),
        ),
      () => {
        throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema ${registryName}/${schemaName} is not in the registry`);
      },
    );
    if (response.SchemaVersionId === undefined || response.SchemaDefinition === undefined) {
      throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema ${registryName}/${schemaName} has no latest version`);
    }
    const value: SchemaVersion = {
      id: response.SchemaVersionId,
      definition: response.SchemaDefinition,
      dataFormat: response.DataFormat ?? "AVRO",
      versionNumber: response.VersionNumber,
    };
    this.#cache.set(key, { value, expiresAt: this.#options.now() + latestTtlMs });
    this.#remember(value.id, { value, expiresAt: this.#options.now() + this.#options.ttlMs });
    return value;
  }

  /**
   * The version id of a definition, for producers. With `autoRegister`, a missing version is
   * registered (and a missing schema created) and PENDING is waited out. Throws CodecError
   * (SCHEMA_NOT_REGISTERED, SCHEMA_REGISTRATION_FAILED) or RegistryUnavailableError.
   */
  async getVersionIdForDefinition(ref: DefinitionRef): Promise<string> {
    const schemaId = { RegistryName: ref.registryName, SchemaName: ref.schemaName };
    const where = `${ref.registryName}/${ref.schemaName}`;
    const found = await this.#call(
      `GetSchemaByDefinition ${where}`,
      () => this.#glue.send(new GetSchemaByDefinitionCommand({ SchemaId: schemaId, SchemaDefinition: ref.definition })),
      () => undefined,
    );
    if (found?.SchemaVersionId !== undefined) return this.#awaitAvailable(found.SchemaVersionId, found.Status, where);
    if (ref.autoRegister !== true) {
      throw new CodecError(CodecErrorCode.schemaNotRegistered, `the definition is not a version of ${where} and auto-registration is off`);
    }
    const registered = await this.#call(
      `RegisterSchemaVersion ${where}`,
      () => this.#glue.send(new RegisterSchemaVersionCommand({ SchemaId: schemaId, SchemaDefinition: ref.definition })),
      () => undefined,
    );
    if (registered?.SchemaVersionId !== undefined) return this.#awaitAvailable(registered.SchemaVersionId, registered.Status, where);
    const created = await this.#call(
      `CreateSchema ${where}`,
      () =>
        this.#glue.send(
          new CreateSchemaCommand({
            RegistryId: { RegistryName: ref.registryName },
            SchemaName: ref.schemaName,
            DataFormat: "AVRO",
            Compatibility: ref.compatibility ?? "BACKWARD",
            SchemaDefinition: ref.definition,
          }),
        ),
      () => {
        throw new CodecError(CodecErrorCode.registrationFailed, `registry ${ref.registryName} does not exist`);
      },
    );
    if (created.SchemaVersionId === undefined)
      throw new CodecError(CodecErrorCode.registrationFailed, `CreateSchema ${where} returned no version id`);
    return this.#awaitAvailable(created.SchemaVersionId, created.SchemaVersionStatus, where);
  }

  async #awaitAvailable(id: string, initialStatus: string | undefined, where: string): Promise<string> {
    let status = initialStatus ?? "AVAILABLE";
    for (let poll = 0; status === "PENDING" && poll < this.#options.pendingPolls; poll++) {
      await this.#options.sleep(this.#options.pendingPollMs);
      const response = await this.#call(
        `GetSchemaVersion ${id}`,
        () => this.#glue.send(new GetSchemaVersionCommand({ SchemaVersionId: id })),
        () => undefined,
      );
      status = response?.Status ?? "PENDING";
    }
    if (status !== "AVAILABLE") {
      throw new CodecError(CodecErrorCode.registrationFailed, `schema version ${id} of ${where} is ${status}, not AVAILABLE`);
    }
    return id;
  }

  /** Runs a registry call with retries, holding one of the call slots while it is sent; `onNotFound` decides what EntityNotFound means for this call. */
  async #call<T, N>(what: string, send: () => Promise<T>, onNotFound: () => N): Promise<T | N> {
    const { maxAttempts, baseDelayMs, sleep } = this.#options;
    const asking = withRetries(() => this.#inSlot(send), {
      maxAttempts,
      baseMs: baseDelayMs,
      sleep,
      shouldRetry: (error) => !notFound(error) && !permanentNames.has((error as Error | undefined)?.name ?? ""),
    });
    const settled = () => this.#asking.delete(asking);
    this.#asking.add(asking);
    asking.then(settled, settled);
    try {
      const answer = await asking;
      this.#failedAt = undefined;
      return answer;
    } catch (error) {
      if (notFound(error)) return onNotFound();
      const name = (error as Error | undefined)?.name ?? "";
      if (permanentNames.has(name)) {
        throw new CodecError(CodecErrorCode.unknownSchemaVersion, `${what}: ${name}: ${(error as Error).message}`, { cause: error });
      }
      this.#failedAt = this.#options.now();
      throw new RegistryUnavailableError(
        `${what} failed after ${maxAttempts} attempts: ${name} ${(error as Error | undefined)?.message ?? ""}`.trim(),
        error,
      );
    }
  }

  async #inSlot<T>(send: () => Promise<T>): Promise<T> {
    const slots = this.#slots;
    if (slots.free > 0) slots.free--;
    else await new Promise<void>((resolve) => slots.waiting.push(resolve));
    try {
      this.calls++;
      return await send();
    } finally {
      // Hand the slot straight to the next waiter, or give it back.
      const next = slots.waiting.shift();
      if (next !== undefined) next();
      else slots.free++;
    }
  }
}
